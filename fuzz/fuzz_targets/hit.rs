//! Hit building and splitting: any parameters, any `maxHitSize` the config
//! allows. Never a panic; an error only for an empty key; at most 999 parts,
//! each within `maxHitSize` even once stored (`to_offline`), which is
//! idempotent.
#![no_main]

use hitkit::engine::error::Error;
use hitkit::engine::hit::{MAX_PARTS, Standard, build, to_offline};
use hitkit::engine::{HitKind, Param};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, u8, Vec<Param>, Vec<Param>, u32)| {
    let (size, kind, persistent, own, olt) = input;
    // The range `maxHitSize` accepts is 256..=1 MiB; smaller sizes split more.
    let max = 256 + size as usize % 16_000;
    let kind = match kind % 3 {
        0 => HitKind::Screen,
        1 => HitKind::Touch,
        _ => HitKind::Custom,
    };
    let standard = Standard {
        base_url: "https://logs.xiti.com/hit.xiti",
        site: "123456",
        idclient: "0b5f6a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
        platform: "linux",
        max_hit_size: max,
    };
    let empty_key = own.iter().any(|(k, _)| k.is_empty());
    match build(&standard, &persistent, kind, own, 1_700_000_000_000, || {
        4242
    }) {
        Err(Error::InvalidParameter { .. }) => assert!(empty_key),
        Err(e) => panic!("unexpected error {e}"),
        Ok(hit) => {
            assert!(!empty_key, "an empty key was accepted");
            assert!(!hit.urls.is_empty() && hit.urls.len() <= MAX_PARTS);
            // Seconds since the epoch, as a stored hit's `olt` is.
            let olt = 1_000_000_000.0 + f64::from(olt) / 1000.0;
            for url in &hit.urls {
                assert!(url.len() <= max, "a part of {} > {max} bytes", url.len());
                let stored = to_offline(url, olt);
                assert!(
                    stored.len() <= max,
                    "stored part of {} > {max} bytes",
                    stored.len()
                );
                assert_eq!(
                    to_offline(&stored, olt),
                    stored,
                    "to_offline is not idempotent"
                );
            }
        }
    }
});
