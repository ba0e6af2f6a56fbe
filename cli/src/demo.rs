//! `hitkit demo`: HitKit's promise told as a story against a real collector
//! on 127.0.0.1, every step checked, so the demo is also a smoke test.
//!
//! 1. Collector up: screen hits are delivered live.
//! 2. Connection lost (`Mode::Refuse`): hits are stored, rewritten with
//!    `cn=offline&olt=...`.
//! 3. Connection back: `dispatch_and_wait` delivers them, in order.
//! 4. Collector failing (HTTP 500): a stored hit gets exactly 3 attempts,
//!    then is dropped with a warning.
//! 5. What the collector received, and a summary that must add up.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hitkit::{HitStatus, OfflineModeKey, Tracker, TrackerConfig, TrackerDelegate};
use hitkit_collector::{Collector, Mode, ReceivedHit};

use crate::progress::Progress;
use crate::{Failure, block_on};

#[derive(Clone, Copy)]
pub struct Options {
    pub hits: usize,
    pub quiet: bool,
    pub failure_phase: bool,
}

/// Small enough that a broken collector cannot stall the demo, large enough
/// for a loaded CI machine on loopback.
const REQUEST_TIMEOUT_MS: i64 = 2_000;
/// How long to wait for HitKit to report something before calling it broken.
const EVENT_WAIT: Duration = Duration::from_secs(5);
/// Deadline given to each `dispatch_and_wait`.
const DISPATCH_DEADLINE_MS: i64 = 10_000;
const SITE: &str = "123";

/// What the tracker told its delegate, forwarded to the main thread.
#[derive(Debug, Clone)]
enum Seen {
    Built,
    Sent(HitStatus),
    Saved,
    Warning(String),
    Error(String),
}

/// The delegate runs on HitKit's worker thread: it only forwards, so the
/// story is told from the main thread and the worker is never slowed.
struct Forwarder(Mutex<Sender<Seen>>);

impl Forwarder {
    fn send(&self, seen: Seen) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(seen);
        }
    }
}

impl TrackerDelegate for Forwarder {
    fn build_did_end(&self, _status: HitStatus, _url: String) {
        self.send(Seen::Built);
    }
    fn send_did_end(&self, status: HitStatus, _url: String) {
        self.send(Seen::Sent(status));
    }
    fn save_did_end(&self, _url: String) {
        self.send(Seen::Saved);
    }
    fn warning_did_occur(&self, message: String) {
        self.send(Seen::Warning(message));
    }
    fn error_did_occur(&self, message: String) {
        self.send(Seen::Error(message));
    }
}

/// Totals as HitKit reported them through the delegate.
#[derive(Default)]
struct Tally {
    built: usize,
    sent_ok: usize,
    sent_failed: usize,
    saved: usize,
    dropped: usize,
    warnings: Vec<String>,
    errors: Vec<String>,
}

struct Story {
    opts: Options,
    collector: Collector,
    tracker: Arc<Tracker>,
    events: Receiver<Seen>,
    tally: Tally,
    /// Screen names in the order the app sent them.
    produced: Vec<String>,
    failures: Vec<String>,
    started: Instant,
}

pub fn run(opts: &Options) -> Result<(), Failure> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("hitkit-demo-")
        .tempdir()
        .map_err(|e| Failure::usage(format!("cannot create a temporary directory: {e}")))?;
    let collector = Collector::start()
        .map_err(|e| Failure::usage(format!("cannot start the local collector: {e}")))?;
    let database_path = dir.path().join("hitkit");
    let tracker = Tracker::new(
        TrackerConfig {
            site: SITE.into(),
            database_path: database_path.to_string_lossy().into_owned(),
            endpoint: Some(collector.endpoint()),
            storage: Some(OfflineModeKey::Required),
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            ..Default::default()
        },
        None,
    )
    .map_err(|e| Failure::broken(format!("the tracker did not start: {e}")))?;
    let (tx, events) = mpsc::channel();
    tracker.set_delegate(Some(Arc::new(Forwarder(Mutex::new(tx)))));

    let mut story = Story {
        opts: *opts,
        collector,
        tracker,
        events,
        tally: Tally::default(),
        produced: Vec::new(),
        failures: Vec::new(),
        started,
    };
    story.say(&format!(
        "HitKit demo: site {SITE}, storage \"required\", collector at {}",
        story.collector.endpoint()
    ));
    story.say(&format!("  store: {}", database_path.display()));

    story.online();
    story.offline();
    story.back_online();
    if story.opts.failure_phase {
        story.failing_collector();
    }
    story.received();
    story.summary();

    let Story {
        tracker,
        failures,
        started,
        ..
    } = story;
    // Let the worker finish and release the store before the temp dir goes.
    drop(tracker);
    if failures.is_empty() {
        println!(
            "demo OK: every hit accounted for ({:.2} s)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    } else {
        Err(Failure::broken(format!(
            "demo FAILED, {} check(s) did not hold:\n  - {}",
            failures.len(),
            failures.join("\n  - ")
        )))
    }
}

impl Story {
    fn online(&mut self) {
        let n = self.opts.hits;
        self.step(1, "collector up: hits are delivered live");
        self.send_screens("Live", n);
        let got = self.wait_for("delivered live", n, |s| {
            matches!(s, Seen::Sent(HitStatus::Success))
        });
        let _ = block_on(self.tracker.flush());
        let delivered = self.collector.delivered();
        self.check(
            got == n,
            format!("{n} send_did_end(Success) reported (got {got})"),
        );
        self.check(
            delivered.len() == n,
            format!("collector accepted {n} hits (got {})", delivered.len()),
        );
        self.check(
            delivered
                .iter()
                .all(|h| h.param("cn").is_none() && h.param("olt").is_none()),
            "live hits carry no cn=offline / olt".into(),
        );
        let stored = self.tracker.offline().count();
        self.check(
            stored == 0,
            format!("nothing stored (store holds {stored})"),
        );
    }

    fn offline(&mut self) {
        let n = self.opts.hits;
        self.step(
            2,
            "connection lost (collector refuses connections): hits are stored",
        );
        let before = self.collector.hits().len();
        self.collector.set_mode(Mode::Refuse);
        self.send_screens("Offline", n);
        let got = self.wait_for("saved to disk", n, |s| matches!(s, Seen::Saved));
        let _ = block_on(self.tracker.flush());
        let offline = self.tracker.offline();
        self.check(got == n, format!("{n} save_did_end reported (got {got})"));
        self.check(
            offline.count() == n as i64,
            format!("store holds {n} hits (holds {})", offline.count()),
        );
        let arrived = self.collector.hits().len() - before;
        self.check(
            arrived == 0,
            format!("no request reached the refusing collector (got {arrived})"),
        );

        let stored = offline.get().unwrap_or_default();
        self.say(&format!(
            "    stored hits (oldest first, {} of {}):",
            stored.len().min(2),
            stored.len()
        ));
        for hit in stored.iter().take(2) {
            self.say(&format!("      {}", hit.url));
        }
        self.check(
            stored
                .iter()
                .all(|h| h.url.contains("cn=offline") && h.url.contains("&olt=")),
            "stored URLs were rewritten with cn=offline and olt".into(),
        );
        let names: Vec<String> = stored.iter().filter_map(|h| param(&h.url, "p")).collect();
        let expected = &self.produced[self.produced.len() - n..];
        self.check(
            names == expected,
            "stored in the order they were sent".into(),
        );
    }

    fn back_online(&mut self) {
        let n = self.opts.hits;
        self.step(
            3,
            "connection back: dispatch_and_wait sends the stored hits",
        );
        self.collector.set_mode(Mode::Ok);
        // Dispatch on a helper thread so the delegate's reports can drive
        // the progress line meanwhile.
        let offline = self.tracker.offline();
        let pass = std::thread::spawn(move || {
            block_on(offline.dispatch_and_wait(Some(DISPATCH_DEADLINE_MS), false))
        });
        let got = self.wait_for("dispatched", n, |s| {
            matches!(s, Seen::Sent(HitStatus::Success))
        });
        let report = pass.join().ok().and_then(Result::ok).unwrap_or_default();
        self.say(&format!(
            "    report: sent {}, failed {}, dropped {}, remaining {}",
            report.sent, report.failed, report.dropped, report.remaining
        ));
        self.check(
            got == n,
            format!("{n} send_did_end(Success) reported (got {got})"),
        );
        self.check(
            report.sent == n as i64
                && report.failed == 0
                && report.dropped == 0
                && report.remaining == 0,
            format!("report is sent {n}, failed 0, dropped 0, remaining 0"),
        );
        let stored = self.tracker.offline().count();
        self.check(stored == 0, format!("store is empty (holds {stored})"));
        let delivered = self.collector.delivered().len();
        self.check(
            delivered == 2 * n,
            format!("collector accepted {} hits in all (got {delivered})", 2 * n),
        );
    }

    fn failing_collector(&mut self) {
        self.step(
            4,
            "collector failing (HTTP 500): a stored hit gets 3 attempts, then is dropped",
        );
        let offline = self.tracker.offline();
        self.collector.set_mode(Mode::Refuse);
        self.send_screens("Failing", 1);
        let got = self.wait_for("saved to disk", 1, |s| matches!(s, Seen::Saved));
        let _ = block_on(self.tracker.flush());
        self.check(
            got == 1 && offline.count() == 1,
            "the hit was stored while unreachable".into(),
        );
        self.collector.set_mode(Mode::Status {
            code: 500,
            retry_after: None,
        });
        for attempt in 1..=3i32 {
            let report = block_on(offline.dispatch_and_wait(Some(DISPATCH_DEADLINE_MS), false))
                .unwrap_or_default();
            let retries = offline
                .get()
                .unwrap_or_default()
                .first()
                .map(|h| h.retry_count);
            self.say(&format!(
                "    attempt {attempt}: HTTP 500 -> failed {}, dropped {}, remaining {}{}",
                report.failed,
                report.dropped,
                report.remaining,
                retries
                    .map(|r| format!(", retry count {r}"))
                    .unwrap_or_default(),
            ));
            let last = attempt == 3;
            let expected = (i64::from(!last), i64::from(last), i64::from(!last));
            self.check(
                (report.failed, report.dropped, report.remaining) == expected,
                format!(
                    "attempt {attempt} reports failed {}, dropped {}, remaining {}",
                    expected.0, expected.1, expected.2
                ),
            );
            if !last {
                self.check(
                    retries == Some(attempt),
                    format!("retry count is {attempt} after attempt {attempt}"),
                );
            }
        }
        self.drain(Duration::from_millis(200));
        let warned = self
            .tally
            .warnings
            .iter()
            .any(|w| w.contains("dropped after 3 attempt"));
        self.check(warned, "warning_did_occur reported the dropped hit".into());
        let tries = self
            .collector
            .hits()
            .iter()
            .filter(|h| h.param("p") == Some("Failing 1"))
            .map(|h| h.answered)
            .collect::<Vec<_>>();
        self.check(
            tries == [Some(500); 3],
            format!(
                "collector saw exactly 3 attempts, all answered 500 (saw {:?})",
                tries
            ),
        );
        self.collector.set_mode(Mode::Ok);
    }

    fn received(&mut self) {
        let step = if self.opts.failure_phase { 5 } else { 4 };
        self.step(step, "what the collector received");
        self.drain(Duration::from_millis(100));
        let hits = self.collector.hits();
        let delivered: Vec<&ReceivedHit> = hits.iter().filter(|h| h.is_delivered()).collect();
        let refused = hits.len() - delivered.len();
        self.say(&format!(
            "    {} requests: {} accepted (2xx), {} refused",
            hits.len(),
            delivered.len(),
            refused
        ));
        let order: Vec<&str> = delivered.iter().filter_map(|h| h.param("p")).collect();
        let expected: Vec<&str> = self
            .produced
            .iter()
            .map(String::as_str)
            .filter(|p| !p.starts_with("Failing"))
            .collect();
        self.say(&format!(
            "    accepted, in arrival order: {}",
            order.join(", ")
        ));
        self.check(
            order == expected,
            "accepted hits arrived in the order the app sent them".into(),
        );

        let first_live = delivered.first().copied();
        let first_stored = delivered
            .iter()
            .copied()
            .find(|h| h.param("cn") == Some("offline"));
        for (title, hit) in [
            ("first live hit", first_live),
            ("first stored hit", first_stored),
        ] {
            if let Some(hit) = hit {
                self.say(&format!("    {title} ({} {}):", hit.path, answered(hit)));
                for (key, value) in &hit.params {
                    self.say(&format!("      {key:<9} = {value}"));
                }
            }
        }
        if let Some(hit) = first_stored {
            let olt_after_ts = hit
                .params
                .windows(2)
                .any(|w| w[0].0 == "ts" && w[1].0 == "olt");
            self.check(
                olt_after_ts,
                "olt sits right after ts in a stored hit".into(),
            );
            self.check(
                hit.param("s") == Some(SITE) && hit.params[0].0 == "s",
                "s comes first".into(),
            );
        }
    }

    fn summary(&mut self) {
        self.drain(Duration::from_millis(50));
        let n = self.opts.hits;
        let doomed = usize::from(self.opts.failure_phase);
        let received = self.collector.delivered().len();
        let t = &self.tally;
        let produced = self.produced.len();
        let live = n;
        let from_store = t.sent_ok.saturating_sub(live);
        let still_stored = self.tracker.offline().count() as usize;
        println!();
        println!("Summary                  reported by HitKit   seen by the collector");
        println!("  produced               {:>18}   {:>21}", t.built, "-");
        println!(
            "  delivered              {:>18}   {:>21}",
            t.sent_ok, received
        );
        println!("    live                 {:>18}", live.min(t.sent_ok));
        println!("    from the store       {:>18}", from_store);
        println!("  stored                 {:>18}", t.saved);
        println!("  dropped (3 attempts)   {:>18}", t.dropped);
        println!("  still stored           {:>18}", still_stored);
        println!(
            "  warnings / errors      {:>18}",
            format!("{} / {}", t.warnings.len(), t.errors.len())
        );
        let adds_up = t.built == t.sent_ok + t.dropped + still_stored;
        let store_adds_up = t.saved == from_store + t.dropped + still_stored;
        println!(
            "  check: produced {} = delivered {} + dropped {} + still stored {}   {}",
            t.built,
            t.sent_ok,
            t.dropped,
            still_stored,
            verdict(adds_up)
        );
        println!(
            "  check: stored {} = delivered from the store {} + dropped {} + still stored {}   {}",
            t.saved,
            from_store,
            t.dropped,
            still_stored,
            verdict(store_adds_up)
        );
        let errors = t.errors.clone();
        let (built, sent_ok, saved, dropped) = (t.built, t.sent_ok, t.saved, t.dropped);
        self.check(
            built == produced,
            format!("build_did_end for each of the {produced} hits (got {built})"),
        );
        self.check(
            sent_ok == received,
            format!("delegate and collector agree on delivered ({sent_ok} vs {received})"),
        );
        self.check(
            sent_ok == 2 * n,
            format!("{} delivered (got {sent_ok})", 2 * n),
        );
        self.check(
            saved == n + doomed,
            format!("{} stored (got {saved})", n + doomed),
        );
        self.check(
            dropped == doomed,
            format!("{doomed} dropped (got {dropped})"),
        );
        self.check(adds_up && store_adds_up, "the summary adds up".into());
        self.check(
            errors.is_empty(),
            format!("no error_did_occur (got {errors:?})"),
        );
    }

    // --- helpers ------------------------------------------------------------

    fn send_screens(&mut self, prefix: &str, n: usize) {
        for i in 1..=n {
            let name = format!("{prefix} {i}");
            if let Err(e) = self.tracker.send_screen(name.clone(), vec![]) {
                self.check(false, format!("send_screen({name:?}) failed: {e}"));
            }
            self.produced.push(name);
        }
    }

    /// Takes delegate reports until `want` of them match, showing progress;
    /// returns how many matched before `EVENT_WAIT` ran out.
    fn wait_for(&mut self, label: &str, want: usize, matches: impl Fn(&Seen) -> bool) -> usize {
        let progress = Progress::new(label, want, !self.opts.quiet);
        let deadline = Instant::now() + EVENT_WAIT;
        let mut got = 0;
        while got < want {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(seen) => {
                    if matches(&seen) {
                        got += 1;
                        let note = format!("store holds {}", self.tracker.offline().count());
                        progress.set(got, &note);
                    }
                    self.tally(seen);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let note = format!("store holds {}", self.tracker.offline().count());
        progress.finish(got, &note);
        got
    }

    /// Takes whatever reports are still on their way.
    fn drain(&mut self, quiet_for: Duration) {
        while let Ok(seen) = self.events.recv_timeout(quiet_for) {
            self.tally(seen);
        }
    }

    fn tally(&mut self, seen: Seen) {
        let t = &mut self.tally;
        match seen {
            Seen::Built => t.built += 1,
            Seen::Sent(HitStatus::Success) => t.sent_ok += 1,
            Seen::Sent(HitStatus::Failed) => t.sent_failed += 1,
            Seen::Saved => t.saved += 1,
            Seen::Warning(w) => {
                if w.contains("dropped after") {
                    t.dropped += 1;
                }
                if !self.opts.quiet {
                    println!("    [warning_did_occur] {}", shorten(&w, 100));
                }
                t.warnings.push(w);
            }
            Seen::Error(e) => {
                println!("    [error_did_occur] {e}");
                t.errors.push(e);
            }
        }
    }

    fn step(&self, number: u32, title: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        self.say(&format!("\n[{number}] {title}   (t+{elapsed:.2}s)"));
    }

    fn say(&self, line: &str) {
        if !self.opts.quiet {
            println!("{line}");
        }
    }

    /// Records an invariant of the story; a broken one is always printed.
    fn check(&mut self, ok: bool, what: String) {
        if !ok {
            println!("    FAIL  {what}");
            self.failures.push(what);
        } else {
            self.say(&format!("    ok    {what}"));
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "FAIL" }
}

fn answered(hit: &ReceivedHit) -> String {
    hit.answered
        .map_or("no answer".into(), |code| format!("answered {code}"))
}

/// The first value of `key` in a URL's query, percent-decoded.
fn param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_params_from_stored_urls() {
        let url = "http://h/hit.xiti?s=1&p=Offline%201&cn=offline&olt=1.5";
        assert_eq!(param(url, "p").as_deref(), Some("Offline 1"));
        assert_eq!(param(url, "olt").as_deref(), Some("1.5"));
        assert_eq!(param(url, "x"), None);
        assert_eq!(percent_decode("100%"), "100%");
    }
}
