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

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::codec::{Codec, Record};
use super::error::{Error, Result};
use super::events::lock;
use super::hit::{self, HitKind};

/// sled's page cache; its memory use runs well above this, so keep it small.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// How long opening waits for a tracker of this process that is closing.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

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
    _lock: File,
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
        let (db, notices) = open_sled(&path.join("store"))?;
        let database = Arc::new(Database {
            db,
            path: path.clone(),
            stores: Mutex::new(HashMap::new()),
            _lock: lock_file,
        });
        open.retain(|_, weak| weak.strong_count() > 0);
        open.insert(path, Arc::downgrade(&database));
        Ok((database, notices))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hit store of tracker `name`, shared by every tracker of that name.
    /// On its first open in this process, hits left in the in-flight journal
    /// by an earlier process become stored hits.
    pub fn hit_store(&self, name: &str) -> Result<(Arc<HitStore>, Vec<Notice>)> {
        self.open_hit_store(name, None)
    }

    /// Like [`Database::hit_store`], reading and writing with `codec`'s key
    /// (journaled hits sealed with it are recovered with it).
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
            if let Some(codec) = codec {
                store.set_codec(codec);
            }
            return Ok((store.clone(), Vec::new()));
        }
        let codec = codec.unwrap_or_default();
        let tree = |prefix: &str| {
            self.db
                .open_tree(format!("{prefix}/{name}"))
                .map_err(Error::storage)
        };
        let store = Arc::new(HitStore {
            hits: tree("hits")?,
            journal: tree("journal")?,
            db: self.db.clone(),
            codec: RwLock::new(Arc::new(codec)),
            count: AtomicU64::new(0),
            unreadable: AtomicU64::new(0),
        });
        store.count.store(store.hits.len() as u64, Ordering::SeqCst);
        let recovered = store.recover_journal()?;
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
        self.db.flush().map(drop).map_err(Error::storage)
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
fn open_sled(path: &Path) -> Result<(sled::Db, Vec<Notice>)> {
    let open = || {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            // iOS and Android builds of sled have no background flusher: flush
            // ourselves everywhere so every platform behaves the same.
            .flush_every_ms(None);
        catch_unwind(AssertUnwindSafe(|| config.open()))
    };
    let reason = match open() {
        Ok(Ok(db)) => return Ok((db, Vec::new())),
        Ok(Err(sled::Error::Io(e))) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Error::storage(format!(
                "cannot open {}: {e}",
                path.display()
            )));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the database engine failed while reading it".to_owned(),
    };
    let aside = PathBuf::from(format!("{}.corrupt-{}", path.display(), super::now_ms()));
    std::fs::rename(path, &aside).map_err(|e| {
        Error::storage(format!(
            "database {} is unreadable ({reason}) and cannot be moved aside: {e}",
            path.display()
        ))
    })?;
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

pub struct HitStore {
    hits: sled::Tree,
    journal: sled::Tree,
    db: sled::Db,
    codec: RwLock<Arc<Codec>>,
    /// sled's `len` walks the whole tree; this is kept exact instead by
    /// counting only inserts that created a key and removes that found one.
    count: AtomicU64,
    /// Values found unreadable (and deleted) since the worker last asked.
    unreadable: AtomicU64,
}

impl HitStore {
    pub fn len(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits stored from now on are sealed with this codec's key, if any.
    pub fn set_codec(&self, codec: Codec) {
        *self.codec.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(codec);
    }

    fn codec(&self) -> Arc<Codec> {
        self.codec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn insert(&self, created_ms: u64, kind: HitKind, url: String) -> Result<StoredHit> {
        let id = self.db.generate_id().map_err(Error::storage)?;
        let key = make_key(created_ms, id);
        let record = Record {
            url,
            created_ms,
            retry_count: 0,
            kind,
        };
        let value = self.codec().encode(&record)?;
        if self
            .hits
            .insert(key, value)
            .map_err(Error::storage)?
            .is_none()
        {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        Ok(stored_hit(key, record))
    }

    /// The first readable hit after `after` (or the oldest), in creation
    /// order. Unreadable values met on the way are deleted and counted.
    pub fn next_after(&self, after: Option<&Key>) -> Result<Option<StoredHit>> {
        let codec = self.codec();
        let mut cursor = after.copied();
        loop {
            let entry = match &cursor {
                Some(key) => self.hits.get_gt(key),
                None => self.hits.first(),
            };
            let Some((key, value)) = entry.map_err(Error::storage)? else {
                return Ok(None);
            };
            let Ok(key) = Key::try_from(key.as_ref()) else {
                self.discard(&key)?;
                continue;
            };
            match codec.decode(&value) {
                Some(record) => return Ok(Some(stored_hit(key, record))),
                None => {
                    self.discard(&key)?;
                    cursor = Some(key);
                }
            }
        }
    }

    fn discard(&self, key: &[u8]) -> Result<()> {
        if self.hits.remove(key).map_err(Error::storage)?.is_some() {
            self.count.fetch_sub(1, Ordering::SeqCst);
            self.unreadable.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// How many unreadable hits were deleted since the last call.
    pub fn take_unreadable(&self) -> u64 {
        self.unreadable.swap(0, Ordering::SeqCst)
    }

    pub fn oldest(&self) -> Result<Option<StoredHit>> {
        self.readable(self.hits.iter()).next().transpose()
    }

    pub fn latest(&self) -> Result<Option<StoredHit>> {
        self.readable(self.hits.iter().rev()).next().transpose()
    }

    /// Every readable hit, oldest first (unreadable ones are left for the
    /// next pass to delete and report).
    pub fn all(&self) -> Result<Vec<StoredHit>> {
        self.readable(self.hits.iter()).collect()
    }

    fn readable<'a>(
        &self,
        entries: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a,
    ) -> impl Iterator<Item = Result<StoredHit>> + 'a {
        let codec = self.codec();
        entries.filter_map(move |entry| match entry {
            Err(e) => Some(Err(Error::storage(e))),
            Ok((key, value)) => {
                let key = Key::try_from(key.as_ref()).ok()?;
                codec
                    .decode(&value)
                    .map(|record| Ok(stored_hit(key, record)))
            }
        })
    }

    /// Returns whether the hit was still there.
    pub fn remove(&self, key: &Key) -> Result<bool> {
        let removed = self.hits.remove(key).map_err(Error::storage)?.is_some();
        if removed {
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(removed)
    }

    /// Counts one attempt. Returns the new count, or `None` if the hit was
    /// deleted meanwhile (it is not brought back).
    pub fn record_attempt(&self, key: &Key) -> Result<Option<u32>> {
        let codec = self.codec();
        let mut attempts = None;
        self.hits
            .fetch_and_update(key, |old| {
                let old = old?;
                let Some(mut record) = codec.decode(old) else {
                    return Some(old.to_vec());
                };
                record.retry_count += 1;
                let new = codec.encode(&record).ok()?;
                attempts = Some(record.retry_count);
                Some(new)
            })
            .map_err(Error::storage)?;
        Ok(attempts)
    }

    /// Deletes the oldest hit (to make room under a count limit).
    pub fn pop_oldest(&self) -> Result<Option<StoredHit>> {
        let Some((key, value)) = self.hits.pop_min().map_err(Error::storage)? else {
            return Ok(None);
        };
        self.count.fetch_sub(1, Ordering::SeqCst);
        let key = Key::try_from(key.as_ref()).unwrap_or_default();
        Ok(self
            .codec()
            .decode(&value)
            .map(|record| stored_hit(key, record)))
    }

    /// Deletes every hit created before `cutoff_ms`; returns how many.
    pub fn delete_created_before(&self, cutoff_ms: u64) -> Result<u64> {
        let end = make_key(cutoff_ms, 0);
        let keys: Vec<_> = self
            .hits
            .range(..end)
            .keys()
            .collect::<std::result::Result<_, _>>()
            .map_err(Error::storage)?;
        self.remove_keys(keys)
    }

    pub fn delete_all(&self) -> Result<u64> {
        let keys: Vec<_> = self
            .hits
            .iter()
            .keys()
            .collect::<std::result::Result<_, _>>()
            .map_err(Error::storage)?;
        self.remove_keys(keys)
    }

    fn remove_keys(&self, keys: Vec<sled::IVec>) -> Result<u64> {
        let mut removed = 0;
        for key in keys {
            if self.hits.remove(&key).map_err(Error::storage)?.is_some() {
                self.count.fetch_sub(1, Ordering::SeqCst);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Notes a hit about to be sent live, so a crash mid-send keeps it.
    pub fn journal_add(&self, created_ms: u64, kind: HitKind, url: &str) -> Result<u64> {
        let id = self.db.generate_id().map_err(Error::storage)?;
        let record = Record {
            url: url.to_owned(),
            created_ms,
            retry_count: 0,
            kind,
        };
        let value = self.codec().encode(&record)?;
        self.journal
            .insert(id.to_be_bytes(), value)
            .map_err(Error::storage)?;
        Ok(id)
    }

    pub fn journal_remove(&self, id: u64) -> Result<()> {
        self.journal
            .remove(id.to_be_bytes())
            .map(drop)
            .map_err(Error::storage)
    }

    /// Turns journaled hits of an earlier process into stored hits.
    fn recover_journal(&self) -> Result<u64> {
        let codec = self.codec();
        let olt = super::now_ms() as f64 / 1000.0;
        let mut recovered = 0;
        for entry in self.journal.iter() {
            let (key, value) = entry.map_err(Error::storage)?;
            match codec.decode(&value) {
                Some(record) => {
                    self.insert(
                        record.created_ms,
                        record.kind,
                        hit::to_offline(&record.url, olt),
                    )?;
                    recovered += 1;
                }
                None => {
                    self.unreadable.fetch_add(1, Ordering::SeqCst);
                }
            }
            self.journal.remove(key).map_err(Error::storage)?;
        }
        Ok(recovered)
    }
}

fn make_key(created_ms: u64, id: u64) -> Key {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&created_ms.to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

fn stored_hit(key: Key, record: Record) -> StoredHit {
    let mut id = [0u8; 8];
    id.copy_from_slice(&key[8..]);
    StoredHit {
        key,
        id: u64::from_be_bytes(id),
        url: record.url,
        created_ms: record.created_ms,
        retry_count: record.retry_count,
        kind: record.kind,
    }
}
