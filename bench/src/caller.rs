//! Rows 1 and 2 of issue 9: what `send_screen` costs the thread that calls it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Probe, percentiles};
use crate::report::{Line, Target};

const CALLS: usize = 20_000;
/// Paced calls: one every millisecond, as an app sends them; HitKit's worker
/// is asleep at each call, so each one also pays for waking it.
const PACED_CALLS: usize = 2_000;

pub fn run(endpoint: &str, lines: &mut Vec<Line>, details: &mut serde_json::Map<String, Value>) {
    let dir = common::scratch_dir();
    let tracker = common::tracker(dir.path(), endpoint);
    let probe = Probe::attach(&tracker);
    common::block_on(tracker.flush()).expect("flush");
    let saved = probe.counts().saves;
    let mut burst = time_calls(&tracker, CALLS, Duration::ZERO);
    let mut paced = time_calls(&tracker, PACED_CALLS, Duration::from_millis(1));
    probe.wait_saves(saved + (CALLS + PACED_CALLS) as u64);
    common::close(tracker, dir.path());
    let mut detail = serde_json::Map::new();
    for (name, samples) in [("burst", &mut burst), ("paced", &mut paced)] {
        let max = samples.iter().max().copied().unwrap_or_default();
        let p = percentiles(samples);
        let p999 = samples[samples.len() * 999 / 1000].as_nanos();
        let what = |q: &str| match name {
            "burst" => format!("Rust send_screen, {q}, back to back"),
            _ => format!("Rust send_screen, {q}, one per ms (how apps send)"),
        };
        let (issue, before) = match name {
            "burst" => (2, "28 µs"),
            _ => (1, "287 µs"),
        };
        lines.push(Line::new("caller", what("p50"), p.p50, "ns"));
        lines.push(
            Line::new("caller", what("p99"), p.p99, "ns")
                .issue(
                    issue,
                    before,
                    Target::AtMost(10_000.0),
                    Target::AtMost(5_000.0),
                )
                .note(format!(
                    "The call alone, on the app's thread (its arguments are made before the \
                     clock starts), {} calls, always mode; p50 {} ns. {}",
                    samples.len(),
                    crate::report::number(p.p50),
                    match name {
                        "burst" => "The worker stores the hits meanwhile on the other core.",
                        _ => "A sleep of 1 ms before each call: the worker is idle or lingering.",
                    }
                )),
        );
        detail.insert(
            name.into(),
            json!({"calls": samples.len(), "p50_ns": p.p50, "p99_ns": p.p99, "p999_ns": p999, "max_ns": max.as_nanos()}),
        );
    }
    detail.insert(
        "how".into(),
        json!("time of the send_screen call alone (its arguments are made before the clock starts), in always mode while HitKit's worker stores the hits"),
    );
    details.insert("caller".into(), detail.into());
}

fn time_calls(tracker: &hitkit::Tracker, calls: usize, gap: Duration) -> Vec<Duration> {
    (0..calls)
        .map(|i| {
            if !gap.is_zero() {
                std::thread::sleep(gap);
            }
            let (name, params) = (common::screen_name(i), common::params(i));
            let start = Instant::now();
            tracker
                .send_screen(name, params)
                .expect("send_screen accepts the hit");
            start.elapsed()
        })
        .collect()
}
