//! Persisting hits, against SQLite: issue 9's row 9 (a burst against
//! SQLite in batches), and the durable latency of one hit at a time.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Probe, per_second, percentiles};
use crate::report::{Line, Target};
use crate::sqlite::{HitTable, Sync};

const BURST: usize = 10_000;
const ONE_AT_A_TIME: usize = 300;
/// SQLite's autocommit INSERTs cost one fsync each (about 2.5 ms here): its
/// rate is measured on the first hits of the burst only, to keep the run short.
const SQLITE_AUTOCOMMIT_HITS: usize = 2_000;

pub fn run(endpoint: &str, lines: &mut Vec<Line>, details: &mut serde_json::Map<String, Value>) {
    // HitKit: a burst of hits, from the first send to the last save_did_end.
    let dir = common::scratch_dir();
    let tracker = common::tracker(dir.path(), endpoint);
    let probe = Probe::attach(&tracker);
    common::block_on(tracker.flush()).expect("flush");
    let before = probe.counts();
    let start = Instant::now();
    for i in 0..BURST {
        common::send_hit(&tracker, i);
    }
    let burst = probe.wait_saves(before.saves + BURST as u64) - start;
    let after = probe.counts();
    let commits = after.commits - before.commits;
    let batch = (BURST as f64 / commits as f64).round() as usize;
    let urls = common::stored_urls(&tracker);
    assert_eq!(urls.len(), BURST, "every hit of the burst is stored");

    // Row 2 on the same tracker: one hit at a time, send to save_did_end.
    let mut hitkit_latency: Vec<Duration> = (0..ONE_AT_A_TIME as u64)
        .map(|k| {
            let start = Instant::now();
            common::send_hit(&tracker, k as usize);
            probe.wait_saves(after.saves + k + 1) - start
        })
        .collect();
    common::close(tracker, dir.path());

    // SQLite, same URLs (as HitKit stored them), each table in its own file.
    let sqlite_dir = common::scratch_dir();
    let autocommit_urls = &urls[..SQLITE_AUTOCOMMIT_HITS];
    let autocommit = HitTable::create(sqlite_dir.path(), Sync::Full).insert_each(autocommit_urls);
    let batched = {
        let dir = common::scratch_dir();
        HitTable::create(dir.path(), Sync::Full).insert_batched(&urls, batch)
    };
    let normal = {
        let dir = common::scratch_dir();
        HitTable::create(dir.path(), Sync::Normal).insert_each(autocommit_urls)
    };
    let mut fdatasync = fdatasync_latencies(sqlite_dir.path(), urls[0].len(), ONE_AT_A_TIME);
    let mut sqlite_latency = {
        let dir = common::scratch_dir();
        HitTable::create(dir.path(), Sync::Full).insert_latencies(&urls[0], ONE_AT_A_TIME)
    };

    let n = BURST as u64;
    lines.push(
        Line::new(
            "store",
            "store 10k burst, hits/s",
            per_second(n, burst),
            "hits/s",
        )
        .versus(
            "SQLite autocommit",
            per_second(SQLITE_AUTOCOMMIT_HITS as u64, autocommit),
        )
        .target(Target::RatioAtLeast(2.0)),
    );
    lines.push(
        Line::new(
            "store",
            "store burst vs SQLite, one transaction per batch",
            per_second(n, burst),
            "hits/s",
        )
        .versus(format!("SQLite 1 txn/{batch} hits"), per_second(n, batched))
        .issue(
            9,
            "0.17x",
            Target::RatioAtLeast(0.5),
            Target::RatioAtLeast(1.0),
        )
        .note(format!(
            "{BURST} hits sent back to back, from the first send_screen to the last \
             save_did_end; HitKit made {commits} group commit(s), so SQLite (WAL, \
             synchronous=FULL, cached INSERT) gets the same URLs in transactions of {batch}."
        )),
    );
    let hk = percentiles(&mut hitkit_latency);
    let sq = percentiles(&mut sqlite_latency);
    let floor = percentiles(&mut fdatasync);
    lines.push(
        Line::new("latency", "durable latency p50", hk.p50 / 1e6, "ms")
            .versus("SQLite FULL commit", sq.p50 / 1e6),
    );
    lines.push(
        Line::new("latency", "durable latency p99", hk.p99 / 1e6, "ms")
            .versus("SQLite FULL commit", sq.p99 / 1e6),
    );
    lines.push(
        Line::new("latency", "durable latency p50", hk.p50 / 1e6, "ms")
            .versus("append + fdatasync", floor.p50 / 1e6),
    );
    details.insert(
        "store".into(),
        json!({
            "burst_hits": BURST,
            "hitkit_seconds": burst.as_secs_f64(),
            "hitkit_group_commits": commits,
            "hitkit_mean_batch": batch,
            "mean_stored_url_bytes": after.saved_bytes.saturating_sub(before.saved_bytes) as f64 / n as f64,
            "sqlite_autocommit_hits": SQLITE_AUTOCOMMIT_HITS,
            "sqlite_autocommit_full_seconds": autocommit.as_secs_f64(),
            "sqlite_batched_full_seconds": batched.as_secs_f64(),
            "sqlite_autocommit_normal_hits_per_s": per_second(SQLITE_AUTOCOMMIT_HITS as u64, normal),
            "sqlite_synchronous": "FULL (every commit fsyncs the WAL, like save_did_end), WAL mode",
            "latency_samples": ONE_AT_A_TIME,
            "hitkit_latency_ms": {"p50": hk.p50 / 1e6, "p99": hk.p99 / 1e6},
            "sqlite_full_latency_ms": {"p50": sq.p50 / 1e6, "p99": sq.p99 / 1e6},
            "append_fdatasync_latency_ms": {"p50": floor.p50 / 1e6, "p99": floor.p99 / 1e6},
            "note": "on Linux sled 0.34 makes a flush stable with sync_file_range only; HitKit fdatasyncs sled's log after each flush (BENCHMARKS.md R1), so save_did_end makes the same promise as SQLite FULL's commit",
        }),
    );
}

/// The physical floor of a durable write: append `len` bytes to a file and
/// fdatasync it, one at a time.
fn fdatasync_latencies(dir: &std::path::Path, len: usize, count: usize) -> Vec<Duration> {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join("append.log")).expect("append file");
    let record = vec![b'h'; len];
    (0..count)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&record).expect("append");
            file.sync_data().expect("fdatasync");
            start.elapsed()
        })
        .collect()
}
