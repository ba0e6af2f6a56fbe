//! Durability, limits and the database itself (contract §2, §4).

mod common;
use common::*;
use std::time::{Duration, SystemTime};

#[test]
fn stored_hits_carry_cn_offline_and_olt_right_after_ts() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "a");
    flush(&tracker);
    let hit = tracker.offline().latest().unwrap().unwrap();
    assert!(hit.is_offline);
    assert_eq!(hit.hit_type, HitType::Screen);
    let query = hit.url.split_once('?').unwrap().1;
    let keys: Vec<_> = query
        .split('&')
        .map(|p| p.split('=').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["s", "idclient", "ts", "olt", "vtag", "ptag", "p", "cn"]
    );
    assert!(query.contains("&cn=offline"));
    let age = SystemTime::now().duration_since(hit.creation_date).unwrap();
    assert!(age < Duration::from_secs(10));

    dispatch(&tracker);
    let got = &fx.collector.delivered()[0];
    let olt: f64 = got.param("olt").unwrap().parse().unwrap();
    let ts: f64 = got.param("ts").unwrap().parse().unwrap();
    assert!(
        olt * 1000.0 >= ts - 1.0,
        "olt {olt} is the storing time, ts {ts} the creation"
    );
}

#[test]
fn hits_survive_a_new_tracker_on_the_same_path() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    for name in names("p", 3) {
        screen(&tracker, &name);
    }
    close(tracker);
    let (again, _) = fx.tracker(OfflineModeKey::Always);
    assert_eq!(again.offline().count(), 3);
    assert_eq!(dispatch(&again).sent, 3);
    assert_eq!(pages(&fx.collector.delivered()), names("p", 3));
}

#[test]
fn the_visitor_uuid_is_made_once_and_kept() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    screen(&tracker, "a");
    close(tracker);
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    screen(&tracker, "b");
    tracker
        .set_config("identifier".into(), "visitor-42".into(), None)
        .unwrap();
    screen(&tracker, "c");
    flush(&tracker);
    let ids: Vec<_> = fx
        .collector
        .delivered()
        .iter()
        .map(|h| h.param("idclient").unwrap().to_owned())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].len(), 36);
    assert_eq!(&ids[0][14..15], "4", "a v4 UUID: {}", ids[0]);
    assert_eq!(ids[2], "visitor-42");
}

#[test]
fn trackers_of_different_names_share_a_database_but_not_hits() {
    let fx = Fixture::new();
    let (a, _) = fx.tracker(OfflineModeKey::Always);
    let (b, _) = tracker_with(TrackerConfig {
        name: "second".into(),
        ..fx.config(OfflineModeKey::Always)
    });
    screen(&a, "a");
    screen(&b, "b1");
    screen(&b, "b2");
    flush(&a);
    flush(&b);
    assert_eq!((a.offline().count(), b.offline().count()), (1, 2));
}

#[test]
fn max_stored_hits_drops_the_oldest_and_reports_it() {
    let fx = Fixture::new();
    let config = TrackerConfig {
        max_stored_hits: 3,
        ..fx.config(OfflineModeKey::Always)
    };
    let (tracker, seen) = tracker_with(config);
    for name in names("n", 5) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3);
    dispatch(&tracker);
    assert_eq!(pages(&fx.collector.delivered()), ["n2", "n3", "n4"]);
    let warnings = seen.warnings();
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.contains("maxStoredHits"))
            .count(),
        2,
        "{warnings:?}"
    );
}

#[test]
fn hits_older_than_max_storage_age_are_deleted_on_open_and_reported() {
    let fx = Fixture::new();
    let day = 86_400_000;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    {
        // Plant hits 40 and 10 days old, as an app from last month would have.
        plant(
            &fx.db_path(),
            "default",
            &[(now - 40 * day, "p=old"), (now - 10 * day, "p=mid")],
            false,
        );
    }
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    flush(&tracker);
    assert!(eventually(Duration::from_secs(5), || !seen
        .warnings()
        .is_empty()));
    assert_eq!(tracker.offline().count(), 1);
    assert!(
        seen.warnings()[0].contains("older than 30 day"),
        "{:?}",
        seen.warnings()
    );
    assert_eq!(tracker.offline().delete_older_than(5).unwrap(), 1);
    assert_eq!(tracker.offline().count(), 0);
}

#[test]
fn delete_empties_the_store_and_says_how_many() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    for name in names("d", 4) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    let offline = tracker.offline();
    assert!(offline.oldest().unwrap().unwrap().url.contains("p=d0"));
    assert!(offline.latest().unwrap().unwrap().url.contains("p=d3"));
    assert_eq!(offline.delete().unwrap(), 4);
    assert_eq!(offline.count(), 0);
    assert_eq!(offline.oldest().unwrap(), None);
}

#[test]
fn a_corrupt_database_is_moved_aside_reported_and_replaced() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "a");
    close(tracker);
    assert!(eventually(Duration::from_secs(5), || {
        Tracker::new(fx.config(OfflineModeKey::Always), None)
            .map(drop)
            .is_ok()
    }));
    std::thread::sleep(Duration::from_millis(200));
    let store = fx.dir.path().join("hits").join("store");
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::write(&path, b"\x00garbage\xffgarbage-garbage-garbage").unwrap();
        }
    }
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    let errors = seen.errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("unreadable") && e.contains("corrupt-")),
        "{errors:?}"
    );
    let aside = std::fs::read_dir(fx.dir.path().join("hits"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("store.corrupt-")
        })
        .count();
    assert_eq!(aside, 1);
    screen(&tracker, "b");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 1);
}

/// sled's lock on its files, held by someone else (or by an instance of
/// this process still closing): opening waits for it, and a lock still held
/// is a storage error. Neither is damage: the store is never replaced.
#[test]
fn a_store_whose_sled_lock_is_held_is_waited_for_never_replaced() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "a");
    close(tracker);
    let path = fx.dir.path().join("hits");
    released(&path);

    let holder = sled::open(path.join("store")).expect("sled takes its lock");
    match Tracker::new(fx.config(OfflineModeKey::Always), None) {
        Err(TrackerError::StorageLocked { path: locked }) => {
            assert_eq!(std::path::Path::new(&locked), path.canonicalize().unwrap())
        }
        other => panic!("expected StorageLocked, got {:?}", other.map(|_| ())),
    }

    // Held for a moment only: opening waits, and finds the hit where it was.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(holder);
    });
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    release.join().unwrap();
    assert_eq!(tracker.offline().count(), 1, "{:?}", seen.errors());
    assert!(
        !seen.errors().iter().any(|e| e.contains("fresh one opened")),
        "{:?}",
        seen.errors()
    );
}

#[test]
fn a_database_path_that_is_a_file_is_a_storage_error() {
    let fx = Fixture::new();
    std::fs::write(fx.db_path(), b"not a directory").unwrap();
    match Tracker::new(fx.config(OfflineModeKey::Always), None) {
        Err(TrackerError::Storage { reason }) => assert!(reason.contains("is a file"), "{reason}"),
        other => panic!("expected Storage, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn an_unwritable_database_path_is_a_storage_error() {
    let config = TrackerConfig {
        site: "1".into(),
        database_path: "/proc/hitkit-cannot-be-here".into(),
        ..Default::default()
    };
    assert!(matches!(
        Tracker::new(config, None),
        Err(TrackerError::Storage { .. })
    ));
}

#[test]
fn hits_left_in_the_in_flight_journal_become_stored_hits_on_open() {
    let fx = Fixture::new();
    let ts = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let query = format!("s=1&idclient=a&ts={ts}&p=inflight");
    // What a process killed mid-send leaves behind.
    plant(&fx.db_path(), "default", &[(ts, &query)], true);
    let (tracker, seen) = fx.tracker(OfflineModeKey::Required);
    // Recovered by the worker as it starts, before anything else it does.
    flush(&tracker);
    let hits = tracker.offline().get().unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].url.starts_with(&format!(
            "{}?s=1&idclient=a&ts={ts}&olt=",
            fx.collector.endpoint()
        )),
        "{}",
        hits[0].url
    );
    assert!(
        hits[0].url.ends_with("&p=inflight&cn=offline"),
        "{}",
        hits[0].url
    );
    assert!(
        seen.warnings().iter().any(|w| w.contains("in flight")),
        "{:?}",
        seen.all()
    );
}

#[test]
fn a_pending_deadline_timer_does_not_keep_a_closed_store_open() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    for name in names("t", 3) {
        screen(&tracker, &name);
    }
    tracker.set_network_available(false);
    // Answered at once (offline), but its deadline timer runs for 30 s.
    assert_eq!(
        wait(tracker.offline().dispatch_and_wait(Some(30_000), false))
            .unwrap()
            .remaining,
        3
    );
    close(tracker);
    let (again, seen_again) = fx.tracker(OfflineModeKey::Always);
    assert_eq!(again.offline().count(), 3);
    assert!(
        seen.errors().is_empty() && seen_again.errors().is_empty(),
        "{:?}",
        seen_again.errors()
    );
}

#[test]
fn a_store_deleted_behind_a_closed_tracker_is_reported_not_counted() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    for name in names("d", 5) {
        screen(&tracker, &name);
    }
    close(tracker);
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::metadata(fx.dir.path().join("hits").join("hitkit.closed")).is_ok()
    }));
    std::fs::remove_dir_all(fx.dir.path().join("hits").join("store")).unwrap();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    assert_eq!(tracker.offline().count(), 0);
    assert!(
        seen.errors()
            .iter()
            .any(|e| e.contains("5 of 5 stored hit(s)")),
        "{:?}",
        seen.errors()
    );
}

#[test]
fn one_live_tracker_per_name_and_database() {
    let fx = Fixture::new();
    let (first, _) = fx.tracker(OfflineModeKey::Always);
    match Tracker::new(fx.config(OfflineModeKey::Always), None) {
        Err(TrackerError::InvalidConfig { key, reason }) => {
            assert_eq!(key, "name");
            assert!(reason.contains("already open"), "{reason}");
        }
        other => panic!("expected InvalidConfig, got {:?}", other.map(|_| ())),
    }
    // An `Offline` kept around does not keep its tracker open.
    let offline = first.offline();
    screen(&first, "kept");
    close(first);
    assert_eq!(offline.count(), 0);
    let (second, _) = fx.tracker(OfflineModeKey::Always);
    assert_eq!(second.offline().count(), 1);
}
