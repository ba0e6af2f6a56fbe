//! Rows 5, 6 and 7: memory, disk and cold open with 100,000 stored hits.
//!
//! Each phase runs in a fresh child process (this binary, re-executed with a
//! sub-command) so its peak RSS (`VmHWM`) is HitKit's alone: the collector
//! and the other rows stay in the parent. The child prints one JSON line.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hitkit::Tracker;
use hitkit_collector::Collector;
use serde_json::{Value, json};

use crate::common::{self, Probe, dir_bytes, proc_status_kb};
use crate::report::{Line, Target};

const HITS: u64 = 100_000;
/// Hits are stored in bursts of this many, each awaited: an app does not
/// queue 100,000 hits at once, and the queue would then be what is measured.
const BURST: u64 = 1_000;
/// The drain of 100,000 hits uses the fastest concurrency of row 3.
const DRAIN_CONCURRENCY: u32 = 8;

pub fn run(
    collector: &Collector,
    lines: &mut Vec<Line>,
    details: &mut serde_json::Map<String, Value>,
) {
    let endpoint = collector.endpoint();
    // Rows 5 and 6: one process stores then drains.
    let store_drain = {
        let dir = common::scratch_dir();
        child("store-drain", dir.path(), &endpoint)
    };
    collector.clear();
    // Row 7: a process fills a store, a fresh one opens it. Either the first
    // closed cleanly (the tracker dropped, HitKit's close finished) or it was
    // killed after its last flush, as mobile apps usually end.
    let (fill, open) = {
        let dir = common::scratch_dir();
        let fill = child("fill", dir.path(), &endpoint);
        (fill, child("open", dir.path(), &endpoint))
    };
    let (fill_killed, open_killed) = {
        let dir = common::scratch_dir();
        let fill = child("fill-kill", dir.path(), &endpoint);
        (fill, child("open", dir.path(), &endpoint))
    };

    let number = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mb = |v: &Value| number(v) / 1024.0;
    lines.push(
        Line::new(
            "5",
            "peak RSS, store then drain 100k",
            mb(&store_drain["vm_hwm_kb"]),
            "MB",
        )
        .target(Target::AtMost(40.0)),
    );
    lines.push(Line::new(
        "5",
        "peak RSS, storing 100k only",
        mb(&store_drain["vm_hwm_stored_kb"]),
        "MB",
    ));
    lines.push(Line::new(
        "5",
        "RSS after opening 100k",
        mb(&open["vm_rss_kb"]),
        "MB",
    ));
    let hits = HITS as f64;
    let raw = number(&store_drain["raw_bytes"]) / hits;
    lines.push(
        Line::new(
            "6",
            "disk per hit, 100k stored",
            number(&store_drain["disk_bytes_stored"]) / hits,
            "B",
        )
        .versus("raw URL bytes", raw)
        .target(Target::RatioAtMost(2.5)),
    );
    lines.push(
        Line::new(
            "6",
            "disk per hit, after the drain",
            number(&store_drain["disk_bytes_drained"]) / hits,
            "B",
        )
        .versus("raw URL bytes", raw),
    );
    for (how, open) in [("after clean close", &open), ("after a kill", &open_killed)] {
        let new_ms = number(&open["new_ms"]);
        let count_ms = number(&open["count_ms"]);
        lines.push(
            Line::new("7", format!("cold open 100k {how}: new"), new_ms, "ms")
                .target(Target::AtMost(100.0)),
        );
        lines.push(
            Line::new(
                "7",
                format!("cold open 100k {how}: + count"),
                count_ms,
                "ms",
            )
            .target(Target::AtMost(100.0)),
        );
    }
    details.insert(
        "footprint".into(),
        json!({ "store_drain": store_drain, "fill": fill, "open": open,
                "fill_killed": fill_killed, "open_after_kill": open_killed,
                "note": "each phase in a fresh child process; VmHWM from /proc/self/status; disk = apparent size of every file under databasePath; the open is cold for the process, the files are in the OS page cache" }),
    );
}

fn child(phase: &str, dir: &Path, endpoint: &str) -> Value {
    let exe = std::env::current_exe().expect("own executable");
    let output = Command::new(exe)
        .args(["child", phase])
        .arg(dir)
        .arg(endpoint)
        .output()
        .expect("child process starts");
    if !output.status.success() {
        panic!(
            "child {phase} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).expect("child prints JSON")
}

/// Runs in the child process.
pub fn child_main(phase: &str, dir: &Path, endpoint: &str) {
    let result = match phase {
        "store-drain" => store_drain(dir, endpoint),
        "fill" => {
            let tracker = common::tracker(dir, endpoint);
            let mut result = fill(&tracker);
            result["clean_close"] = json!(common::close(tracker, dir));
            result
        }
        "fill-kill" => {
            let tracker = common::tracker(dir, endpoint);
            println!("{}", fill(&tracker));
            // Like an app the OS kills: no close, nothing after the last flush.
            std::process::exit(0);
        }
        "open" => open(dir, endpoint),
        other => panic!("unknown child phase {other}"),
    };
    println!("{result}");
}

/// Stores `HITS` hits, `BURST` at a time; returns its seconds and raw bytes.
fn fill(tracker: &Tracker) -> Value {
    let start = Instant::now();
    let probe = Probe::attach(tracker);
    for burst in 0..HITS / BURST {
        for i in 0..BURST {
            common::send_hit(tracker, (burst * BURST + i) as usize);
        }
        probe.wait_saves((burst + 1) * BURST);
    }
    common::block_on(tracker.flush()).expect("flush");
    assert_eq!(tracker.offline().count(), HITS as i64);
    json!({
        "seconds": start.elapsed().as_secs_f64(),
        "raw_bytes": probe.counts().saved_bytes,
        "vm_hwm_kb": proc_status_kb("VmHWM"),
    })
}

fn store_drain(dir: &Path, endpoint: &str) -> Value {
    let rss_before = proc_status_kb("VmRSS");
    let tracker = common::tracker(dir, endpoint);
    let filled = fill(&tracker);
    let hwm_stored = proc_status_kb("VmHWM");
    let disk_stored = dir_bytes(dir);

    tracker
        .set_config(
            "dispatchConcurrency".into(),
            DRAIN_CONCURRENCY.to_string(),
            None,
        )
        .expect("dispatchConcurrency is a key");
    let start = Instant::now();
    let report =
        common::block_on(tracker.offline().dispatch_and_wait(None, false)).expect("dispatch");
    let drain_seconds = start.elapsed().as_secs_f64();
    assert_eq!(report.sent, HITS as i64, "every hit is sent: {report:?}");
    common::block_on(tracker.flush()).expect("flush");
    let disk_drained = dir_bytes(dir);
    common::close(tracker, dir);
    json!({
        "rss_before_tracker_kb": rss_before,
        "fill_seconds": filled["seconds"],
        "raw_bytes": filled["raw_bytes"],
        "vm_hwm_stored_kb": hwm_stored,
        "disk_bytes_stored": disk_stored,
        "drain_concurrency": DRAIN_CONCURRENCY,
        "drain_seconds": drain_seconds,
        "vm_hwm_kb": proc_status_kb("VmHWM"),
        "disk_bytes_drained": disk_drained,
    })
}

fn open(dir: &Path, endpoint: &str) -> Value {
    let rss_before = proc_status_kb("VmRSS");
    let start = Instant::now();
    let tracker = common::tracker(dir, endpoint);
    let opened = start.elapsed();
    let count = tracker.offline().count();
    let counted = start.elapsed();
    assert_eq!(count, HITS as i64, "the store holds every hit");
    json!({
        "rss_before_tracker_kb": rss_before,
        "new_ms": opened.as_secs_f64() * 1e3,
        "count_ms": counted.as_secs_f64() * 1e3,
        "vm_rss_kb": proc_status_kb("VmRSS"),
        "vm_hwm_kb": proc_status_kb("VmHWM"),
    })
}
