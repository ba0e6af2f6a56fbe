//! Decoding stored values: arbitrary keys and bytes written straight into
//! the `hits/default` and `journal/default` sled trees, then the store opened
//! as a tracker would. Never a panic; once every entry was visited, the
//! count equals the hits listed plus the unreadable ones the walk met (kept,
//! not deleted).
#![no_main]

use hitkit::engine::store::Database;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|entries: Vec<(bool, Vec<u8>, Vec<u8>)>| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    {
        let db = sled::open(path.join("store")).expect("sled");
        let hits = db.open_tree("hits/default").expect("tree");
        let journal = db.open_tree("journal/default").expect("tree");
        for (in_journal, key, value) in entries.iter().take(64) {
            let tree = if *in_journal { &journal } else { &hits };
            tree.insert(key.as_slice(), value.as_slice())
                .expect("insert");
        }
        db.flush().expect("flush");
    }
    let (database, _) = Database::open(&path).expect("the store opens");
    let (store, _) = database.hit_store("default").expect("the hit store opens");
    let listed = store.all().expect("listing works").len() as u64;
    assert!(
        store.len() >= listed,
        "count {} < {listed} listed",
        store.len()
    );
    let _ = store.oldest();
    let _ = store.latest();
    let _ = store.take_unreadable();
    let mut cursor = None;
    while let Ok(Some(hit)) = store.next_after(cursor.as_ref()) {
        cursor = Some(hit.key);
    }
    let unreadable = store.take_unreadable();
    let listed = store.all().expect("listing works").len() as u64;
    assert_eq!(store.len(), listed + unreadable, "count drifted from the hits listed");
});
