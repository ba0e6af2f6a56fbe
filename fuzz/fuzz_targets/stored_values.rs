//! The store as a whole, for what the pure targets cannot reach: arbitrary
//! entries written with sled into `hits/default`, `hits/other` and `meta`
//! (hits, journal entries, the tally, the key marker, the visitor id, any
//! key at all), then the store opened as a tracker would, read, and its
//! key changed. Seeded with the trees of stores made by real trackers.
//!
//! Never a panic, and with well-formed keys and no tally written (so the
//! count is walked): the count is the hits written; a walk meets each once,
//! read or counted unreadable; the journal lists each entry. Setting a key
//! on a store in clear, then turning encryption off, loses no readable hit.
#![no_main]

use std::collections::BTreeMap;

use hitkit::internal::store::Database;
use hitkit_fuzz::{KEY, KeyKind, StoreInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = StoreInput::parse(data) else {
        return;
    };
    // Each run syncs several times (sled's flush, the clean close): on a
    // tmpfs that costs nothing.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temp dir");
    let path = dir.path().join("db");
    // The last write of a key wins, as in sled.
    let mut written: BTreeMap<(&str, Vec<u8>), KeyKind> = BTreeMap::new();
    {
        let db = sled::open(path.join("store")).expect("sled");
        for entry in &input.entries {
            let tree = db.open_tree(entry.tree).expect("tree");
            tree.insert(entry.key.as_slice(), entry.value.as_slice())
                .expect("insert");
            written.insert((entry.tree, entry.key.clone()), entry.kind);
        }
        db.flush().expect("flush");
    }
    let mine = |kind: KeyKind| {
        written
            .iter()
            .filter(|((tree, _), k)| *tree == "hits/default" && **k == kind)
            .count() as u64
    };
    let well_formed = mine(KeyKind::Raw) == 0;
    let has_marker = written.contains_key(&("meta", b"key_check".to_vec()));

    let (database, _) = Database::open(&path).expect("the store opens");
    let (store, _) = database.hit_store("default").expect("the hit store opens");
    database.use_key(None).expect("no key: nothing is written");
    let listed = store.all().expect("listing works").len() as u64;
    let _ = store.oldest();
    let _ = store.latest();
    let _ = database.visitor_id();
    let journal = store.journal().expect("the journal reads");
    let _ = store.take_unreadable();
    let mut cursor = None;
    let mut walked = 0;
    while let Ok(Some(hit)) = store.next_after(cursor.as_ref()) {
        cursor = Some(hit.key);
        walked += 1;
    }
    let unreadable = store.take_unreadable();
    assert_eq!(walked, listed, "a walk and a listing disagree");
    if well_formed {
        assert_eq!(store.len(), mine(KeyKind::Hit), "count of the hits written");
        assert_eq!(
            listed + unreadable,
            mine(KeyKind::Hit),
            "the walk missed hits"
        );
        assert_eq!(
            journal.len() as u64,
            mine(KeyKind::Journal),
            "journal entries"
        );
    }

    if input.flags & 1 == 1 {
        let count = store.len();
        database
            .use_key(Some(&KEY.into()))
            .expect("the key applies");
        let sealed = store.all().expect("listing works").len() as u64;
        database.turn_encryption_off().ok();
        let plain = store.all().expect("listing works").len() as u64;
        assert_eq!(store.len(), count, "changing the key changed the count");
        if !has_marker {
            assert!(sealed >= listed, "sealing lost hits: {listed} -> {sealed}");
            assert!(plain >= sealed, "unsealing lost hits: {sealed} -> {plain}");
        }
    }
});
