//! Config parsing: `TrackerConfig::from_json` on any text, and
//! `TrackerConfig::set` on any key and value. Never a panic; what is
//! accepted validates; what is refused leaves the config as it was.
#![no_main]

use hitkit::internal::config::TrackerConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<(String, String)>)| {
    let (json, changes) = input;
    if let Ok(config) = TrackerConfig::from_json(&json) {
        assert!(config.validate().is_ok(), "from_json accepted {json:?}");
    }
    let mut config = TrackerConfig {
        site: "1".into(),
        database_path: "/nonexistent/hitkit-fuzz".into(),
        ..Default::default()
    };
    for (key, value) in changes {
        let before = config.clone();
        match config.set(&key, &value) {
            Ok(()) => assert!(config.validate().is_ok(), "set({key:?}, {value:?})"),
            Err(_) => assert_eq!(config, before, "a refused set({key:?}) changed something"),
        }
    }
});
