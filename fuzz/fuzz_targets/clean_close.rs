//! The clean-close record parser, `CleanClose::parse`, on any bytes.
//! Seeded with records left by real trackers' clean closes.
//!
//! Never a panic; a record it accepts, written again as the engine writes
//! it, parses back to itself.
#![no_main]

use hitkit::internal::store::clean_close::CleanClose;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(record) = CleanClose::parse(data) {
        let written = serde_json::to_vec(&record).expect("a parsed record serialises");
        assert_eq!(
            CleanClose::parse(&written),
            Some(record),
            "{}",
            String::from_utf8_lossy(&written)
        );
    }
});
