//! What every row needs: a tracker on a fresh store, a delegate that counts
//! what HitKit reports, percentiles, and a few facts read from `/proc`.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hitkit::{HitParam, HitStatus, OfflineModeKey, Tracker, TrackerConfig, TrackerDelegate};

/// Long enough for any wait in this program; reaching it is a failure.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A tracker in `always` mode, without a stored-hit limit, on `dir`.
pub fn tracker(dir: &Path, endpoint: &str) -> Arc<Tracker> {
    Tracker::new(
        TrackerConfig {
            site: "1".into(),
            database_path: dir.to_string_lossy().into_owned(),
            endpoint: Some(endpoint.to_owned()),
            storage: Some(OfflineModeKey::Always),
            max_stored_hits: 0,
            ..Default::default()
        },
        None,
    )
    .expect("tracker opens")
}

/// Drops the tracker and waits for HitKit's clean close, which runs in the
/// background and ends with `hitkit.closed` beside the database; so no row
/// is disturbed by the close of the one before, and the directory can go.
pub fn close(tracker: Arc<Tracker>, dir: &Path) -> bool {
    drop(tracker);
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        if dir.join("hitkit.closed").exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// The hit every row sends: a screen with the parameters a typical app adds,
/// so URLs have a realistic length (about 260 bytes once stored).
pub fn send_hit(tracker: &Tracker, i: usize) {
    tracker
        .send_screen(screen_name(i), params(i))
        .expect("send_screen accepts the hit");
}

/// The URLs of the stored hits, oldest first (as HitKit stored them).
pub fn stored_urls(tracker: &Tracker) -> Vec<String> {
    tracker
        .offline()
        .get()
        .expect("stored hits")
        .into_iter()
        .map(|hit| hit.url)
        .collect()
}

pub fn screen_name(i: usize) -> String {
    format!("Home::Catalogue::Product{}", i % 500)
}

pub fn params(i: usize) -> Vec<HitParam> {
    let param = |key: &str, value: String| HitParam {
        key: key.into(),
        value,
    };
    vec![
        param("s2", (1 + i % 7).to_string()),
        param("x1", "logged-in".into()),
        param("x2", format!("ab-test-{}", i % 3)),
        param("pgt", "Produits & offres".into()),
    ]
}

/// A current-thread runtime, only to wait on HitKit's futures (they await
/// channels; HitKit's own runtime does the work).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// Counts what the tracker reports. `save_did_end` arrives after the group
/// commit's flush, one call per hit, on HitKit's worker; builds come while
/// the worker takes commands, so each run of saves after builds is one commit.
#[derive(Default)]
pub struct Probe {
    state: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct Counts {
    pub builds: u64,
    pub saves: u64,
    /// Group commits that saved at least one hit.
    pub commits: u64,
    /// Sum of the stored URLs' lengths.
    pub saved_bytes: u64,
    pub sent: u64,
    pub errors: u64,
    last_was_build: bool,
    /// The count of saves a waiter waits for: it is woken then, not at every
    /// save (the delegate runs on HitKit's worker, and a wake-up per hit
    /// would be the bench's cost counted as HitKit's).
    wake_at: u64,
}

impl Probe {
    pub fn attach(tracker: &Tracker) -> Arc<Probe> {
        let probe = Arc::new(Probe::default());
        tracker.set_delegate(Some(probe.clone()));
        probe
    }

    pub fn counts(&self) -> Counts {
        *self.lock()
    }

    /// Waits until `saves` hits in all were saved; returns when that happened.
    pub fn wait_saves(&self, saves: u64) -> Instant {
        let deadline = Instant::now() + PATIENCE;
        let mut state = self.lock();
        state.wake_at = saves;
        while state.saves < saves {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("only {} of {saves} hits saved", state.saves));
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Instant::now()
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TrackerDelegate for Probe {
    fn build_did_end(&self, _status: HitStatus, _message: String) {
        let mut state = self.lock();
        state.builds += 1;
        state.last_was_build = true;
    }

    fn send_did_end(&self, status: HitStatus, _message: String) {
        if status == HitStatus::Success {
            self.lock().sent += 1;
        }
    }

    fn save_did_end(&self, message: String) {
        let mut state = self.lock();
        state.saves += 1;
        state.saved_bytes += message.len() as u64;
        if state.last_was_build {
            state.commits += 1;
            state.last_was_build = false;
        }
        let wake = state.saves == state.wake_at;
        drop(state);
        if wake {
            self.changed.notify_all();
        }
    }

    fn warning_did_occur(&self, message: String) {
        eprintln!("hitkit warning: {message}");
    }

    fn error_did_occur(&self, message: String) {
        self.lock().errors += 1;
        eprintln!("hitkit error: {message}");
    }
}

/// Latency percentiles of a sample, in nanoseconds.
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

pub fn percentiles(samples: &mut [Duration]) -> Percentiles {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_nanos() as f64
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Bytes of every file under `dir` (their length, as `du --apparent-size`).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A field of `/proc/self/status` in kB (`VmHWM`, `VmRSS`).
pub fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Where stores go: a real disk, since fsync is what is measured
/// (`HITKIT_BENCH_DIR`, else the system's temporary directory).
pub fn scratch_dir() -> tempfile::TempDir {
    let base = std::env::var_os("HITKIT_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    tempfile::Builder::new()
        .prefix("hitkit-bench-")
        .tempdir_in(base)
        .expect("scratch directory")
}

pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}
