//! Config parsing: `Settings::from_json` on any text, and `Settings::set` on
//! any key and value. Never a panic; what is accepted validates; what is
//! refused leaves the settings as they were.
#![no_main]

use hitkit::engine::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<(String, String)>)| {
    let (json, changes) = input;
    if let Ok(settings) = Settings::from_json(&json) {
        assert!(settings.validate().is_ok(), "from_json accepted {json:?}");
    }
    let mut settings = Settings {
        site: "1".into(),
        database_path: "/nonexistent/hitkit-fuzz".into(),
        ..Default::default()
    };
    for (key, value) in changes {
        let before = settings.clone();
        match settings.set(&key, &value) {
            Ok(()) => assert!(settings.validate().is_ok(), "set({key:?}, {value:?})"),
            Err(_) => assert_eq!(settings, before, "a refused set({key:?}) changed something"),
        }
    }
});
