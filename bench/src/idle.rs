//! Row 12: what an idle tracker costs the battery, as wake-ups.
//!
//! A child process (this program, `child idle`) starts a tracker in the
//! default mode (hits go out live), sends a few hits to the collector,
//! flushes, and then only waits on its standard input. After a pause to
//! let every after-work timer pass, the parent reads the context switches
//! (voluntary + nonvoluntary) of each of the child's threads from
//! `/proc/{pid}/task/*/status`, twice, 20 s apart. Every switch of a
//! sleeping thread is a wake-up. The parent's own threads (the collector)
//! are in another process and are not counted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hitkit::{Tracker, TrackerConfig};
use serde_json::{Value, json};

use crate::common::{self, Probe};
use crate::report::{Line, Target};

/// How long the threads are watched (`HITKIT_BENCH_IDLE_SECONDS` changes
/// it, to look for timers of a longer period).
fn window() -> Duration {
    std::env::var("HITKIT_BENCH_IDLE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(20), Duration::from_secs)
}
/// Between the flush and the first reading: past the worker's linger
/// (3 ms) and its commit timer (25 ms), with room to spare.
const SETTLE: Duration = Duration::from_secs(2);
const HITS: usize = 5;

pub fn run(endpoint: &str, lines: &mut Vec<Line>, details: &mut serde_json::Map<String, Value>) {
    let dir = common::scratch_dir();
    let exe = std::env::current_exe().expect("own executable");
    let mut child = Command::new(exe)
        .args(["child", "idle"])
        .arg(dir.path())
        .arg(endpoint)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("idle child starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("child stdout"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("idle child answers");
    let ready: Value = serde_json::from_str(&ready).expect("idle child prints JSON");
    let pid = child.id();

    std::thread::sleep(SETTLE);
    let start = Instant::now();
    let before = switches(pid);
    std::thread::sleep(window());
    let after = switches(pid);
    let window = start.elapsed();
    // Closing its input ends the child: it closes its tracker and exits.
    drop(child.stdin.take());
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let status = child.wait().expect("idle child ends");

    let per_minute = 60.0 / window.as_secs_f64();
    let mut threads = BTreeMap::<String, Value>::new();
    let (mut hitkit, mut sled, mut other) = (0u64, 0u64, 0u64);
    let mut sled_threads = 0;
    for (tid, (name, count)) in &after {
        // A thread born in the window counts from zero.
        let since = before.get(tid).map_or(0, |(_, c)| *c);
        let woke = count.saturating_sub(since);
        match class(name) {
            Class::HitKit => hitkit += woke,
            Class::Sled => {
                sled += woke;
                sled_threads += 1;
            }
            Class::Other => other += woke,
        }
        threads.insert(
            format!("{name} ({tid})"),
            json!({"wakeups": woke, "per_minute": woke as f64 * per_minute}),
        );
    }
    let gone = before.keys().filter(|tid| !after.contains_key(tid)).count();
    lines.push(
        Line::new(
            "idle",
            "wake-ups per minute of an idle tracker (HitKit's threads)",
            hitkit as f64 * per_minute,
            "/min",
        )
        .issue(12, "390", Target::AtMost(10.0), Target::AtMost(0.0))
        .note(format!(
            "HitKit's threads are `hitkit` (the tracker's worker) and `hitkit-http` (reqwest). \
             sled's {sled_threads} `sled-io-*` threads woke {} times a minute more: on Linux, \
             macOS, Windows and the BSDs sled 0.34.7 keeps 7 immortal I/O threads that each wait \
             at most 1 s for work; its iOS and Android builds have no thread pool at all and run \
             that work on the caller (sled src/lib.rs:218-243), so on a phone those wake-ups do \
             not exist. Counted over {:.0} s, {:.0} s after the last flush, in a child process. \
             reqwest's idle-connection timer (hyper's pool, every pool_idle_timeout = 30 s) can \
             fall outside a 20 s window: HITKIT_BENCH_IDLE_SECONDS=70 watches longer.",
            number(sled as f64 * per_minute),
            window.as_secs_f64(),
            SETTLE.as_secs_f64()
        )),
    );
    // The issue's 390 counted every thread of the process: this is the
    // like-for-like row, and on Linux sled's pool misses it.
    lines.push(
        Line::new(
            "idle",
            "the same, every thread, sled's sled-io pool included (Linux, macOS; no such pool on iOS, Android)",
            (hitkit + sled + other) as f64 * per_minute,
            "/min",
        )
        .issue(12, "390", Target::AtMost(10.0), Target::AtMost(0.0)),
    );
    details.insert(
        "idle".into(),
        json!({
            "window_seconds": window.as_secs_f64(),
            "settle_seconds": SETTLE.as_secs_f64(),
            "hits_sent_before": ready["sent"],
            "per_minute": {
                "hitkit": hitkit as f64 * per_minute,
                "sled_io": sled as f64 * per_minute,
                "other": other as f64 * per_minute,
            },
            "threads": threads,
            "threads_gone_in_window": gone,
            "child_exit_ok": status.success(),
            "how": "voluntary_ctxt_switches + nonvoluntary_ctxt_switches of each thread of the child, from /proc/{pid}/task/*/status, read twice; the child's main thread waits on a pipe",
        }),
    );
}

fn number(x: f64) -> String {
    crate::report::number(x)
}

enum Class {
    HitKit,
    Sled,
    Other,
}

fn class(name: &str) -> Class {
    match name {
        "hitkit" | "hitkit-http" => Class::HitKit,
        n if n.starts_with("sled-io-") => Class::Sled,
        _ => Class::Other,
    }
}

/// Thread id → (name, context switches so far), for every thread of `pid`.
fn switches(pid: u32) -> BTreeMap<u32, (String, u64)> {
    let mut threads = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let count = ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"]
            .iter()
            .filter_map(|f| field(f)?.parse::<u64>().ok())
            .sum();
        let name = field("Name").unwrap_or("?").to_owned();
        threads.insert(tid, (name, count));
    }
    threads
}

/// Runs in the child: a tracker in the default mode sends a few hits live,
/// then the process only waits for its input to close.
pub fn child_main(dir: &Path, endpoint: &str) {
    let tracker = Tracker::new(
        TrackerConfig {
            site: "1".into(),
            database_path: dir.to_string_lossy().into_owned(),
            endpoint: Some(endpoint.to_owned()),
            ..Default::default()
        },
        None,
    )
    .expect("tracker opens");
    let probe = Probe::attach(&tracker);
    for i in 0..HITS {
        common::send_hit(&tracker, i);
    }
    common::block_on(tracker.flush()).expect("flush");
    let sent = probe.counts().sent;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", json!({"sent": sent, "pid": std::process::id()})).expect("stdout");
        out.flush().expect("stdout");
    }
    let mut input = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut input);
    common::close(tracker, dir);
}
