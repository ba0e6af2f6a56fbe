//! The on-device store: one sled database per path per process, one tree of
//! hits (and one in-flight journal) per tracker name.
//!
//! Layout under `databasePath`:
//! - `hitkit.lock`: held for the process's life; a second process gets `StorageLocked`.
//! - `store/`: the sled database. Trees: `hits/{name}`, `journal/{name}`, `meta`.
//!
//! Hits are keyed `[created_ms: u64 BE][id: u64 BE]`, so iteration order is
//! creation order, and valued as JSON. Nothing here flushes by itself: the
//! worker group-commits with [`Database::flush`].

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

mod clean_close;
mod hits;

pub use hits::{Claim, Claims, HitStore};

use clean_close::{CleanClose, copy_dir, fingerprint};

use super::codec::Codec;
use super::error::{Error, Result};
use super::events::lock;
use super::hit::HitKind;

/// sled's page cache; its memory use runs well above this, so keep it small.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// How long opening waits for a tracker of this process that is closing.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

pub type Key = [u8; 16];

#[derive(Debug, Clone, PartialEq)]
pub struct StoredHit {
    pub key: Key,
    pub id: u64,
    pub url: String,
    pub created_ms: u64,
    pub retry_count: u32,
    pub kind: HitKind,
}

static OPEN_DATABASES: LazyLock<Mutex<HashMap<PathBuf, Weak<Database>>>> =
    LazyLock::new(Default::default);

pub struct Database {
    db: sled::Db,
    path: PathBuf,
    stores: Mutex<HashMap<String, Arc<HitStore>>>,
    /// Hit counts saved by the last clean close, used once per tracker name.
    saved_counts: Mutex<BTreeMap<String, u64>>,
    /// sled's log file. On Linux sled makes its writes stable with
    /// `sync_file_range`, which neither flushes the drive's cache nor the
    /// file's metadata; an fsync of our own makes "saved" mean saved.
    /// (sled calls fsync itself on every other platform, Android included.)
    #[cfg(target_os = "linux")]
    log: Option<File>,
    _lock: File,
}

impl Drop for Database {
    /// A clean close: flush, then save the counts and the files' fingerprint.
    /// Skipped if a hit store is still used elsewhere (its count could move).
    fn drop(&mut self) {
        let stores = lock(&self.stores);
        if stores.values().any(|store| Arc::strong_count(store) > 1) || self.flush().is_err() {
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

/// After damage, trust nothing saved: count every tracker's hits and report
/// any shortfall. The copy of the damaged files is kept only then.
fn check_counts(
    db: &sled::Db,
    saved: &mut BTreeMap<String, u64>,
    copy: Option<&Path>,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    for (name, before) in std::mem::take(saved) {
        let now = HitStore::count_hits(db, &name).unwrap_or(0);
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

impl Database {
    /// Opens (or joins, within this process) the database under `path`.
    pub fn open(path: &Path) -> Result<(Arc<Database>, Vec<Notice>)> {
        if path.exists() && !path.is_dir() {
            return Err(Error::storage(format!(
                "database path {} is a file, not a directory",
                path.display()
            )));
        }
        create_private_dir(path).map_err(|e| {
            Error::storage(format!(
                "cannot create database directory {}: {e}",
                path.display()
            ))
        })?;
        let path = path.canonicalize().map_err(|e| {
            Error::storage(format!(
                "cannot resolve database path {}: {e}",
                path.display()
            ))
        })?;

        let mut open = lock(&OPEN_DATABASES);
        if let Some(db) = open.get(&path).and_then(Weak::upgrade) {
            return Ok((db, Vec::new()));
        }
        // A tracker of this process that is closing may still hold the lock
        // for a moment: wait for it rather than report another process.
        let closing = open.contains_key(&path);
        let lock_file = take_lock(&path, if closing { CLOSE_WAIT } else { Duration::ZERO })?;
        let sled_dir = path.join("store");
        let closed = CleanClose::take(&path);
        // Files changed since the last clean close: keep a copy before
        // sled's recovery rewrites them, until the counts say all is well.
        let suspect = closed
            .as_ref()
            .is_some_and(|c| fingerprint(&sled_dir) != c.files);
        let copy = match suspect {
            true => {
                let copy = corrupt_path(&sled_dir);
                match copy_dir(&sled_dir, &copy) {
                    Ok(()) => Some(copy),
                    Err(_) => {
                        let _ = std::fs::remove_dir_all(&copy);
                        None
                    }
                }
            }
            false => None,
        };
        let (db, mut notices) = open_sled(&sled_dir, copy.as_deref())?;
        let unreadable = !notices.is_empty();
        let mut saved_counts = closed.map(|c| c.counts).unwrap_or_default();
        if suspect && !unreadable {
            notices.extend(check_counts(&db, &mut saved_counts, copy.as_deref()));
        }
        if unreadable {
            saved_counts.clear();
        }
        let database = Arc::new(Database {
            db,
            path: path.clone(),
            stores: Mutex::new(HashMap::new()),
            saved_counts: Mutex::new(saved_counts),
            #[cfg(target_os = "linux")]
            log: File::open(sled_dir.join("db")).ok(),
            _lock: lock_file,
        });
        // Dead entries stay (a path each): one whose database is still in its
        // `Drop` must keep telling the next open to wait for the lock.
        open.insert(path, Arc::downgrade(&database));
        Ok((database, notices))
    }

    /// The hit store of tracker `name`, shared by every tracker of that name.
    /// On its first open in this process, hits left in the in-flight journal
    /// by an earlier process become stored hits.
    pub fn hit_store(&self, name: &str) -> Result<(Arc<HitStore>, Vec<Notice>)> {
        self.open_hit_store(name, None)
    }

    /// Like [`Database::hit_store`], opening with `codec`'s key (journaled
    /// hits sealed with it are recovered with it). A store already open keeps
    /// its codec: only its owner may change it ([`HitStore::set_codec`]).
    pub fn hit_store_with(&self, name: &str, codec: Codec) -> Result<(Arc<HitStore>, Vec<Notice>)> {
        self.open_hit_store(name, Some(codec))
    }

    fn open_hit_store(
        &self,
        name: &str,
        codec: Option<Codec>,
    ) -> Result<(Arc<HitStore>, Vec<Notice>)> {
        let mut stores = lock(&self.stores);
        if let Some(store) = stores.get(name) {
            return Ok((store.clone(), Vec::new()));
        }
        let saved_count = lock(&self.saved_counts).remove(name);
        let (store, recovered) =
            HitStore::open(&self.db, name, codec.unwrap_or_default(), saved_count)?;
        let mut notices = Vec::new();
        if recovered > 0 {
            notices.push(Notice::Warning(format!(
                "{recovered} hit(s) in flight when the app last stopped were stored"
            )));
        }
        stores.insert(name.to_owned(), store.clone());
        Ok((store, notices))
    }

    /// The visitor id used when `identifier` is `uuid`: made once, then kept.
    pub fn visitor_uuid(&self) -> Result<String> {
        let meta = self.db.open_tree("meta").map_err(Error::storage)?;
        if let Some(id) = meta.get("idclient").map_err(Error::storage)?
            && let Ok(id) = String::from_utf8(id.to_vec())
        {
            return Ok(id);
        }
        let id = new_uuid_v4();
        meta.insert("idclient", id.as_bytes())
            .map_err(Error::storage)?;
        self.flush()?;
        Ok(id)
    }

    /// Makes every write so far durable. Blocking: call it off the caller's thread.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map_err(Error::storage)?;
        #[cfg(target_os = "linux")]
        if let Some(log) = &self.log {
            log.sync_data().map_err(Error::storage)?;
        }
        Ok(())
    }
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
        .map_err(|e| Error::storage(format!("cannot write in {}: {e}", dir.display())))?;
    let give_up = Instant::now() + patience;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::StorageLocked {
                    path: dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::storage(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

/// Opens sled; a database it cannot read is moved aside and replaced, so the
/// app keeps tracking and the old files stay for inspection.
/// `copy`: a copy of the files already taken (they are then just replaced).
fn open_sled(path: &Path, copy: Option<&Path>) -> Result<(sled::Db, Vec<Notice>)> {
    let open = || {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            // iOS and Android builds of sled have no background flusher: flush
            // ourselves everywhere so every platform behaves the same.
            .flush_every_ms(None);
        // Holding `hitkit.lock`, a busy sled lock can only be an instance of
        // this process still finishing its close (sled ends some work on its
        // own threads): give it a moment.
        let give_up = Instant::now() + CLOSE_WAIT;
        loop {
            let opened = catch_unwind(AssertUnwindSafe(|| config.open()));
            match &opened {
                Ok(Err(sled::Error::Io(e)))
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < give_up =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => return opened,
            }
        }
    };
    let reason = match open() {
        Ok(Ok(db)) => return Ok((db, Vec::new())),
        // The OS saying busy, no permission, disk full says nothing about
        // the files: report it and leave them alone.
        Ok(Err(sled::Error::Io(e))) if says_nothing_about_the_files(&e) => {
            return Err(Error::storage(format!(
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
                Error::storage(format!(
                    "database {} is unreadable ({reason}): {e}",
                    path.display()
                ))
            })?;
            copy.to_owned()
        }
        None => {
            let aside = corrupt_path(path);
            std::fs::rename(path, &aside).map_err(|e| {
                Error::storage(format!(
                    "database {} is unreadable ({reason}) and cannot be moved aside: {e}",
                    path.display()
                ))
            })?;
            aside
        }
    };
    match open() {
        Ok(Ok(db)) => Ok((
            db,
            vec![Notice::Error(format!(
                "database {} was unreadable ({reason}); moved to {} and a fresh one opened",
                path.display(),
                aside.display()
            ))],
        )),
        Ok(Err(e)) => Err(Error::storage(format!(
            "cannot open {}: {e}",
            path.display()
        ))),
        Err(_) => Err(Error::storage(format!("cannot open {}", path.display()))),
    }
}

fn says_nothing_about_the_files(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    const TOO_MANY_OPEN_FILES: i32 = 24; // EMFILE, on Linux, Android and Darwin alike
    matches!(
        error.kind(),
        K::PermissionDenied
            | K::WouldBlock
            | K::StorageFull
            | K::ReadOnlyFilesystem
            | K::QuotaExceeded
    ) || error.raw_os_error() == Some(TOO_MANY_OPEN_FILES)
}

/// `{path}.corrupt-{ms}`, made unique if that name is taken.
fn corrupt_path(path: &Path) -> PathBuf {
    let stem = format!("{}.corrupt-{}", path.display(), super::now_ms());
    let mut candidate = PathBuf::from(&stem);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{stem}-{n}"));
        n += 1;
    }
    candidate
}

fn new_uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: time and address still make a usable visitor id.
        let seed = super::now_ms() as u128 ^ ((&bytes as *const _ as usize as u128) << 64);
        bytes = seed.to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
