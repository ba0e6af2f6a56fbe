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

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn always_tracker(dir: &Path) -> Arc<Tracker> {
    tracker_with(dir, OfflineModeKey::Always, None, None)
}

fn tracker_with(
    dir: &Path,
    mode: OfflineModeKey,
    endpoint: Option<String>,
    key: Option<&str>,
) -> Arc<Tracker> {
    Tracker::new(
        TrackerConfig {
            site: "123".into(),
            database_path: dir.to_string_lossy().into_owned(),
            // Never used in `always` mode; set so nothing could leave the machine.
            endpoint: Some(endpoint.unwrap_or_else(|| "http://127.0.0.1:9/hit.xiti".into())),
            storage: Some(mode),
            encryption_key: key.map(Into::into),
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

/// Waits until no one holds the store's lock: a dropped tracker's worker
/// releases it shortly after the drop, once its clean close is written.
fn wait_for_release(dir: &Path) {
    let lock = std::fs::File::open(dir.join("hitkit.lock")).expect("the store's lock file");
    let deadline = Instant::now() + Duration::from_secs(10);
    while lock.try_lock().is_err() {
        assert!(
            Instant::now() < deadline,
            "the tracker never released its store"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A closed store holding 3 screen hits, made by a real tracker (sealed
/// with `key` if given).
fn store_with_three_hits_sealed(key: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_with(dir.path(), OfflineModeKey::Always, None, key);
    for name in ["Home", "Cart", "Pay Now"] {
        tracker.send_screen(name.into(), vec![]).unwrap();
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3);
    drop(tracker);
    wait_for_release(dir.path());
    dir
}

fn store_with_three_hits() -> tempfile::TempDir {
    store_with_three_hits_sealed(None)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Every file and directory under `dir` with its mode, length, modification
/// time and bytes: any write, creation, removal or rename changes it.
fn fingerprint(dir: &Path) -> std::collections::BTreeMap<String, (u32, u64, u128, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let modified = meta
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let bytes = if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
            Vec::new()
        } else {
            std::fs::read(&path).unwrap()
        };
        let name = path.strip_prefix(dir).unwrap().display().to_string();
        found.insert(
            name,
            (meta.permissions().mode(), meta.len(), modified, bytes),
        );
    }
    found
}

fn assert_unchanged(
    before: &std::collections::BTreeMap<String, (u32, u64, u128, Vec<u8>)>,
    dir: &Path,
    after_what: &str,
) {
    let after = fingerprint(dir);
    let changed: std::collections::BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|name| before.get(*name) != after.get(*name))
        .collect();
    assert!(changed.is_empty(), "{after_what} changed {changed:?}");
}

#[test]
fn inspect_counts_lists_and_prints_json() {
    let dir = store_with_three_hits();
    let path = dir.path().to_str().unwrap();

    let out = hitkit(&["inspect", path]);
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

    let hits = json(&hitkit(&["inspect", path, "--list", "--json"]));
    let hits = hits.as_array().expect("array");
    assert_eq!(hits.len(), 3);
    for hit in hits {
        assert_eq!(hit["type"], "screen");
        assert_eq!(hit["retry_count"], 0);
        assert_eq!(hit["journal"], false);
        assert!(hit["query"].as_str().unwrap().contains("cn=offline"));
        let created = hit["created"].as_str().unwrap();
        assert!(created.len() == 24 && created.ends_with('Z'), "{created}");
    }

    let summary = json(&hitkit(&["inspect", path, "--json"]));
    assert_eq!(summary["count"], 3);
    assert_eq!(summary["readable"], 3);
    assert_eq!(summary["journal"], 0);
    assert_eq!(summary["encrypted"], false);
    assert_eq!(summary["name"], "default");

    // Another tracker name in the same database holds nothing.
    let out = hitkit(&["inspect", path, "--json", "--name", "other"]);
    let summary = json(&out);
    assert_eq!(summary["count"], 0);
    assert!(
        text(&out.stderr).contains("no tracker named `other`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn inspect_leaves_the_store_byte_for_byte_as_it_was() {
    let dir = store_with_three_hits();
    let path = dir.path().to_str().unwrap();
    assert!(
        dir.path().join("hitkit.closed").is_file(),
        "a clean close leaves its record"
    );
    let before = fingerprint(dir.path());

    for args in [
        &["inspect", path][..],
        &["inspect", path, "--list"],
        &["inspect", path, "--list", "--json"],
        &["inspect", path, "--name", "other"],
    ] {
        let out = hitkit(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_unchanged(&before, dir.path(), &format!("{args:?}"));
    }

    // A tracker opening it afterwards finds it as it was closed.
    let tracker = always_tracker(dir.path());
    assert_eq!(tracker.offline().count(), 3);
}

#[test]
fn inspect_reports_damage_since_the_last_clean_close_and_leaves_it_there() {
    let dir = store_with_three_hits();
    let db = dir.path().join("store").join("db");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
    let before = fingerprint(dir.path());

    // The engine checks the copy against the clean-close record as it
    // would the store: the record, and the files' times, come with it.
    let out = hitkit(&["inspect", dir.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("damaged since it was last closed")
            && stderr.contains("of 3 stored hit(s)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hitkit-inspect-"),
        "the copy's path shown: {stderr}"
    );
    // A tracker would have moved the damaged files aside: inspect did not.
    assert_unchanged(&before, dir.path(), "inspecting a damaged store");
}

#[test]
fn inspect_refuses_a_store_in_use_unless_asked_to_copy_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = always_tracker(dir.path());
    tracker.send_screen("Home".into(), vec![]).unwrap();
    flush(&tracker);
    let path = dir.path().to_str().unwrap();

    let out = hitkit(&["inspect", path]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("in use by another process")
            && stderr.contains("hitkit.lock")
            && stderr.contains("--copy-anyway"),
        "{stderr}"
    );

    let out = hitkit(&["inspect", path, "--copy-anyway", "--json"]);
    assert_eq!(json(&out)["count"], 1);
    assert!(
        text(&out.stderr).contains("copied while in use"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(tracker.offline().count(), 1);
}

#[test]
fn inspect_shows_a_hit_in_flight_as_a_journal_entry() {
    // A collector that never answers keeps a required-mode hit in flight,
    // journaled (and flushed) before it was sent.
    let collect = Collect::start(&["--mode", "hang"]);
    let (port, _) = parse_listening(&collect.next_line());
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_with(
        dir.path(),
        OfflineModeKey::Required,
        Some(format!("http://127.0.0.1:{port}/hit.xiti")),
        None,
    );
    tracker.send_screen("In Flight".into(), vec![]).unwrap();
    let path = dir.path().to_str().unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let summary = loop {
        let summary = json(&hitkit(&["inspect", path, "--copy-anyway", "--json"]));
        if summary["journal"] == 1 || Instant::now() > deadline {
            break summary;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(summary["journal"], 1, "{summary}");
    assert_eq!(summary["count"], 0, "{summary}");

    let listed = json(&hitkit(&[
        "inspect",
        path,
        "--copy-anyway",
        "--list",
        "--json",
    ]));
    let entry = &listed.as_array().unwrap()[0];
    assert_eq!(entry["journal"], true, "{listed}");
    assert!(
        entry["query"].as_str().unwrap().contains("p=In%20Flight"),
        "{listed}"
    );
    let out = hitkit(&["inspect", path, "--copy-anyway", "--list"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 in the journal") && stdout.contains("p=In%20Flight"),
        "{stdout}"
    );
    drop(tracker);
}

#[test]
fn inspect_reads_a_sealed_store_only_with_its_key() {
    let dir = store_with_three_hits_sealed(Some(KEY));
    let path = dir.path().to_str().unwrap();

    // Without the key: counted, dated, not read.
    let out = hitkit(&["inspect", path, "--list"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("3 stored hit(s)")
            && stdout.contains("3 sealed, and no key given")
            && !stdout.contains("Pay"),
        "{stdout}"
    );
    let summary = json(&hitkit(&["inspect", path, "--json"]));
    assert_eq!(summary["encrypted"], true);
    assert_eq!(summary["count"], 3);
    assert_eq!(summary["readable"], 0);
    assert_eq!(summary["unreadable"]["hits"]["no_key"], 3);

    // With the key, from the environment or from a file.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let by_env = Command::new(BIN)
        .args(["inspect", path, "--list", "--key-env", "HITKIT_TEST_KEY"])
        .env("HITKIT_TEST_KEY", KEY)
        .output()
        .unwrap();
    let by_file = hitkit(&[
        "inspect",
        path,
        "--list",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    for out in [by_env, by_file] {
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            stdout.contains("3 stored hit(s)")
                && stdout.contains("p=Pay%20Now")
                && !stdout.contains("unreadable"),
            "{stdout}"
        );
    }

    // Another key opens nothing, and says so.
    std::fs::write(&key_file, OTHER_KEY).unwrap();
    let out = hitkit(&[
        "inspect",
        path,
        "--json",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(
        text(&out.stderr).contains("not the key this store is encrypted with"),
        "{}",
        text(&out.stderr)
    );
    let summary = json(&out);
    assert_eq!(summary["readable"], 0);
    assert_eq!(summary["unreadable"]["hits"]["other_key"], 3);
}

#[test]
fn inspect_says_why_each_record_cannot_be_read() {
    use hitkit::internal::store::record::{Place, Sealer};
    use hitkit::internal::store::{Database, hits::make_key};

    let dir = store_with_three_hits_sealed(Some(KEY));
    {
        // Plant a record in clear, as an attacker could, and one sealed
        // with the store's key whose content is no record (hit type 9).
        let (database, _) = Database::open(dir.path()).unwrap();
        let (store, _) = database.hit_store("default").unwrap();
        let now = hitkit::internal::now_ms();
        store
            .put_raw(&make_key(now, 1), b"\x01\x00\x00s=123&p=planted")
            .unwrap();
        let key = make_key(now, 2);
        let place = Place {
            tree: "hits/default",
            key: &key,
        };
        let sealed = Sealer::new(&KEY.into())
            .unwrap()
            .seal(b"\x09\x00s=123", &place)
            .unwrap();
        store.put_raw(&key, &sealed).unwrap();
    }
    wait_for_release(dir.path());
    let path = dir.path().to_str().unwrap();

    let out = Command::new(BIN)
        .args(["inspect", path, "--key-env", "HITKIT_TEST_KEY"])
        .env("HITKIT_TEST_KEY", KEY)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("5 stored hit(s)")
            && stdout.contains("1 in clear in an encrypted store")
            && stdout.contains("1 malformed"),
        "{stdout}"
    );
    let summary = json(
        &Command::new(BIN)
            .args(["inspect", path, "--json", "--key-env", "HITKIT_TEST_KEY"])
            .env("HITKIT_TEST_KEY", KEY)
            .output()
            .unwrap(),
    );
    assert_eq!(summary["readable"], 3, "{summary}");
    let unreadable = &summary["unreadable"]["hits"];
    assert_eq!(unreadable["in_clear"], 1, "{summary}");
    assert_eq!(unreadable["malformed"], 1, "{summary}");
    assert_eq!(unreadable["no_key"], 0, "{summary}");
    assert_eq!(unreadable["other_key"], 0, "{summary}");
}

#[test]
fn inspect_never_shows_the_key() {
    let dir = store_with_three_hits_sealed(Some(KEY));
    let path = dir.path().to_str().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("key");
    let with_key = |file_text: &str, args: &[&str]| {
        std::fs::write(&key_file, file_text).unwrap();
        let mut command = Command::new(BIN);
        command.args(["inspect", path]).args(args);
        let by_env = command
            .args(["--key-env", "HITKIT_TEST_KEY"])
            .env("HITKIT_TEST_KEY", file_text.trim())
            .output()
            .unwrap();
        let by_file = Command::new(BIN)
            .args(["inspect", path])
            .args(args)
            .args(["--key-file", key_file.to_str().unwrap()])
            .output()
            .unwrap();
        [by_env, by_file]
    };
    let mut outputs = Vec::new();
    for args in [
        &[][..],
        &["--list"],
        &["--json"],
        &["--list", "--json"],
        &["--name", "other"],
    ] {
        outputs.extend(with_key(KEY, args));
        outputs.extend(with_key(&KEY.to_uppercase(), args));
    }
    // Refused keys: too long, too short, not hex, and the key given on
    // the command line itself.
    let refused = [
        (with_key(&format!("{KEY}0"), &[]), "64 hex digits"),
        (with_key(&KEY[..62], &[]), "64 hex digits"),
        (with_key(&format!("{}zz", &KEY[..62]), &[]), "64 hex digits"),
        (
            [
                hitkit(&["inspect", path, "--key", KEY]),
                hitkit(&["inspect", path, &format!("--key={KEY}")]),
            ],
            "never taken on the command line",
        ),
    ];
    for (outs, why) in refused {
        for out in outs {
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(stderr.contains(why), "{why:?} not in {stderr}");
            outputs.push(out);
        }
    }
    assert_eq!(outputs.len(), 28);
    for out in &outputs {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr)).to_lowercase();
        // Any 16 hex digits of it would be a leak.
        for part in KEY.as_bytes().windows(16) {
            let part = std::str::from_utf8(part).unwrap();
            assert!(!all.contains(part), "{part} shown in:\n{all}");
        }
    }
    // The key was used: `--list` (outputs 4 to 7) shows the queries.
    for out in &outputs[4..8] {
        assert!(
            text(&out.stdout).contains("p=Home"),
            "{}",
            text(&out.stdout)
        );
    }
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

    let before = fingerprint(dir.path());
    let out = hitkit(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no HitKit store"),
        "{}",
        text(&out.stderr)
    );
    assert_unchanged(
        &before,
        dir.path(),
        "inspecting a directory without a store",
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

/// A copied or tampered store can hold anything: what `inspect --list`
/// prints from it is escaped, never raw terminal control sequences.
#[test]
fn inspect_escapes_control_characters_from_the_store() {
    use hitkit::internal::store::{
        Database,
        hits::make_key,
        record::{Codec, Place, Record},
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, _) = Database::open(dir.path()).unwrap();
        let (store, _) = db.hit_store("default").unwrap();
        let record = Record {
            hit_type: hitkit::HitType::Screen,
            attempts: 0,
            query: "s=1&p=\x1b[2J\x1b]0;owned\x07\r\u{202e}".into(),
        };
        let place = Place { tree: "", key: &[] };
        let bytes = Codec::plain().encode(&record, &place).unwrap();
        store
            .put_raw(&make_key(hitkit::internal::now_ms(), 1), &bytes)
            .unwrap();
        db.sync().unwrap();
    }
    wait_for_release(dir.path());
    let out = hitkit(&["inspect", dir.path().to_str().unwrap(), "--list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for raw in ['\x1b', '\x07', '\r', '\u{202e}'] {
        assert!(
            !stdout.contains(raw),
            "{raw:?} reached the terminal: {stdout:?}"
        );
    }
    assert!(stdout.contains(r"\u{1b}[2J"), "{stdout}");
}
