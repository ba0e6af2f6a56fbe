//! The crash harness's child: one tracker on `--db`, producing hits with
//! unique ids until it is killed, and saying on stdout (see the crate docs)
//! what was acknowledged, one line at a time, flushed at once.
//!
//! ```text
//! hitkit-crash-child --db PATH --endpoint URL --storage required|always
//!     --first-id N [--n COUNT] [--seed S] [--timeout-ms MS] [--concurrency C]
//!     [--drain] [--single]
//! hitkit-crash-child --db PATH --open-store
//! ```
//! `--drain`: make no hits; dispatch until the store is empty, then exit 0.
//! `--single`: make exactly one hit, then wait to be killed.
//! `--open-store`: no tracker: open the database as a tracker's start does
//! (`Database::open`, which finishes or runs a rebuild, then `hit_store`),
//! say `opened <ms> <hits>` and exit 0. The rebuild test kills it midway.
//!
//! Every hit carries its own id in `hid` (`hitIdParameter`) besides its `n`.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hitkit::internal::store::Database;
use hitkit::{HitParam, HitStatus, OfflineModeKey, Tracker, TrackerConfig, TrackerDelegate};
use hitkit_reliability::{HIT_ID_PARAMETER, Line, Rng, hit_id, now_us};

struct Args {
    db: String,
    endpoint: String,
    storage: OfflineModeKey,
    first_id: u64,
    n: u64,
    seed: u64,
    timeout_ms: u64,
    concurrency: u32,
    drain: bool,
    single: bool,
    open_store: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        db: String::new(),
        endpoint: String::new(),
        storage: OfflineModeKey::Required,
        first_id: 1,
        n: 1_000_000,
        seed: 1,
        timeout_ms: 250,
        concurrency: 1,
        drain: false,
        single: false,
        open_store: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("bad number {v:?}"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--endpoint" => args.endpoint = value()?,
            "--storage" => {
                args.storage = match value()?.as_str() {
                    "required" => OfflineModeKey::Required,
                    "always" => OfflineModeKey::Always,
                    other => return Err(format!("--storage {other}: required or always")),
                }
            }
            "--first-id" => args.first_id = number(value()?)?,
            "--n" => args.n = number(value()?)?,
            "--seed" => args.seed = number(value()?)?,
            "--timeout-ms" => args.timeout_ms = number(value()?)?,
            "--concurrency" => args.concurrency = number(value()?)? as u32,
            "--drain" => args.drain = true,
            "--single" => args.single = true,
            "--open-store" => args.open_store = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.db.is_empty() || (args.endpoint.is_empty() && !args.open_store) {
        return Err("--db and --endpoint are required".into());
    }
    Ok(args)
}

/// One line, written and flushed under stdout's lock, so lines from the
/// tracker's worker thread and from the main thread never interleave.
fn say(line: Line) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the harness is gone: nothing left to tell.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

struct Reporter;

impl Reporter {
    fn id_line(url: &str, line: fn(u64) -> Line) {
        if let Some(id) = hit_id(url) {
            say(line(id));
        }
    }
}

impl TrackerDelegate for Reporter {
    fn build_did_end(&self, _status: HitStatus, _message: String) {}
    fn send_did_end(&self, status: HitStatus, message: String) {
        match status {
            HitStatus::Success => Reporter::id_line(&message, Line::Sent),
            HitStatus::Failed => Reporter::id_line(&message, Line::Failed),
        }
    }
    fn save_did_end(&self, message: String) {
        Reporter::id_line(&message, Line::Saved);
    }
    fn warning_did_occur(&self, message: String) {
        say(Line::Warning(message));
    }
    fn error_did_occur(&self, message: String) {
        say(Line::Error(message));
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("hitkit-crash-child: {why}");
            std::process::exit(2);
        }
    };
    if args.open_store {
        open_store(&args.db);
        return;
    }
    let config = TrackerConfig {
        site: "123".into(),
        database_path: args.db.clone(),
        endpoint: Some(args.endpoint.clone()),
        storage: Some(args.storage),
        request_timeout_ms: args.timeout_ms as i64,
        dispatch_concurrency: args.concurrency as i32,
        hit_id_parameter: Some(HIT_ID_PARAMETER.into()),
        ..Default::default()
    };
    let tracker = match Tracker::new(config, None) {
        Ok(tracker) => tracker,
        Err(e) => {
            say(Line::OpenError(e.to_string()));
            std::process::exit(3);
        }
    };
    tracker.set_delegate(Some(Arc::new(Reporter)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    say(Line::Ready);

    if args.drain {
        drain(&tracker, &runtime);
        return;
    }
    if args.single {
        make(&tracker, args.first_id);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    produce(&tracker, &runtime, &args);
}

fn make(tracker: &Tracker, id: u64) -> bool {
    let made = tracker
        .send(vec![HitParam {
            key: "n".into(),
            value: id.to_string(),
        }])
        .is_ok();
    if made {
        say(Line::Made {
            id,
            at_us: now_us(),
        });
    }
    made
}

/// Opens the store as a tracker's start would (a rebuild included, when it
/// pays), and says how long it took and how many hits the store holds.
fn open_store(db: &str) {
    let started = Instant::now();
    let opened = Database::open(std::path::Path::new(db))
        .and_then(|(database, _)| Ok((database.hit_store("default")?.0, database)));
    let (store, database) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            say(Line::OpenError(e.to_string()));
            std::process::exit(3);
        }
    };
    say(Line::Opened {
        ms: started.elapsed().as_millis() as u64,
        hits: store.len(),
    });
    // The store first, so the database closes cleanly.
    drop(store);
    drop(database);
}

fn flush(tracker: &Tracker, runtime: &tokio::runtime::Runtime) {
    if let Err(e) = runtime.block_on(tracker.flush()) {
        say(Line::Error(format!("flush failed: {e}")));
        return;
    }
    // Nothing else is queued now, so the worker is idle and both must agree.
    let offline = tracker.offline();
    let count = offline.count() as u64;
    let listed = offline
        .get()
        .map(|hits| hits.len() as u64)
        .unwrap_or(u64::MAX);
    say(Line::Flushed { count, listed });
}

fn dispatch(tracker: &Tracker, runtime: &tokio::runtime::Runtime) -> u64 {
    let report = match runtime.block_on(tracker.offline().dispatch_and_wait(None, false)) {
        Ok(report) => report,
        Err(e) => {
            say(Line::Error(format!("dispatch failed: {e}")));
            return u64::MAX;
        }
    };
    say(Line::Dispatched {
        sent: report.sent as u64,
        failed: report.failed as u64,
        dropped: report.dropped as u64,
        remaining: report.remaining as u64,
    });
    report.remaining as u64
}

/// Bursts of hits, flushes and dispatches in random order, until killed.
fn produce(tracker: &Tracker, runtime: &tokio::runtime::Runtime, args: &Args) {
    let mut rng = Rng::new(args.seed);
    let end = args.first_id + args.n;
    let mut next = args.first_id;
    loop {
        if next >= end {
            say(Line::Phase("idle".into()));
            flush(tracker, runtime);
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match rng.range(0, 99) {
            0..=59 => {
                say(Line::Phase("store".into()));
                for _ in 0..rng.range(1, 20).min(end - next) {
                    make(tracker, next);
                    next += 1;
                }
            }
            60..=79 => {
                say(Line::Phase("flush".into()));
                flush(tracker, runtime);
            }
            80..=94 => {
                say(Line::Phase("dispatch".into()));
                dispatch(tracker, runtime);
            }
            _ => {
                say(Line::Phase("dispatch".into()));
                tracker.offline().dispatch(false);
            }
        }
    }
}

fn drain(tracker: &Tracker, runtime: &tokio::runtime::Runtime) {
    for _ in 0..50 {
        if dispatch(tracker, runtime) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    flush(tracker, runtime);
}
