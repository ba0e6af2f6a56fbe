//! Every request honoured, every acknowledgement true (docs/contract.md §3,
//! §4, §5): what `dispatch`, `flush`, `save_did_end` and the journal
//! promise, checked where the promise is easiest to break.

mod common;
use common::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn stored(fx: &Fixture, n: usize) -> (Arc<Tracker>, Arc<Recorder>) {
    stored_tracker(fx.config(OfflineModeKey::Always), n)
}

// ---- dispatch requests ----

/// A `dispatch()` asked for while a pass runs is not dropped: the hit
/// tracked just before it goes out too.
#[test]
fn a_dispatch_during_a_pass_sends_the_hit_tracked_before_it() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 40);
    fx.collector
        .set_mode(Mode::Delay(Duration::from_millis(15)));
    tracker.offline().dispatch(false);
    assert!(fx.collector.wait_for_requests(1, T));
    screen(&tracker, "late");
    tracker.offline().dispatch(false);
    assert!(
        eventually(T, || tracker.offline().count() == 0),
        "{} still stored",
        tracker.offline().count()
    );
    let pages = pages(&fx.collector.delivered());
    assert_eq!(pages.len(), 41);
    assert_eq!(pages.last().map(String::as_str), Some("late"));
}

/// `dispatch()` then `dispatch_and_wait()` at once share one pass: one
/// request per hit, one attempt each, and the waiter gets that pass's
/// report.
#[test]
fn overlapping_requests_share_one_pass_and_one_attempt() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 5);
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    tracker.offline().dispatch(false);
    let report = dispatch(&tracker);
    assert_eq!(fx.collector.hits().len(), 5, "one request per hit");
    assert_eq!(
        (report.failed, report.remaining),
        (5, 5),
        "the waiter gets the shared pass's report: {report:?}"
    );
    let attempts: Vec<i32> = tracker
        .offline()
        .get()
        .unwrap()
        .iter()
        .map(|h| h.retry_count)
        .collect();
    assert_eq!(attempts, [1; 5]);
}

/// A pass that has read to the end of the store, with a send still out,
/// reads on when a request joins it: the hit stored just before the
/// request goes out in that pass.
#[test]
fn a_request_joining_a_pass_at_the_end_of_the_store_sees_the_hits_stored_since() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(TrackerConfig {
        dispatch_concurrency: 2,
        ..fx.config(OfflineModeKey::Always)
    });
    screen(&tracker, "first");
    flush(&tracker);
    fx.collector
        .set_mode(Mode::Delay(Duration::from_millis(300)));
    // One stored hit, two sends allowed: the pass is at the end of the
    // store while "first" is out.
    tracker.offline().dispatch(false);
    assert!(fx.collector.wait_for_requests(1, T));
    screen(&tracker, "second");
    let report = dispatch(&tracker);
    assert_eq!((report.sent, report.remaining), (2, 0), "{report:?}");
    assert_eq!(pages(&fx.collector.delivered()), ["first", "second"]);
}

/// In `required` mode a hit tracked during a pass waits to go out live; a
/// request made after it waits for the next pass, which must see that hit:
/// stored behind the hits the collector refused, and attempted once.
#[test]
fn the_pass_a_request_waits_for_sees_the_live_hit_tracked_before_it() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 300);
    tracker.set_offline_mode(OfflineModeKey::Required, None);
    flush(&tracker);
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    tracker.offline().dispatch(false);
    assert!(fx.collector.wait_for_requests(1, T));
    screen(&tracker, "late");
    let report = dispatch(&tracker);
    assert_eq!(report.remaining, 301, "{report:?}");
    let late: Vec<i32> = tracker
        .offline()
        .get()
        .unwrap()
        .iter()
        .filter(|hit| hit.url.contains("p=late"))
        .map(|hit| hit.retry_count)
        .collect();
    assert_eq!(late, [1], "stored, and attempted by the request's pass");
}

/// A deadline cuts a pass short; the report still says what went out, and
/// it is given after the deletes are synced.
#[test]
fn the_report_of_a_cut_pass_counts_what_was_sent() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 100);
    fx.collector
        .set_mode(Mode::Delay(Duration::from_millis(20)));
    let report = wait(tracker.offline().dispatch_and_wait(Some(300), false)).unwrap();
    let delivered = fx.collector.delivered().len() as i64;
    assert!(report.sent > 0 && report.sent < 100, "{report:?}");
    // A send answered after the deadline was not counted: at most one.
    assert!(
        delivered - report.sent <= 1,
        "collector {delivered}, report {report:?}"
    );
    assert_eq!(report.remaining, tracker.offline().count());
    assert_eq!(report.sent + report.remaining, 100, "{report:?}");
}

// ---- acknowledgements ----

/// A hit dropped by `maxStoredHits` before its sync is never reported
/// saved: the delegate hears of the drop instead.
#[test]
fn a_hit_dropped_to_make_room_is_never_reported_saved() {
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(TrackerConfig {
        max_stored_hits: 3,
        ..fx.config(OfflineModeKey::Always)
    });
    // One burst: the five hits share a round, so the first two are dropped
    // before the round's sync.
    for name in names("m", 5) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    let stored = stored_urls(&tracker);
    assert_eq!(stored.len(), 3);
    let page = |text: &str| {
        text.split(['&', ' '])
            .find_map(|p| p.strip_prefix("p="))
            .map(str::to_owned)
    };
    let stored: Vec<String> = stored.iter().filter_map(|u| page(u)).collect();
    // Each hit's story: saved only while it is stored, dropped at most once
    // and never saved after it was dropped.
    let mut saved = Vec::new();
    let mut dropped = Vec::new();
    for event in seen.all() {
        match event {
            Seen::Saved(url) => {
                let p = page(&url).unwrap();
                assert!(
                    !dropped.contains(&p),
                    "{p} reported saved after it was dropped"
                );
                saved.push(p);
            }
            Seen::Warning(w) if w.contains("maxStoredHits") => dropped.push(page(&w).unwrap()),
            _ => {}
        }
    }
    assert_eq!(dropped.len(), 2, "every drop reported once: {dropped:?}");
    for p in &stored {
        assert!(saved.contains(p), "{p} stored but never reported saved");
    }
    for p in &saved {
        assert!(
            stored.contains(p) || dropped.contains(p),
            "{p} saved, then neither stored nor dropped"
        );
    }
}

/// For every hit, the delegate's story is in order: built, then saved
/// (if it was stored), then sent.
#[test]
fn the_delegate_hears_each_hits_story_in_order() {
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(TrackerConfig {
        request_timeout_ms: 500,
        ..fx.config(OfflineModeKey::Required)
    });
    for round in 0..20 {
        fx.collector.set_mode(if round % 2 == 0 {
            Mode::Refuse
        } else {
            Mode::Ok
        });
        for i in 0..10 {
            tracker
                .send(vec![HitParam::new("n", format!("{round}-{i}"))])
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    fx.collector.set_mode(Mode::Ok);
    flush(&tracker);
    while tracker.offline().count() > 0 {
        dispatch(&tracker);
    }
    let n = |url: &str| {
        url.split('&')
            .find_map(|p| p.strip_prefix("n="))
            .unwrap()
            .to_owned()
    };
    let mut story: HashMap<String, Vec<&'static str>> = HashMap::new();
    for event in seen.all() {
        match event {
            Seen::Built(_, url) => story.entry(n(&url)).or_default().push("built"),
            Seen::Saved(url) => story.entry(n(&url)).or_default().push("saved"),
            Seen::Sent(HitStatus::Success, url) => story.entry(n(&url)).or_default().push("sent"),
            _ => {}
        }
    }
    assert_eq!(story.len(), 200);
    for (hit, events) in &story {
        let ok = events == &["built", "sent"] || events == &["built", "saved", "sent"];
        assert!(ok, "hit {hit}: {events:?}");
    }
}

/// A panic inside the worker is contained: reported, the worker goes on
/// with the same store, and nothing acknowledged is lost.
#[test]
fn a_panic_in_the_worker_is_reported_and_loses_nothing() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    for name in names("before", 5) {
        screen(&tracker, &name);
    }
    tracker.engine().inject_panic().unwrap();
    for name in names("after", 5) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert!(
        seen.errors().iter().any(|e| e.contains("was restarted")),
        "{:?}",
        seen.errors()
    );
    assert_eq!(tracker.offline().count(), 10);
    assert_eq!(seen.saved(), 10);
    assert_eq!(dispatch(&tracker).sent, 10);
    let mut expected = names("before", 5);
    expected.extend(names("after", 5));
    assert_eq!(pages(&fx.collector.delivered()), expected);
}

/// A worker that keeps failing stops for good, and says so: later calls
/// are refused with a typed error, a configuration change hears `false`
/// and changes nothing.
#[test]
fn a_worker_that_keeps_failing_stops_and_every_call_says_so() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    for _ in 0..5 {
        tracker.engine().inject_panic().unwrap();
    }
    assert!(eventually(T, || seen
        .errors()
        .iter()
        .any(|e| e.contains("stopped"))));
    let before = tracker.config();
    let heard = Arc::new(std::sync::Mutex::new(None));
    struct Heard(Arc<std::sync::Mutex<Option<bool>>>);
    impl SetConfigCallback for Heard {
        fn on_set(&self, is_set: bool) {
            *self.0.lock().unwrap() = Some(is_set);
        }
    }
    let result = tracker.set_config(
        "maxAttempts".into(),
        "5".into(),
        Some(Arc::new(Heard(heard.clone()))),
    );
    assert!(
        matches!(result, Err(TrackerError::Runtime { .. })),
        "{result:?}"
    );
    assert_eq!(*heard.lock().unwrap(), Some(false));
    assert_eq!(tracker.config(), before, "a refused change changes nothing");
    assert!(matches!(
        tracker.send_screen("x".into(), vec![]),
        Err(TrackerError::Runtime { .. })
    ));
    assert!(wait(tracker.flush()).is_err());
}

// ---- the journal and queued hits ----

/// In `required` mode a hit tracked while a send hangs is journaled within
/// one group commit, not after the send's timeout.
#[test]
fn hits_queued_behind_a_hanging_send_are_journaled_at_once() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(TrackerConfig {
        request_timeout_ms: 10_000,
        ..fx.config(OfflineModeKey::Required)
    });
    fx.collector.set_mode(Mode::Hang);
    screen(&tracker, "hanging");
    assert!(fx.collector.wait_for_requests(1, T));
    for name in names("queued", 5) {
        screen(&tracker, &name);
    }
    let journaled = || {
        let (db, _) =
            hitkit::internal::store::Database::open(std::path::Path::new(&fx.db_path())).unwrap();
        let (store, _) = db.hit_store("default").unwrap();
        store.journal().unwrap().len()
    };
    let start = Instant::now();
    assert!(
        eventually(Duration::from_secs(2), || journaled() == 6),
        "{} journaled after {:?}",
        journaled(),
        start.elapsed()
    );
    fx.collector.set_mode(Mode::Ok);
}

/// `never` mode against a collector that hangs: the queue is bounded (the
/// extra hits are dropped and reported), and `flush` takes about one
/// request timeout, not one per hit.
#[test]
fn never_mode_against_a_hanging_collector_stays_bounded() {
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(TrackerConfig {
        request_timeout_ms: 300,
        ..fx.config(OfflineModeKey::Never)
    });
    fx.collector.set_mode(Mode::Hang);
    let made = 1500;
    for i in 0..made {
        screen(&tracker, &format!("n{i}"));
    }
    let start = Instant::now();
    flush(&tracker);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "flush took {took:?}");
    assert_eq!(
        seen.sent(HitStatus::Failed),
        made,
        "each hit lost, and said so"
    );
    assert!(
        seen.warnings().iter().any(|w| w.contains("dropped")),
        "{:?}",
        seen.warnings()
    );
    assert_eq!(tracker.offline().count(), 0);
}

/// Journal entries that cannot be read now (their key is missing) are
/// kept, and recovered once the key is back.
#[test]
fn unreadable_journal_entries_are_kept_until_their_key_is_back() {
    use hitkit::internal::store::{Changes, Database, hits::make_key, record::Record};
    const KEY: &str = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let fx = Fixture::new();
    let path = std::path::PathBuf::from(fx.db_path());
    let sealed = TrackerConfig {
        encryption_key: Some(EncryptionKey::from(KEY)),
        ..fx.config(OfflineModeKey::Required)
    };
    {
        // What a process killed mid-send leaves: a sealed journal entry.
        let (db, _) = Database::open(&path).unwrap();
        db.use_key(Some(&EncryptionKey::from(KEY))).unwrap();
        let (store, _) = db.hit_store("default").unwrap();
        let mut changes = Changes::default();
        let ts = hitkit::internal::now_ms();
        changes.journal(
            &make_key(ts, 1),
            Record {
                hit_type: HitType::Screen,
                attempts: 0,
                query: format!("s=123&ts={ts}&p=journaled"),
            },
        );
        store.apply(changes).unwrap();
        db.sync().unwrap();
    }
    released(&path);
    let journal_len = || {
        let (db, _) = Database::open(&path).unwrap();
        let (store, _) = db.hit_store("default").unwrap();
        store.journal().unwrap().len()
    };
    let (tracker, seen) = tracker_with(TrackerConfig {
        encryption_key: None,
        ..sealed.clone()
    });
    let _ = wait(tracker.flush());
    assert!(
        seen.errors().iter().any(|e| e.contains("journal")),
        "{:?}",
        seen.errors()
    );
    assert_eq!(journal_len(), 1, "kept while it cannot be read");
    drop(tracker);
    released(&path);
    let (tracker, _) = tracker_with(sealed);
    flush(&tracker);
    assert_eq!(journal_len(), 0);
    assert_eq!(dispatch(&tracker).sent, 1);
    assert_eq!(pages(&fx.collector.delivered()), ["journaled"]);
}

/// A key given while a `required`-mode hit is out (journaled) opens the
/// journal again: the hit still going out is not stored from it as well,
/// so when its send is lost it is stored once and the count stays true.
#[test]
fn a_key_given_while_a_live_hit_is_out_does_not_store_it_twice() {
    const KEY: &str = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    fx.collector.set_mode(Mode::Hang);
    screen(&tracker, "out");
    assert!(fx.collector.wait_for_requests(1, T));
    let (heard, applied) = std::sync::mpsc::channel();
    tracker
        .set_config(
            "encryptionKey".into(),
            KEY.into(),
            Some(Arc::new(Heard(heard))),
        )
        .unwrap();
    assert_eq!(applied.recv_timeout(T), Ok(true));
    // The hanging send ends without an answer: the hit is stored.
    fx.collector.set_mode(Mode::Reset);
    flush(&tracker);
    assert_eq!(tracker.offline().get().unwrap().len(), 1);
    assert_eq!(tracker.offline().count(), 1, "the count is the hits stored");
    close(tracker);
    released(std::path::Path::new(&fx.db_path()));
    let (tracker, _) = tracker_with(TrackerConfig {
        encryption_key: Some(EncryptionKey::from(KEY)),
        ..fx.config(OfflineModeKey::Required)
    });
    assert_eq!(tracker.offline().count(), 1, "and stays so after a restart");
}

/// Hits stored in the same round as a change of key are written under the
/// key they were stored with, not lost to the new one (here a wrong key,
/// which locks the store); the right key opens them all.
#[test]
fn hits_stored_as_the_key_changes_are_kept() {
    const KEY: &str = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const WRONG: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    let fx = Fixture::new();
    let (tracker, seen) = tracker_with(TrackerConfig {
        encryption_key: Some(EncryptionKey::from(KEY)),
        ..fx.config(OfflineModeKey::Always)
    });
    // Sent back to back, the last hits and the change share the worker's
    // round.
    for name in names("h", 200) {
        screen(&tracker, &name);
    }
    let (heard, applied) = std::sync::mpsc::channel();
    tracker
        .set_config(
            "encryptionKey".into(),
            WRONG.into(),
            Some(Arc::new(Heard(heard))),
        )
        .unwrap();
    // The right key comes back in a later round.
    assert_eq!(applied.recv_timeout(T), Ok(true));
    tracker
        .set_config("encryptionKey".into(), KEY.into(), None)
        .unwrap();
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 200, "{:?}", seen.errors());
    assert!(
        !seen.errors().iter().any(|e| e.contains("could not be")),
        "{:?}",
        seen.errors()
    );
}

/// A completion handler that passes on what it heard.
struct Heard(std::sync::mpsc::Sender<bool>);

impl SetConfigCallback for Heard {
    fn on_set(&self, is_set: bool) {
        let _ = self.0.send(is_set);
    }
}

// ---- smaller ones ----

/// After a restart with the clock behind the newest stored hit, new hits
/// still go behind the stored ones.
#[test]
fn new_hits_go_behind_stored_ones_even_when_the_clock_is_behind() {
    let fx = Fixture::new();
    let tomorrow = hitkit::internal::now_ms() + 86_400_000;
    plant(
        &fx.db_path(),
        "default",
        &[(tomorrow, "s=123&p=stored")],
        false,
    );
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "new");
    flush(&tracker);
    assert_eq!(dispatch(&tracker).sent, 2);
    assert_eq!(pages(&fx.collector.delivered()), ["stored", "new"]);
}

/// Closing a tracker in the middle of a long pass and opening one of the
/// same name at once neither waits for the pass nor fails.
#[test]
fn a_tracker_reopened_at_once_does_not_wait_for_the_old_ones_passes() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 300);
    fx.collector
        .set_mode(Mode::Delay(Duration::from_millis(50)));
    tracker.offline().dispatch(false);
    assert!(fx.collector.wait_for_requests(1, T));
    drop(tracker);
    let start = Instant::now();
    let (again, _) = fx.tracker(OfflineModeKey::Always);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "reopening took {took:?}");
    assert!(again.offline().count() > 250);
}

// ---- duplicates a collector can drop ----

/// With `hitIdParameter`, every hit carries an id of its own: the same on
/// every attempt and every `mh` part, different between hits.
#[test]
fn a_hit_id_is_stable_across_attempts_and_parts() {
    let fx = Fixture::new();
    let (tracker, _) = tracker_with(TrackerConfig {
        hit_id_parameter: Some("hid".into()),
        max_hit_size: 300,
        ..fx.config(OfflineModeKey::Always)
    });
    screen(&tracker, "one");
    tracker
        .send(
            (0..12)
                .map(|i| HitParam::new(format!("k{i}"), "v".repeat(30)))
                .collect(),
        )
        .unwrap();
    flush(&tracker);
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    dispatch(&tracker);
    fx.collector.set_mode(Mode::Ok);
    dispatch(&tracker);
    let hits = fx.collector.hits();
    let hid = |h: &ReceivedHit| h.param("hid").map(str::to_owned).expect("a hid");
    let first: Vec<String> = hits
        .iter()
        .filter(|h| h.param("p") == Some("one"))
        .map(hid)
        .collect();
    assert_eq!(first.len(), 2, "refused once, then delivered");
    assert_eq!(first[0], first[1], "the same id on every attempt");
    assert_eq!(first[0].len(), 16);
    let parts: Vec<String> = hits
        .iter()
        .filter(|h| h.param("mh").is_some())
        .map(hid)
        .collect();
    assert!(parts.len() >= 4, "{parts:?}");
    assert!(
        parts.iter().all(|p| *p == parts[0]),
        "one id for all parts: {parts:?}"
    );
    assert_ne!(parts[0], first[0], "hits have ids of their own");
}
