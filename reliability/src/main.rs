//! `hitkit-crash`: kills a tracker with SIGKILL at random moments, over and
//! over, and checks after every kill that nothing acknowledged was lost.
//!
//! The collector runs in this process; the tracker runs in a child process
//! (`hitkit-crash-child`) on one database path, in `required` or `always`
//! mode, while the collector is up, down (refusing), failing (500), hanging
//! or resetting mid-response, switched at random, also in the middle of a
//! session. After every kill the harness opens the store itself and checks:
//!
//! - every hit acknowledged (`save_did_end`, or a 2xx send) is still stored,
//!   was received with a 2xx, or was refused `maxAttempts` times (dropped by
//!   policy, contract §3.2): otherwise it is **lost**;
//! - a hit reaches the collector twice only across a kill, and only if the
//!   delete that followed its first delivery was never confirmed by a
//!   `flush()` (it was in flight at the kill);
//! - the store opens every time (a corrupt store moved aside is counted);
//! - the count never drifts: `count` equals the number of hits listed, in
//!   the child after every `flush()` and here after every kill;
//! - no stored hit has used more attempts than the collector refused it;
//! - `flush()` resolves only once every earlier hit is sent, saved or refused;
//! - the tally the store trusts at open (its saved count) equals a walk of
//!   the stored hits;
//! - every duplicate delivery carries the same hit id (`hid`) as the first
//!   delivery of that hit, and no two hits share one, so a collector can
//!   drop duplicates.
//!
//! It also counts, without failing on them: `required`-mode hits made at
//! least one commit interval before the kill that are gone (neither stored,
//! journaled nor delivered), duplicates per kill, and how long the store
//! takes to open after a kill.
//!
//! At the end a last child drains the store with the collector up, and the
//! figures are printed. Exit status 1 on any violation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hitkit::internal::store::{Changes, Database, StoredHit, dir_bytes};
use hitkit_collector::{Collector, Mode, ReceivedHit};
use hitkit_reliability::{HIT_ID_PARAMETER, Line, Rng, hit_id, now_us};

/// The tracker's default `maxAttempts`, which the child keeps.
const MAX_ATTEMPTS: u32 = 3;
/// Ids of session `k` start at `k * ID_STRIDE`, so they never collide.
const ID_STRIDE: u64 = 1_000_000;
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// A `required`-mode hit must be journaled within one round's sync (group
/// commit); hits made this long before a kill are old enough to be owed.
const QUEUED_MARGIN_MS: u64 = 50;

const USAGE: &str = "\
usage: hitkit-crash [--kills N] [--max-seconds S] [--seed X] [--child PATH]
                    [--max-kill-ms MS] [--queued-margin-ms MS] [--keep] [--verbose]
                    [--sabotage] [--sabotage-tally]
  --kills N        SIGKILLs to deliver (default 200); fewer in time is a failure
  --max-seconds S  time bound for the kill loop (default 600)
  --short          same as --kills 30 --max-seconds 60
  --queued-margin-ms MS
                   a required-mode hit made this long before a kill and gone
                   counts as lost while queued (default 50)
  --sabotage       delete one acknowledged hit behind the tracker's back:
                   the run must report it lost and fail
  --sabotage-tally add one to the saved hit count behind the tracker's back
                   after a kill: the run must report the tally wrong and fail";

struct Options {
    kills: u64,
    max_seconds: u64,
    seed: u64,
    child: PathBuf,
    max_kill_ms: u64,
    keep: bool,
    verbose: bool,
    /// Deletes one acknowledged hit behind the tracker's back, to prove the
    /// checks catch a loss (the run must then fail).
    sabotage: bool,
    /// Makes the saved count wrong after a kill, to prove the tally check
    /// catches it (the run must then fail).
    sabotage_tally: bool,
    queued_margin_ms: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        kills: 200,
        max_seconds: 600,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        child: default_child()?,
        max_kill_ms: 400,
        keep: false,
        verbose: false,
        sabotage: false,
        sabotage_tally: false,
        queued_margin_ms: QUEUED_MARGIN_MS,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut number = || -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            v.parse().map_err(|_| format!("{flag}: bad number {v:?}"))
        };
        match flag.as_str() {
            "--kills" => options.kills = number()?,
            "--max-seconds" => options.max_seconds = number()?,
            "--seed" => options.seed = number()?,
            "--max-kill-ms" => options.max_kill_ms = number()?.max(1),
            "--short" => {
                options.kills = 30;
                options.max_seconds = 60;
            }
            "--child" => {
                options.child = it.next().ok_or("--child needs a path")?.into();
            }
            "--keep" => options.keep = true,
            "--verbose" => options.verbose = true,
            "--queued-margin-ms" => options.queued_margin_ms = number()?,
            "--sabotage" => options.sabotage = true,
            "--sabotage-tally" => options.sabotage_tally = true,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// `hitkit-crash-child` next to this binary (cargo builds both there).
fn default_child() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    Ok(me.with_file_name("hitkit-crash-child"))
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    match run(&options) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(why) => {
            eprintln!("hitkit-crash: {why}");
            std::process::exit(2);
        }
    }
}

/// What one child process did, as the harness saw it.
struct Session {
    index: u64,
    storage: &'static str,
    /// Wall-clock µs taken just before the SIGKILL (0: not killed by us).
    killed_at_us: u64,
    lines: Vec<Line>,
    /// Requests the collector received while this child lived.
    received: Vec<ReceivedHit>,
    /// The child's last `phase` when it was killed.
    phase: String,
    status: Option<ExitStatus>,
}

/// Everything known about every hit, across sessions.
#[derive(Default)]
struct Ledger {
    produced: BTreeSet<u64>,
    /// Acknowledged hits and the session that acknowledged them.
    acked: BTreeMap<u64, u64>,
    saved: u64,
    sent_acks: u64,
    /// Sessions in which each hit was answered 2xx.
    deliveries: HashMap<u64, Vec<u64>>,
    /// Complete non-2xx answers per hit.
    refusals: HashMap<u64, u32>,
    /// Hits whose 2xx send was followed by a resolved `flush()`: their delete
    /// is durable, so they must never be stored or sent again.
    settled: HashSet<u64>,
    /// Hits refused (non-2xx) at least once; those never acknowledged were
    /// refused live in `required` mode and are not stored, by design.
    refused: HashSet<u64>,
    dropped_by_policy: BTreeSet<u64>,
    duplicates: u64,
    /// Duplicates by the kill that caused them: the session whose 2xx
    /// delivery was not yet durably deleted when it was killed.
    duplicates_by_kill: BTreeMap<u64, u64>,
    /// Sessions that ended in our SIGKILL.
    killed_sessions: Vec<u64>,
    /// The hit id (`hid`) each hit carried at its first 2xx delivery.
    first_hid: HashMap<u64, Option<String>>,
    /// Which hit each hit id was first seen on.
    hid_owner: HashMap<String, u64>,
    /// Duplicates carrying the hit id of their first delivery.
    droppable_duplicates: u64,
    kills: u64,
    kills_by_phase: BTreeMap<String, u64>,
    sessions_by_storage: BTreeMap<&'static str, u64>,
    modes_used: BTreeMap<String, u64>,
    recoveries: u64,
    /// Hits found in the in-flight journal after a kill (the next tracker
    /// stores them), and the kills that left any.
    journaled_at_kill: u64,
    kills_leaving_journal: u64,
    /// Made, never acknowledged, whose request reached the collector and got
    /// no answer before the kill, and that are neither stored nor delivered.
    in_flight_gone: u64,
    /// Made, never acknowledged, that never reached the collector and are
    /// not stored: queued in memory at the kill.
    queued_gone: u64,
    /// `required`-mode hits made at least the margin before a kill: checked.
    required_owed: u64,
    /// ... of which never reached the collector and are neither stored,
    /// journaled nor delivered: lost while queued. With their age at the
    /// kill (ms).
    required_lost_queued: Vec<u64>,
    /// ... of which reached the collector unanswered and are gone.
    required_lost_in_flight: u64,
    /// `required`-mode hits made within the margin before a kill (not owed).
    required_too_recent: u64,
    queued_margin_ms: u64,
    /// Tally (saved count trusted at open) against a walk, after each kill.
    tally_checks: u64,
    tally_mismatches: u64,
    /// After each kill: `Database::open` + `hit_store` (ms), a walk of the
    /// stored hits' keys (ms), and the hits walked.
    opens: Vec<OpenTiming>,
    tally_sabotaged: bool,
    flushes_checked: u64,
    sabotaged: bool,
    violations: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct OpenTiming {
    open_ms: f64,
    walk_ms: f64,
    hits: u64,
    /// The open compacted the files (a rebuild ran).
    compacted: bool,
}

impl Ledger {
    fn violation(&mut self, text: String) {
        eprintln!("VIOLATION: {text}");
        self.violations.push(text);
    }
}

/// The collector's behaviours the harness switches between.
fn pick_mode(rng: &mut Rng) -> Mode {
    match rng.range(0, 99) {
        0..=39 => Mode::Ok,
        40..=59 => Mode::Refuse,
        60..=79 => Mode::Status {
            code: 500,
            retry_after: None,
        },
        80..=89 => Mode::Hang,
        _ => Mode::ResetMidResponse,
    }
}

fn run(options: &Options) -> Result<bool, String> {
    if !options.child.exists() {
        return Err(format!(
            "child binary {} not found (build it with cargo build -p hitkit-reliability)",
            options.child.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "hitkit-crash-{}-{}",
        std::process::id(),
        options.seed
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let db = dir.join("db");
    let collector = Collector::start().map_err(|e| format!("collector: {e}"))?;
    let mut rng = Rng::new(options.seed);
    let mut ledger = Ledger {
        queued_margin_ms: options.queued_margin_ms,
        ..Ledger::default()
    };
    let started = Instant::now();
    let bound = Duration::from_secs(options.max_seconds);
    let mut seen_requests = 0;
    println!(
        "hitkit-crash: seed {} (rerun with --seed {}), {} kills within {} s, db {}",
        options.seed,
        options.seed,
        options.kills,
        options.max_seconds,
        db.display()
    );

    let mut index = 1;
    while ledger.kills < options.kills && started.elapsed() < bound {
        let mut storage = if rng.chance(50) { "required" } else { "always" };
        let mut first = pick_mode(&mut rng);
        let sabotage_pending = (options.sabotage && !ledger.sabotaged)
            || (options.sabotage_tally && !ledger.tally_sabotaged);
        if sabotage_pending {
            // Make sure acknowledged hits stay stored undelivered, so there
            // is one to take away.
            storage = "always";
            first = Mode::Refuse;
        }
        collector.set_mode(first.clone());
        *ledger.modes_used.entry(first.to_string()).or_default() += 1;
        let mut child = spawn(
            options,
            &db,
            &collector,
            storage,
            index,
            rng.next_u64(),
            false,
        )?;
        let (lines, ready) = read_lines(&mut child);

        let mut session = Session {
            index,
            storage,
            killed_at_us: 0,
            lines: Vec::new(),
            received: Vec::new(),
            phase: String::new(),
            status: None,
        };
        match ready.recv_timeout(READY_TIMEOUT) {
            Ok(true) => {
                // Kill at a random moment; sometimes switch the collector first.
                let kill_at = Duration::from_millis(rng.range(0, options.max_kill_ms));
                if rng.chance(40) {
                    let switch_at = kill_at.mul_f64(rng.range(0, 100) as f64 / 100.0);
                    thread::sleep(switch_at);
                    let second = pick_mode(&mut rng);
                    collector.set_mode(second.clone());
                    *ledger.modes_used.entry(second.to_string()).or_default() += 1;
                    thread::sleep(kill_at - switch_at);
                } else {
                    thread::sleep(kill_at);
                }
                // `Child::kill` is SIGKILL on Unix. The time is taken first:
                // the kill lands after it, so ages measured from it are
                // never overstated.
                session.killed_at_us = now_us();
                let _ = child.kill();
                session.status = child.wait().ok();
            }
            _ => {
                let _ = child.kill();
                session.status = child.wait().ok();
            }
        }
        session.lines = finish_lines(lines);
        session.phase = last_phase(&session.lines);
        // A request written just before the kill may still be in the
        // collector's socket buffer: let it land in this session.
        thread::sleep(Duration::from_millis(25));
        let all = collector.hits();
        session.received = all[seen_requests..].to_vec();
        seen_requests = all.len();

        let killed = session.status.and_then(|s| s.signal()) == Some(9);
        if killed {
            ledger.kills += 1;
            ledger.killed_sessions.push(index);
            *ledger
                .kills_by_phase
                .entry(session.phase.clone())
                .or_default() += 1;
        } else {
            ledger.violation(format!(
                "session {index}: the child did not run until killed (status {:?}, last lines {:?})",
                session.status,
                tail(&session.lines)
            ));
        }
        *ledger.sessions_by_storage.entry(storage).or_default() += 1;
        account(&mut ledger, &session);
        check_store(&mut ledger, &db, Some(&session), options);
        if options.verbose {
            println!(
                "session {index}: {storage}, killed in {} after {} lines, {} requests",
                session.phase,
                session.lines.len(),
                session.received.len()
            );
        }
        if !ledger.violations.is_empty() {
            break;
        }
        index += 1;
    }
    let kill_loop = started.elapsed();
    if ledger.kills < options.kills && ledger.violations.is_empty() {
        ledger.violation(format!(
            "only {} of {} kills within {} s",
            ledger.kills, options.kills, options.max_seconds
        ));
    }

    // Last, with the collector up: drain the store; every acknowledged hit
    // must now have reached the collector or have been dropped by policy.
    collector.set_mode(Mode::Ok);
    let mut child = spawn(options, &db, &collector, "always", index, 0, true)?;
    let (lines, _) = read_lines(&mut child);
    let status = child.wait().map_err(|e| format!("drain child: {e}"))?;
    let drain = Session {
        index,
        storage: "always",
        killed_at_us: 0,
        lines: finish_lines(lines),
        received: collector.hits()[seen_requests..].to_vec(),
        phase: "drain".into(),
        status: Some(status),
    };
    if !status.success() {
        ledger.violation(format!(
            "the drain child failed: {status:?}, {:?}",
            tail(&drain.lines)
        ));
    }
    account(&mut ledger, &drain);
    let left = check_store(&mut ledger, &db, None, options);
    if left != 0 {
        ledger.violation(format!("{left} hit(s) still stored after the drain"));
    }

    report(&ledger, kill_loop, started.elapsed());
    let ok = ledger.violations.is_empty();
    if ok && !options.keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("database kept for inspection: {}", db.display());
    }
    Ok(ok)
}

fn spawn(
    options: &Options,
    db: &Path,
    collector: &Collector,
    storage: &str,
    index: u64,
    seed: u64,
    drain: bool,
) -> Result<Child, String> {
    let mut command = Command::new(&options.child);
    command
        .arg("--db")
        .arg(db)
        .args(["--endpoint", &collector.endpoint()])
        .args(["--storage", storage])
        .args(["--first-id", &(index * ID_STRIDE).to_string()])
        .args(["--n", &(ID_STRIDE - 1).to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--timeout-ms", "250"])
        .args([
            "--concurrency",
            if seed.is_multiple_of(3) { "3" } else { "1" },
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if drain {
        command.arg("--drain");
    }
    command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", options.child.display()))
}

type Lines = thread::JoinHandle<Vec<Line>>;

/// Reads the child's stdout on a thread; `ready` tells whether it opened.
fn read_lines(child: &mut Child) -> (Lines, mpsc::Receiver<bool>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let (ready_tx, ready) = mpsc::channel();
    let handle = thread::spawn(move || {
        let mut lines = Vec::new();
        for text in BufReader::new(stdout).lines() {
            let Ok(text) = text else { break };
            let Some(line) = Line::parse(&text) else {
                continue;
            };
            match &line {
                Line::Ready => {
                    let _ = ready_tx.send(true);
                }
                Line::OpenError(_) => {
                    let _ = ready_tx.send(false);
                }
                _ => {}
            }
            lines.push(line);
        }
        lines
    });
    (handle, ready)
}

/// Every line the child wrote before it died (the pipe keeps them).
fn finish_lines(handle: Lines) -> Vec<Line> {
    handle.join().unwrap_or_default()
}

fn last_phase(lines: &[Line]) -> String {
    lines
        .iter()
        .rev()
        .find_map(|line| match line {
            Line::Phase(phase) => Some(phase.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "open".into())
}

fn tail(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(ToString::to_string)
        .collect()
}

/// Folds one session's lines and requests into the ledger.
fn account(ledger: &mut Ledger, session: &Session) {
    let index = session.index;
    // Requests first, judged against what earlier sessions settled.
    let mut delivered_here = HashSet::new();
    for hit in &session.received {
        let Some(id) = hit.param("n").and_then(|n| n.parse::<u64>().ok()) else {
            ledger.violation(format!(
                "session {index}: a request without an id: {}",
                hit.query
            ));
            continue;
        };
        match hit.answered {
            Some(code) if (200..300).contains(&code) => {
                if !delivered_here.insert(id) {
                    ledger.violation(format!(
                        "session {index}: hit {id} delivered twice by one process (no kill in between)"
                    ));
                }
                if ledger.settled.contains(&id) {
                    ledger.violation(format!(
                        "session {index}: hit {id} delivered again although its delete was confirmed by flush() earlier"
                    ));
                }
                let hid = hit.param(HIT_ID_PARAMETER).map(str::to_owned);
                let sessions = ledger.deliveries.entry(id).or_default();
                match sessions.last().copied() {
                    None => {
                        sessions.push(index);
                        first_delivery(ledger, index, id, hid);
                    }
                    Some(previous) => {
                        sessions.push(index);
                        duplicate_delivery(ledger, index, previous, id, hid);
                    }
                }
            }
            Some(_) => *ledger.refusals.entry(id).or_default() += 1,
            None => {}
        }
    }

    let mut made_here = Vec::new();
    let mut outcome = HashSet::new();
    let mut sent_unsettled = Vec::new();
    for line in &session.lines {
        match line {
            Line::OpenError(why) => {
                ledger.violation(format!("session {index}: the tracker did not open: {why}"))
            }
            Line::Made { id, .. } => {
                ledger.produced.insert(*id);
                made_here.push(*id);
            }
            Line::Saved(id) => {
                ledger.saved += 1;
                ledger.acked.entry(*id).or_insert(index);
                outcome.insert(*id);
            }
            Line::Sent(id) => {
                ledger.sent_acks += 1;
                ledger.acked.entry(*id).or_insert(index);
                outcome.insert(*id);
                sent_unsettled.push(*id);
            }
            Line::Failed(id) => {
                ledger.refused.insert(*id);
                outcome.insert(*id);
            }
            Line::Flushed { count, listed } => {
                ledger.flushes_checked += 1;
                if count != listed {
                    ledger.violation(format!(
                        "session {index}: Offline count {count} but {listed} hits listed"
                    ));
                }
                if let Some(id) = made_here.iter().find(|id| !outcome.contains(id)) {
                    ledger.violation(format!(
                        "session {index}: flush() resolved before hit {id} was sent, saved or refused"
                    ));
                }
                ledger.settled.extend(sent_unsettled.drain(..));
            }
            Line::Warning(text) if text.contains("dropped after") => {
                if let Some(id) = text.rsplit(' ').next().and_then(hit_id) {
                    ledger.dropped_by_policy.insert(id);
                }
            }
            _ => {}
        }
    }
}

/// A hit's first 2xx delivery: its hit id is the one duplicates must carry,
/// and no other hit may carry it.
fn first_delivery(ledger: &mut Ledger, index: u64, id: u64, hid: Option<String>) {
    match &hid {
        None => ledger.violation(format!(
            "session {index}: hit {id} was delivered without a hit id ({HIT_ID_PARAMETER})"
        )),
        Some(hid) => {
            let owner = *ledger.hid_owner.entry(hid.clone()).or_insert(id);
            if owner != id {
                ledger.violation(format!(
                    "session {index}: hits {owner} and {id} carry the same hit id {hid}: \
                     a collector dropping duplicates would drop one of them"
                ));
            }
        }
    }
    ledger.first_hid.insert(id, hid);
}

/// A 2xx delivery of a hit already delivered: caused by the kill of the
/// session that delivered it last (its delete was not yet durable).
fn duplicate_delivery(
    ledger: &mut Ledger,
    index: u64,
    previous: u64,
    id: u64,
    hid: Option<String>,
) {
    ledger.duplicates += 1;
    *ledger.duplicates_by_kill.entry(previous).or_default() += 1;
    let first = ledger.first_hid.get(&id).cloned().flatten();
    if hid.is_some() && hid == first {
        ledger.droppable_duplicates += 1;
    } else {
        ledger.violation(format!(
            "session {index}: hit {id} delivered again with hit id {hid:?}, first delivered \
             with {first:?}: a collector cannot tell it is a duplicate"
        ));
    }
}

/// Opens the store as the next process would, checks it, and returns how
/// many hits it holds. `session` is the one just killed (None for the drain).
fn check_store(
    ledger: &mut Ledger,
    db: &Path,
    session: Option<&Session>,
    options: &Options,
) -> u64 {
    let label = session.map_or("drain".to_owned(), |s| format!("session {}", s.index));
    if session.is_some() && options.sabotage_tally && !ledger.tally_sabotaged {
        match add_one_to_tally(db) {
            Ok(Some(count)) => {
                println!("sabotage: tally set to {count}, one more than it was");
                ledger.tally_sabotaged = true;
            }
            Ok(None) => {}
            Err(e) => ledger.violation(format!("{label}: sabotage failed: {e}")),
        }
        wait_until_released(db);
    }
    let bytes_before = dir_bytes(&db.join("store"));
    let open_started = Instant::now();
    let opened = Database::open(db);
    let (database, notices) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            ledger.violation(format!(
                "{label}: the store did not open after the kill: {e}"
            ));
            return 0;
        }
    };
    let store = match database.hit_store("default") {
        Ok((store, more)) => {
            note(ledger, notices.iter().chain(more.iter()), options.verbose);
            store
        }
        Err(e) => {
            ledger.violation(format!("{label}: the hit store did not open: {e}"));
            return 0;
        }
    };
    let open_ms = open_started.elapsed().as_secs_f64() * 1000.0;
    if let Some(session) = session {
        // The count the store trusts after a kill (no clean-close record):
        // its tally, read at open. A walk must find as many hits.
        let tally = store.len();
        let walk_started = Instant::now();
        match store.keys() {
            Ok(keys) => {
                let walk_ms = walk_started.elapsed().as_secs_f64() * 1000.0;
                ledger.tally_checks += 1;
                if tally != keys.len() as u64 {
                    ledger.tally_mismatches += 1;
                    ledger.violation(format!(
                        "{label}: the tally says {tally} hit(s) but a walk finds {} \
                         (killed while {})",
                        keys.len(),
                        session.phase
                    ));
                }
                ledger.opens.push(OpenTiming {
                    open_ms,
                    walk_ms,
                    hits: keys.len() as u64,
                    compacted: dir_bytes(&db.join("store")) < bytes_before / 2,
                });
            }
            Err(e) => ledger.violation(format!("{label}: the stored keys cannot be walked: {e}")),
        }
    }
    if options.sabotage && !ledger.sabotaged {
        let victim = store
            .all()
            .unwrap_or_default()
            .into_iter()
            // An acknowledged hit the collector never got: deleting it is a
            // real loss (one already delivered would not be).
            .find(|hit| {
                hit_id(&hit.record.query).is_some_and(|id| {
                    ledger.acked.contains_key(&id) && !ledger.deliveries.contains_key(&id)
                })
            });
        if let Some(victim) = victim {
            println!("sabotage: deleting stored hit {}", victim.record.query);
            let mut changes = Changes::default();
            changes.remove(victim.key);
            ledger.sabotaged = store
                .apply(changes)
                .is_ok_and(|applied| !applied.removed.is_empty());
        }
    }
    let mut hits: Vec<StoredHit> = match store.all() {
        Ok(hits) => hits,
        Err(e) => {
            ledger.violation(format!("{label}: stored hits could not be listed: {e}"));
            return 0;
        }
    };
    if store.len() != hits.len() as u64 {
        ledger.violation(format!(
            "{label}: count {} but {} hits listed",
            store.len(),
            hits.len()
        ));
    }
    // Hits left in the in-flight journal become stored hits when the next
    // tracker starts: they count as stored.
    match store.journal() {
        Ok(journal) => {
            if session.is_some() && !journal.is_empty() {
                ledger.journaled_at_kill += journal.len() as u64;
                ledger.kills_leaving_journal += 1;
            }
            for (key, record) in journal {
                match record {
                    Ok(record) if !hits.iter().any(|h| h.key == key) => {
                        hits.push(StoredHit { key, record })
                    }
                    Ok(_) => {}
                    Err(why) => ledger
                        .violation(format!("{label}: a journal entry cannot be read: {why:?}")),
                }
            }
        }
        Err(e) => ledger.violation(format!("{label}: the journal cannot be read: {e}")),
    }
    let mut stored = HashSet::new();
    for hit in &hits {
        let Some(id) = hit_id(&hit.record.query) else {
            ledger.violation(format!(
                "{label}: a stored hit without an id: {}",
                hit.record.query
            ));
            continue;
        };
        if !stored.insert(id) {
            ledger.violation(format!("{label}: hit {id} is stored twice"));
        }
        if ledger.settled.contains(&id) {
            ledger.violation(format!(
                "{label}: hit {id} is stored although it was sent and flush() confirmed it"
            ));
        }
        let refused = ledger.refusals.get(&id).copied().unwrap_or(0);
        if hit.record.attempts > refused {
            ledger.violation(format!(
                "{label}: hit {id} used {} attempts but was refused {refused} times",
                hit.record.attempts
            ));
        }
    }
    let lost: Vec<u64> = ledger
        .acked
        .keys()
        .copied()
        .filter(|id| {
            !stored.contains(id)
                && !ledger.deliveries.contains_key(id)
                && ledger.refusals.get(id).copied().unwrap_or(0) < MAX_ATTEMPTS
        })
        .collect();
    for id in &lost {
        ledger.violation(format!(
            "{label}: hit {id} (acknowledged in session {}) is lost: not stored, never delivered, refused {} times",
            ledger.acked[id],
            ledger.refusals.get(id).copied().unwrap_or(0)
        ));
    }
    if let Some(session) = session {
        count_unacknowledged(ledger, session, &stored);
    }
    if let Err(e) = database.sync() {
        ledger.violation(format!("{label}: sync after checking failed: {e}"));
    }
    let count = hits.len() as u64;
    drop(store);
    drop(database);
    wait_until_released(db);
    count
}

/// Adds one to the saved hit count of tracker `default`, straight in sled,
/// as a batch that forgot the tally would leave it. `None`: no tally yet.
fn add_one_to_tally(db: &Path) -> Result<Option<u64>, String> {
    let sled = sled::Config::new()
        .path(db.join("store"))
        .flush_every_ms(None)
        .open()
        .map_err(|e| format!("sled: {e}"))?;
    let tree = sled
        .open_tree("hits/default")
        .map_err(|e| format!("sled: {e}"))?;
    let Some(tally) = tree.get([0x00]).map_err(|e| format!("sled: {e}"))? else {
        return Ok(None);
    };
    let Ok(count) = <[u8; 8]>::try_from(&tally[..8.min(tally.len())]) else {
        return Ok(None);
    };
    let count = u64::from_be_bytes(count) + 1;
    let mut bytes = tally.to_vec();
    bytes[..8].copy_from_slice(&count.to_be_bytes());
    tree.insert([0x00], bytes)
        .map_err(|e| format!("sled: {e}"))?;
    sled.flush().map_err(|e| format!("sled: {e}"))?;
    Ok(Some(count))
}

fn note<'a, T: std::fmt::Debug + 'a>(
    ledger: &mut Ledger,
    notices: impl Iterator<Item = &'a T>,
    verbose: bool,
) {
    for notice in notices {
        let text = format!("{notice:?}");
        if text.contains("corrupt") || text.contains("unreadable") {
            ledger.recoveries += 1;
            println!("recovered: {text}");
        }
        if verbose {
            println!("notice: {text}");
        }
    }
}

/// Hits made in the killed session that were never acknowledged and are
/// gone. In `required` mode a hit must be journaled within one round's sync:
/// one made at least `margin_ms` before the kill and gone is lost while
/// queued (or in flight, if its request reached the collector unanswered).
fn count_unacknowledged(ledger: &mut Ledger, session: &Session, stored: &HashSet<u64>) {
    let margin_ms = ledger.queued_margin_ms;
    let reached: HashSet<u64> = session
        .received
        .iter()
        .filter_map(|hit| hit.param("n").and_then(|n| n.parse().ok()))
        .collect();
    let refused_live: HashSet<u64> = session
        .lines
        .iter()
        .filter_map(|line| match line {
            Line::Failed(id) => Some(*id),
            _ => None,
        })
        .collect();
    let owed = session.storage == "required" && session.killed_at_us > 0;
    for line in &session.lines {
        let Line::Made { id, at_us } = line else {
            continue;
        };
        let gone = !ledger.acked.contains_key(id)
            && !stored.contains(id)
            && !ledger.deliveries.contains_key(id)
            && !refused_live.contains(id);
        if gone {
            if reached.contains(id) {
                ledger.in_flight_gone += 1;
            } else {
                ledger.queued_gone += 1;
            }
        }
        if !owed {
            continue;
        }
        let age_us = session.killed_at_us.saturating_sub(*at_us);
        if age_us < margin_ms * 1000 {
            ledger.required_too_recent += 1;
            continue;
        }
        ledger.required_owed += 1;
        // A complete non-2xx answer is a refusal: not stored, by design,
        // even if the kill cut the child's `failed` line off.
        let refused = ledger.refusals.contains_key(id);
        if gone && !refused {
            if reached.contains(id) {
                ledger.required_lost_in_flight += 1;
            } else {
                ledger.required_lost_queued.push(age_us / 1000);
            }
        }
    }
}

/// sled holds an advisory lock on its file a moment after the handle is
/// dropped; the next child must not find it taken.
fn wait_until_released(db: &Path) {
    let file = db.join("store").join("db");
    let give_up = Instant::now() + Duration::from_secs(5);
    while Instant::now() < give_up {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&file)
        {
            Ok(f) if f.try_lock().is_ok() => return,
            Err(_) => return,
            _ => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Mean, median, 90th percentile and max of duplicates per kill.
fn duplicates_per_kill(ledger: &Ledger) -> String {
    let mut per_kill: Vec<(u64, u64)> = ledger
        .killed_sessions
        .iter()
        .map(|s| (ledger.duplicates_by_kill.get(s).copied().unwrap_or(0), *s))
        .collect();
    if per_kill.is_empty() {
        return "no kills".into();
    }
    per_kill.sort();
    let n = per_kill.len();
    let total: u64 = per_kill.iter().map(|(d, _)| d).sum();
    let (max, worst) = per_kill[n - 1];
    let with_any = per_kill.iter().filter(|(d, _)| *d > 0).count();
    format!(
        "mean {:.1}, median {}, p90 {}, max {max} (session {worst}); {with_any} of {n} kills caused any",
        total as f64 / n as f64,
        per_kill[n / 2].0,
        per_kill[(n * 9 / 10).min(n - 1)].0,
    )
}

/// Median and max of the opens after kills, and of a walk of the keys.
fn open_times(opens: &[OpenTiming]) -> String {
    if opens.is_empty() {
        return "no opens".into();
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let slowest = opens
        .iter()
        .max_by(|a, b| a.open_ms.total_cmp(&b.open_ms))
        .expect("not empty");
    let walk_max = opens.iter().map(|o| o.walk_ms).fold(0.0, f64::max);
    let hits_max = opens.iter().map(|o| o.hits).max().unwrap_or(0);
    let compacted = opens.iter().filter(|o| o.compacted).count();
    format!(
        "Database::open + hit_store median {:.1} ms, max {:.1} ms ({} hits{}); \
         a walk of the keys median {:.1} ms, max {walk_max:.1} ms; up to {hits_max} hits; \
         {compacted} open(s) compacted the files",
        median(opens.iter().map(|o| o.open_ms).collect()),
        slowest.open_ms,
        slowest.hits,
        if slowest.compacted { ", compacted" } else { "" },
        median(opens.iter().map(|o| o.walk_ms).collect()),
    )
}

fn report(ledger: &Ledger, kill_loop: Duration, total: Duration) {
    let delivered = ledger.deliveries.len();
    let lost = ledger
        .violations
        .iter()
        .filter(|v| v.contains("is lost"))
        .count();
    println!("--- hitkit-crash figures ---");
    println!("kills (SIGKILL):           {}", ledger.kills);
    let phases: Vec<String> = ledger
        .kills_by_phase
        .iter()
        .map(|(phase, n)| format!("{phase} {n}"))
        .collect();
    println!("  killed while:            {}", phases.join(", "));
    let storages: Vec<String> = ledger
        .sessions_by_storage
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!("  sessions by storage:     {}", storages.join(", "));
    let modes: Vec<String> = ledger
        .modes_used
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    println!("  collector modes set:     {}", modes.join(", "));
    println!("hits produced:             {}", ledger.produced.len());
    println!(
        "acknowledged:              {} (save_did_end {}, 2xx send {})",
        ledger.acked.len(),
        ledger.saved,
        ledger.sent_acks
    );
    println!("delivered (distinct):      {delivered}");
    println!(
        "duplicates:                {} (each across a kill, delete not yet flushed)",
        ledger.duplicates
    );
    println!("  per kill:                {}", duplicates_per_kill(ledger));
    println!(
        "  duplicates a collector can drop: {} of {} (same {HIT_ID_PARAMETER} as the first delivery)",
        ledger.droppable_duplicates, ledger.duplicates
    );
    println!(
        "dropped by maxAttempts:    {} (refused {MAX_ATTEMPTS} times, contract §3.2)",
        ledger.dropped_by_policy.len()
    );
    let refused_live = ledger
        .refused
        .iter()
        .filter(|id| !ledger.acked.contains_key(id))
        .count();
    println!("refused live (required):   {refused_live} (non-2xx answer, not stored by design)");
    println!(
        "unacknowledged, gone:      {} queued in memory, {} in flight at the kill",
        ledger.queued_gone, ledger.in_flight_gone
    );
    let lost_queued = &ledger.required_lost_queued;
    println!(
        "required-mode hits lost while queued: {} (of {} made >= {} ms before a kill{}; {} more \
         reached the collector unanswered and are gone; {} made within {} ms of a kill not counted)",
        lost_queued.len(),
        ledger.required_owed,
        ledger.queued_margin_ms,
        lost_queued.iter().max().map_or(String::new(), |ms| format!(
            "; the oldest was made {ms} ms before"
        )),
        ledger.required_lost_in_flight,
        ledger.required_too_recent,
        ledger.queued_margin_ms,
    );
    println!(
        "tally after a kill:        {} mismatches in {} checks (saved count vs a walk of the keys)",
        ledger.tally_mismatches, ledger.tally_checks
    );
    println!("open after a kill:         {}", open_times(&ledger.opens));
    println!(
        "journaled at a kill:       {} hit(s), left by {} kills (stored by the next start)",
        ledger.journaled_at_kill, ledger.kills_leaving_journal
    );
    println!("store recoveries:          {}", ledger.recoveries);
    println!("flush() checks:            {}", ledger.flushes_checked);
    println!("lost:                      {lost}");
    println!("violations:                {}", ledger.violations.len());
    println!(
        "time:                      {:.1} s ({:.1} s killing)",
        total.as_secs_f64(),
        kill_loop.as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: u64, hid: Option<&str>, answered: Option<u16>) -> ReceivedHit {
        let mut params = vec![("n".to_owned(), id.to_string())];
        if let Some(hid) = hid {
            params.push((HIT_ID_PARAMETER.to_owned(), hid.to_owned()));
        }
        ReceivedHit {
            path: "/hit.xiti".into(),
            query: params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            params,
            answered,
            received_at_ms: 0,
            connection_id: 0,
        }
    }

    fn session(index: u64, storage: &'static str, received: Vec<ReceivedHit>) -> Session {
        Session {
            index,
            storage,
            killed_at_us: 0,
            lines: Vec::new(),
            received,
            phase: "store".into(),
            status: None,
        }
    }

    #[test]
    fn duplicates_are_counted_per_kill_and_checked_by_hit_id() {
        let mut ledger = Ledger::default();
        account(
            &mut ledger,
            &session(1, "always", vec![request(5, Some("a"), Some(200))]),
        );
        account(
            &mut ledger,
            &session(2, "always", vec![request(5, Some("a"), Some(200))]),
        );
        assert_eq!(ledger.duplicates, 1);
        assert_eq!(ledger.droppable_duplicates, 1);
        assert_eq!(ledger.duplicates_by_kill, BTreeMap::from([(1, 1)]));
        assert!(ledger.violations.is_empty(), "{:?}", ledger.violations);

        // Delivered again after session 2's kill, with another id.
        account(
            &mut ledger,
            &session(3, "always", vec![request(5, Some("b"), Some(200))]),
        );
        assert_eq!(ledger.duplicates, 2);
        assert_eq!(ledger.droppable_duplicates, 1);
        assert_eq!(ledger.duplicates_by_kill, BTreeMap::from([(1, 1), (2, 1)]));
        assert_eq!(ledger.violations.len(), 1, "{:?}", ledger.violations);

        // Without an id, and two hits sharing one: a collector would be wrong.
        account(
            &mut ledger,
            &session(4, "always", vec![request(6, None, Some(200))]),
        );
        account(
            &mut ledger,
            &session(5, "always", vec![request(6, None, Some(200))]),
        );
        account(
            &mut ledger,
            &session(6, "always", vec![request(7, Some("a"), Some(200))]),
        );
        assert_eq!(ledger.violations.len(), 4, "{:?}", ledger.violations);
        assert_eq!(ledger.droppable_duplicates, 1);

        ledger.killed_sessions = vec![1, 2, 3, 4, 5];
        let text = duplicates_per_kill(&ledger);
        assert!(
            text.starts_with("mean 0.6, median 1, p90 1, max 1"),
            "{text}"
        );
        assert!(text.ends_with("3 of 5 kills caused any"), "{text}");
    }

    #[test]
    fn required_hits_are_owed_only_past_the_margin() {
        let kill = 10_000_000;
        let made = |id, ms_before: u64| Line::Made {
            id,
            at_us: kill - ms_before * 1000,
        };
        let mut killed = session(
            1,
            "required",
            vec![
                request(4, Some("d"), None),      // in flight, unanswered
                request(5, Some("e"), Some(500)), // refused: not stored by design
                request(6, Some("f"), Some(200)), // delivered
            ],
        );
        killed.killed_at_us = kill;
        killed.lines = vec![
            made(1, 120), // gone, never sent: lost while queued
            made(2, 20),  // gone, but too recent to be owed
            made(3, 300), // stored
            made(4, 300),
            made(5, 300),
            made(6, 300),
            made(7, 50), // gone, exactly the margin old: owed
        ];
        let mut ledger = Ledger {
            queued_margin_ms: 50,
            ..Ledger::default()
        };
        account(&mut ledger, &killed);
        count_unacknowledged(&mut ledger, &killed, &HashSet::from([3]));
        assert_eq!(ledger.required_owed, 6);
        assert_eq!(ledger.required_too_recent, 1);
        assert_eq!(ledger.required_lost_queued, [120, 50]);
        assert_eq!(ledger.required_lost_in_flight, 1);

        // The same hits in `always` mode owe nothing here (they owe a
        // `save_did_end`, checked as acknowledged).
        let mut ledger = Ledger {
            queued_margin_ms: 50,
            ..Ledger::default()
        };
        killed.storage = "always";
        account(&mut ledger, &killed);
        count_unacknowledged(&mut ledger, &killed, &HashSet::from([3]));
        assert_eq!(ledger.required_owed, 0);
        assert!(ledger.required_lost_queued.is_empty());
        assert_eq!(ledger.queued_gone, 3);
    }
}
