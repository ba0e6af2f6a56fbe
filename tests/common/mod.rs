//! Shared test fixtures: a real collector, a tracker on a temp dir, and a
//! delegate that records what the tracker reports.
#![allow(dead_code, unused_imports)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use hitkit::*;
pub use hitkit_collector::{Collector, Mode, ReceivedHit};

/// Runs one of the library's async calls to completion.
pub fn wait<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(future)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Built(HitStatus, String),
    Sent(HitStatus, String),
    Saved(String),
    Warning(String),
    Error(String),
}

#[derive(Default)]
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self, pred: impl Fn(&Seen) -> bool) -> usize {
        self.seen.lock().unwrap().iter().filter(|s| pred(s)).count()
    }

    pub fn saved(&self) -> usize {
        self.count(|s| matches!(s, Seen::Saved(_)))
    }

    pub fn sent(&self, status: HitStatus) -> usize {
        self.count(|s| matches!(s, Seen::Sent(st, _) if *st == status))
    }

    pub fn warnings(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|s| {
                if let Seen::Warning(w) = s {
                    Some(w)
                } else {
                    None
                }
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|s| {
                if let Seen::Error(e) = s {
                    Some(e)
                } else {
                    None
                }
            })
            .collect()
    }

    fn push(&self, seen: Seen) {
        self.seen.lock().unwrap().push(seen);
    }
}

impl TrackerDelegate for Recorder {
    fn build_did_end(&self, status: HitStatus, message: String) {
        self.push(Seen::Built(status, message));
    }
    fn send_did_end(&self, status: HitStatus, message: String) {
        self.push(Seen::Sent(status, message));
    }
    fn save_did_end(&self, message: String) {
        self.push(Seen::Saved(message));
    }
    fn warning_did_occur(&self, message: String) {
        self.push(Seen::Warning(message));
    }
    fn error_did_occur(&self, message: String) {
        self.push(Seen::Error(message));
    }
}

/// A collector, a temp dir, and a way to make trackers pointed at both.
pub struct Fixture {
    pub collector: Collector,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            collector: Collector::start().expect("collector"),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn db_path(&self) -> String {
        self.dir.path().join("hits").to_string_lossy().into_owned()
    }

    pub fn config(&self, storage: OfflineModeKey) -> TrackerConfig {
        TrackerConfig {
            site: "123".into(),
            database_path: self.db_path(),
            endpoint: Some(self.collector.endpoint()),
            storage: Some(storage),
            request_timeout_ms: 2_000,
            ..Default::default()
        }
    }

    pub fn tracker(&self, storage: OfflineModeKey) -> (Arc<Tracker>, Arc<Recorder>) {
        tracker_with(self.config(storage))
    }
}

pub fn tracker_with(config: TrackerConfig) -> (Arc<Tracker>, Arc<Recorder>) {
    let tracker = Tracker::new(config, None).expect("tracker");
    let recorder = Arc::new(Recorder::default());
    tracker.set_delegate(Some(recorder.clone()));
    (tracker, recorder)
}

/// A tracker holding `n` hits (`h0`, `h1`, …), stored and synced.
pub fn stored_tracker(config: TrackerConfig, n: usize) -> (Arc<Tracker>, Arc<Recorder>) {
    let (tracker, seen) = tracker_with(config);
    for name in names("h", n) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), n as i64);
    (tracker, seen)
}

/// The visitor id on the last hit the collector took.
pub fn last_idclient(collector: &Collector) -> String {
    collector
        .delivered()
        .last()
        .and_then(|h| h.param("idclient").map(str::to_owned))
        .expect("a delivered hit")
}

pub fn screen(tracker: &Tracker, name: &str) {
    tracker
        .send_screen(name.into(), vec![])
        .expect("send_screen");
}

pub fn flush(tracker: &Tracker) {
    wait(tracker.flush()).expect("flush");
}

pub fn dispatch(tracker: &Tracker) -> DispatchReport {
    wait(tracker.offline().dispatch_and_wait(None, false)).unwrap()
}

/// URLs of the stored hits, oldest first.
pub fn stored_urls(tracker: &Tracker) -> Vec<String> {
    tracker
        .offline()
        .get()
        .expect("stored hits")
        .into_iter()
        .map(|h| h.url)
        .collect()
}

/// Screen names (`p`) in the order the collector received them.
pub fn pages(hits: &[ReceivedHit]) -> Vec<String> {
    hits.iter()
        .filter_map(|h| h.param("p").map(str::to_owned))
        .collect()
}

pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Polls `cond` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Drops a tracker and waits until its database is released, so another
/// tracker (or process) can open the same path.
pub fn close(tracker: Arc<Tracker>) {
    flush(&tracker);
    drop(tracker);
}

/// Writes hits straight into a store, as an earlier process (or an older
/// version) would have left them: `(created_ms, query)` each, stored or in
/// the in-flight journal.
pub fn plant(db_path: &str, name: &str, hits: &[(u64, &str)], journaled: bool) {
    use hitkit::internal::store::{
        Database,
        hits::make_key,
        record::{Codec, Place, Record},
    };
    let path = std::path::Path::new(db_path);
    released(path);
    let (db, _) = Database::open(path).expect("open to plant");
    let (store, _) = db.hit_store(name).expect("store to plant in");
    for (i, (created_ms, query)) in hits.iter().enumerate() {
        let key = make_key(*created_ms, 1_000_000 + i as u64);
        let record = Record {
            hit_type: HitType::Screen,
            attempts: 0,
            query: (*query).to_owned(),
        };
        let place = Place { tree: "", key: &[] };
        let bytes = Codec::plain().encode(&record, &place).expect("encode");
        if journaled {
            store.put_raw_journal(&key, &bytes).expect("plant");
        } else {
            store.put_raw(&key, &bytes).expect("plant");
        }
    }
    db.sync().expect("sync the planted hits");
}

/// Waits until no tracker of this process holds the database at `db`
/// (a closed tracker's worker finishes in the background): its lock file
/// and sled's own lock are free.
pub fn released(db: &std::path::Path) {
    let files = [db.join("hitkit.lock"), db.join("store").join("db")];
    assert!(
        eventually(Duration::from_secs(10), || files.iter().all(|f| {
            !f.exists()
                || std::fs::OpenOptions::new()
                    .write(true)
                    .open(f)
                    .is_ok_and(|f| f.try_lock().is_ok())
        })),
        "{} is still held",
        db.display()
    );
}
