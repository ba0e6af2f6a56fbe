//! Bad input, table-driven (contract §1, §7): hit parameters and `from_json`
//! configurations that are empty, huge, non-ASCII, full of control
//! characters or oddly shaped. Each gives a typed error or a correct hit;
//! none panics. (`set_config` keys are tabled in `config.rs`.)

mod common;
use common::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// What a parameter case must give.
enum Want {
    /// Sent, and the collector decodes exactly this value for the key.
    RoundTrip,
    /// `InvalidParameter` naming this key, nothing sent.
    Invalid(&'static str),
    /// Sent without the key, with `mherr=1` and a warning naming the key.
    LeftOut(&'static str),
}

/// A case: its name, the parameters, what they must give.
type ParamCase = (&'static str, Vec<(String, String)>, Want);

fn param_cases() -> Vec<ParamCase> {
    let s = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    vec![
        ("empty key", s("", "v"), Want::Invalid("")),
        (
            "empty key among good ones",
            vec![("a".into(), "1".into()), ("".into(), "2".into())],
            Want::Invalid(""),
        ),
        ("empty value", s("k", ""), Want::RoundTrip),
        (
            "1 MB value",
            s("big", &"v".repeat(1 << 20)),
            Want::LeftOut("big"),
        ),
        (
            "1 MB key",
            s(&"k".repeat(1 << 20), "v"),
            Want::LeftOut("kkkkkkkkkkkkkkkk"),
        ),
        ("non-ASCII", s("clé", "été ☃ 日本語 🚀"), Want::RoundTrip),
        (
            "right-to-left and combining marks",
            s("k", "\u{202e}abc\u{0301}\u{200d}"),
            Want::RoundTrip,
        ),
        (
            "control characters",
            s("k\t", "a\r\nb\x07\x1b[31m"),
            Want::RoundTrip,
        ),
        ("NUL bytes", s("k\0", "a\0b\0"), Want::RoundTrip),
        ("percent sequences", s("%zz", "%%41%2"), Want::RoundTrip),
        ("already encoded", s("k", "a%20b%26c"), Want::RoundTrip),
        ("URL syntax", s("a&b=c", "?x=1#frag&s=999"), Want::RoundTrip),
        ("plus and spaces", s("k k", "1+1 = 2"), Want::RoundTrip),
        (
            "lone surrogate as text",
            s("k", "\u{fffd}"),
            Want::RoundTrip,
        ),
        ("key s overrides the site", s("s", "999"), Want::RoundTrip),
    ]
}

/// Every case from `send`, `send_screen` (as extra params) and `set_param`.
#[test]
fn hit_parameters_give_a_typed_error_or_a_correct_hit() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    let mut tried = 0;
    for (case, params, want) in param_cases() {
        for via in ["send", "send_screen", "set_param"] {
            tried += 1;
            fx.collector.clear();
            let warnings_before = seen.warnings().len();
            let hit_params: Vec<HitParam> = params
                .iter()
                .map(|(k, v)| HitParam::new(k.clone(), v.clone()))
                .collect();
            let result = catch_unwind(AssertUnwindSafe(|| match via {
                "send" => tracker.send(hit_params.clone()),
                "send_screen" => tracker.send_screen("screen".into(), hit_params.clone()),
                _ => {
                    for p in &hit_params {
                        tracker.set_param(p.key.clone(), p.value.clone())?;
                    }
                    let sent = tracker.send(vec![HitParam::new("marker", "1")]);
                    for p in &hit_params {
                        tracker.unset_param(p.key.clone());
                    }
                    sent
                }
            }))
            .unwrap_or_else(|_| panic!("{case} via {via}: panicked"));
            flush(&tracker);
            let label = format!("{case} via {via}");
            match want {
                Want::Invalid(key) => {
                    match result {
                        Err(TrackerError::InvalidParameter { key: k, .. }) => {
                            assert_eq!(k, key, "{label}")
                        }
                        other => panic!("{label}: expected InvalidParameter, got {other:?}"),
                    }
                    assert!(
                        fx.collector.hits().is_empty(),
                        "{label}: something was sent"
                    );
                }
                Want::RoundTrip => {
                    result.unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert!(fx.collector.wait_for_delivered(1, T), "{label}");
                    let hits = fx.collector.delivered();
                    assert_eq!(hits.len(), 1, "{label}: one hit, not split");
                    for (k, v) in &params {
                        let got: Vec<&str> = hits[0]
                            .params
                            .iter()
                            .filter(|(key, _)| key == k)
                            .map(|(_, value)| value.as_str())
                            .collect();
                        assert_eq!(got, [v.as_str()], "{label}: key {k:?}");
                    }
                    assert_eq!(hits[0].param("mherr"), None, "{label}");
                }
                Want::LeftOut(key) => {
                    result.unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert!(fx.collector.wait_for_delivered(1, T), "{label}");
                    let hits = fx.collector.delivered();
                    assert_eq!(hits.len(), 1, "{label}");
                    assert_eq!(hits[0].param("mherr"), Some("1"), "{label}");
                    assert!(hits[0].query.len() < 8000, "{label}");
                    let new_warnings = &seen.warnings()[warnings_before..];
                    assert!(
                        new_warnings.iter().any(|w| w.contains(&format!("`{key}"))),
                        "{label}: {new_warnings:?}"
                    );
                }
            }
        }
    }
    eprintln!("bad inputs tried (parameters): {tried}");
}

/// Very many parameters: split into parts that each fit `maxHitSize`, every
/// parameter exactly once; or, past 999 parts, `mherr=1` and a warning.
#[test]
fn very_many_parameters_split_or_degrade_cleanly() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    tracker
        .set_config("maxHitSize".into(), "1000".into(), None)
        .unwrap();
    let many: Vec<HitParam> = (0..5000)
        .map(|i| HitParam::new(format!("k{i}"), format!("v{i}")))
        .collect();
    tracker.send(many).unwrap();
    flush(&tracker);
    let hits = fx.collector.delivered();
    let n = hits.len();
    assert!(n > 1 && n <= 999, "{n} parts");
    for hit in &hits {
        let url_len = fx.collector.endpoint().len() + 1 + hit.query.len();
        assert!(url_len <= 1000, "a part of {url_len} bytes");
        let mh: Vec<&str> = hit.param("mh").unwrap().split('-').collect();
        assert_eq!(mh[1], n.to_string(), "every part says how many there are");
    }
    let keys: Vec<&str> = hits
        .iter()
        .flat_map(|h| h.params.iter().map(|(k, _)| k.as_str()))
        .filter(|k| k.starts_with('k'))
        .collect();
    assert_eq!(keys.len(), 5000, "each parameter exactly once");

    // Too many for 999 parts: sent once, standard parameters only, mherr=1.
    fx.collector.clear();
    let too_many: Vec<HitParam> = (0..20_000)
        .map(|i| HitParam::new(format!("key{i}"), "x".repeat(40)))
        .collect();
    tracker.send(too_many).unwrap();
    flush(&tracker);
    let hits = fx.collector.delivered();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].param("mherr"), Some("1"));
    assert!(
        seen.warnings().iter().any(|w| w.contains("999")),
        "{:?}",
        seen.warnings()
    );
}

/// `from_json` with shapes JSON allows but the config does not: each is an
/// `InvalidConfig` naming the key at fault (or `json`), never a panic.
#[test]
fn from_json_odd_shapes_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_string_lossy().into_owned();
    let with = |extra: &str| format!(r#"{{"site": "1", "databasePath": {db:?}, {extra}}}"#);
    let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let cases: Vec<(&str, String)> = vec![
        ("json", "null".into()),
        ("json", "true".into()),
        ("json", "42".into()),
        ("json", "\u{feff}{}".into()),
        ("json", "{} {}".into()),
        ("json", "{\"site\": \"1\",}".into()),
        ("json", deep(100_000)),
        ("json", with(&format!("\"storage\": {}", deep(200)))),
        ("json", with("\"maxAttempts\": 1e400")),
        ("site", "{}".into()),
        ("site", with("\"site\": null")),
        ("site", with(r#""site": {"id": 1}"#)),
        ("site", with(r#""site": "١٢٣""#)),
        ("site", with(r#""site": "-1""#)),
        ("site", with(r#""site": 1.5"#)),
        (
            "site",
            with(&format!("\"site\": \"{}x\"", "1".repeat(1 << 20))),
        ),
        ("storage", with(r#""storage": {"mode": "always"}"#)),
        ("storage", with(r#""storage": null"#)),
        ("storage", with(r#""storage": "Always""#)),
        ("storage", with(r#""storage": "always\u0000""#)),
        ("secure", with(r#""secure": 1"#)),
        ("secure", with(r#""secure": null"#)),
        ("maxAttempts", with(r#""maxAttempts": 2.5"#)),
        ("maxAttempts", with(r#""maxAttempts": 3.0"#)),
        ("maxAttempts", with(r#""maxAttempts": -3"#)),
        ("maxAttempts", with(r#""maxAttempts": 0"#)),
        ("maxAttempts", with(r#""maxAttempts": 4294967296"#)),
        ("maxHitSize", with(r#""maxHitSize": 18446744073709551616"#)),
        ("maxHitSize", with(r#""maxHitSize": -0"#)),
        ("maxStoredHits", with(r#""maxStoredHits": 1e3"#)),
        ("maxStoredHits", with(r#""maxStoredHits": -1"#)),
        ("requestTimeoutMs", with(r#""requestTimeoutMs": 0"#)),
        ("dispatchConcurrency", with(r#""dispatchConcurrency": 17"#)),
        ("endpoint", with(r#""endpoint": "ftp://x/y""#)),
        ("endpoint", with(r#""endpoint": ["http://x"]"#)),
        ("endpoint", with(r#""endpoint": "http://exa mple.com/hit""#)),
        ("name", with(r#""name": "../escape""#)),
        ("name", with(r#""name": """#)),
        ("name", with(r#""name": null"#)),
        (
            "databasePath",
            r#"{"site": "1", "databasePath": ""}"#.into(),
        ),
        (
            "databasePath",
            r#"{"site": "1", "databasePath": {"path": "/tmp"}}"#.into(),
        ),
        ("", with(r#""": 1"#)),
        ("site\u{0}", with("\"site\\u0000\": 1")),
    ];
    for (key, json) in &cases {
        let shown: String = json.chars().take(120).collect();
        let result = catch_unwind(|| Tracker::from_json(json.clone(), None))
            .unwrap_or_else(|_| panic!("{shown}: panicked"));
        match result {
            Err(TrackerError::InvalidConfig { key: k, reason }) => {
                assert_eq!(&k, key, "{shown}: {reason}");
                assert!(!reason.is_empty(), "{shown}");
            }
            other => panic!(
                "{shown}: expected InvalidConfig, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    assert!(
        !dir.path().join("db").exists(),
        "a refused config wrote nothing"
    );
    eprintln!("bad inputs tried (from_json, refused): {}", cases.len());
}

/// Shapes that are odd but valid: they give a working tracker configured
/// exactly as the JSON says.
#[test]
fn from_json_odd_but_valid_shapes_are_taken_as_written() {
    let fx = Fixture::new();
    let db = fx.db_path();
    let endpoint = fx.collector.endpoint();
    let with = |extra: &str| {
        format!(r#"{{"site": 7, "databasePath": {db:?}, "endpoint": {endpoint:?}, {extra}}}"#)
    };
    let cases = [
        // A repeated key: the last one wins, as JSON parsers usually do.
        (with(r#""maxAttempts": 9, "maxAttempts": 4"#), 4, 20_000i64),
        (
            with(r#""maxStoredHits": 9223372036854775807, "maxAttempts": 5"#),
            5,
            i64::MAX,
        ),
        (with(r#""maxAttempts": " 6 ", "maxStoredHits": 0"#), 6, 0),
        (
            with(r#""maxAttempts": "3", "storage": "required""#),
            3,
            20_000,
        ),
    ];
    let tried = cases.len();
    for (json, attempts, stored) in cases {
        let tracker = catch_unwind(|| Tracker::from_json(json.clone(), None))
            .unwrap_or_else(|_| panic!("{json}: panicked"))
            .unwrap_or_else(|e| panic!("{json}: {e}"));
        let config = tracker.config();
        assert_eq!(
            (config.site.as_str(), config.max_attempts),
            ("7", attempts),
            "{json}"
        );
        assert_eq!(config.max_stored_hits, stored, "{json}");
        tracker.send(vec![HitParam::new("ok", "1")]).unwrap();
        flush(&tracker);
        close(tracker);
    }
    assert!(fx.collector.wait_for_delivered(1, T));
    eprintln!("bad inputs tried (from_json, accepted): {tried}");
}

/// Found by the `hit` fuzz target: a hit that loses a too-long parameter
/// gets `mherr=1` appended to its last part with no room kept for it, so the
/// part (8 bytes over its budget) can exceed `maxHitSize` once stored
/// (`cn=offline&olt=...`). Contract §1.5: parts are at most `maxHitSize`.
#[test]
fn a_part_carrying_mherr_stays_within_max_hit_size_once_stored() {
    use hitkit::internal::hit::{Identity, build, to_offline, url};
    let max = 300;
    let base = "https://logs.xiti.com/hit.xiti";
    let identity = Identity {
        base_url: base,
        site: "123456",
        idclient: "0b5f6a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
        platform: "linux",
        max_hit_size: max,
        hit_id: None,
    };
    let mut over = Vec::new();
    for filler in 1..200 {
        let own = vec![
            ("huge".to_owned(), "x".repeat(1000)),
            ("fill".to_owned(), "y".repeat(filler)),
        ];
        let hit = build(
            &identity,
            &[],
            HitType::Custom,
            own,
            1_700_000_000_000,
            || 7,
        );
        for query in &hit.queries {
            let stored = url(base, &to_offline(query, 1_700_000_000.123));
            if stored.len() > max {
                over.push((filler, url(base, query).len(), stored.len()));
            }
        }
    }
    assert!(
        over.is_empty(),
        "(filler, part, stored part) over maxHitSize {max}: {over:?}"
    );
}
