//! The `hitkit` binary, run as a user or a test harness would run it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use hitkit::{OfflineModeKey, Tracker, TrackerConfig};

const BIN: &str = env!("CARGO_BIN_EXE_hitkit");

fn hitkit(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run hitkit")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// --- demo -------------------------------------------------------------------

#[test]
fn demo_tells_the_story_and_exits_0() {
    let started = Instant::now();
    let out = hitkit(&["demo", "--hits", "3"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    for expected in [
        "[1] collector up",
        "[2] connection lost",
        "cn=offline",
        "[3] connection back",
        "report: sent 3, failed 0, dropped 0, remaining 0",
        "[4] collector failing",
        "attempt 3: HTTP 500 -> failed 0, dropped 1, remaining 0",
        "Summary",
        "check: produced 7 = delivered 6 + dropped 1 + still stored 0   ok",
        "demo OK",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "demo took {:?}",
        started.elapsed()
    );
}

#[test]
fn quiet_demo_prints_only_the_summary() {
    let out = hitkit(&["demo", "--quiet", "--skip-failure"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("Summary") && stdout.contains("demo OK"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("[1]") && !stdout.contains("ok    "),
        "{stdout}"
    );
    assert!(
        stdout.contains("check: produced 10 = delivered 10 + dropped 0"),
        "{stdout}"
    );
}

// --- collect ----------------------------------------------------------------

/// A `hitkit collect` child whose stdout lines arrive on a channel, and
/// which is killed if a test fails before it exits.
struct Collect {
    child: Child,
    lines: Receiver<String>,
}

impl Collect {
    fn start(extra: &[&str]) -> Collect {
        let mut child = Command::new(BIN)
            .args(["collect", "--port", "0"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hitkit collect");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Collect { child, lines }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from hitkit collect")
    }

    /// Reads lines until one satisfies `pred`; returns it.
    fn line_matching(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if pred(&line) {
                return line;
            }
            seen.push(line);
        }
        panic!("no matching line; got:\n{}", seen.join("\n"));
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "hitkit collect did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Collect {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `listening 127.0.0.1:P control 127.0.0.1:C` -> (P, Some(C)).
fn parse_listening(line: &str) -> (u16, Option<u16>) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"listening"), "first line: {line:?}");
    let port = |addr: &str| {
        addr.strip_prefix("127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .expect("port")
    };
    let control = (words.get(2) == Some(&"control")).then(|| port(words[3]));
    (port(words[1]), control)
}

/// One HTTP/1.1 GET; returns the whole response.
fn get(port: u16, target: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn collect_prints_ports_and_hits_then_stops_when_stdin_closes() {
    let mut collect = Collect::start(&["--control-port", "0", "--exit-on-stdin-close"]);
    let (port, control) = parse_listening(&collect.next_line());
    let control = control.expect("control port in the first line");
    assert_ne!(port, 0);

    let response = get(port, "/hit.xiti?s=123&p=Hello%20World&ts=1");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let line = collect.line_matching(|l| l.contains(" /hit.xiti "));
    assert!(
        line.contains("200") && line.contains("s=123") && line.contains("p=\"Hello World\""),
        "{line}"
    );

    // The control API sees the same hit.
    let count = get(control, "/count");
    assert!(count.starts_with("HTTP/1.1 200"), "{count}");

    drop(collect.child.stdin.take());
    let status = collect.wait_exit();
    assert!(status.success(), "{status}");
    let last = collect.line_matching(|l| l.starts_with("stopped"));
    assert!(
        last.contains("stdin closed") && last.contains("1 request(s), 1 accepted"),
        "{last}"
    );
}

#[test]
fn collect_answers_in_the_mode_given() {
    let collect = Collect::start(&["--mode", "503,retry-after=7"]);
    let (port, control) = parse_listening(&collect.next_line());
    assert_eq!(control, None);
    let response = get(port, "/hit.xiti?s=1&p=x");
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    let line = collect.line_matching(|l| l.contains(" /hit.xiti "));
    assert!(line.contains("503"), "{line}");
}

#[test]
fn collect_escapes_control_characters_from_requests() {
    let collect = Collect::start(&[]);
    let (port, _) = parse_listening(&collect.next_line());
    // Terminal escapes in the raw path, in a decoded value (clear screen,
    // cursor home, a line break) and in a decoded name (set window title),
    // plus a C1 CSI and a right-to-left override.
    let response = get(
        port,
        "/hit\x1b[31m.xiti?s=9&p=%1B%5B2J%1B%5BHowned%0D%0Afake%20line\
         &%1B%5D0%3Bpwned%07=x&z=%C2%9B31m%E2%80%AEtxt",
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let line = collect.line_matching(|l| l.contains("s=9"));
    let raw: Vec<char> = line
        .chars()
        .filter(|&c| c.is_control() || c == '\u{202e}')
        .collect();
    assert!(raw.is_empty(), "raw {raw:?} in {line:?}");
    for escaped in [
        r#" "/hit\u{1b}[31m.xiti" "#,
        r#" p="\u{1b}[2J\u{1b}[Howned\r\nfake line" "#,
        r#" "\u{1b}]0;pwned\u{7}"=x "#,
        r#" z="\u{9b}31m\u{202e}txt""#,
    ] {
        assert!(line.contains(escaped), "{escaped} not in {line}");
    }
}

#[cfg(unix)]
#[test]
fn collect_exits_cleanly_on_sigterm() {
    let mut collect = Collect::start(&[]);
    parse_listening(&collect.next_line());
    let pid = collect.child.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = collect.wait_exit();
    assert!(status.success(), "{status}");
    collect.line_matching(|l| l.starts_with("stopped (signal)"));
}

#[test]
fn collect_reports_a_busy_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = hitkit(&["collect", "--port", &port]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot listen"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn collect_rejects_an_unknown_mode() {
    let out = hitkit(&["collect", "--port", "0", "--mode", "sometimes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown mode"),
        "{}",
        text(&out.stderr)
    );
}

// --- inspect ----------------------------------------------------------------

fn always_tracker(dir: &Path) -> Arc<Tracker> {
    Tracker::new(
        TrackerConfig {
            site: "123".into(),
            database_path: dir.to_string_lossy().into_owned(),
            // Never used in `always` mode; set so nothing could leave the machine.
            endpoint: Some("http://127.0.0.1:9/hit.xiti".into()),
            storage: Some(OfflineModeKey::Always),
            ..Default::default()
        },
        None,
    )
    .expect("tracker")
}

fn flush(tracker: &Tracker) {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(tracker.flush())
        .expect("flush");
}

/// A store with 3 screen hits, made by a real tracker which is then gone.
fn store_with_three_hits() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tracker = always_tracker(dir.path());
    for name in ["Home", "Cart", "Pay Now"] {
        tracker.send_screen(name.into(), vec![]).unwrap();
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3);
    drop(tracker);
    dir
}

/// Runs inspect, retrying while the store is still locked: the lock goes
/// when the dropped tracker's worker finishes, shortly after the drop.
fn inspect_when_released(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = hitkit(args);
        if out.status.success()
            || !text(&out.stderr).contains("locked")
            || Instant::now() > deadline
        {
            return out;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn inspect_counts_lists_and_prints_json() {
    let dir = store_with_three_hits();
    let path = dir.path().to_str().unwrap();

    let out = inspect_when_released(&["inspect", path]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("3 stored hit(s)") && stdout.contains("screen 3"),
        "{stdout}"
    );

    let out = hitkit(&["inspect", path, "--list"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("cn=offline"))
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(
        rows.iter()
            .all(|r| r.contains("screen") && r.contains('T') && r.contains('Z')),
        "{stdout}"
    );
    assert!(rows[2].contains("p=Pay%20Now"), "creation order: {stdout}");

    let out = hitkit(&["inspect", path, "--list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON array");
    let hits = hits.as_array().expect("array");
    assert_eq!(hits.len(), 3);
    for hit in hits {
        assert_eq!(hit["type"], "screen");
        assert_eq!(hit["retry_count"], 0);
        assert!(hit["query"].as_str().unwrap().contains("cn=offline"));
        let created = hit["created"].as_str().unwrap();
        assert!(created.len() == 24 && created.ends_with('Z'), "{created}");
    }

    let out = hitkit(&["inspect", path, "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON object");
    assert_eq!(summary["count"], 3);
    assert_eq!(summary["name"], "default");

    // Another tracker name in the same database holds nothing.
    let out = hitkit(&["inspect", path, "--json", "--name", "other"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON object");
    assert_eq!(summary["count"], 0);
}

#[test]
fn inspect_reports_a_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = always_tracker(dir.path());
    tracker.send_screen("Home".into(), vec![]).unwrap();
    flush(&tracker);
    let out = hitkit(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("locked by another process") && stderr.contains("hitkit.lock"),
        "{stderr}"
    );
    drop(tracker);
}

#[test]
fn inspect_rejects_paths_that_are_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let out = hitkit(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no such directory"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists(), "inspect must not create the directory");

    let out = hitkit(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no HitKit store"),
        "{}",
        text(&out.stderr)
    );

    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = hitkit(&["inspect", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is a file"),
        "{}",
        text(&out.stderr)
    );
}
