//! Encryption at rest (docs/contract.md §4.4): stored hits, the journal and
//! the visitor id sealed with AES-256-GCM under the app's key; each record
//! bound to its place; once a store is encrypted, nothing in clear is
//! written or trusted; a wrong or missing key keeps everything, never a
//! crash; the key is never shown.

mod common;
use common::*;

const KEY: &str = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn config(fx: &Fixture, key: Option<&str>) -> TrackerConfig {
    TrackerConfig {
        encryption_key: key.map(EncryptionKey::from),
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

fn store_dir(fx: &Fixture) -> std::path::PathBuf {
    fx.dir.path().join("hits").join("store")
}

#[test]
fn sealed_hits_and_the_visitor_id_never_reach_the_disk_in_clear() {
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(config(&fx, Some(KEY)));
    screen(&tracker, "PlainTextScreenName");
    flush(&tracker);
    assert_eq!(seen.saved(), 1);
    assert!(
        tracker.offline().get().unwrap()[0]
            .url
            .contains("p=PlainTextScreenName")
    );
    assert_eq!(dispatch(&tracker).sent, 1);
    assert_eq!(pages(&fx.collector.delivered()), ["PlainTextScreenName"]);
    let visitor = last_idclient(&fx.collector);
    assert!(!files_contain(&store_dir(&fx), b"PlainTextScreenName"));
    assert!(!files_contain(&store_dir(&fx), visitor.as_bytes()));

    // The control: a store without a key holds both as they are.
    let plain = Fixture::new();
    let (tracker, _) = tracker_with(config(&plain, None));
    screen(&tracker, "PlainTextScreenName");
    flush(&tracker);
    assert!(files_contain(&store_dir(&plain), b"PlainTextScreenName"));
    assert_eq!(dispatch(&tracker).sent, 1);
    let visitor = last_idclient(&plain.collector);
    assert!(files_contain(&store_dir(&plain), visitor.as_bytes()));
}

#[test]
fn a_wrong_or_missing_key_keeps_everything_and_writes_nothing_in_clear() {
    for reopen_key in [Some(OTHER), None] {
        let fx = Fixture::new();
        let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
        for name in names("s", 3) {
            screen(&tracker, &name);
        }
        close(tracker);
        let (tracker, seen) = tracker_with(config(&fx, reopen_key));
        // The worker applies the key as it starts: wait for it.
        assert!(eventually(std::time::Duration::from_secs(5), || !seen
            .errors()
            .is_empty()));
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
        // A new hit cannot be stored in clear: it waits in memory, and
        // `flush` says so rather than pretend it is saved.
        screen(&tracker, "HeldWhileLocked");
        match wait(tracker.flush()) {
            Err(TrackerError::Storage { reason }) => {
                assert!(reason.contains("kept in memory"), "{reason}")
            }
            other => panic!("{reopen_key:?}: flush while locked: {other:?}"),
        }
        assert!(!files_contain(&store_dir(&fx), b"HeldWhileLocked"));
        // The right key back (the Keychain unlocked): nothing was lost.
        tracker
            .set_config("encryptionKey".into(), KEY.into(), None)
            .unwrap();
        flush(&tracker);
        assert_eq!(dispatch(&tracker).sent, 4);
        assert_eq!(
            pages(&fx.collector.delivered()),
            ["s0", "s1", "s2", "HeldWhileLocked"]
        );
        assert!(!files_contain(&store_dir(&fx), b"HeldWhileLocked"));
    }
}

#[test]
fn turning_encryption_on_seals_the_hits_stored_before() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, None));
    screen(&tracker, "BeforeTheKey");
    flush(&tracker);
    assert!(files_contain(&store_dir(&fx), b"BeforeTheKey"));
    tracker
        .set_config("encryptionKey".into(), KEY.into(), None)
        .unwrap();
    screen(&tracker, "AfterTheKey");
    flush(&tracker);
    assert_eq!(tracker.offline().get().unwrap().len(), 2);
    close(tracker);
    // sled keeps old versions in its log until it reuses the space: what
    // counts is that a reopened store reads only sealed records.
    let (tracker, seen) = tracker_with(config(&fx, Some(KEY)));
    assert_eq!(dispatch(&tracker).sent, 2);
    assert_eq!(
        pages(&fx.collector.delivered()),
        ["BeforeTheKey", "AfterTheKey"]
    );
    assert!(seen.errors().is_empty(), "{:?}", seen.errors());
}

#[test]
fn turning_encryption_off_keeps_the_hits() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    screen(&tracker, "sealed");
    tracker
        .set_config("encryptionKey".into(), "".into(), None)
        .unwrap();
    screen(&tracker, "clear");
    flush(&tracker);
    close(tracker);
    let (tracker, seen) = tracker_with(config(&fx, None));
    assert_eq!(dispatch(&tracker).sent, 2);
    assert_eq!(pages(&fx.collector.delivered()), ["sealed", "clear"]);
    assert!(seen.errors().is_empty(), "{:?}", seen.errors());
}

/// A record in clear slipped into an encrypted store (a tampered copy) is
/// refused and reported, not sent.
#[test]
fn a_record_in_clear_in_an_encrypted_store_is_refused() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    screen(&tracker, "genuine");
    close(tracker);
    let ts = hitkit::internal::now_ms();
    plant(&fx.db_path(), "default", &[(ts, "s=123&p=forged")], false);
    let (tracker, seen) = tracker_with(config(&fx, Some(KEY)));
    let report = dispatch(&tracker);
    assert_eq!((report.sent, report.remaining), (1, 1));
    assert_eq!(pages(&fx.collector.delivered()), ["genuine"]);
    assert!(
        seen.errors()
            .iter()
            .any(|e| e.contains("1 stored hit(s) could not be read")),
        "{:?}",
        seen.errors()
    );
}

/// A sealed record moved under another key (or tree) does not open.
#[test]
fn a_sealed_record_moved_elsewhere_does_not_open() {
    use hitkit::internal::store::{Changes, Database};
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    screen(&tracker, "moved");
    close(tracker);
    {
        let (db, _) = Database::open(std::path::Path::new(&fx.db_path())).unwrap();
        let (store, _) = db.hit_store("default").unwrap();
        let key = store.keys().unwrap()[0];
        let (ms, id) = hitkit::internal::store::hits::key_parts(&key);
        let raw = store.raw(&key).unwrap().unwrap();
        let mut changes = Changes::default();
        changes.remove(key);
        store.apply(changes).unwrap();
        store
            .put_raw(&hitkit::internal::store::hits::make_key(ms + 1, id), &raw)
            .unwrap();
        db.sync().unwrap();
    }
    let (tracker, seen) = tracker_with(config(&fx, Some(KEY)));
    let report = dispatch(&tracker);
    assert_eq!((report.sent, report.remaining), (0, 1));
    assert!(fx.collector.hits().is_empty());
    assert!(
        seen.errors()
            .iter()
            .any(|e| e.contains("could not be read")),
        "{:?}",
        seen.errors()
    );
}

#[test]
fn the_key_is_never_shown() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    let shown = tracker.config();
    assert_ne!(shown.encryption_key, Some(EncryptionKey::from(KEY)));
    assert!(shown.encryption_key.is_some(), "a key is set, and says so");
    let printed = format!("{:?} {:?}", shown, config(&fx, Some(KEY)));
    assert!(!printed.contains(&KEY[..16]), "{printed}");
}

#[test]
fn a_refused_second_tracker_does_not_change_the_live_ones_key() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    assert!(matches!(
        Tracker::new(config(&fx, None), None),
        Err(TrackerError::InvalidConfig { .. })
    ));
    screen(&tracker, "StillSealedScreen");
    flush(&tracker);
    assert!(!files_contain(&store_dir(&fx), b"StillSealedScreen"));
}

/// The key is the database's: a second tracker on it without the key locks
/// it for both. The first tracker then keeps its new hits in memory, and
/// says so, instead of losing them; once the key is back they are stored,
/// in order.
#[test]
fn hits_of_a_tracker_whose_database_another_tracker_locked_are_kept() {
    let fx = Fixture::new();
    let (first, seen) = tracker_with(TrackerConfig {
        name: "first".into(),
        ..config(&fx, Some(KEY))
    });
    screen(&first, "before");
    flush(&first);
    let (second, _) = tracker_with(TrackerConfig {
        name: "second".into(),
        ..config(&fx, None)
    });
    screen(&first, "while_locked");
    assert!(
        eventually(std::time::Duration::from_secs(10), || seen
            .errors()
            .iter()
            .any(|e| e.contains("kept in memory"))),
        "{:?}",
        seen.errors()
    );
    second
        .set_config("encryptionKey".into(), KEY.into(), None)
        .unwrap();
    flush(&second);
    screen(&first, "after");
    flush(&first);
    let stored: Vec<String> = first
        .offline()
        .get()
        .unwrap()
        .iter()
        .filter_map(|hit| {
            hit.url
                .split('&')
                .find_map(|p| p.strip_prefix("p=").map(str::to_owned))
        })
        .collect();
    assert_eq!(stored, ["before", "while_locked", "after"]);
    assert!(
        !seen.errors().iter().any(|e| e.contains("lost")),
        "{:?}",
        seen.errors()
    );
}

/// Turning encryption on rewrites every tracker's records while the other
/// trackers keep writing: none of their batches lands in clear (it would be
/// refused in an encrypted store), and none is lost or counted twice.
#[test]
fn a_key_given_while_another_tracker_writes_leaves_nothing_in_clear() {
    let fx = Fixture::new();
    let (first, seen) = tracker_with(TrackerConfig {
        name: "first".into(),
        ..config(&fx, None)
    });
    for name in names("before", 2000) {
        screen(&first, &name);
    }
    flush(&first);
    let writer = {
        let first = first.clone();
        std::thread::spawn(move || {
            for name in names("during", 2000) {
                screen(&first, &name);
                if name.ends_with('0') {
                    let _ = wait(first.flush());
                }
            }
        })
    };
    let (second, _) = tracker_with(TrackerConfig {
        name: "second".into(),
        ..config(&fx, Some(KEY))
    });
    writer.join().unwrap();
    first
        .set_config("encryptionKey".into(), KEY.into(), None)
        .unwrap();
    flush(&first);
    flush(&second);
    let readable = first.offline().get().unwrap().len() as i64;
    assert_eq!(
        (readable, first.offline().count()),
        (4000, 4000),
        "{:?}",
        seen.errors()
    );
}

/// A kill while encryption was being turned off can leave the key marker
/// gone and the visitor id still sealed. Started again without the key,
/// the tracker makes a new visitor id and goes on, instead of keeping every
/// hit in memory for a key that will not come.
#[test]
fn a_sealed_visitor_id_left_in_a_store_in_clear_is_replaced() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(config(&fx, Some(KEY)));
    screen(&tracker, "sealed");
    flush(&tracker);
    close(tracker);
    let db = std::path::PathBuf::from(fx.db_path());
    released(&db);
    {
        // The state a kill right after the marker's removal leaves.
        use hitkit::internal::store::Database;
        let (database, _) = Database::open(&db).unwrap();
        database.use_key(Some(&EncryptionKey::from(KEY))).unwrap();
        database.meta().remove_marker().unwrap();
        database.sync().unwrap();
    }
    released(&db);
    let (tracker, seen) = tracker_with(config(&fx, None));
    screen(&tracker, "clear");
    flush(&tracker);
    assert!(
        !seen.errors().iter().any(|e| e.contains("kept in memory")),
        "{:?}",
        seen.errors()
    );
    assert_eq!(dispatch(&tracker).sent, 1);
    assert_eq!(pages(&fx.collector.delivered()), ["clear"]);
}
