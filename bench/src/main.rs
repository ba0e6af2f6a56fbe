//! HitKit's benchmarks: `cargo run --release -p hitkit-bench` (`make bench`).
//!
//! Prints one table and writes `bench/results.json`. Every comparison is
//! measured side by side in this run and reported as a ratio. See
//! BENCHMARKS.md for what each row measures and what limits it.
//!
//! `hitkit-bench child <phase> <dir> <endpoint>` is how the program
//! re-executes itself for the rows measured in a fresh process.

mod caller;
mod common;
mod drain;
mod footprint;
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
    // `--only 1,3` runs some row groups (while working on one).
    let only: Option<Vec<String>> = match args.as_slice() {
        [flag, rows] if flag == "--only" => Some(rows.split(',').map(str::to_owned).collect()),
        [] => None,
        _ => {
            eprintln!("usage: hitkit-bench [--only 1,3,...]");
            std::process::exit(2);
        }
    };
    let wanted = |row: &str| {
        only.as_ref()
            .is_none_or(|rows| rows.iter().any(|r| r == row))
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
        eprintln!("rows {name}: {:.1} s", t.elapsed().as_secs_f64());
        timings.insert(name.into(), json!(t.elapsed().as_secs_f64()));
    };

    if wanted("1") || wanted("2") {
        timed("1-2", &mut || {
            store::run(&endpoint, &mut lines, &mut details)
        });
    }
    if wanted("3") {
        timed("3", &mut || {
            drain::run(&collector, &mut lines, &mut details)
        });
    }
    if wanted("4") {
        timed("4", &mut || {
            caller::run(&endpoint, &mut lines, &mut details)
        });
    }
    if wanted("5") || wanted("6") || wanted("7") {
        timed("5-7", &mut || {
            footprint::run(&collector, &mut lines, &mut details)
        });
    }
    if wanted("8") {
        timed("8", &mut || size::run(&mut lines, &mut details));
    }
    drop(collector);

    report::print_table(&lines);
    let seconds = start.elapsed().as_secs_f64();
    println!("\n{} on {}; {seconds:.0} s", machine_line(), kernel());

    let results = json!({
        "command": "cargo run --release -p hitkit-bench",
        "machine": {
            "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "cpu": cpu_model(),
            "kernel": kernel(),
        },
        "seconds": seconds,
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

fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} x {}", cpu_model())
}
