//! Configuration: every `set_config` key with good and bad values, the
//! constructor, and `from_json` (contract §6, §7).

mod common;
use common::*;
use std::sync::{Arc, Mutex};

/// (key, good values, bad values)
const KEYS: &[(&str, &[&str], &[&str])] = &[
    (
        "log",
        &["logx", "a-b.c"],
        &["", "has space", "-lead", "a/b"],
    ),
    ("logSSL", &["logsx"], &["", "bad_host!"]),
    (
        "domain",
        &["example.com"],
        &["", "exa mple.com", "example.com.", "123", "1.2.3"],
    ),
    (
        "pixelPath",
        &["/hit.xiti", "/a/b"],
        &["", "hit.xiti", "/a?b", "/a b"],
    ),
    ("site", &["1", "123456"], &["", "abc", "12a", "-1", " 1"]),
    ("secure", &["true", "false"], &["", "yes", "1", "TRUE"]),
    ("identifier", &["uuid", "visitor-1"], &[""]),
    (
        "storage",
        &["required", "always", "never"],
        &["", "sometimes", "Required"],
    ),
    (
        "maxHitSize",
        &["256", "8000", "100000"],
        &["0", "-1", "255", "abc", "1.5", ""],
    ),
    (
        "endpoint",
        &["http://127.0.0.1:1/hit.xiti", "https://c.example.com/x", ""],
        &[
            "not a url",
            "ftp://h/x",
            "http://h/x?a=b",
            "http://h/x#f",
            "http://",
            "https://b\u{fc}cher.example/hit",
        ],
    ),
    ("maxAttempts", &["1", "3", "100"], &["0", "-3", "101", "x"]),
    ("maxStoredHits", &["0", "1", "20000"], &["-1", "x", "1e3"]),
    ("maxStorageAgeDays", &["0", "30"], &["-1", "x"]),
    (
        "requestTimeoutMs",
        &["1", "15000"],
        &["0", "-5", "x", "600001"],
    ),
    ("dispatchConcurrency", &["1", "16"], &["0", "17", "x"]),
    (
        "encryptionKey",
        &[
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "",
        ],
        &[
            "00",
            "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "+00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
        ],
    ),
    (
        "logLevel",
        &["off", "error", "warning", "info", "debug"],
        &["", "verbose", "Warning"],
    ),
    (
        "hitIdParameter",
        &["hid", "x-id", ""],
        &["has space", "a&b", "é"],
    ),
    ("queryInMessages", &["true", "false"], &["", "no"]),
    ("optOut", &["true", "false"], &["", "yes"]),
];

#[test]
fn every_key_accepts_good_values_and_rejects_bad_ones_without_change() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    for (key, good, bad) in KEYS {
        for value in *good {
            tracker
                .set_config(key.to_string(), value.to_string(), None)
                .unwrap_or_else(|e| panic!("{key}={value:?} refused: {e}"));
        }
        for value in *bad {
            let before = tracker.config();
            match tracker.set_config(key.to_string(), value.to_string(), None) {
                Err(TrackerError::InvalidConfig { key: k, reason }) => {
                    assert_eq!(&k, key);
                    assert!(!reason.is_empty());
                }
                other => panic!("{key}={value:?}: expected InvalidConfig, got {other:?}"),
            }
            assert_eq!(
                tracker.config(),
                before,
                "{key}={value:?} changed the config"
            );
        }
    }
}

#[test]
fn every_documented_key_is_covered() {
    let covered: Vec<_> = KEYS.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(covered, hitkit::internal::config::CONFIG_KEYS);
}

#[test]
fn unknown_and_constructor_only_keys_are_refused() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    for key in ["", "Storage", "unknown", "databasePath", "name"] {
        let result = tracker.set_config(key.into(), "x".into(), None);
        assert!(
            matches!(result, Err(TrackerError::InvalidConfig { key: ref k, .. }) if k == key),
            "{key}: {result:?}"
        );
    }
}

#[test]
fn completion_handler_hears_true_or_false() {
    struct Heard(Arc<Mutex<Vec<bool>>>);
    impl SetConfigCallback for Heard {
        fn on_set(&self, is_set: bool) {
            self.0.lock().unwrap().push(is_set);
        }
    }
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let handler = || Some(Arc::new(Heard(heard.clone())) as Arc<dyn SetConfigCallback>);
    tracker
        .set_config("storage".into(), "required".into(), handler())
        .unwrap();
    assert!(
        tracker
            .set_config("storage".into(), "sometimes".into(), handler())
            .is_err()
    );
    flush(&tracker);
    // The refusal is heard at once; the accepted change once the worker applies it.
    let mut heard = heard.lock().unwrap().clone();
    heard.sort();
    assert_eq!(heard, [false, true]);
}

#[test]
fn endpoint_and_secure_shape_the_url() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    tracker
        .set_config("endpoint".into(), "".into(), None)
        .unwrap();
    screen(&tracker, "a");
    tracker
        .set_config("secure".into(), "false".into(), None)
        .unwrap();
    tracker
        .set_config("log".into(), "mylog".into(), None)
        .unwrap();
    tracker
        .set_config("domain".into(), "example.org".into(), None)
        .unwrap();
    tracker
        .set_config("pixelPath".into(), "/p.gif".into(), None)
        .unwrap();
    screen(&tracker, "b");
    flush(&tracker);
    let built: Vec<String> = seen
        .all()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Built(_, url) => Some(url),
            _ => None,
        })
        .collect();
    assert!(
        built[0].starts_with("https://logs.xiti.com/hit.xiti?s=123&"),
        "{}",
        built[0]
    );
    assert!(
        built[1].starts_with("http://mylog.example.org/p.gif?s=123&"),
        "{}",
        built[1]
    );
    // Stored hits go to the collector configured when they are sent.
    let urls = stored_urls(&tracker);
    assert!(
        urls.iter()
            .all(|u| u.starts_with("http://mylog.example.org/p.gif?s=123&")),
        "{urls:?}"
    );
}

#[test]
fn constructor_rejects_bad_configs() {
    let dir = tempfile::tempdir().unwrap();
    let base = TrackerConfig {
        site: "1".into(),
        database_path: dir.path().join("db").to_string_lossy().into_owned(),
        ..Default::default()
    };
    let cases: Vec<(&str, TrackerConfig)> = vec![
        (
            "site",
            TrackerConfig {
                site: "".into(),
                ..base.clone()
            },
        ),
        (
            "site",
            TrackerConfig {
                site: "x1".into(),
                ..base.clone()
            },
        ),
        (
            "databasePath",
            TrackerConfig {
                database_path: "".into(),
                ..base.clone()
            },
        ),
        (
            "maxHitSize",
            TrackerConfig {
                max_hit_size: 0,
                ..base.clone()
            },
        ),
        (
            "maxAttempts",
            TrackerConfig {
                max_attempts: 0,
                ..base.clone()
            },
        ),
        (
            "requestTimeoutMs",
            TrackerConfig {
                request_timeout_ms: 0,
                ..base.clone()
            },
        ),
        (
            "dispatchConcurrency",
            TrackerConfig {
                dispatch_concurrency: 0,
                ..base.clone()
            },
        ),
        (
            "endpoint",
            TrackerConfig {
                endpoint: Some("nope".into()),
                ..base.clone()
            },
        ),
        (
            "name",
            TrackerConfig {
                name: "".into(),
                ..base.clone()
            },
        ),
        (
            "name",
            TrackerConfig {
                name: "a/b".into(),
                ..base.clone()
            },
        ),
    ];
    for (key, config) in cases {
        match Tracker::new(config, None) {
            Err(TrackerError::InvalidConfig { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: expected InvalidConfig, got {:?}", other.map(|_| ())),
        }
    }
    assert!(
        !dir.path().join("db").exists(),
        "a refused config wrote nothing"
    );
}

#[test]
fn from_json_takes_the_same_keys_plus_database_path_and_name() {
    let fx = Fixture::new();
    let json = serde_json::json!({
        "site": 42, "databasePath": fx.db_path(), "name": "json",
        "storage": "always", "secure": false, "maxAttempts": 5,
        "endpoint": fx.collector.endpoint(),
    });
    let tracker = Tracker::from_json(json.to_string(), None).unwrap();
    let config = tracker.config();
    assert_eq!(
        (
            config.site.as_str(),
            config.name.as_str(),
            config.max_attempts
        ),
        ("42", "json", 5)
    );
    assert_eq!(tracker.offline_mode(), OfflineModeKey::Always);
    assert!(!config.secure);
}

#[test]
fn from_json_rejects_malformed_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_string_lossy();
    let cases = [
        ("json", "".to_owned()),
        ("json", "{".to_owned()),
        ("json", "[1,2]".to_owned()),
        ("json", "\"site\"".to_owned()),
        ("site", format!(r#"{{"databasePath": "{db}"}}"#)),
        ("databasePath", r#"{"site": "1"}"#.to_owned()),
        (
            "bogus",
            format!(r#"{{"site": "1", "databasePath": "{db}", "bogus": 1}}"#),
        ),
        (
            "maxAttempts",
            format!(r#"{{"site": "1", "databasePath": "{db}", "maxAttempts": -1}}"#),
        ),
        (
            "secure",
            format!(r#"{{"site": "1", "databasePath": "{db}", "secure": "maybe"}}"#),
        ),
        (
            "storage",
            format!(r#"{{"site": "1", "databasePath": "{db}", "storage": ["always"]}}"#),
        ),
    ];
    for (key, json) in cases {
        match Tracker::from_json(json.clone(), None) {
            Err(TrackerError::InvalidConfig { key: k, .. }) => assert_eq!(k, key, "{json}"),
            other => panic!(
                "{json}: expected InvalidConfig, got {:?}",
                other.map(|_| ())
            ),
        }
    }
}

#[test]
fn defaults_match_the_contract() {
    let c = TrackerConfig::default();
    assert_eq!(
        (c.log.as_str(), c.log_ssl.as_str(), c.domain.as_str()),
        ("logp", "logs", "xiti.com")
    );
    assert_eq!(
        (c.pixel_path.as_str(), c.secure, c.identifier.as_str()),
        ("/hit.xiti", true, "uuid")
    );
    assert_eq!(
        (c.max_hit_size, c.max_attempts, c.max_stored_hits),
        (8000, 3, 20000)
    );
    assert_eq!(
        (
            c.max_storage_age_days,
            c.request_timeout_ms,
            c.dispatch_concurrency
        ),
        (30, 15000, 1)
    );
    assert_eq!((c.endpoint, c.name.as_str()), (None, "default"));
}

#[test]
fn a_panicking_completion_handler_does_not_stop_the_tracker() {
    struct Boom;
    impl SetConfigCallback for Boom {
        fn on_set(&self, _: bool) {
            panic!("a host callback threw");
        }
    }
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    tracker
        .set_config("maxAttempts".into(), "4".into(), Some(Arc::new(Boom)))
        .unwrap();
    assert!(
        tracker
            .set_config("maxAttempts".into(), "x".into(), Some(Arc::new(Boom)))
            .is_err()
    );
    screen(&tracker, "still-working");
    flush(&tracker);
    assert_eq!(pages(&fx.collector.delivered()), ["still-working"]);
}
