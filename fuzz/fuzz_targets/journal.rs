//! A journal entry (a hit in flight when the app stopped), decoded as the
//! worker's recovery does: `Codec::decode` under the journal place
//! `hits/{name}` + `[0xFF][key]`, then stored under `key`. Seeded with real
//! entries, plain and sealed.
//!
//! Never a panic, and:
//! - a sealed entry read here does not open as the stored hit of its key
//!   (an entry cannot be replayed as a stored hit, nor the reverse);
//! - the recovered hit (`to_offline` query), stored, reads back as itself.
#![no_main]

use hitkit::internal::hit::to_offline;
use hitkit::internal::store::hits::journal_key;
use hitkit::internal::store::record::{Place, Record, Unreadable};
use hitkit_fuzz::{JournalInput, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = JournalInput::parse(data) else {
        return;
    };
    let codec = codec(input.codec);
    let tree = input.tree();
    let jkey = journal_key(&input.key);
    let journal = Place {
        tree: &tree,
        key: &jkey,
    };
    let stored = Place {
        tree: &tree,
        key: &input.key,
    };
    let Ok(record) = codec.decode(input.value, &journal) else {
        return;
    };
    if input.value.first() == Some(&0x02) {
        assert_eq!(
            codec.decode(input.value, &stored),
            Err(Unreadable::NotOpened),
            "a journal entry opened as a stored hit"
        );
    }
    if codec.can_write() {
        let recovered = Record {
            query: to_offline(&record.query, 1_700_000_000.5),
            attempts: record.attempts.min(u8::MAX as u32),
            ..record
        };
        let bytes = codec.encode(&recovered, &stored).expect("encoding works");
        assert_eq!(
            codec.decode(&bytes, &stored),
            Ok(recovered),
            "recovered hit"
        );
    }
});
