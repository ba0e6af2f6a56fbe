//! The crash suite, run by `cargo test --workspace`: the short harness run
//! (30 real SIGKILLs), checks that the harness itself catches a loss and a
//! wrong tally, and two exact kills: right after `save_did_end`, and in the
//! middle of a send.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hitkit::{OfflineModeKey, Tracker, TrackerConfig};
use hitkit_collector::{Collector, Mode};
use hitkit_reliability::{Line, hit_id};

const HARNESS: &str = env!("CARGO_BIN_EXE_hitkit-crash");
const CHILD: &str = env!("CARGO_BIN_EXE_hitkit-crash-child");

fn harness(args: &[&str]) -> (bool, String) {
    let out = Command::new(HARNESS)
        .args(["--child", CHILD])
        .args(args)
        .output()
        .expect("run hitkit-crash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    // A failed run keeps its database for inspection: not wanted here.
    for line in text.lines() {
        if let Some(db) = line.strip_prefix("database kept for inspection: ")
            && let Some(dir) = std::path::Path::new(db).parent()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    (out.status.success(), text)
}

#[test]
fn short_crash_run_loses_nothing() {
    let (ok, text) = harness(&["--short"]);
    assert!(ok, "the crash run found violations:\n{text}");
    assert!(text.contains("kills (SIGKILL):           30"), "{text}");
    assert!(text.contains("lost:                      0"), "{text}");
    assert!(
        text.contains("tally after a kill:        0 mismatches in 30 checks"),
        "{text}"
    );
    let duplicates = figure(&text, "duplicates:");
    assert!(
        text.contains(&format!(
            "duplicates a collector can drop: {duplicates} of {duplicates} "
        )),
        "{text}"
    );
    for line in [
        "per kill:",
        "required-mode hits lost while queued:",
        "open after a kill:",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
}

/// The first number after `label` in the harness's figures.
fn figure(text: &str, label: &str) -> u64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in\n{text}"))..];
    rest[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label} in\n{text}"))
}

#[test]
fn the_harness_catches_a_wrong_tally() {
    let (ok, text) = harness(&["--kills", "4", "--max-seconds", "60", "--sabotage-tally"]);
    assert!(!ok, "a saved count one too high went unnoticed:\n{text}");
    assert!(text.contains("sabotage: tally set to"), "{text}");
    assert!(text.contains("VIOLATION: session"), "{text}");
    assert!(text.contains("but a walk finds"), "{text}");
    assert!(
        text.contains("tally after a kill:        1 mismatches"),
        "{text}"
    );
}

#[test]
fn the_harness_catches_a_lost_hit() {
    let (ok, text) = harness(&["--kills", "4", "--max-seconds", "60", "--sabotage"]);
    assert!(!ok, "a deleted acknowledged hit went unnoticed:\n{text}");
    assert!(text.contains("sabotage: deleting"), "{text}");
    assert!(text.contains("is lost"), "{text}");
}

/// A child making one hit (id 7) on `db`, with its stdout lines on a channel.
fn single(
    db: &std::path::Path,
    collector: &Collector,
    storage: &str,
) -> (Child, mpsc::Receiver<Line>) {
    let mut child = Command::new(CHILD)
        .arg("--db")
        .arg(db)
        .args(["--endpoint", &collector.endpoint()])
        .args(["--storage", storage, "--first-id", "7", "--single"])
        .args(["--timeout-ms", "30000"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for text in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(line) = Line::parse(&text) {
                let _ = tx.send(line);
            }
        }
    });
    (child, rx)
}

fn wait_for(lines: &mpsc::Receiver<Line>, want: &Line) {
    wait_until(lines, want, |line| line == want);
}

fn wait_until(
    lines: &mpsc::Receiver<Line>,
    want: &dyn std::fmt::Display,
    done: impl Fn(&Line) -> bool,
) {
    loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if done(&line) => return,
            Ok(Line::OpenError(why)) => panic!("the child did not open: {why}"),
            Ok(_) => {}
            Err(e) => panic!("no {want} from the child: {e}"),
        }
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
}

/// The hits the next tracker on `db` holds once it has started (journal
/// recovery included), by their `n`.
fn stored_ids(db: &std::path::Path) -> Vec<u64> {
    let tracker = Tracker::new(
        TrackerConfig {
            site: "1".into(),
            database_path: db.to_string_lossy().into_owned(),
            storage: Some(OfflineModeKey::Always),
            ..Default::default()
        },
        None,
    )
    .expect("the store opens after a kill");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(tracker.flush()).expect("flush");
    let offline = tracker.offline();
    let hits = offline.get().unwrap();
    assert_eq!(offline.count(), hits.len() as i64);
    hits.iter().filter_map(|hit| hit_id(&hit.url)).collect()
}

#[test]
fn a_hit_killed_right_after_save_did_end_is_still_stored() {
    let collector = Collector::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (child, lines) = single(&db, &collector, "always");
    wait_for(&lines, &Line::Saved(7));
    kill(child);
    assert_eq!(stored_ids(&db), [7]);
}

/// docs/contract.md §4.2: a process that stops mid-send leaves the hit
/// journaled, and the next tracker stores it: "a kill costs at most a
/// duplicate".
#[test]
fn a_hit_in_flight_at_a_kill_is_stored_on_the_next_open() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::Hang);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (child, lines) = single(&db, &collector, "required");
    wait_until(&lines, &"made 7", |line| {
        matches!(line, Line::Made { id: 7, .. })
    });
    assert!(
        collector.wait_for_requests(1, Duration::from_secs(30)),
        "the hit never left"
    );
    kill(child);
    assert_eq!(
        stored_ids(&db),
        [7],
        "the hit in flight at the kill was not journaled"
    );
}
