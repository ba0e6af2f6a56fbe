//! Hit building as the collector sees it (contract §1).

mod common;
use common::*;

fn keys(hit: &ReceivedHit) -> Vec<&str> {
    hit.params.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn screen_touch_and_custom_hits_in_parameter_order() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    tracker.set_param("lang".into(), "fr".into()).unwrap();
    tracker
        .send_screen("Home".into(), vec![HitParam::new("x1", "a")])
        .unwrap();
    tracker.send_touch("Buy".into(), vec![]).unwrap();
    tracker.unset_param("lang".into());
    tracker
        .send(vec![
            HitParam::new("ev", "custom"),
            HitParam::new("ev", "replaced"),
        ])
        .unwrap();
    flush(&tracker);
    let hits = fx.collector.delivered();
    assert_eq!(
        keys(&hits[0]),
        ["s", "idclient", "ts", "vtag", "ptag", "lang", "p", "x1"]
    );
    assert_eq!(
        (
            hits[0].param("s"),
            hits[0].param("p"),
            hits[0].param("lang")
        ),
        (Some("123"), Some("Home"), Some("fr"))
    );
    assert_eq!(hits[0].param("vtag"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        keys(&hits[1]),
        ["s", "idclient", "ts", "vtag", "ptag", "lang", "p", "click"]
    );
    assert_eq!(hits[1].param("click"), Some("A"));
    assert_eq!(
        keys(&hits[2]),
        ["s", "idclient", "ts", "vtag", "ptag", "ev"]
    );
    assert_eq!(hits[2].param("ev"), Some("replaced"));
    // build_did_end then send_did_end, each carrying the hit's URL.
    let built: Vec<_> = seen
        .all()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Built(_, u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(built.len(), 3);
    assert!(
        built[0].ends_with(&format!("?{}", hits[0].query)),
        "{} vs {}",
        built[0],
        hits[0].query
    );
}

#[test]
fn keys_and_values_are_percent_encoded() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    let odd = "é &=?/#+%\u{1}\n\"'<>日本";
    tracker
        .send(vec![
            HitParam::new(odd, odd),
            HitParam::new("safe-._~", "AZaz09-._~"),
        ])
        .unwrap();
    flush(&tracker);
    let hit = &fx.collector.delivered()[0];
    assert_eq!(hit.param(odd), Some(odd));
    assert!(hit.query.ends_with("&safe-._~=AZaz09-._~"), "{}", hit.query);
    assert!(
        hit.query
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~%&=".contains(c)),
        "{}",
        hit.query
    );
}

#[test]
fn an_empty_key_is_an_invalid_parameter_and_nothing_is_sent() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    let result = tracker.send(vec![HitParam::new("", "v")]);
    assert!(matches!(result, Err(TrackerError::InvalidParameter { .. })));
    assert!(matches!(
        tracker.set_param("".into(), "v".into()),
        Err(TrackerError::InvalidParameter { .. })
    ));
    assert!(matches!(
        tracker.send_screen("x".into(), vec![HitParam::new("", "")]),
        Err(TrackerError::InvalidParameter { .. })
    ));
    flush(&tracker);
    assert!(fx.collector.hits().is_empty());
}

#[test]
fn long_hits_are_split_into_mh_parts_that_reassemble() {
    let fx = Fixture::new();
    let config = TrackerConfig {
        max_hit_size: 1000,
        ..fx.config(OfflineModeKey::Never)
    };
    let (tracker, _) = tracker_with(config);
    let params: Vec<_> = (0..60)
        .map(|i| HitParam::new(format!("k{i:02}"), "v".repeat(50)))
        .collect();
    tracker.send_screen("Long".into(), params).unwrap();
    flush(&tracker);
    let parts = fx.collector.delivered();
    let n = parts.len();
    assert!(n >= 4, "{n} parts");
    let id = parts[0]
        .param("mh")
        .unwrap()
        .rsplit('-')
        .next()
        .unwrap()
        .to_owned();
    let mut seen_keys = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        assert!(part.path.len() + part.query.len() + 1 + "http://127.0.0.1:65535".len() <= 1000);
        assert_eq!(&keys(part)[..4], ["s", "idclient", "ts", "mh"]);
        assert_eq!(
            part.param("mh"),
            Some(format!("{}-{n}-{id}", i + 1).as_str())
        );
        assert_eq!(part.param("ts"), parts[0].param("ts"));
        seen_keys.extend(keys(part)[4..].iter().map(|k| k.to_string()));
    }
    let mut want: Vec<String> = ["vtag", "ptag", "p"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.extend((0..60).map(|i| format!("k{i:02}")));
    assert_eq!(seen_keys, want);
}

#[test]
fn a_parameter_too_long_for_any_part_is_left_out_with_mherr() {
    let fx = Fixture::new();
    let config = TrackerConfig {
        max_hit_size: 500,
        ..fx.config(OfflineModeKey::Never)
    };
    let (tracker, seen) = tracker_with(config);
    tracker
        .send_screen(
            "p".into(),
            vec![
                HitParam::new("huge", "x".repeat(2000)),
                HitParam::new("ok", "1"),
            ],
        )
        .unwrap();
    flush(&tracker);
    let hit = &fx.collector.delivered()[0];
    assert_eq!(hit.param("mherr"), Some("1"));
    assert_eq!(hit.param("huge"), None);
    assert_eq!(hit.param("ok"), Some("1"));
    assert!(seen.warnings().iter().any(|w| w.contains("`huge`")));
}

#[test]
fn split_parts_are_stored_with_one_shared_olt_after_mh() {
    let fx = Fixture::new();
    let config = TrackerConfig {
        max_hit_size: 600,
        ..fx.config(OfflineModeKey::Always)
    };
    let (tracker, _) = tracker_with(config);
    let params: Vec<_> = (0..20)
        .map(|i| HitParam::new(format!("k{i}"), "v".repeat(60)))
        .collect();
    tracker.send(params).unwrap();
    flush(&tracker);
    assert!(dispatch(&tracker).sent >= 2);
    let parts = fx.collector.delivered();
    for part in &parts {
        assert_eq!(&keys(part)[..5], ["s", "idclient", "ts", "mh", "olt"]);
        assert_eq!(part.param("olt"), parts[0].param("olt"));
        assert_eq!(part.param("cn"), Some("offline"));
    }
}

/// The one-call path the Kotlin and Swift packages take for the hot calls
/// builds the same hits as the API, and leaves every refusal to the API.
#[test]
fn quick_send_builds_the_same_hits_and_refuses_nothing_silently() {
    fn payload(strings: &[&str]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for s in strings {
            bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
        }
        bytes
    }
    let send = |id: i64, kind: i32, strings: &[&str]| {
        let bytes = payload(strings);
        // SAFETY: the pointer and length come from a live Vec.
        unsafe { hitkit::hitkit_quick_send(id, kind, bytes.as_ptr(), bytes.len() as u32) }
    };
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    let id = tracker.quick_send_id();
    assert_eq!(send(id, 0, &["Home", "lang", "fr"]), 0);
    assert_eq!(send(id, 1, &["Buy"]), 0);
    assert_eq!(send(id, 2, &["x", "1"]), 0);
    // Refused here, so the package makes the typed call instead.
    assert_eq!(send(id, 0, &["Home", "", "v"]), 1, "an empty key");
    assert_eq!(send(id, 0, &["Home", "odd"]), 1, "a key without a value");
    assert_eq!(send(id, 7, &["Home"]), 1, "an unknown hit type");
    flush(&tracker);
    let hits = fx.collector.delivered();
    assert_eq!(pages(&hits), ["Home", "Buy"]);
    assert_eq!(hits[0].param("lang"), Some("fr"));
    assert_eq!(hits[1].param("click"), Some("A"));
    assert_eq!(hits[2].param("x"), Some("1"));
    drop(tracker);
    assert_eq!(send(id, 0, &["Late"]), 1, "a closed tracker");
}
