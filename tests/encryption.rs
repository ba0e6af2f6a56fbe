//! Encryption at rest: stored hits sealed with AES-256-GCM under a key the
//! app supplies; a wrong or missing key loses those hits cleanly, never a crash.

mod common;
use common::*;

const KEY: &str = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn config(fx: &Fixture, key: Option<&str>) -> TrackerConfig {
    TrackerConfig {
        encryption_key: key.map(str::to_owned),
        ..fx.config(OfflineModeKey::Always)
    }
}

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            return files_contain(&path, needle);
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

#[test]
fn sealed_hits_never_reach_the_disk_in_clear_and_dispatch_normally() {
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(config(&fx, Some(KEY)));
    screen(&tracker, "PlainTextScreenName");
    flush(&tracker);
    assert_eq!(seen.saved(), 1);
    let store = fx.dir.path().join("hits").join("store");
    assert!(!files_contain(&store, b"PlainTextScreenName"));
    // The control: without a key the same name is on disk as it is.
    let (plain, _) = tracker_with(TrackerConfig {
        name: "plain".into(),
        ..config(&fx, None)
    });
    screen(&plain, "PlainTextScreenName");
    flush(&plain);
    assert!(files_contain(&store, b"PlainTextScreenName"));

    assert!(
        tracker.offline().get().unwrap()[0]
            .url
            .contains("p=PlainTextScreenName")
    );
    assert_eq!(dispatch(&tracker).sent, 1);
    assert_eq!(pages(&fx.collector.delivered()), ["PlainTextScreenName"]);
}

#[test]
fn a_wrong_or_missing_key_keeps_sealed_hits_unsent_and_reports_them() {
    for reopen_key in [Some(OTHER), None] {
        let fx = Fixture::new();
        let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
        for name in names("s", 3) {
            screen(&tracker, &name);
        }
        close(tracker);
        let (tracker, seen) = tracker_with(config(&fx, reopen_key));
        assert!(
            tracker.offline().get().unwrap().is_empty(),
            "{reopen_key:?}"
        );
        let report = dispatch(&tracker);
        assert_eq!((report.sent, report.remaining), (0, 3));
        assert!(fx.collector.hits().is_empty());
        let errors = seen.errors();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("3 stored hit(s) could not be read")),
            "{errors:?}"
        );
        // Reported once, not at every pass.
        dispatch(&tracker);
        assert_eq!(seen.errors().len(), errors.len());
        // The tracker keeps working.
        screen(&tracker, "after");
        flush(&tracker);
        assert_eq!(dispatch(&tracker).sent, 1);
        close(tracker);
        // The right key back (the Keychain unlocked): nothing was lost.
        let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
        assert_eq!(dispatch(&tracker).sent, 3);
        assert_eq!(
            pages(&fx.collector.delivered()),
            ["after", "s0", "s1", "s2"]
        );
    }
}

#[test]
fn turning_encryption_on_keeps_hits_stored_before() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, None));
    screen(&tracker, "before");
    tracker
        .set_config("encryptionKey".into(), KEY.into(), None)
        .unwrap();
    screen(&tracker, "after");
    flush(&tracker);
    assert_eq!(tracker.offline().get().unwrap().len(), 2);
    assert_eq!(dispatch(&tracker).sent, 2);
    assert_eq!(pages(&fx.collector.delivered()), ["before", "after"]);
}

#[test]
fn a_refused_second_tracker_does_not_change_the_live_ones_key() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    assert!(matches!(
        Tracker::new(config(&fx, None)),
        Err(TrackerError::InvalidConfig { .. })
    ));
    screen(&tracker, "StillSealedScreen");
    flush(&tracker);
    let store = fx.dir.path().join("hits").join("store");
    assert!(!files_contain(&store, b"StillSealedScreen"));
}
