//! Hit building and splitting: any parameters, any `maxHitSize` the config
//! allows, with or without a hit id parameter. Keys are checked first, as
//! the tracker does on the app's thread. Never a panic; at most 999 parts,
//! each URL within `maxHitSize` even once stored (`to_offline`), which is
//! idempotent.
//!
//! Known exception, left out here: the parameters every part repeats (`s`,
//! `idclient`, `ts`, the hit id) are never dropped, so an app parameter
//! replacing one with a long value makes every part exceed `maxHitSize`
//! (RELIABILITY.md, finding 9). Such replacements are kept to 8 bytes.
#![no_main]

use hitkit::internal::hit::{Identity, MAX_PARTS, Param, build, check_key, to_offline, url};
use hitkit::internal::types::HitType;
use libfuzzer_sys::fuzz_target;

const BASE: &str = "https://logs.xiti.com/hit.xiti";

fuzz_target!(
    |input: (u16, u8, Vec<Param>, Vec<Param>, u32, Option<String>)| {
        let (size, kind, mut persistent, mut own, olt, hit_id) = input;
        if own
            .iter()
            .chain(&persistent)
            .any(|(key, _)| check_key(key).is_err())
        {
            assert!(own.iter().chain(&persistent).any(|(key, _)| key.is_empty()));
            return;
        }
        // The range `maxHitSize` accepts is 256..=1 MiB; smaller sizes split more.
        let max = 256 + size as usize % 16_000;
        let hit_type = match kind % 3 {
            0 => HitType::Screen,
            1 => HitType::Touch,
            _ => HitType::Custom,
        };
        // `hitIdParameter` is 1 to 32 of `A-Za-z0-9-_.~` (checked by the config).
        let hit_id = hit_id.filter(|key| {
            (1..=32).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        });
        let repeated =
            |key: &str| ["s", "idclient", "ts"].contains(&key) || Some(key) == hit_id.as_deref();
        for (key, value) in own.iter_mut().chain(persistent.iter_mut()) {
            if repeated(key) {
                value.truncate(value.floor_char_boundary(8));
            }
        }
        let identity = Identity {
            base_url: BASE,
            site: "123456",
            idclient: "0b5f6a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
            platform: "linux",
            max_hit_size: max,
            hit_id: hit_id
                .as_deref()
                .map(|key| (key, "7f3a9c1e5b2d4f60".to_owned())),
        };
        let hit = build(
            &identity,
            &persistent,
            hit_type,
            own,
            1_700_000_000_000,
            || 4242,
        );
        assert_eq!(hit.hit_type, hit_type);
        assert!(!hit.queries.is_empty() && hit.queries.len() <= MAX_PARTS);
        // Seconds since the epoch, as a stored hit's `olt` is.
        let olt = 1_000_000_000.0 + f64::from(olt) / 1000.0;
        for query in &hit.queries {
            let sent = url(BASE, query);
            assert!(sent.len() <= max, "a part of {} > {max} bytes", sent.len());
            let stored = to_offline(query, olt);
            let sent = url(BASE, &stored);
            assert!(
                sent.len() <= max,
                "stored part of {} > {max} bytes",
                sent.len()
            );
            assert_eq!(
                to_offline(&stored, olt),
                stored,
                "to_offline is not idempotent"
            );
        }
    }
);
