//! Opening sled safely: damage found at open is reported and the damaged
//! files kept aside, never a crash and never a silent loss.
//!
//! - Files as a clean close left them: opened as they are.
//! - Files changed since the last clean close (truncated, overwritten): a
//!   copy is taken before sled's recovery touches them, hits are counted,
//!   a shortfall is reported and the copy kept.
//! - Files sled cannot read at all: moved aside as `store.corrupt-{ms}` and
//!   a fresh database opened in their place.
//! - An OS error (busy, no permission, disk full) says nothing about the
//!   files: it is a `Storage` error and the files are left alone.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::super::error::{Result, TrackerError};
use super::CLOSE_WAIT;
use super::clean_close::{CleanClose, copy_dir, fingerprint};
use super::rebuild;

/// Something worth telling the app about that did not stop the open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Warning(String),
    Error(String),
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::Warning(message) => write!(f, "warning: {message}"),
            Notice::Error(message) => write!(f, "error: {message}"),
        }
    }
}

const CORRUPT_MARK: &str = ".corrupt-";

/// An open sled database, and what opening it found.
pub struct Opened {
    pub db: sled::Db,
    pub notices: Vec<Notice>,
}

/// Opens `{path}/store`, checking it against the last clean close.
pub fn open_checked(path: &Path, cache_bytes: u64) -> Result<Opened> {
    let sled_dir = path.join("store");
    let closed = CleanClose::take(path);
    let suspect = closed
        .as_ref()
        .is_some_and(|c| fingerprint(&sled_dir) != c.files);
    let copy = suspect.then(|| {
        let copy = corrupt_path(&sled_dir);
        // Durable before anything is done to the original: a damaged store
        // may be deleted once this copy exists.
        let copied = copy_dir(&sled_dir, &copy)
            .map_err(TrackerError::storage)
            .and_then(|()| rebuild::sync_tree(&copy))
            .and_then(|()| rebuild::sync_dir(path));
        match copied {
            Ok(()) => Some(copy),
            Err(_) => {
                let _ = std::fs::remove_dir_all(&copy);
                None
            }
        }
    });
    let copy = copy.flatten();
    let mut opened = open_sled(&sled_dir, copy.as_deref(), cache_bytes)?;
    let replaced = !opened.notices.is_empty();
    if suspect && !replaced {
        let saved = closed.map(|c| c.counts).unwrap_or_default();
        let notices = check_counts(&opened.db, saved, copy.as_deref());
        opened.notices.extend(notices);
    }
    Ok(opened)
}

/// After damage, trust nothing saved: count every tracker's hits again
/// (and keep that count), and report any shortfall against the counts of
/// the last clean close. The copy of the damaged files is kept only then.
fn check_counts(db: &sled::Db, saved: BTreeMap<String, u64>, copy: Option<&Path>) -> Vec<Notice> {
    let mut notices = Vec::new();
    let mut names = super::hits::tracker_names(db);
    names.extend(
        saved
            .keys()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect::<Vec<_>>(),
    );
    for name in names {
        let Ok(tree) = db.open_tree(format!("hits/{name}")) else {
            continue;
        };
        let Ok(now) = super::hits::recount(&tree).map(|tally| tally.count()) else {
            continue;
        };
        let before = saved.get(&name).copied().unwrap_or(0);
        if now < before {
            notices.push(Notice::Error(format!(
                "the database was damaged since it was last closed: {} of {before} stored hit(s) \
                 of tracker `{name}` could not be recovered (damaged files kept in {})",
                before - now,
                copy.map_or("no copy: copying failed".into(), |p| p
                    .display()
                    .to_string())
            )));
        }
    }
    if notices.is_empty()
        && let Some(copy) = copy
    {
        let _ = std::fs::remove_dir_all(copy);
    }
    notices
}

/// sled keeps its default segment size (512 KiB): with smaller segments a
/// full disk leaves sled waiting forever in `flush` (measured; sled calls
/// the setting "testing-only"). The growth it allows in a store used as a
/// queue is given back by rebuilding at open (`rebuild`).
pub fn sled_config(path: &Path, cache_bytes: u64) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        // iOS and Android builds of sled have no background flusher: sync
        // ourselves everywhere so every platform behaves the same.
        .flush_every_ms(None)
}

/// Opens sled; a database it cannot read is moved aside and replaced, so the
/// app keeps tracking and the old files stay for inspection.
/// `copy`: a copy of the files already taken (they are then just replaced).
fn open_sled(path: &Path, copy: Option<&Path>, cache_bytes: u64) -> Result<Opened> {
    let open_with = |config: sled::Config| {
        // Holding `hitkit.lock`, a busy sled lock can only be an instance of
        // this process still finishing its close (sled ends some work on its
        // own threads): give it a moment.
        let give_up = Instant::now() + CLOSE_WAIT;
        loop {
            let opened = catch_unwind(AssertUnwindSafe(|| config.open()));
            match &opened {
                Ok(Err(sled::Error::Io(e))) if is_busy(e) && Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => return opened,
            }
        }
    };
    let reason = match open_with(sled_config(path, cache_bytes)) {
        Ok(Ok(db)) => {
            return Ok(Opened {
                db,
                notices: Vec::new(),
            });
        }
        Ok(Err(sled::Error::Io(e))) if is_busy(&e) => {
            let dir = path.parent().unwrap_or(path);
            return Err(TrackerError::StorageLocked {
                path: dir.display().to_string(),
            });
        }
        Ok(Err(sled::Error::Io(e))) if says_nothing_about_the_files(&e) => {
            return Err(TrackerError::storage(format!(
                "cannot open {}: {e}",
                path.display()
            )));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the database engine failed while reading it".to_owned(),
    };
    let aside = match copy {
        Some(copy) => {
            std::fs::remove_dir_all(path).map_err(|e| {
                TrackerError::storage(format!(
                    "database {} is unreadable ({reason}): {e}",
                    path.display()
                ))
            })?;
            copy.to_owned()
        }
        None => {
            let aside = corrupt_path(path);
            std::fs::rename(path, &aside).map_err(|e| {
                TrackerError::storage(format!(
                    "database {} is unreadable ({reason}) and cannot be moved aside: {e}",
                    path.display()
                ))
            })?;
            aside
        }
    };
    match open_with(sled_config(path, cache_bytes)) {
        Ok(Ok(db)) => Ok(Opened {
            db,
            notices: vec![Notice::Error(format!(
                "database {} was unreadable ({reason}); moved to {} and a fresh one opened",
                path.display(),
                aside.display()
            ))],
        }),
        Ok(Err(e)) => Err(TrackerError::storage(format!(
            "cannot open {}: {e}",
            path.display()
        ))),
        Err(_) => Err(TrackerError::storage(format!(
            "cannot open {}",
            path.display()
        ))),
    }
}

/// sled's own file lock is still held (by an instance of this process
/// finishing its close: sled lets go of its files on its own threads).
/// sled 0.34 says so as `WouldBlock`, or as `Other`, "could not acquire
/// lock on ...".
fn is_busy(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock
        || error.to_string().starts_with("could not acquire lock")
}

/// The system's state, not the files': the store is left where it is.
fn says_nothing_about_the_files(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    // EMFILE and ENFILE, on Linux, Android and Darwin alike.
    const TOO_MANY_OPEN_FILES: [i32; 2] = [24, 23];
    matches!(
        error.kind(),
        K::PermissionDenied
            | K::WouldBlock
            | K::StorageFull
            | K::ReadOnlyFilesystem
            | K::QuotaExceeded
            | K::ResourceBusy
            | K::Interrupted
            | K::OutOfMemory
    ) || error
        .raw_os_error()
        .is_some_and(|code| TOO_MANY_OPEN_FILES.contains(&code))
}

/// `{path}.corrupt-{ms}`, made unique if that name is taken.
fn corrupt_path(path: &Path) -> PathBuf {
    let stem = format!("{}{CORRUPT_MARK}{}", path.display(), super::super::now_ms());
    let mut candidate = PathBuf::from(&stem);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{stem}-{n}"));
        n += 1;
    }
    candidate
}

/// Deletes the damaged copies kept under `dir`: all of them, or those made
/// before `cutoff_ms`. Returns how many.
pub fn remove_damaged_copies(dir: &Path, cutoff_ms: Option<u64>) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(made_ms) = name
            .to_str()
            .and_then(|n| n.strip_prefix("store"))
            .and_then(|n| n.strip_prefix(CORRUPT_MARK))
            .and_then(|n| n.split('-').next())
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if cutoff_ms.is_none_or(|cutoff| made_ms < cutoff)
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sled holding its own lock (a closing instance of this process) is a
    /// busy store: it must never be taken for damage and moved aside.
    #[test]
    fn sleds_own_lock_is_busy_not_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let held = sled_config(&path, 1 << 20).open().unwrap();
        let error = match sled_config(&path, 1 << 20).open() {
            Err(sled::Error::Io(e)) => e,
            other => panic!("a second open: {other:?}"),
        };
        assert!(is_busy(&error), "{error}");
        drop(held);
    }
}
