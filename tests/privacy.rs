//! The user's rights and what HitKit keeps (docs/contract.md §8): opting
//! out, being forgotten, what messages show, what a tampered file can do.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Opted out, a tracker builds, stores and sends nothing, what was stored
/// is deleted, and the choice outlives a restart until opted in again.
#[test]
fn opting_out_stops_everything_and_lasts_until_opted_in() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    for name in names("kept", 3) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3);
    tracker.set_opt_out(true).unwrap();
    assert!(tracker.is_opted_out());
    screen(&tracker, "ignored");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 0, "what was stored is deleted");
    assert_eq!(
        seen.count(|s| matches!(s, Seen::Built(_, url) if url.contains("ignored"))),
        0,
        "nothing is built"
    );
    close(tracker);

    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    assert!(tracker.is_opted_out(), "the choice outlives a restart");
    screen(&tracker, "still-ignored");
    flush(&tracker);
    assert!(fx.collector.hits().is_empty());
    assert!(seen.all().is_empty(), "{:?}", seen.all());
    // The same through setConfig, as the AT SDK's apps set things.
    tracker
        .set_config("optOut".into(), "false".into(), None)
        .unwrap();
    assert!(!tracker.is_opted_out());
    screen(&tracker, "counted");
    flush(&tracker);
    assert_eq!(pages(&fx.collector.delivered()), ["counted"]);
}

/// Through `setConfig`, the completion handler hears `true` on HitKit's
/// thread once the choice is in effect (what was stored already deleted).
/// A tracker that cannot take the choice (its worker stopped) says so and
/// changes nothing for the other trackers of its database.
#[test]
fn an_opt_out_is_heard_once_in_effect_and_a_refused_one_changes_nothing() {
    struct Heard(std::sync::mpsc::Sender<(bool, String)>);
    impl SetConfigCallback for Heard {
        fn on_set(&self, is_set: bool) {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            let _ = self.0.send((is_set, thread));
        }
    }
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "stored");
    flush(&tracker);
    let (heard, answers) = std::sync::mpsc::channel();
    let count_at_answer = {
        let tracker = tracker.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        struct Counting(
            std::sync::mpsc::Sender<(bool, String)>,
            Arc<Tracker>,
            std::sync::mpsc::Sender<i64>,
        );
        impl SetConfigCallback for Counting {
            fn on_set(&self, is_set: bool) {
                let _ = self.2.send(self.1.offline().count());
                let thread = std::thread::current().name().unwrap_or("").to_owned();
                let _ = self.0.send((is_set, thread));
            }
        }
        tracker
            .set_config(
                "optOut".into(),
                "true".into(),
                Some(Arc::new(Counting(heard.clone(), tracker.clone(), tx))),
            )
            .unwrap();
        rx
    };
    assert_eq!(answers.recv_timeout(T), Ok((true, "hitkit".to_owned())));
    assert_eq!(
        count_at_answer.recv_timeout(T),
        Ok(0),
        "deleted before `true`"
    );
    tracker
        .set_config(
            "optOut".into(),
            "false".into(),
            Some(Arc::new(Heard(heard.clone()))),
        )
        .unwrap();
    assert_eq!(answers.recv_timeout(T), Ok((true, "hitkit".to_owned())));

    let (sibling, _) = tracker_with(TrackerConfig {
        name: "sibling".into(),
        ..fx.config(OfflineModeKey::Always)
    });
    for _ in 0..5 {
        tracker.engine().inject_panic().unwrap();
    }
    assert!(eventually(T, || tracker
        .send_screen("probe".into(), vec![])
        .is_err()));
    assert!(tracker.set_opt_out(true).is_err());
    assert!(!sibling.is_opted_out(), "a refused opt-out changes nothing");
    let refused = tracker.set_config("optOut".into(), "true".into(), Some(Arc::new(Heard(heard))));
    assert!(refused.is_err());
    assert_eq!(answers.recv_timeout(T).map(|(set, _)| set), Ok(false));
    assert!(!sibling.is_opted_out());
}

/// Forget me: every tracker's hits and journal, the visitor id and the
/// damaged copies kept aside are gone; the next hit has a new visitor id.
#[test]
fn erase_all_forgets_the_user() {
    let fx = Fixture::new();
    let (first, _) = fx.tracker(OfflineModeKey::Never);
    screen(&first, "before");
    flush(&first);
    let before = last_idclient(&fx.collector);
    first.set_offline_mode(OfflineModeKey::Always, None);
    screen(&first, "stored");
    let (other, _) = tracker_with(TrackerConfig {
        name: "other".into(),
        ..fx.config(OfflineModeKey::Always)
    });
    screen(&other, "stored-elsewhere");
    flush(&first);
    flush(&other);
    let copy = fx
        .dir
        .path()
        .join("hits")
        .join(format!("store.corrupt-{}", hitkit::internal::now_ms()));
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::write(copy.join("db"), b"a damaged copy with the user's hits").unwrap();

    wait(first.erase_all()).unwrap();
    assert_eq!(first.offline().count(), 0);
    assert_eq!(other.offline().count(), 0, "every tracker of the database");
    assert!(!copy.exists(), "damaged copies too");
    first.set_offline_mode(OfflineModeKey::Never, None);
    screen(&first, "after");
    flush(&first);
    let after = last_idclient(&fx.collector);
    assert_ne!(before, after, "a new visitor id");
    assert_eq!(after.len(), 36);
}

/// `queryInMessages = false`: delegate and log messages name a hit by its
/// collector URL only (no visitor id, no screen name), warnings included.
#[test]
fn messages_can_leave_the_query_out() {
    struct Lines(std::sync::Mutex<Vec<String>>);
    impl Logger for Lines {
        fn log(&self, _: LogLevel, message: String) {
            self.0.lock().unwrap().push(message);
        }
    }
    let lines = std::sync::Arc::new(Lines(Default::default()));
    set_logger(Some(lines.clone()));
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(TrackerConfig {
        query_in_messages: false,
        max_attempts: 1,
        log_level: Some(LogLevel::Debug),
        ..fx.config(OfflineModeKey::Required)
    });
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "SecretScreen");
    flush(&tracker);
    fx.collector.set_mode(Mode::Ok);
    dispatch(&tracker);
    screen(&tracker, "SecretDropped");
    flush(&tracker);
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "SecretStoredThenDropped");
    flush(&tracker);
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    dispatch(&tracker);
    set_logger(None);
    let hidden = format!("{}?…", fx.collector.endpoint());
    let messages: Vec<String> = seen
        .all()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Built(_, m) | Seen::Sent(_, m) | Seen::Saved(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(messages.len() >= 6, "{messages:?}");
    assert!(messages.iter().all(|m| *m == hidden), "{messages:?}");
    let dropped: Vec<String> = seen
        .warnings()
        .into_iter()
        .filter(|w| w.contains("dropped after"))
        .collect();
    assert_eq!(dropped.len(), 1, "{:?}", seen.warnings());
    assert!(dropped[0].ends_with(&hidden), "{}", dropped[0]);
    let logged = lines.0.lock().unwrap().clone();
    let ours: Vec<&String> = logged
        .iter()
        .filter(|l| l.contains(&fx.collector.endpoint()))
        .collect();
    assert!(!ours.is_empty(), "the logger heard nothing of this tracker");
    assert!(
        logged.iter().all(|l| !l.contains("Secret")),
        "a log line shows a query: {logged:?}"
    );
    assert_eq!(
        pages(&fx.collector.delivered()),
        ["SecretScreen", "SecretDropped"]
    );
}

/// Hits sent in clear to another machine are worth one warning per
/// tracker and per collector; a collector on this device is not.
#[test]
fn cleartext_to_another_machine_is_warned_once() {
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(TrackerConfig {
        endpoint: Some("http://collector.example.invalid/hit".into()),
        ..fx.config(OfflineModeKey::Always)
    });
    screen(&tracker, "a");
    screen(&tracker, "b");
    flush(&tracker);
    let clear = |seen: &Recorder| {
        seen.warnings()
            .iter()
            .filter(|w| w.contains("in clear"))
            .count()
    };
    assert!(eventually(T, || clear(&seen) == 1), "{:?}", seen.warnings());
    tracker
        .set_config("endpoint".into(), "http://10.0.0.2:8080/hit".into(), None)
        .unwrap();
    flush(&tracker);
    assert_eq!(clear(&seen), 2, "a new collector, a new warning");
    tracker
        .set_config("endpoint".into(), fx.collector.endpoint(), None)
        .unwrap();
    flush(&tracker);
    assert_eq!(clear(&seen), 2, "loopback stays on this device");
}

/// Counts read from disk are never trusted beyond what the files can
/// hold: a tampered clean-close record or tally loses nothing.
#[test]
fn tampered_counts_lose_nothing() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    for name in names("t", 3) {
        screen(&tracker, &name);
    }
    close(tracker);
    let db = std::path::PathBuf::from(fx.db_path());
    released(&db);
    let closed = db.join("hitkit.closed");
    assert!(eventually(T, || closed.exists()));
    let text = std::fs::read_to_string(&closed).unwrap();
    let forged = text.replace("\"default\":3", "\"default\":18446744073709551615");
    assert_ne!(forged, text, "{text}");
    std::fs::write(&closed, forged).unwrap();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "t3");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 4);
    close(tracker);
    released(&db);

    // The tally kept in the tree, set to more than the files could hold.
    {
        use hitkit::internal::store::Database;
        let (database, _) = Database::open(&db).unwrap();
        let (store, _) = database.hit_store("default").unwrap();
        store.put_raw_tally(u64::MAX / 2, None).unwrap();
        database.sync().unwrap();
    }
    released(&db);
    std::fs::remove_file(db.join("hitkit.closed")).ok();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    assert_eq!(tracker.offline().count(), 4);
    assert!(
        seen.errors().iter().any(|e| e.contains("cannot be right")),
        "{:?}",
        seen.errors()
    );
    close(tracker);
    released(&db);

    // The tally's newest key, set past every possible hit key: new hits
    // would be keyed out of the hits' range, counted and never sent.
    {
        use hitkit::internal::store::Database;
        let (database, _) = Database::open(&db).unwrap();
        let (store, _) = database.hit_store("default").unwrap();
        store.put_raw_tally(4, Some([0xFF; 16])).unwrap();
        database.sync().unwrap();
    }
    released(&db);
    std::fs::remove_file(db.join("hitkit.closed")).ok();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "t4");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 5);
    assert_eq!(tracker.offline().get().unwrap().len(), 5);
    assert_eq!(dispatch(&tracker).sent, 5);
    assert_eq!(pages(&fx.collector.delivered()), names("t", 5));
}

/// Damaged copies kept aside expire with the age limit, like hits.
#[test]
fn damaged_copies_expire_with_the_age_limit() {
    let fx = Fixture::new();
    let db = std::path::PathBuf::from(fx.db_path());
    std::fs::create_dir_all(&db).unwrap();
    let day = 86_400_000;
    let now = hitkit::internal::now_ms();
    let old = db.join(format!("store.corrupt-{}", now - 40 * day));
    let recent = db.join(format!("store.corrupt-{}", now - day));
    for copy in [&old, &recent] {
        std::fs::create_dir_all(copy).unwrap();
        std::fs::write(copy.join("db"), b"damaged").unwrap();
    }
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    flush(&tracker);
    assert!(!old.exists(), "older than maxStorageAgeDays (30)");
    assert!(recent.exists());
}
