//! One tracker's hits in the database: a `hits/{name}` tree in creation
//! order, its in-flight journal, and an exact count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::super::codec::{Codec, Record};
use super::super::error::{Error, Result};
use super::super::events::lock;
use super::super::hit::{self, HitKind};
use super::{Key, StoredHit};

pub struct HitStore {
    hits: sled::Tree,
    journal: sled::Tree,
    db: sled::Db,
    codec: RwLock<Arc<Codec>>,
    /// sled's `len` walks the whole tree; this is kept exact instead by
    /// counting only inserts that created a key and removes that found one.
    count: AtomicU64,
    /// Unreadable values met since the worker last asked.
    unreadable: AtomicU64,
    /// The one tracker, and its worker, that may change these hits.
    owner: Mutex<Owner>,
}

#[derive(Default)]
struct Owner {
    tracker: Weak<Claim>,
    worker: Weak<Claim>,
}

/// Held by a tracker (and another by its worker) for as long as it owns a
/// hit store: two workers on one store could send a hit twice.
pub struct Claim;

/// Both halves of a claim: the tracker's and its worker's.
pub struct Claims {
    pub tracker: Arc<Claim>,
    pub worker: Arc<Claim>,
}

impl HitStore {
    /// `count`: the count saved at the last clean close, if it can be
    /// trusted; otherwise the hits are counted (a walk of the whole tree).
    /// Hits left in the journal by an earlier process become stored hits;
    /// returns how many.
    pub(super) fn open(
        db: &sled::Db,
        name: &str,
        codec: Codec,
        count: Option<u64>,
    ) -> Result<(Arc<HitStore>, u64)> {
        let tree = |prefix: &str| {
            db.open_tree(format!("{prefix}/{name}"))
                .map_err(Error::storage)
        };
        let hits = tree("hits")?;
        let count = count.unwrap_or_else(|| hits.len() as u64);
        let store = HitStore {
            hits,
            journal: tree("journal")?,
            db: db.clone(),
            codec: RwLock::new(Arc::new(codec)),
            count: AtomicU64::new(count),
            unreadable: AtomicU64::new(0),
            owner: Mutex::new(Owner::default()),
        };
        let recovered = store.recover_journal()?;
        Ok((Arc::new(store), recovered))
    }

    /// Makes the caller the only tracker of these hits. A tracker still
    /// open is an error; one just closed whose worker is finishing its last
    /// batch is waited for, up to `patience`.
    pub fn claim(&self, name: &str, patience: Duration) -> Result<Claims> {
        let give_up = Instant::now() + patience;
        loop {
            {
                let mut owner = lock(&self.owner);
                if owner.tracker.strong_count() > 0 {
                    break;
                }
                if owner.worker.strong_count() == 0 {
                    let claims = Claims {
                        tracker: Arc::new(Claim),
                        worker: Arc::new(Claim),
                    };
                    owner.tracker = Arc::downgrade(&claims.tracker);
                    owner.worker = Arc::downgrade(&claims.worker);
                    return Ok(claims);
                }
            }
            if Instant::now() >= give_up {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(Error::config(
            "name",
            format!(
                "a tracker named `{name}` is already open on this database in this process: \
                 close it first, or give this one another name"
            ),
        ))
    }

    /// Counts the hits by walking the tree.
    pub(super) fn count_hits(db: &sled::Db, name: &str) -> Result<u64> {
        let hits = db
            .open_tree(format!("hits/{name}"))
            .map_err(Error::storage)?;
        Ok(hits.len() as u64)
    }

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
    /// order. Unreadable values met on the way are skipped and counted, not
    /// deleted: a key that is missing now (an iOS Keychain item before the
    /// first unlock) may be back later. The age limit removes them in time.
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
                // Not a key HitKit writes: never readable, so not kept.
                if self.hits.remove(&key).map_err(Error::storage)?.is_some() {
                    self.count.fetch_sub(1, Ordering::SeqCst);
                }
                continue;
            };
            match codec.decode(&value) {
                Some(record) => return Ok(Some(stored_hit(key, record))),
                None => {
                    self.unreadable.fetch_add(1, Ordering::SeqCst);
                    cursor = Some(key);
                }
            }
        }
    }

    /// How many unreadable hits passes met since the last call.
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
                record.retry_count = record.retry_count.saturating_add(1);
                // Returning `None` would delete the hit: keep it as it was.
                let Ok(new) = codec.encode(&record) else {
                    return Some(old.to_vec());
                };
                attempts = Some(record.retry_count);
                Some(new)
            })
            .map_err(Error::storage)?;
        Ok(attempts)
    }

    /// Deletes the oldest hit (to make room under a count limit).
    /// Returns the deleted hit's URL, or a word for one that cannot be read.
    pub fn pop_oldest(&self) -> Result<Option<String>> {
        let Some((_, value)) = self.hits.pop_min().map_err(Error::storage)? else {
            return Ok(None);
        };
        self.count.fetch_sub(1, Ordering::SeqCst);
        Ok(Some(
            self.codec()
                .decode(&value)
                .map_or_else(|| "(unreadable)".to_owned(), |r| r.url),
        ))
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
        let olt = crate::engine::now_ms() as f64 / 1000.0;
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
