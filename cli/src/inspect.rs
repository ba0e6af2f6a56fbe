//! `hitkit inspect`: what a tracker's store holds, e.g. one copied from a
//! device (the directory a tracker's `databasePath` points at).
//!
//! Nothing under PATH is ever written. Opening a store with the engine
//! takes its lock, consumes the clean-close record, may finish or start a
//! rebuild, recount, and move damaged files aside; so the store's files are
//! copied to a private temporary directory and the engine opens the copy.
//! It reads exactly what a tracker would, and whatever opening changes, it
//! changes in the copy.
//!
//! A store whose lock is held (an app or tracker is running on it) is
//! refused, since its files may change mid-copy; `--copy-anyway` copies it
//! all the same. Otherwise a shared lock is held for the copy alone, so no
//! tracker can start writing while the files are read.
//!
//! The key of an encrypted store comes from an environment variable or a
//! file, never from the command line (other users see that in the process
//! list), and is never printed.

use std::fs::File;
use std::path::{Path, PathBuf};

use hitkit::internal::error::TrackerError as Error;
use hitkit::internal::secret::EncryptionKey;
use hitkit::internal::store::hits::{Key, key_parts};
use hitkit::internal::store::keyring::KeyState;
use hitkit::internal::store::meta::KeyCheck;
use hitkit::internal::store::record::{Place, Record, Sealer, Unreadable};
use hitkit::internal::store::{Database, Notice};
use hitkit::internal::types::HitType as HitKind;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::Failure;
use crate::clock::iso8601;
use crate::text::token;

pub struct Options {
    pub path: PathBuf,
    pub name: String,
    pub json: bool,
    pub list: bool,
    pub key: Option<KeySource>,
    /// Copy the store even while another process holds its lock.
    pub copy_anyway: bool,
}

/// Where the key of an encrypted store is read from.
pub enum KeySource {
    Env(String),
    File(PathBuf),
}

/// What sits beside `store/` and is copied with it: the clean-close record
/// (so the engine checks the files against it as a tracker would) and the
/// directories an interrupted rebuild leaves.
const COPIED: &[&str] = &["store", "store.rebuild", "store.old", "hitkit.closed"];

/// One record as read: a stored hit, or a journal entry (a hit in flight
/// when the app last stopped).
struct Entry {
    key: Key,
    journal: bool,
    read: Result<Record, Unreadable>,
}

pub fn run(opts: &Options) -> Result<(), Failure> {
    let path = opts.path.as_path();
    check_is_store(path)?;
    // Read (and checked) before anything is copied: a bad key fails fast.
    let key = opts.key.as_ref().map(read_key).transpose()?;
    let copy = copy_store(path, opts.copy_anyway)?;
    let report = read_copy(path, copy.path(), opts, key.as_ref());
    // The copy (and the database the engine left in it) goes in any case.
    drop(copy);
    print(path, opts, &report?);
    Ok(())
}

/// Everything `inspect` learned from the copy.
struct Report {
    encrypted: bool,
    entries: Vec<Entry>,
}

fn read_copy(
    path: &Path,
    copy: &Path,
    opts: &Options,
    key: Option<&EncryptionKey>,
) -> Result<Report, Failure> {
    let (database, mut notices) = Database::open(copy).map_err(|e| explain(path, e))?;
    let names = database.tracker_names();
    if !names.contains(&opts.name) {
        let known = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        };
        eprintln!(
            "note: no tracker named `{}` ever stored hits here (trackers that did: {known}); \
             --name picks one",
            opts.name
        );
    }
    let (store, more) = database
        .hit_store(&opts.name)
        .map_err(|e| explain(path, e))?;
    notices.extend(more);
    // Opening can repair things (damaged files moved aside, hits counted
    // again): say so, on stderr so JSON stays clean. It happened in the copy.
    for notice in &notices {
        let (Notice::Warning(text) | Notice::Error(text)) = notice;
        let text = text.replace(&copy.display().to_string(), "<copy>");
        eprintln!("note: opening the copy: {text}");
    }
    if !notices.is_empty() {
        eprintln!(
            "note: that happened in the copy, deleted on exit; {} is as it was",
            path.display()
        );
    }
    let state = apply_key(&database, key).map_err(|e| explain(path, e))?;
    // A locked store's codec tries no key, so it says "no key" of every
    // sealed record; when one was given, it is the wrong one.
    let wrong_key = key.is_some() && matches!(state, KeyState::Locked(_));
    let blame = |read: Result<Record, Unreadable>| match read {
        Err(Unreadable::NoKey) if wrong_key => Err(Unreadable::NotOpened),
        read => read,
    };

    let codec = store.codec();
    let tree = format!("hits/{}", opts.name);
    let mut entries = Vec::new();
    for key in store.keys().map_err(|e| explain(path, e))? {
        let Some(bytes) = store.raw(&key).map_err(|e| explain(path, e))? else {
            continue;
        };
        let place = Place {
            tree: &tree,
            key: &key,
        };
        entries.push(Entry {
            key,
            journal: false,
            read: blame(codec.decode(&bytes, &place)),
        });
    }
    for (key, read) in store.journal().map_err(|e| explain(path, e))? {
        entries.push(Entry {
            key,
            journal: true,
            read: blame(read),
        });
    }
    Ok(Report {
        encrypted: state != KeyState::Clear,
        entries,
    })
}

/// Gives the engine the key as a tracker would, without ever writing: a
/// key given for a store in clear is not used (the engine would encrypt the
/// store with it).
fn apply_key(database: &Database, key: Option<&EncryptionKey>) -> Result<KeyState, Error> {
    let check = match key {
        Some(key) => database.meta().check_key(Some(&Sealer::new(key)?))?,
        None => database.meta().check_key(None)?,
    };
    let key = match check {
        KeyCheck::NoMarker => {
            if key.is_some() {
                eprintln!("note: the store is not encrypted: the key given is not needed");
            }
            None
        }
        _ => key,
    };
    let state = database.use_key(key)?;
    if let KeyState::Locked(_) = state {
        if key.is_none() {
            eprintln!(
                "note: the store is encrypted and no key was given (--key-env VAR or \
                 --key-file PATH): its hits are counted, not read"
            );
        } else {
            eprintln!("note: the key given is not the key this store is encrypted with");
        }
    }
    Ok(state)
}

/// The key, from where the user said; never echoed, even when refused.
fn read_key(source: &KeySource) -> Result<EncryptionKey, Failure> {
    let (text, from) = match source {
        KeySource::Env(name) => {
            let from = format!("--key-env {name}");
            let value = std::env::var_os(name).ok_or_else(|| {
                Failure::usage(format!("{from}: no environment variable {name} is set"))
            })?;
            let text = value
                .into_string()
                .map_err(|_| Failure::usage(format!("{from}: {KEY_FORM}")))?;
            (Zeroizing::new(text), from)
        }
        KeySource::File(path) => {
            let from = format!("--key-file {}", path.display());
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("{from}: cannot read the key: {e}")))?;
            (Zeroizing::new(text), from)
        }
    };
    // A file usually ends with a newline.
    let key = EncryptionKey::new(text.trim());
    if key.bytes().is_err() {
        return Err(Failure::usage(format!("{from}: {KEY_FORM}")));
    }
    Ok(key)
}

const KEY_FORM: &str =
    "not a key: the key is 64 hex digits (32 bytes), the tracker's encryptionKey";

/// Refuses paths that are not a tracker's store.
fn check_is_store(path: &Path) -> Result<(), Failure> {
    let shown = path.display();
    if !path.exists() {
        return Err(Failure::usage(format!("{shown}: no such directory")));
    }
    if !path.is_dir() {
        return Err(Failure::usage(format!(
            "{shown} is a file; give the directory a tracker's databasePath points at"
        )));
    }
    // A rebuild killed between its renames leaves only these two.
    let interrupted_rebuild =
        path.join("store.old").is_dir() && path.join("store.rebuild").is_dir();
    if !path.join("store").is_dir() && !interrupted_rebuild {
        return Err(Failure::usage(format!(
            "{shown} holds no HitKit store (no {shown}/store directory); give the directory a tracker's databasePath points at"
        )));
    }
    Ok(())
}

/// Copies the store's files into a private temporary directory.
fn copy_store(path: &Path, anyway: bool) -> Result<tempfile::TempDir, Failure> {
    let lock = shared_lock(path, anyway)?;
    let copy = tempfile::Builder::new()
        .prefix("hitkit-inspect-")
        .tempdir()
        .map_err(|e| Failure::usage(format!("cannot make a temporary directory: {e}")))?;
    for name in COPIED {
        let from = path.join(name);
        if from.exists() {
            copy_tree(&from, &copy.path().join(name)).map_err(|e| {
                Failure::usage(format!("cannot copy {} to read it: {e}", from.display()))
            })?;
        }
    }
    drop(lock);
    Ok(copy)
}

/// A shared lock on `hitkit.lock` for the time of the copy. The file is
/// opened read-only and never created: a store without one was never open.
fn shared_lock(path: &Path, anyway: bool) -> Result<Option<File>, Failure> {
    let lock_path = path.join("hitkit.lock");
    let in_use = || {
        Failure::usage(format!(
            "the store at {} is in use by another process (an app or tracker holds {}); \
             stop it, or pass --copy-anyway to read a copy taken while it writes",
            path.display(),
            lock_path.display()
        ))
    };
    let file = match File::open(&lock_path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if anyway => {
            eprintln!("note: cannot check {}: {e}", lock_path.display());
            return Ok(None);
        }
        Err(e) => {
            return Err(Failure::usage(format!(
                "cannot check whether the store is in use ({}: {e}); \
                 --copy-anyway copies it without checking",
                lock_path.display()
            )));
        }
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) if anyway => {
            eprintln!(
                "note: copied while in use by another process: hits written during the \
                 copy may be missing or torn in it"
            );
            Ok(None)
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(in_use()),
        Err(std::fs::TryLockError::Error(e)) if anyway => {
            eprintln!("note: cannot check {}: {e}", lock_path.display());
            Ok(None)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Failure::usage(format!(
            "cannot check whether the store is in use ({}: {e}); \
             --copy-anyway copies it without checking",
            lock_path.display()
        ))),
    }
}

/// Copies a file or a directory tree, keeping each file's modification
/// time: the engine compares sizes and times with the clean-close record,
/// and fresh times would make every copy look damaged.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    std::fs::copy(from, to)?;
    let modified = std::fs::metadata(from)?.modified()?;
    File::options().write(true).open(to)?.set_modified(modified)
}

fn explain(path: &Path, error: Error) -> Failure {
    Failure::usage(format!(
        "cannot read the store at {}: {error}",
        path.display()
    ))
}

/// Why a record cannot be read: its JSON name, a row's label, the sentence.
fn reason(why: Unreadable) -> (&'static str, &'static str, &'static str) {
    match why {
        Unreadable::NoKey => (
            "no_key",
            "sealed, no key given",
            "sealed, and no key given (--key-env VAR or --key-file PATH)",
        ),
        Unreadable::NotOpened => (
            "other_key",
            "sealed with another key",
            "sealed with another key (or moved from another place, or damaged)",
        ),
        Unreadable::PlainInEncryptedStore => (
            "in_clear",
            "in clear in an encrypted store",
            "in clear in an encrypted store (not written by HitKit with its key: never sent)",
        ),
        Unreadable::Malformed => (
            "malformed",
            "malformed",
            "malformed (not a record HitKit writes)",
        ),
    }
}

const REASONS: [Unreadable; 4] = [
    Unreadable::NoKey,
    Unreadable::NotOpened,
    Unreadable::PlainInEncryptedStore,
    Unreadable::Malformed,
];

fn count_unreadable<'a>(entries: impl Iterator<Item = &'a Entry>, why: Unreadable) -> usize {
    entries
        .filter(|e| e.read.as_ref().err() == Some(&why))
        .count()
}

/// `{"no_key": n, "other_key": n, "in_clear": n, "malformed": n}`.
fn reasons_json<'a>(entries: impl Iterator<Item = &'a Entry> + Clone) -> Value {
    let counts = REASONS.iter().map(|&why| {
        (
            reason(why).0.to_owned(),
            count_unreadable(entries.clone(), why).into(),
        )
    });
    Value::Object(counts.collect())
}

fn print(path: &Path, opts: &Options, report: &Report) {
    let stored = || report.entries.iter().filter(|e| !e.journal);
    let journal = || report.entries.iter().filter(|e| e.journal);
    let readable: Vec<(&Entry, &Record)> = stored()
        .filter_map(|e| e.read.as_ref().ok().map(|r| (e, r)))
        .collect();
    let created = |e: &Entry| key_parts(&e.key).0;
    let oldest = stored().map(created).min();
    let newest = stored().map(created).max();

    if opts.json {
        let text = if opts.list {
            Value::Array(report.entries.iter().map(entry_json).collect())
        } else {
            json!({
                "path": path.display().to_string(),
                "name": opts.name,
                "encrypted": report.encrypted,
                "count": stored().count(),
                "readable": readable.len(),
                "journal": journal().count(),
                "oldest": oldest.map(iso8601),
                "newest": newest.map(iso8601),
                "unreadable": {
                    "hits": reasons_json(stored()),
                    "journal": reasons_json(journal()),
                },
            })
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&text).unwrap_or_default()
        );
        return;
    }

    let journal_count = journal().count();
    println!(
        "{} (tracker \"{}\"{}): {} stored hit(s), {journal_count} in the journal",
        path.display(),
        opts.name,
        if report.encrypted { ", encrypted" } else { "" },
        stored().count(),
    );
    if journal_count > 0 {
        println!(
            "  (the journal holds hits in flight when the app last stopped: its next start stores them)"
        );
    }
    if let (Some(oldest), Some(newest)) = (oldest, newest) {
        println!("  oldest {}   newest {}", iso8601(oldest), iso8601(newest));
    }
    if !readable.is_empty() {
        let count = |kind: HitKind| readable.iter().filter(|(_, r)| r.hit_type == kind).count();
        println!(
            "  screen {}   touch {}   custom {}   retried {}",
            count(HitKind::Screen),
            count(HitKind::Touch),
            count(HitKind::Custom),
            readable.iter().filter(|(_, r)| r.attempts > 0).count()
        );
    }
    for (what, entries) in [
        ("stored hit(s)", stored().collect::<Vec<_>>()),
        ("journal entry(ies)", journal().collect()),
    ] {
        let bad = entries.iter().filter(|e| e.read.is_err()).count();
        if bad == 0 {
            continue;
        }
        println!("  unreadable: {bad} {what}");
        for why in REASONS {
            let n = count_unreadable(entries.iter().copied(), why);
            if n > 0 {
                println!("    {n} {}", reason(why).2);
            }
        }
    }
    if opts.list {
        println!(
            "  {:<8} {:<24}  {:<7}  {:<6}  QUERY",
            "ID", "CREATED (UTC)", "RETRIES", "TYPE"
        );
        let mut in_journal = false;
        for entry in &report.entries {
            if entry.journal && !in_journal {
                in_journal = true;
                println!("  journal:");
            }
            let (created_ms, id) = key_parts(&entry.key);
            match &entry.read {
                Ok(record) => println!(
                    "  {:<8} {:<24}  {:<7}  {:<6}  {}",
                    id,
                    iso8601(created_ms),
                    record.attempts,
                    kind_name(record.hit_type),
                    // A copied or tampered store may hold anything.
                    token(&record.query, &[])
                ),
                Err(why) => println!(
                    "  {:<8} {:<24}  {:<7}  {:<6}  (unreadable: {})",
                    id,
                    iso8601(created_ms),
                    "-",
                    "-",
                    reason(*why).1
                ),
            }
        }
    } else if !report.entries.is_empty() {
        println!("  (--list shows each hit)");
    }
}

fn entry_json(entry: &Entry) -> Value {
    let (created_ms, id) = key_parts(&entry.key);
    let mut value = json!({
        "id": id,
        "created": iso8601(created_ms),
        "created_ms": created_ms,
        "journal": entry.journal,
    });
    match &entry.read {
        Ok(record) => {
            value["retry_count"] = record.attempts.into();
            value["type"] = kind_name(record.hit_type).into();
            value["query"] = record.query.clone().into();
        }
        Err(why) => value["unreadable"] = reason(*why).0.into(),
    }
    value
}

fn kind_name(kind: HitKind) -> &'static str {
    match kind {
        HitKind::Screen => "screen",
        HitKind::Touch => "touch",
        HitKind::Custom => "custom",
    }
}
