//! The stored record decoder, `Codec::decode`: any bytes, under any place
//! (tree and key), with each way a store reads (in clear; encrypted without
//! its key; with it; turning encryption off). Seeded with real records:
//! plain and sealed ones, and the legacy JSON and `HKE1` ones.
//!
//! Never a panic, and:
//! - an encrypted store reads only sealed records;
//! - a sealed record without a key is `NoKey`; `NotOpened` needs a key;
//! - a sealed record read here does not open under another key;
//! - what is read is written back (by a codec that may write) as itself.
#![no_main]

use hitkit::internal::store::record::{Place, Unreadable};
use hitkit_fuzz::{RecordInput, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = RecordInput::parse(data) else {
        return;
    };
    let codec = codec(input.codec);
    let tree = input.tree();
    let place = Place {
        tree: &tree,
        key: input.key,
    };
    let value = input.value;
    let sealed = value.first() == Some(&0x02);
    let legacy_sealed = value.starts_with(b"HKE1");
    match codec.decode(value, &place) {
        Ok(record) => {
            assert!(
                !codec.encrypted_store() || sealed || legacy_sealed,
                "an encrypted store read a record in clear"
            );
            assert!(!sealed || codec.sealer().is_some(), "opened without a key");
            if sealed {
                let mut moved = input.key.to_vec();
                moved.push(0);
                let elsewhere = Place {
                    tree: &tree,
                    key: &moved,
                };
                assert_eq!(
                    codec.decode(value, &elsewhere),
                    Err(Unreadable::NotOpened),
                    "a sealed record opened under another key"
                );
            }
            if codec.can_write() {
                let bytes = codec.encode(&record, &place).expect("encoding works");
                let mut expected = record.clone();
                // One byte holds the attempts; legacy JSON may hold more.
                expected.attempts = expected.attempts.min(u8::MAX as u32);
                assert_eq!(codec.decode(&bytes, &place), Ok(expected), "round trip");
            }
        }
        Err(Unreadable::NoKey) => assert!(codec.sealer().is_none() && (sealed || legacy_sealed)),
        Err(Unreadable::NotOpened) => assert!(codec.sealer().is_some()),
        Err(Unreadable::PlainInEncryptedStore) => {
            assert!(codec.encrypted_store() && !sealed && !legacy_sealed)
        }
        Err(Unreadable::Malformed) => {}
    }
});
