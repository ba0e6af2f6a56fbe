//! HitKit's benchmarks: `cargo run --release -p hitkit-bench` (`make bench`).
//!
//! Prints issue 9's table (every row, its target and moonshot, met or not)
//! and the figures behind it, and writes `bench/results.json`. Comparisons
//! are measured side by side in this run and reported as ratios. The Kotlin
//! and Swift rows come from `bench/bindings.json`, written by `make
//! bench-bindings`. See BENCHMARKS.md for what each row measures and what
//! limits it.
//!
//! `hitkit-bench child <phase> <dir> <endpoint>` is how the program
//! re-executes itself for the rows measured in a fresh process.

mod bindings;
mod caller;
mod common;
mod drain;
mod footprint;
mod idle;
mod report;
mod size;
mod sqlite;
mod store;

use std::path::{Path, PathBuf};
use std::time::Instant;

use hitkit_collector::Collector;
use serde_json::{Value, json};

use report::Line;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, phase, dir, endpoint] = args.as_slice()
        && command == "child"
    {
        footprint::child_main(phase, Path::new(dir), endpoint);
        return;
    }
    // `--only store,drain` runs some groups (while working on one).
    let only: Option<Vec<String>> = match args.as_slice() {
        [flag, groups] if flag == "--only" => Some(groups.split(',').map(str::to_owned).collect()),
        [] => None,
        _ => {
            eprintln!("usage: hitkit-bench [--only {}]", GROUPS.join(","));
            std::process::exit(2);
        }
    };
    if let Some(unknown) = only
        .iter()
        .flatten()
        .find(|g| !GROUPS.contains(&g.as_str()))
    {
        eprintln!(
            "unknown group {unknown}: the groups are {}",
            GROUPS.join(", ")
        );
        std::process::exit(2);
    }
    let wanted = |group: &str| {
        only.as_ref()
            .is_none_or(|groups| groups.iter().any(|g| g == group))
    };

    let start = Instant::now();
    let collector = Collector::start().expect("collector starts");
    let endpoint = collector.endpoint();
    let mut lines: Vec<Line> = Vec::new();
    let mut details = serde_json::Map::new();
    let mut timings = serde_json::Map::new();
    let mut timed = |name: &str, f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        eprintln!("{name}: {:.1} s", t.elapsed().as_secs_f64());
        timings.insert(name.into(), json!(t.elapsed().as_secs_f64()));
    };

    if wanted("store") {
        timed("store", &mut || {
            store::run(&endpoint, &mut lines, &mut details)
        });
    }
    if wanted("drain") {
        timed("drain", &mut || {
            drain::run(&collector, &mut lines, &mut details)
        });
    }
    if wanted("caller") {
        timed("caller", &mut || {
            caller::run(&endpoint, &mut lines, &mut details)
        });
    }
    if wanted("footprint") {
        timed("footprint", &mut || {
            footprint::run(&collector, &mut lines, &mut details)
        });
    }
    if wanted("idle") {
        timed("idle", &mut || {
            idle::run(&endpoint, &mut lines, &mut details)
        });
    }
    drop(collector);
    let measuring = start.elapsed().as_secs_f64();
    // Builds last, so nothing else is measured while cargo runs.
    if wanted("size") {
        timed("size", &mut || size::run(&mut lines, &mut details));
    }
    bindings::run(&mut lines, &mut details);

    report::print_tables(&lines);
    let seconds = start.elapsed().as_secs_f64();
    let load = load_average();
    println!(
        "\n{} on {}, load average {load} at the end; {measuring:.0} s of measuring, \
         {seconds:.0} s in all (with the library builds); {}",
        machine_line(),
        kernel(),
        utc_now()
    );

    let results = json!({
        "command": "make bench (cargo run --release -p hitkit-bench)",
        "date": utc_now(),
        "machine": {
            "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "cpu": cpu_model(),
            "kernel": kernel(),
            "load_average_at_end": load,
        },
        "seconds": seconds,
        "measuring_seconds": measuring,
        "row_seconds": timings,
        "rows": lines.iter().map(Line::to_json).collect::<Vec<Value>>(),
        "details": details,
    });
    let path = results_path();
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&results).unwrap_or_default() + "\n",
    ) {
        Ok(()) => println!("results: {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

/// What `--only` takes: store (issue row 9, durable latency), drain,
/// caller (rows 1-2), footprint (rows 5-8), idle (row 12), size (rows
/// 10-11). Rows 3-4 are read from bench/bindings.json.
const GROUPS: [&str; 6] = ["store", "drain", "caller", "footprint", "idle", "size"];

fn results_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results.json")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            Some(
                line.strip_prefix("model name")?
                    .split_once(':')?
                    .1
                    .trim()
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "unknown kernel".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The time now, as `2026-11-30 09:41 UTC` (no date crate for this).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} x {}", cpu_model())
}
