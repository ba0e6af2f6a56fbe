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
//!   policy, SPEC §3): otherwise it is **lost**;
//! - a hit reaches the collector twice only across a kill, and only if the
//!   delete that followed its first delivery was never confirmed by a
//!   `flush()` (it was in flight at the kill);
//! - the store opens every time (a corrupt store moved aside is counted);
//! - the count never drifts: `count` equals the number of hits listed, in
//!   the child after every `flush()` and here after every kill;
//! - no stored hit has used more attempts than the collector refused it;
//! - `flush()` resolves only once every earlier hit is sent, saved or refused.
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

use hitkit::internal::store::{Changes, Database, StoredHit};
use hitkit_collector::{Collector, Mode, ReceivedHit};
use hitkit_reliability::{Line, Rng, hit_id};

/// The tracker's default `maxAttempts`, which the child keeps.
const MAX_ATTEMPTS: u32 = 3;
/// Ids of session `k` start at `k * ID_STRIDE`, so they never collide.
const ID_STRIDE: u64 = 1_000_000;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

const USAGE: &str = "\
usage: hitkit-crash [--kills N] [--max-seconds S] [--seed X] [--child PATH]
                    [--max-kill-ms MS] [--keep] [--verbose] [--sabotage]
  --kills N        SIGKILLs to deliver (default 200); fewer in time is a failure
  --max-seconds S  time bound for the kill loop (default 600)
  --short          same as --kills 30 --max-seconds 60
  --sabotage       delete one acknowledged hit behind the tracker's back:
                   the run must report it lost and fail";

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
            "--sabotage" => options.sabotage = true,
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
    kills: u64,
    kills_by_phase: BTreeMap<String, u64>,
    sessions_by_storage: BTreeMap<&'static str, u64>,
    modes_used: BTreeMap<String, u64>,
    recoveries: u64,
    journal_recoveries: u64,
    /// Made, never acknowledged, whose request reached the collector and got
    /// no answer before the kill, and that are neither stored nor delivered.
    in_flight_gone: u64,
    /// Made, never acknowledged, that never reached the collector and are
    /// not stored: queued in memory at the kill.
    queued_gone: u64,
    flushes_checked: u64,
    sabotaged: bool,
    violations: Vec<String>,
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
    let mut ledger = Ledger::default();
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
        if options.sabotage && !ledger.sabotaged {
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
                // `Child::kill` is SIGKILL on Unix.
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
                let sessions = ledger.deliveries.entry(id).or_default();
                if !sessions.is_empty() {
                    ledger.duplicates += 1;
                }
                sessions.push(index);
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

/// Opens the store as the next process would, checks it, and returns how
/// many hits it holds. `session` is the one just killed (None for the drain).
fn check_store(
    ledger: &mut Ledger,
    db: &Path,
    session: Option<&Session>,
    options: &Options,
) -> u64 {
    let label = session.map_or("drain".to_owned(), |s| format!("session {}", s.index));
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
        } else if text.contains("in flight") {
            ledger.journal_recoveries += 1;
        }
        if verbose {
            println!("notice: {text}");
        }
    }
}

/// Hits made in the killed session that were never acknowledged and are gone.
fn count_unacknowledged(ledger: &mut Ledger, session: &Session, stored: &HashSet<u64>) {
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
    for line in &session.lines {
        let Line::Made { id, .. } = line else {
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
    println!(
        "dropped by maxAttempts:    {} (refused {MAX_ATTEMPTS} times, SPEC §3)",
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
    println!("journal recoveries:        {}", ledger.journal_recoveries);
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
