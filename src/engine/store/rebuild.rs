//! Giving disk space back. sled never shrinks its files: a store that held
//! 100,000 hits keeps their size after they are sent. When the files are
//! far larger than the hits need, the database is copied into a fresh
//! directory and swapped in, at open.
//!
//! The swap survives a kill at any point:
//! 1. copy every tree into `store.rebuild`, sync it;
//! 2. rename `store` to `store.old`;
//! 3. rename `store.rebuild` to `store`, sync the directory;
//! 4. delete `store.old`.
//!
//! [`finish_interrupted`], at the next open, reads the state a kill left:
//! `store.rebuild` beside `store` is an unfinished copy (deleted);
//! `store.old` without `store` is a finished copy not yet in place
//! (renamed); `store.old` beside `store` is left over (deleted).

use std::path::Path;

use super::super::error::{Result, TrackerError};
use super::opening::sled_config;

const REBUILD: &str = "store.rebuild";
const OLD: &str = "store.old";
/// Rebuild when the files exceed this many times what the hits need.
const WORTH_IT: u64 = 4;
/// What a database needs whatever it holds, and what each hit needs:
/// generous figures for sled, so a rebuild happens only when it pays.
const BASE_NEED: u64 = 1 << 20;
const NEED_PER_HIT: u64 = 768;

/// Steps of a rebuild, to stop after one in crash tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Copied,
    MovedAside,
    Swapped,
}

/// Whether the files are worth compacting: far larger than the hits need.
pub fn pays(db: &sled::Db, sled_dir: &Path) -> bool {
    let files = super::dir_bytes(sled_dir);
    let hits: u64 = db
        .tree_names()
        .iter()
        .filter(|name| name.starts_with(b"hits/"))
        .filter_map(|name| db.open_tree(name).ok())
        .map(|tree| {
            tree.get([0x00])
                .ok()
                .flatten()
                .and_then(|v| v.get(..8).and_then(|c| <[u8; 8]>::try_from(c).ok()))
                .map_or(0, u64::from_be_bytes)
        })
        .sum();
    let need = BASE_NEED.saturating_add(hits.saturating_mul(NEED_PER_HIT));
    files > need.saturating_mul(WORTH_IT)
}

/// Copies `old` (the open database of `dir`/store) into a compact one and
/// swaps it in. `old` is closed on the way.
pub fn run(dir: &Path, old: sled::Db) -> Result<()> {
    run_until(dir, old, None)
}

/// [`run`], stopping (as a kill would) right after `stop` when given.
pub fn run_until(dir: &Path, old: sled::Db, stop: Option<Step>) -> Result<()> {
    let fresh_dir = dir.join(REBUILD);
    if fresh_dir.exists() {
        std::fs::remove_dir_all(&fresh_dir).map_err(TrackerError::storage)?;
    }
    copy(&old, &fresh_dir)?;
    drop(old);
    sync_tree(&fresh_dir)?;
    if stop == Some(Step::Copied) {
        return Ok(());
    }
    std::fs::rename(dir.join("store"), dir.join(OLD)).map_err(TrackerError::storage)?;
    if stop == Some(Step::MovedAside) {
        return Ok(());
    }
    std::fs::rename(&fresh_dir, dir.join("store")).map_err(TrackerError::storage)?;
    sync_dir(dir)?;
    if stop == Some(Step::Swapped) {
        return Ok(());
    }
    std::fs::remove_dir_all(dir.join(OLD)).map_err(TrackerError::storage)
}

fn copy(old: &sled::Db, to: &Path) -> Result<()> {
    let fresh = sled_config(to, 1 << 20)
        .open()
        .map_err(TrackerError::storage)?;
    for name in old.tree_names() {
        let from = old.open_tree(&name).map_err(TrackerError::storage)?;
        let into = fresh.open_tree(&name).map_err(TrackerError::storage)?;
        let entries = from.iter().map(|entry| {
            entry
                .map(|(key, value)| (key, value.to_vec()))
                .map_err(TrackerError::storage)
        });
        super::hits::apply_in_batches(&into, entries)?;
    }
    fresh.flush().map_err(TrackerError::storage)?;
    Ok(())
}

/// Puts right what a kill during [`run`] left (see the module's docs).
pub fn finish_interrupted(dir: &Path) -> Result<()> {
    let store = dir.join("store");
    let fresh = dir.join(REBUILD);
    let old = dir.join(OLD);
    if old.exists() && !store.exists() && fresh.exists() {
        std::fs::rename(&fresh, &store).map_err(TrackerError::storage)?;
        sync_dir(dir)?;
    }
    if old.exists() && store.exists() {
        std::fs::remove_dir_all(&old).map_err(TrackerError::storage)?;
    }
    if fresh.exists() && store.exists() {
        std::fs::remove_dir_all(&fresh).map_err(TrackerError::storage)?;
    }
    Ok(())
}

/// sled's own flush is not an fsync on Linux: sync every file ourselves.
pub(super) fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(TrackerError::storage)? {
        let entry = entry.map_err(TrackerError::storage)?;
        if entry.file_type().map_err(TrackerError::storage)?.is_dir() {
            sync_tree(&entry.path())?;
        } else {
            std::fs::File::open(entry.path())
                .and_then(|f| f.sync_all())
                .map_err(TrackerError::storage)?;
        }
    }
    sync_dir(dir)
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TrackerError::storage)
}
