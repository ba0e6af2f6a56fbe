//! What a clean close leaves beside the database, so the next open can tell
//! damage from a crash.
//!
//! `hitkit.closed` (JSON) holds each tracker's hit count and the size and
//! modification time of every file of the sled database, taken after the
//! last sync. Opening reads it and deletes it at once, so after a crash it
//! is simply absent (the counts kept in the trees are exact after a crash).
//!
//! Files changed since a clean close (truncated, overwritten, damaged): the
//! database is copied aside before sled's recovery touches it, and hits are
//! counted again; a shortfall against these counts is reported and the copy
//! kept. The record is only ever compared with, never trusted as a count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "hitkit.closed";

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CleanClose {
    /// Tracker name → stored hits.
    pub counts: BTreeMap<String, u64>,
    /// Path relative to the sled directory → (length, mtime in ns).
    pub files: BTreeMap<String, (u64, u128)>,
}

impl CleanClose {
    /// Reads and removes the record left by the last clean close.
    pub fn take(dir: &Path) -> Option<CleanClose> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).ok()?;
        std::fs::remove_file(&path).ok()?;
        CleanClose::parse(&bytes)
    }

    /// The record from its bytes; anything malformed is no record.
    pub fn parse(bytes: &[u8]) -> Option<CleanClose> {
        serde_json::from_slice(bytes).ok()
    }

    /// Written last, after the final flush; a rename makes it all-or-nothing.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let temp = dir.join(format!("{FILE_NAME}.tmp"));
        std::fs::write(&temp, json)?;
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::rename(temp, dir.join(FILE_NAME))
    }
}

/// Every file under the sled directory with its length and modification time.
pub fn fingerprint(sled_dir: &Path) -> BTreeMap<String, (u64, u128)> {
    let mut files = BTreeMap::new();
    let mut pending: Vec<PathBuf> = vec![sled_dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                pending.push(path);
                continue;
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let name = path
                .strip_prefix(sled_dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            files.insert(name, (meta.len(), modified));
        }
    }
    files
}

/// Copies a directory tree (the suspect database, before sled opens it).
/// sled makes only files and directories: anything else (a symlink planted
/// in a tampered store, say to `/dev/zero`) is not followed.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_takes_files_and_directories_and_follows_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("store");
        std::fs::create_dir_all(from.join("blobs")).unwrap();
        std::fs::write(from.join("db"), b"log").unwrap();
        std::fs::write(from.join("blobs").join("1"), b"blob").unwrap();
        std::os::unix::fs::symlink("/dev/zero", from.join("planted")).unwrap();
        let to = dir.path().join("copy");
        copy_dir(&from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("db")).unwrap(), b"log");
        assert_eq!(std::fs::read(to.join("blobs").join("1")).unwrap(), b"blob");
        assert!(std::fs::symlink_metadata(to.join("planted")).is_err());
    }
}
