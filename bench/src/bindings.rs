//! Rows 3 and 4 of issue 9: Kotlin's and Swift's `sendScreen`, measured by
//! `make bench-bindings` (scripts/bench-bindings.sh: the JVM and Swift
//! toolchains, minutes to build), which writes `bench/bindings.json`. This
//! program reads that file, so one table shows every row, with the date
//! the figures were taken.

use std::path::Path;

use serde_json::{Value, json};

use crate::report::{Line, Target, number};

pub fn run(lines: &mut Vec<Line>, details: &mut serde_json::Map<String, Value>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bindings.json");
    let file: Option<Value> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let Some(file) = file else {
        for (issue, what, before, target, moonshot) in rows() {
            lines.push(
                Line::new("bindings", what, f64::NAN, "µs")
                    .issue(
                        issue,
                        before,
                        Target::AtMost(target),
                        Target::AtMost(moonshot),
                    )
                    .shown("not measured: run `make bench-bindings`, then `make bench`")
                    .note(format!("{} has no figures.", path.display())),
            );
        }
        return;
    };
    let find = |kind: &str, lang: &str| {
        file["results"].as_array().and_then(|rows| {
            rows.iter()
                .find(|r| r["kind"] == kind && r["lang"] == lang)
                .cloned()
        })
    };
    let us = |row: &Value, field: &str| row[field].as_f64().unwrap_or(f64::NAN) / 1e3;
    let taken = format!(
        "measured by make bench-bindings on {} (load {}), median of {} batches of {} calls \
         after 5 warm-up batches, release library, always mode",
        file["date"].as_str().unwrap_or("?"),
        file["machine"]["load"].as_str().unwrap_or("?"),
        file["batches"],
        file["calls"],
    );
    if let Some(kotlin) = find("RESULT", "kotlin") {
        let (wall, cpu) = (us(&kotlin, "wall_median_ns"), us(&kotlin, "cpu_median_ns"));
        lines.push(
            Line::new(
                "bindings",
                "Kotlin sendScreen, median per call, CPU and wall",
                wall.max(cpu),
                "µs",
            )
            .issue(
                3,
                "80 µs wall, 49 µs CPU",
                Target::AtMost(10.0),
                Target::AtMost(3.0),
            )
            .shown(format!("{} µs wall, {} µs CPU", number(wall), number(cpu)))
            .note(format!(
                "Judged on the larger of wall and the calling thread's CPU time; {taken}."
            )),
        );
    }
    if let Some(swift) = find("RESULT", "swift") {
        let wall = us(&swift, "wall_median_ns");
        lines.push(
            Line::new("bindings", "Swift sendScreen, median per call", wall, "µs")
                .issue(4, "5.5 µs wall", Target::AtMost(3.0), Target::AtMost(2.0))
                .shown(format!(
                    "{} µs wall ({} µs CPU)",
                    number(wall),
                    number(us(&swift, "cpu_median_ns"))
                ))
                .note(format!("Judged on wall time; {taken}.")),
        );
    }
    for (kind, call) in [
        ("GENERATED", "UniFFI's generated sendScreen"),
        ("FLOOR", "offlineMode(), the FFI floor"),
    ] {
        for lang in ["kotlin", "swift"] {
            if let Some(row) = find(kind, lang) {
                let (wall, cpu) = (us(&row, "wall_median_ns"), us(&row, "cpu_median_ns"));
                lines.push(
                    Line::new("bindings", format!("{lang}: {call}, median"), wall, "µs")
                        .shown(format!("{} µs wall, {} µs CPU", number(wall), number(cpu))),
                );
            }
        }
    }
    details.insert("bindings".into(), json!({"file": path, "as_written": file}));
}

/// The rows this file answers: (issue row, what, before, target, moonshot).
fn rows() -> [(u8, &'static str, &'static str, f64, f64); 2] {
    [
        (
            3,
            "Kotlin sendScreen, median per call, CPU and wall",
            "80 µs wall, 49 µs CPU",
            10.0,
            3.0,
        ),
        (
            4,
            "Swift sendScreen, median per call",
            "5.5 µs wall",
            3.0,
            2.0,
        ),
    ]
}
