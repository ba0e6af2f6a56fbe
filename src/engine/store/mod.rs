//! The on-device store: one sled database per path per process, one tree of
//! hits per tracker name (docs/adr/0004-store.md says why it is built so).
//!
//! Layout under `databasePath`:
//! - `hitkit.lock`: held for the process's life; a second process gets `StorageLocked`.
//! - `store/`: the sled database. Trees: `hits/{name}` ([`hits`]) and `meta`
//!   ([`meta`]: visitor id, key marker, opt-out).
//! - `hitkit.closed`: left by a clean close ([`clean_close`]).
//! - `store.corrupt-{ms}`: a damaged database, kept aside for inspection.
//! - `store.rebuild`, `store.old`: only while [`rebuild`] compacts the files.
//!
//! Nothing here flushes by itself: the worker group-commits with
//! [`Database::sync`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

pub mod clean_close;
pub mod hits;
pub mod keyring;
pub mod meta;
mod opening;
pub mod rebuild;
pub mod record;

pub use hits::{Applied, Changes, Claim, Claims, HitStore, Key, StoredHit};
pub use opening::Notice;

use clean_close::{CleanClose, fingerprint};

use super::error::{Result, TrackerError};
use super::lock;
use super::secret::EncryptionKey;
use keyring::{KeyState, Keyring};

/// sled's page cache; its memory use runs well above this, so keep it small.
const CACHE_BYTES: u64 = 2 * 1024 * 1024;

/// How long opening waits for a tracker of this process that is closing.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The least a stored hit takes in sled's files: its 16-byte key and a
/// 3-byte record. A saved count above `file bytes / this` cannot be right.
const MIN_HIT_BYTES: u64 = 19;

static OPEN_DATABASES: LazyLock<Mutex<HashMap<PathBuf, Weak<Database>>>> =
    LazyLock::new(Default::default);

pub struct Database {
    db: sled::Db,
    path: PathBuf,
    stores: Mutex<HashMap<String, Arc<HitStore>>>,
    meta: meta::Meta,
    keyring: Arc<Keyring>,
    /// sled's log file. On Linux sled makes its writes stable with
    /// `sync_file_range`, which neither flushes the drive's cache nor the
    /// file's metadata; an fsync of our own makes "saved" mean saved.
    /// (sled calls fsync itself on every other platform, Android included.)
    #[cfg(target_os = "linux")]
    log: Option<File>,
    _lock: File,
}

impl Drop for Database {
    /// A clean close: sync, then save the counts and the files' fingerprint.
    /// Skipped if a hit store is still used elsewhere (its count could move).
    fn drop(&mut self) {
        let stores = lock(&self.stores);
        if stores.values().any(|store| Arc::strong_count(store) > 1) || self.sync().is_err() {
            return;
        }
        let closed = CleanClose {
            counts: stores
                .iter()
                .map(|(name, store)| (name.clone(), store.len()))
                .collect(),
            files: fingerprint(&self.path.join("store")),
        };
        let _ = closed.save(&self.path);
    }
}

impl Database {
    /// Opens (or joins, within this process) the database under `path`.
    pub fn open(path: &Path) -> Result<(Arc<Database>, Vec<Notice>)> {
        if path.exists() && !path.is_dir() {
            return Err(TrackerError::storage(format!(
                "database path {} is a file, not a directory",
                path.display()
            )));
        }
        create_private_dir(path).map_err(|e| {
            TrackerError::storage(format!(
                "cannot create database directory {}: {e}",
                path.display()
            ))
        })?;
        let path = path.canonicalize().map_err(|e| {
            TrackerError::storage(format!(
                "cannot resolve database path {}: {e}",
                path.display()
            ))
        })?;

        let open = lock(&OPEN_DATABASES);
        if let Some(db) = open.get(&path).and_then(Weak::upgrade) {
            return Ok((db, Vec::new()));
        }
        // A tracker of this process that is closing may still hold the lock
        // for a moment: wait for it rather than report another process.
        let closing = open.contains_key(&path);
        let lock_file = take_lock(&path, if closing { CLOSE_WAIT } else { Duration::ZERO })?;
        rebuild::finish_interrupted(&path)?;
        let opened = opening::open_checked(&path, CACHE_BYTES)?;
        let sled_dir = path.join("store");
        if rebuild::pays(&opened.db, &sled_dir) {
            let mut notices = opened.notices;
            if let Err(e) = rebuild::run(&path, opened.db) {
                // Most likely a disk too full for the copy: the files as
                // they are still work, and the next open tries again.
                rebuild::finish_interrupted(&path)?;
                notices.push(Notice::Warning(format!(
                    "the store's files could not be compacted ({e}): used as they are"
                )));
            }
            let again = opening::open_checked(&path, CACHE_BYTES)?;
            notices.extend(again.notices);
            return Self::finish_open(open, path, again.db, notices, lock_file);
        }
        Self::finish_open(open, path, opened.db, opened.notices, lock_file)
    }

    fn finish_open(
        mut open: std::sync::MutexGuard<'_, HashMap<PathBuf, Weak<Database>>>,
        path: PathBuf,
        db: sled::Db,
        notices: Vec<Notice>,
        lock_file: File,
    ) -> Result<(Arc<Database>, Vec<Notice>)> {
        let database = Arc::new(Database {
            meta: meta::Meta::open(&db)?,
            keyring: Arc::default(),
            #[cfg(target_os = "linux")]
            log: File::open(path.join("store").join("db")).ok(),
            db,
            path: path.clone(),
            stores: Mutex::new(HashMap::new()),
            _lock: lock_file,
        });
        // Dead entries stay (a path each): one whose database is still in its
        // `Drop` must keep telling the next open to wait for the lock.
        open.insert(path, Arc::downgrade(&database));
        Ok((database, notices))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn meta(&self) -> &meta::Meta {
        &self.meta
    }

    /// The hit store of tracker `name`, shared by every tracker of that
    /// name in this process.
    pub fn hit_store(&self, name: &str) -> Result<(Arc<HitStore>, Vec<Notice>)> {
        let mut stores = lock(&self.stores);
        if let Some(store) = stores.get(name) {
            return Ok((store.clone(), Vec::new()));
        }
        let max_plausible = dir_bytes(&self.path.join("store")) / MIN_HIT_BYTES + 1;
        let (store, notice) = HitStore::open(&self.db, name, self.keyring.clone(), max_plausible)?;
        stores.insert(name.to_owned(), store.clone());
        Ok((store, notice.into_iter().map(Notice::Error).collect()))
    }

    /// Applies a tracker's encryption key to the database (see [`keyring`]).
    pub fn use_key(&self, key: Option<&EncryptionKey>) -> Result<KeyState> {
        self.keyring.use_key(key, &self.meta, &self.db)
    }

    /// Turns encryption off (the app set an empty `encryptionKey`).
    pub fn turn_encryption_off(&self) -> Result<()> {
        self.keyring.turn_off(&self.meta, &self.db)
    }

    /// The visitor id (`identifier` = `uuid`); `None` while the store is
    /// encrypted and locked.
    pub fn visitor_id(&self) -> Result<Option<String>> {
        let codec = self.keyring.codec();
        self.meta
            .visitor_id(codec.sealer().map(|s| &**s), codec.encrypted_store())
    }

    /// Every tracker name with hits in this database.
    pub fn tracker_names(&self) -> Vec<String> {
        hits::tracker_names(&self.db)
    }

    /// Makes every write so far durable. Blocking: the worker calls it.
    pub fn sync(&self) -> Result<()> {
        self.db.flush().map_err(TrackerError::storage)?;
        #[cfg(target_os = "linux")]
        if let Some(log) = &self.log {
            log.sync_data().map_err(TrackerError::storage)?;
        }
        // sled frees its used 512 KiB log buffers through this thread's
        // epoch garbage, 64 at a time: handing it over now keeps them from
        // piling up (measured: 32 MB of them at the peak of 100,000 hits).
        crossbeam_epoch::pin().flush();
        Ok(())
    }

    /// Deletes every tracker's hits and journal (the user opted out).
    /// Stores open in this process are emptied in place.
    pub fn erase_hits(&self) -> Result<()> {
        for name in self.tracker_names() {
            let (store, _) = self.hit_store(&name)?;
            store.erase()?;
        }
        Ok(())
    }

    /// Forgets the user: every tracker's hits and journal, the visitor id,
    /// and the damaged copies kept aside.
    pub fn erase_all(&self) -> Result<()> {
        self.erase_hits()?;
        self.meta.forget_visitor()?;
        self.sync()?;
        opening::remove_damaged_copies(&self.path, None);
        Ok(())
    }

    /// Removes damaged copies older than `cutoff_ms` (the age limit).
    pub fn expire_damaged_copies(&self, cutoff_ms: u64) -> usize {
        opening::remove_damaged_copies(&self.path, Some(cutoff_ms))
    }
}

/// Bytes in a directory tree (sled's files).
pub fn dir_bytes(dir: &Path) -> u64 {
    fingerprint(dir).values().map(|(len, _)| len).sum()
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn take_lock(dir: &Path, patience: Duration) -> Result<File> {
    let path = dir.join("hitkit.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| TrackerError::storage(format!("cannot write in {}: {e}", dir.display())))?;
    let give_up = Instant::now() + patience;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(TrackerError::StorageLocked {
                    path: dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(TrackerError::storage(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
    }
}
