//! A rebuild (compaction at open, `store/rebuild.rs`) cut short: by SIGKILL
//! at random moments in a child process that opens the database, and after
//! each `rebuild::Step` deterministically. Every time, the next open must
//! find every hit (by its `n`) exactly once, the journal and the visitor id
//! as they were, and no `store.rebuild` or `store.old` left behind.
//!
//! The random kills print their seed; rerun with `HITKIT_REBUILD_SEED=<seed>`
//! (and `HITKIT_REBUILD_KILLS=<n>` for more of them).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use hitkit::internal::store::hits::make_key;
use hitkit::internal::store::rebuild::{self, Step};
use hitkit::internal::store::record::Record;
use hitkit::internal::store::{Changes, Database, dir_bytes};
use hitkit::internal::types::HitType;
use hitkit_reliability::{Rng, hit_id};

const CHILD: &str = env!("CARGO_BIN_EXE_hitkit-crash-child");

/// Hits left stored, and hits left in the in-flight journal.
const KEPT: u64 = 1500;
const JOURNALED: u64 = 40;
/// Churn: this many rounds, each storing `CHURN_BATCH` hits and deleting
/// the previous round's (a store used as a queue).
const CHURN_ROUNDS: u64 = 6;
const CHURN_BATCH: u64 = 3000;
const DEFAULT_KILLS: u64 = 30;

/// A store whose files are far larger than its hits need, kept clean-closed
/// in a directory; each case works on a copy.
struct Template {
    dir: tempfile::TempDir,
    stored: BTreeSet<u64>,
    journaled: BTreeSet<u64>,
    visitor: String,
    bytes: u64,
}

/// One case at a time: the kills are timed from a calibration that other
/// cases running beside it would upset.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(build_template)
}

fn record(id: u64) -> Record {
    Record {
        hit_type: HitType::Screen,
        attempts: 0,
        // About the size of a real hit, `n` carrying the id.
        query: format!(
            "s=123&idclient=8f0c&ts={}&vtag=1&ptag=linux&n={id}&p={}&cn=offline&olt=1",
            1_700_000_000_000u64 + id,
            "home".repeat(150)
        ),
    }
}

fn build_template() -> Template {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (database, _) = Database::open(&path).unwrap();
    let (store, _) = database.hit_store("default").unwrap();
    let visitor = database.visitor_id().unwrap().expect("a visitor id");
    let key = |id: u64| make_key(1_700_000_000_000 + id, id);

    let stored: BTreeSet<u64> = (1..=KEPT).collect();
    for chunk in stored.iter().collect::<Vec<_>>().chunks(500) {
        let mut changes = Changes::default();
        for &&id in chunk {
            changes.insert(key(id), record(id));
        }
        store.apply(changes).unwrap();
    }
    let mut previous: Vec<u64> = Vec::new();
    let mut next = 1_000_000;
    for _ in 0..CHURN_ROUNDS {
        let mut changes = Changes::default();
        for id in previous.drain(..) {
            changes.remove(key(id));
        }
        for _ in 0..CHURN_BATCH {
            changes.insert(key(next), record(next));
            previous.push(next);
            next += 1;
        }
        store.apply(changes).unwrap();
        database.sync().unwrap();
    }
    let mut changes = Changes::default();
    for id in previous.drain(..) {
        changes.remove(key(id));
    }
    let journaled: BTreeSet<u64> = (2_000_000..2_000_000 + JOURNALED).collect();
    for &id in &journaled {
        changes.journal(&key(id), record(id));
    }
    store.apply(changes).unwrap();
    database.sync().unwrap();
    assert_eq!(store.len(), KEPT);
    drop(store);
    drop(database);
    wait_until_released(&path);

    let bytes = dir_bytes(&path.join("store"));
    let template = Template {
        dir,
        stored,
        journaled,
        visitor,
        bytes,
    };
    // The setup is right only if a rebuild pays for this store.
    let probe = tempfile::tempdir().unwrap();
    let copy = template.copy_into(probe.path());
    let db = open_raw(&copy.join("store"));
    assert!(
        rebuild::pays(&db, &copy.join("store")),
        "a rebuild does not pay for {KEPT} hits in {bytes} bytes: more churn needed"
    );
    println!("template: {KEPT} hits, {JOURNALED} journaled, {bytes} bytes of sled files");
    template
}

impl Template {
    fn path(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    /// A copy as the app would find it (modification times kept, so the
    /// clean-close record still matches the files).
    fn copy_into(&self, parent: &Path) -> PathBuf {
        let to = parent.join("db");
        copy_tree(&self.path(), &to);
        to
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let modified = entry.metadata().unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(&target)
                .unwrap()
                .set_modified(modified)
                .unwrap();
        }
    }
}

/// sled opened as the engine opens it (`opening::sled_config`).
fn open_raw(sled_dir: &Path) -> sled::Db {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        match sled::Config::new()
            .path(sled_dir)
            .cache_capacity(2 << 20)
            .flush_every_ms(None)
            .open()
        {
            Ok(db) => return db,
            Err(_) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("sled did not open {}: {e}", sled_dir.display()),
        }
    }
}

/// sled lets go of its file lock a moment after the handle is dropped.
fn wait_until_released(path: &Path) {
    let file = path.join("store").join("db");
    let give_up = Instant::now() + Duration::from_secs(5);
    while Instant::now() < give_up {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&file)
        {
            Ok(f) if f.try_lock().is_ok() => return,
            Err(_) => return,
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// What is in the database directory besides the lock: `store`,
/// `store.rebuild`, `store.old`, damaged copies...
fn entries(path: &Path) -> BTreeSet<String> {
    std::fs::read_dir(path)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name != "hitkit.lock" && name != "hitkit.closed")
                .collect()
        })
        .unwrap_or_default()
}

/// Beside `store`, only what a kill elsewhere than in the rebuild may leave
/// (a clean-close record half written, a damaged copy being taken) is
/// expected; `store.rebuild`, `store.old` or anything else is reported.
fn leftovers(path: &Path) -> Vec<String> {
    let left = entries(path);
    let mut problems = Vec::new();
    if !left.contains("store") {
        problems.push(format!("no store in the directory: {left:?}"));
    }
    let unexpected: Vec<&String> = left
        .iter()
        .filter(|name| *name != "store" && !not_the_rebuilds(name))
        .collect();
    if !unexpected.is_empty() {
        problems.push(format!(
            "left in the directory after the open: {unexpected:?}"
        ));
    }
    problems
}

fn not_the_rebuilds(name: &str) -> bool {
    name == "hitkit.closed.tmp" || name.starts_with("store.corrupt-")
}

/// Opens `path` as the next process would and lists what is wrong: hits
/// missing, twice or unknown, the journal or visitor id changed, the count
/// off, directories left over.
fn problems_after_open(path: &Path) -> Vec<String> {
    let template = template();
    let mut problems = Vec::new();
    let (database, notices) = match Database::open(path) {
        Ok(opened) => opened,
        Err(e) => return vec![format!("the database did not open: {e}")],
    };
    problems.extend(notices.iter().map(|n| format!("open said: {n}")));
    let (store, notices) = match database.hit_store("default") {
        Ok(opened) => opened,
        Err(e) => return vec![format!("the hit store did not open: {e}")],
    };
    problems.extend(notices.iter().map(|n| format!("hit_store said: {n}")));

    let hits = store.all().unwrap();
    let keys = store.keys().unwrap();
    if store.len() != keys.len() as u64 || hits.len() != keys.len() {
        problems.push(format!(
            "tally {} hits, walk {} keys, {} readable",
            store.len(),
            keys.len(),
            hits.len()
        ));
    }
    let mut times: BTreeMap<u64, u32> = BTreeMap::new();
    for hit in &hits {
        match hit_id(&hit.record.query) {
            Some(id) => *times.entry(id).or_default() += 1,
            None => problems.push(format!("a hit without n: {}", hit.record.query)),
        }
    }
    let found: BTreeSet<u64> = times.keys().copied().collect();
    let missing: Vec<_> = template.stored.difference(&found).collect();
    let unknown: Vec<_> = found.difference(&template.stored).collect();
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} hit(s) missing, first {:?}",
            missing.len(),
            missing[0]
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!("{} unknown hit(s): {unknown:?}", unknown.len()));
    }
    if !twice.is_empty() {
        problems.push(format!("hit(s) stored more than once: {twice:?}"));
    }
    let journal: Vec<u64> = store
        .journal()
        .unwrap()
        .into_iter()
        .filter_map(|(_, record)| record.ok().and_then(|r| hit_id(&r.query)))
        .collect();
    if journal.iter().copied().collect::<BTreeSet<_>>() != template.journaled
        || journal.len() != template.journaled.len()
    {
        problems.push(format!(
            "journal holds {} entries, not the {} journaled",
            journal.len(),
            template.journaled.len()
        ));
    }
    if database.visitor_id().unwrap().as_deref() != Some(template.visitor.as_str()) {
        problems.push("the visitor id changed".into());
    }
    problems.extend(leftovers(path));
    let bytes = dir_bytes(&path.join("store"));
    if bytes * 2 > template.bytes {
        problems.push(format!(
            "not compacted: {bytes} bytes of sled files, {} before",
            template.bytes
        ));
    }
    drop(store);
    drop(database);
    wait_until_released(path);
    problems
}

#[test]
fn the_template_needs_a_rebuild_and_the_check_catches_damage() {
    let _serial = serial();
    let template = template();
    // Untouched, a copy opens (and is compacted) with nothing wrong.
    let dir = tempfile::tempdir().unwrap();
    let path = template.copy_into(dir.path());
    assert_eq!(problems_after_open(&path), Vec::<String>::new());

    // A hit gone, one stored twice, a directory left: each is reported.
    let (database, _) = Database::open(&path).unwrap();
    let (store, _) = database.hit_store("default").unwrap();
    let hits = store.all().unwrap();
    let mut changes = Changes::default();
    changes.remove(hits[10].key);
    changes.insert(
        make_key(1_900_000_000_000, 9_999_999),
        hits[20].record.clone(),
    );
    store.apply(changes).unwrap();
    drop(store);
    drop(database);
    wait_until_released(&path);
    // A `store.old` beside `store` is a leftover the open deletes.
    std::fs::create_dir(path.join("store.old")).unwrap();
    let text = problems_after_open(&path).join("\n");
    assert!(text.contains("1 hit(s) missing"), "{text}");
    assert!(text.contains("stored more than once"), "{text}");
    assert!(!text.contains("left in the directory"), "{text}");
    // Anything else left beside `store` is reported.
    std::fs::create_dir(path.join("stray")).unwrap();
    let text = problems_after_open(&path).join("\n");
    assert!(text.contains("left in the directory"), "{text}");
    std::fs::remove_dir(path.join("stray")).unwrap();
    for name in ["store.rebuild", "store.old"] {
        std::fs::create_dir(path.join(name)).unwrap();
        let text = leftovers(&path).join("\n");
        assert!(text.contains(name), "{text}");
        std::fs::remove_dir(path.join(name)).unwrap();
    }
    assert_eq!(leftovers(&path), Vec::<String>::new());
}

/// What a kill left, from the directories it left.
fn state(path: &Path) -> &'static str {
    let e = entries(path);
    let has = |name: &str| e.contains(name);
    match (has("store"), has("store.rebuild"), has("store.old")) {
        (true, false, false) => "store only (before the copy, or done)",
        (true, true, false) => "copying (store.rebuild beside store)",
        (false, true, true) => "moved aside (store.old, store.rebuild)",
        (true, false, true) => "swapped (store.old beside store)",
        _ => "other",
    }
}

fn spawn_open(path: &Path) -> Child {
    Command::new(CHILD)
        .arg("--db")
        .arg(path)
        .arg("--open-store")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child")
}

/// Waits until `done` (`None`: the child ended first).
fn wait_until(child: &mut Child, what: &str, done: impl Fn() -> bool) -> Option<Instant> {
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up {
        if done() {
            return Some(Instant::now());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    panic!("not {what} within 60 s, and the child still runs");
}

/// Waits until the child's rebuild begins its copy.
fn copy_begins(path: &Path, child: &mut Child) -> Option<Instant> {
    let fresh = path.join("store.rebuild");
    wait_until(child, "copying", || fresh.exists())
}

/// One open in the child, to its end: how long it takes, how long its copy
/// (from `store.rebuild` appearing until `store` is moved aside or replaced),
/// and what follows the copy.
fn time_an_open(template: &Template) -> [Duration; 3] {
    let dir = tempfile::tempdir().unwrap();
    let path = template.copy_into(dir.path());
    let started = Instant::now();
    let mut child = spawn_open(&path);
    let copy_began = copy_begins(&path, &mut child).expect("the child rebuilt");
    let (fresh, old) = (path.join("store.rebuild"), path.join("store.old"));
    let copy_ended = wait_until(&mut child, "swapping", || old.exists() || !fresh.exists())
        .unwrap_or_else(Instant::now);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let times = [
        started.elapsed(),
        copy_ended - copy_began,
        copy_ended.elapsed(),
    ];
    assert_eq!(problems_after_open(&path), Vec::<String>::new());
    times
}

#[test]
fn a_rebuild_killed_at_random_moments_loses_nothing() {
    let _serial = serial();
    let template = template();
    let seed = std::env::var("HITKIT_REBUILD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(hitkit_reliability::now_us);
    let kills: u64 = std::env::var("HITKIT_REBUILD_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_KILLS);
    println!("rebuild kills: seed {seed} (rerun with HITKIT_REBUILD_SEED={seed}), {kills} kills");
    let mut rng = Rng::new(seed);

    // How long the child's open takes, its copy, and what follows the copy:
    // the median of three opens that run to the end.
    let timings: Vec<[Duration; 3]> = (0..3).map(|_| time_an_open(template)).collect();
    let median = |i: usize| {
        let mut values: Vec<Duration> = timings.iter().map(|t| t[i]).collect();
        values.sort();
        values[1]
    };
    let (whole, copy, after_copy) = (median(0), median(1), median(2));
    println!(
        "an open that rebuilds takes {} ms in the child: the copy {} ms, then {} ms",
        whole.as_millis(),
        copy.as_millis(),
        after_copy.as_millis()
    );

    let mut states: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut others = Vec::new();
    for kill in 0..kills {
        let dir = tempfile::tempdir().unwrap();
        let path = template.copy_into(dir.path());
        let mut child = spawn_open(&path);
        // Most kills fall in the copy, some in the swap and what follows it,
        // some anywhere in the open (before the rebuild began, say).
        let (anchor, delay, when) = match rng.range(0, 9) {
            0..=5 => (
                copy_begins(&path, &mut child),
                copy.mul_f64(rng.range(0, 1000) as f64 / 1000.0),
                "the copy began",
            ),
            6..=7 => (
                copy_begins(&path, &mut child),
                copy + after_copy.mul_f64(rng.range(0, 1000) as f64 / 1000.0),
                "the copy began",
            ),
            _ => (
                Some(Instant::now()),
                whole.mul_f64(rng.range(0, 1000) as f64 / 1000.0),
                "the child started",
            ),
        };
        if let Some(anchor) = anchor {
            std::thread::sleep((anchor + delay).saturating_duration_since(Instant::now()));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(9);
        let left = if killed {
            state(&path)
        } else {
            "ended before the kill"
        };
        if !killed && !status.success() {
            failures.push(format!("kill {kill}: the child failed: {status:?}"));
        }
        *states.entry(left).or_default() += 1;
        let problems = problems_after_open(&path);
        for name in entries(&path).into_iter().filter(|n| not_the_rebuilds(n)) {
            others.push(format!(
                "kill {kill} ({} ms after {when}): {name}",
                delay.as_millis()
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "kill {kill} ({} ms after {when}; left: {left}): {problems:?}",
                delay.as_millis()
            ));
        }
    }
    println!("what the kills left: {states:?}");
    if !others.is_empty() {
        println!("left beside store after the next open, by kills outside the rebuild: {others:?}");
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    let mid_copy = states
        .get("copying (store.rebuild beside store)")
        .copied()
        .unwrap_or(0);
    assert!(
        mid_copy * 5 >= kills,
        "seed {seed}: only {mid_copy} of {kills} kills landed in the copy: {states:?}"
    );
}

#[test]
fn a_rebuild_stopped_after_each_step_loses_nothing() {
    let _serial = serial();
    let template = template();
    let cases = [
        (Some(Step::Copied), ["store", "store.rebuild"].as_slice()),
        (
            Some(Step::MovedAside),
            ["store.old", "store.rebuild"].as_slice(),
        ),
        (Some(Step::Swapped), ["store", "store.old"].as_slice()),
        (None, ["store"].as_slice()),
    ];
    for (stop, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = template.copy_into(dir.path());
        let db = open_raw(&path.join("store"));
        assert!(rebuild::pays(&db, &path.join("store")));
        rebuild::run_until(&path, db, stop).unwrap();
        let left = entries(&path);
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(left, expected, "after {stop:?}");
        wait_until_released(&path);
        assert_eq!(
            problems_after_open(&path),
            Vec::<String>::new(),
            "the open after a rebuild stopped after {stop:?}"
        );
    }
}
