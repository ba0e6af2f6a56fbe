//! One tracker's hits: the sled tree `hits/{name}`.
//!
//! The tree holds three kinds of keys, so that every change to them is one
//! atomic sled batch:
//! - `[created_ms BE][id BE]` (16 bytes): a stored hit, in creation order;
//! - `[0xFF][created_ms BE][id BE]` (17 bytes): a hit in the in-flight
//!   journal (queued or being sent live in `required` mode);
//! - `[0x00]`: the tally: how many hits are stored and the newest key ever
//!   given, rewritten by every batch that changes them, so an open after a
//!   kill reads them instead of walking the tree (and without iterating
//!   backwards: sled's reverse iteration links a 1 MiB constant).

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::super::error::{Result, TrackerError};
use super::super::lock;
use super::keyring::Keyring;
use super::record::{Codec, Place, Record, Unreadable};

/// A stored hit's key: creation time, then an id.
pub type Key = [u8; 16];
/// A journal entry's key: `0xFF`, then the key the hit will have if stored.
pub type JournalKey = [u8; 17];

const TALLY_KEY: &[u8] = &[0x00];
const HITS_START: &[u8] = &[0u8; 16];
const JOURNAL_START: &[u8] = &[0xFF];

pub fn make_key(created_ms: u64, id: u64) -> Key {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&created_ms.to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

pub fn key_parts(key: &Key) -> (u64, u64) {
    let (ms, id) = key.split_at(8);
    (
        u64::from_be_bytes(ms.try_into().unwrap_or_default()),
        u64::from_be_bytes(id.try_into().unwrap_or_default()),
    )
}

/// What the tally record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Tally {
    count: u64,
    newest: Key,
}

impl Tally {
    pub(super) fn count(&self) -> u64 {
        self.count
    }

    fn encode(&self) -> [u8; 24] {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.count.to_be_bytes());
        bytes[8..].copy_from_slice(&self.newest);
        bytes
    }

    /// `None` for anything but the 24 bytes written here (or the 8-byte
    /// count alone of earlier versions, whose newest key is then unknown).
    fn decode(bytes: &[u8]) -> Option<(u64, Option<Key>)> {
        let count = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        match bytes.len() {
            8 => Some((count, None)),
            24 => Some((count, Some(bytes[8..].try_into().ok()?))),
            _ => None,
        }
    }
}

pub fn journal_key(key: &Key) -> JournalKey {
    let mut journal = [0xFFu8; 17];
    journal[1..].copy_from_slice(key);
    journal
}

/// A stored hit as the store holds it: its key and its record (the API's
/// `Hit` is the view of it an app gets, with its URL).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHit {
    pub key: Key,
    pub record: Record,
}

impl StoredHit {
    pub fn created_ms(&self) -> u64 {
        key_parts(&self.key).0
    }

    pub fn id(&self) -> u64 {
        key_parts(&self.key).1
    }
}

pub struct HitStore {
    tree: sled::Tree,
    tree_name: String,
    /// The database's encryption state.
    keyring: Arc<Keyring>,
    /// Stored hits (journal entries not included), as last written.
    count: AtomicU64,
    /// The newest key ever given in this tree: new keys come after it.
    newest: Mutex<Key>,
    /// Held while a batch is checked and applied, so the count written with
    /// it is exact whoever writes (the worker, or the app deleting).
    writer: Mutex<()>,
    /// Unreadable records met by reads since the worker last asked.
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

/// Changes to apply to a store as one atomic batch.
#[derive(Default)]
pub struct Changes {
    /// New hits: their keys are new, so each adds one to the count.
    inserts: Vec<(Key, Record)>,
    /// Existing hits rewritten (one more attempt), if they still exist.
    updates: Vec<(Key, Record)>,
    removes: Vec<Key>,
    journal_inserts: Vec<(JournalKey, Record)>,
    journal_removes: Vec<JournalKey>,
}

impl Changes {
    pub fn insert(&mut self, key: Key, record: Record) {
        self.inserts.push((key, record));
    }

    pub fn update(&mut self, key: Key, record: Record) {
        self.updates.push((key, record));
    }

    pub fn remove(&mut self, key: Key) {
        self.removes.push(key);
    }

    pub fn journal(&mut self, key: &Key, record: Record) {
        self.journal_inserts.push((journal_key(key), record));
    }

    pub fn unjournal(&mut self, key: &Key) {
        self.journal_removes.push(journal_key(key));
    }

    /// Hits this batch adds (before it is applied).
    pub fn pending_inserts(&self) -> u64 {
        self.inserts.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty()
            && self.updates.is_empty()
            && self.removes.is_empty()
            && self.journal_inserts.is_empty()
            && self.journal_removes.is_empty()
    }
}

/// What one applied batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Keys of `Changes::remove` that were there (others were deleted by
    /// the app meanwhile).
    pub removed: Vec<Key>,
}

impl HitStore {
    /// `max_plausible`: no more hits than this can fit in the files; a
    /// saved count above it is not trusted (a tampered or damaged file).
    pub(super) fn open(
        db: &sled::Db,
        name: &str,
        keyring: Arc<Keyring>,
        max_plausible: u64,
    ) -> Result<(Arc<HitStore>, Option<String>)> {
        let tree_name = format!("hits/{name}");
        let tree = db.open_tree(&tree_name).map_err(TrackerError::storage)?;
        let saved = tree
            .get(TALLY_KEY)
            .map_err(TrackerError::storage)?
            .and_then(|v| Tally::decode(&v));
        let mut notice = None;
        let tally = match saved {
            Some((count, Some(newest))) if count <= max_plausible && plausible_newest(&newest) => {
                Tally { count, newest }
            }
            other => {
                let walked = recount(&tree)?;
                if let Some((bad, _)) = other.filter(|(count, _)| *count > max_plausible) {
                    notice = Some(format!(
                        "the saved hit count of tracker `{name}` ({bad}) cannot be right for \
                         files of this size; {} hit(s) counted instead",
                        walked.count
                    ));
                }
                walked
            }
        };
        let store = HitStore {
            tree,
            tree_name,
            keyring,
            count: AtomicU64::new(tally.count),
            newest: Mutex::new(tally.newest),
            writer: Mutex::new(()),
            unreadable: AtomicU64::new(0),
            owner: Mutex::new(Owner::default()),
        };
        Ok((Arc::new(store), notice))
    }

    /// Makes the caller the only tracker of these hits. A tracker still
    /// open is an error; one just closed whose worker is finishing is
    /// waited for, up to `patience`.
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
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(TrackerError::config(
            "name",
            format!(
                "a tracker named `{name}` is already open on this database in this process: \
                 close it first, or give this one another name"
            ),
        ))
    }

    pub fn len(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn codec(&self) -> Arc<Codec> {
        self.keyring.codec()
    }

    fn place<'a>(&'a self, key: &'a [u8]) -> Place<'a> {
        Place {
            tree: &self.tree_name,
            key,
        }
    }

    /// Applies `changes` as one atomic batch, with the new count.
    pub fn apply(&self, changes: Changes) -> Result<Applied> {
        if changes.is_empty() {
            return Ok(Applied::default());
        }
        let _steady = self.keyring.steady();
        let codec = self.codec();
        let mut batch = sled::Batch::default();
        for (key, record) in &changes.journal_inserts {
            batch.insert(&key[..], codec.encode(record, &self.place(key))?);
        }
        for (key, record) in &changes.inserts {
            batch.insert(&key[..], codec.encode(record, &self.place(key))?);
        }
        let _writer = lock(&self.writer);
        let mut applied = Applied::default();
        for (key, record) in &changes.updates {
            if self.tree.contains_key(key).map_err(TrackerError::storage)? {
                batch.insert(&key[..], codec.encode(record, &self.place(key))?);
            }
        }
        for key in changes.removes {
            // A hit inserted by this same batch counts as there.
            let there = changes.inserts.iter().any(|(k, _)| *k == key)
                || self.tree.contains_key(key).map_err(TrackerError::storage)?;
            if there && !applied.removed.contains(&key) {
                batch.remove(&key[..]);
                applied.removed.push(key);
            }
        }
        for key in &changes.journal_removes {
            batch.remove(&key[..]);
        }
        let before = self.len();
        let count =
            (before + changes.inserts.len() as u64).saturating_sub(applied.removed.len() as u64);
        let mut newest = lock(&self.newest);
        let added = changes.inserts.iter().map(|(key, _)| *key);
        let journaled = changes
            .journal_inserts
            .iter()
            .map(|(key, _)| key[1..].try_into().unwrap_or_default());
        let newest_now = added.chain(journaled).fold(*newest, Key::max);
        if count != before || newest_now != *newest {
            let tally = Tally {
                count,
                newest: newest_now,
            };
            batch.insert(TALLY_KEY, &tally.encode());
        }
        self.tree
            .apply_batch(batch)
            .map_err(TrackerError::storage)?;
        self.count.store(count, Ordering::SeqCst);
        *newest = newest_now;
        Ok(applied)
    }

    /// The first readable hit after `after` (or the oldest), in creation
    /// order, for a pass. Unreadable records are skipped and counted (for
    /// the worker to report), never deleted: a key missing now (a Keychain
    /// before the first unlock) may be back.
    pub fn next_after(&self, after: Option<&Key>) -> Result<Option<StoredHit>> {
        let start = match after {
            Some(key) => Bound::Excluded(&key[..]),
            None => Bound::Included(HITS_START),
        };
        let codec = self.codec();
        for entry in self
            .tree
            .range::<&[u8], _>((start, Bound::Excluded(JOURNAL_START)))
        {
            let (key, value) = entry.map_err(TrackerError::storage)?;
            match self.readable(&codec, &key, &value) {
                Some(hit) => return Ok(Some(hit)),
                None => {
                    self.unreadable.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        Ok(None)
    }

    fn readable(&self, codec: &Codec, key: &[u8], value: &[u8]) -> Option<StoredHit> {
        let key = Key::try_from(key).ok()?;
        let record = codec.decode(value, &self.place(&key)).ok()?;
        Some(StoredHit { key, record })
    }

    /// Unreadable records passes met since the last call.
    pub fn take_unreadable(&self) -> u64 {
        self.unreadable.swap(0, Ordering::SeqCst)
    }

    fn hits(&self) -> sled::Iter {
        self.tree.range::<&[u8], _>(HITS_START..JOURNAL_START)
    }

    pub fn oldest(&self) -> Result<Option<StoredHit>> {
        let codec = self.codec();
        for entry in self.hits() {
            let (key, value) = entry.map_err(TrackerError::storage)?;
            if let Some(hit) = self.readable(&codec, &key, &value) {
                return Ok(Some(hit));
            }
        }
        Ok(None)
    }

    /// The newest readable hit: the newest key if it is still there and
    /// readable, else the last one met walking forward.
    pub fn latest(&self) -> Result<Option<StoredHit>> {
        let codec = self.codec();
        let newest = *lock(&self.newest);
        if let Some(value) = self.tree.get(newest).map_err(TrackerError::storage)?
            && let Some(hit) = self.readable(&codec, &newest, &value)
        {
            return Ok(Some(hit));
        }
        let mut latest = None;
        for entry in self.hits() {
            let (key, value) = entry.map_err(TrackerError::storage)?;
            latest = self.readable(&codec, &key, &value).or(latest);
        }
        Ok(latest)
    }

    /// Every readable hit, oldest first.
    pub fn all(&self) -> Result<Vec<StoredHit>> {
        let codec = self.codec();
        let mut hits = Vec::new();
        for entry in self.hits() {
            let (key, value) = entry.map_err(TrackerError::storage)?;
            hits.extend(self.readable(&codec, &key, &value));
        }
        Ok(hits)
    }

    /// Keys of the stored hits created before `cutoff_ms`.
    pub fn keys_before(&self, cutoff_ms: u64) -> Result<Vec<Key>> {
        let end = make_key(cutoff_ms, 0);
        self.tree
            .range::<&[u8], _>(HITS_START..&end[..])
            .keys()
            .filter_map(|key| match key {
                Ok(key) => Key::try_from(key.as_ref()).ok().map(Ok),
                Err(e) => Some(Err(TrackerError::storage(e))),
            })
            .collect()
    }

    /// Keys of every stored hit.
    pub fn keys(&self) -> Result<Vec<Key>> {
        self.keys_before(u64::MAX)
    }

    /// The oldest key (to make room under a count limit).
    pub fn oldest_key(&self) -> Result<Option<Key>> {
        for key in self.hits().keys() {
            if let Ok(key) = Key::try_from(key.map_err(TrackerError::storage)?.as_ref()) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// The newest key ever given, stored or journaled: new hits are keyed
    /// after it.
    pub fn newest_key(&self) -> Key {
        *lock(&self.newest)
    }

    /// The journal: `(key the hit would be stored under, record or why not)`.
    pub fn journal(&self) -> Result<Vec<(Key, Result<Record, Unreadable>)>> {
        let codec = self.codec();
        let mut entries = Vec::new();
        for entry in self.tree.range::<&[u8], _>(JOURNAL_START..) {
            let (jkey, value) = entry.map_err(TrackerError::storage)?;
            let Ok(jkey) = JournalKey::try_from(jkey.as_ref()) else {
                continue;
            };
            let mut key = [0u8; 16];
            key.copy_from_slice(&jkey[1..]);
            entries.push((key, codec.decode(&value, &self.place(&jkey))));
        }
        Ok(entries)
    }

    /// Whether a hit of this key is stored.
    pub fn contains(&self, key: &Key) -> Result<bool> {
        self.tree.contains_key(key).map_err(TrackerError::storage)
    }

    /// Counts the hits again by walking them (after a panic, say), and
    /// keeps that count.
    pub fn recount(&self) -> Result<u64> {
        let _writer = lock(&self.writer);
        let tally = recount(&self.tree)?;
        self.count.store(tally.count, Ordering::SeqCst);
        let mut newest = lock(&self.newest);
        *newest = tally.newest.max(*newest);
        Ok(tally.count)
    }

    /// A stored record's bytes as they are (for tools that inspect or
    /// tamper with stores in tests).
    pub fn raw(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree
            .get(key)
            .map_err(TrackerError::storage)?
            .map(|v| v.to_vec()))
    }

    /// Writes bytes under a hit's key as they are (tests of damage).
    pub fn put_raw(&self, key: &Key, bytes: &[u8]) -> Result<()> {
        let _steady = self.keyring.steady();
        let _writer = lock(&self.writer);
        let mut newest = lock(&self.newest);
        let tally = Tally {
            count: self.len() + !self.contains(key)? as u64,
            newest: (*key).max(*newest),
        };
        let mut batch = sled::Batch::default();
        batch.insert(&key[..], bytes);
        batch.insert(TALLY_KEY, &tally.encode());
        self.tree
            .apply_batch(batch)
            .map_err(TrackerError::storage)?;
        self.count.store(tally.count, Ordering::SeqCst);
        *newest = tally.newest;
        Ok(())
    }

    /// Writes a tally as it is (tests of tampering): this count, and this
    /// newest key or the true one.
    pub fn put_raw_tally(&self, count: u64, newest: Option<Key>) -> Result<()> {
        let tally = Tally {
            count,
            newest: newest.unwrap_or(*lock(&self.newest)),
        };
        self.tree
            .insert(TALLY_KEY, &tally.encode())
            .map_err(TrackerError::storage)?;
        Ok(())
    }

    /// Writes bytes under a journal key as they are (tests of recovery).
    pub fn put_raw_journal(&self, key: &Key, bytes: &[u8]) -> Result<()> {
        self.tree
            .insert(&journal_key(key)[..], bytes)
            .map_err(TrackerError::storage)?;
        Ok(())
    }

    /// Deletes every hit and journal entry (forget the user).
    pub fn erase(&self) -> Result<u64> {
        let _steady = self.keyring.steady();
        let _writer = lock(&self.writer);
        let mut batch = sled::Batch::default();
        for key in self.tree.iter().keys() {
            batch.remove(key.map_err(TrackerError::storage)?);
        }
        let tally = Tally {
            count: 0,
            newest: *lock(&self.newest),
        };
        batch.insert(TALLY_KEY, &tally.encode());
        self.tree
            .apply_batch(batch)
            .map_err(TrackerError::storage)?;
        Ok(self.count.swap(0, Ordering::SeqCst))
    }
}

/// The names of the trackers with a hit tree in `db`.
pub fn tracker_names(db: &sled::Db) -> Vec<String> {
    db.tree_names()
        .iter()
        .filter_map(|name| {
            std::str::from_utf8(name)
                .ok()?
                .strip_prefix("hits/")
                .map(str::to_owned)
        })
        .collect()
}

/// Applies `entries` to `tree` in atomic batches of a thousand (a copy or a
/// rewrite of a whole tree: each batch is atomic, the whole is idempotent).
pub fn apply_in_batches(
    tree: &sled::Tree,
    entries: impl Iterator<Item = Result<(sled::IVec, Vec<u8>)>>,
) -> Result<()> {
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for entry in entries {
        let (key, value) = entry?;
        batch.insert(key, value);
        pending += 1;
        if pending == 1000 {
            tree.apply_batch(std::mem::take(&mut batch))
                .map_err(TrackerError::storage)?;
            pending = 0;
        }
    }
    tree.apply_batch(batch).map_err(TrackerError::storage)
}

/// Counts the hits and finds the newest key by walking the tree, and keeps
/// that tally.
/// New keys follow the saved newest one, so one from far in the future (a
/// tampered or damaged tally) would push every new hit there, or past the
/// hits' key range: not trusted, the keys are walked instead. A clock set
/// ahead for a while stays well within the margin.
fn plausible_newest(newest: &Key) -> bool {
    const MARGIN_MS: u64 = 10 * 366 * 86_400_000;
    key_parts(newest).0 <= super::super::now_ms().saturating_add(MARGIN_MS)
}

pub(super) fn recount(tree: &sled::Tree) -> Result<Tally> {
    let mut tally = Tally::default();
    for key in tree.range::<&[u8], _>(HITS_START..).keys() {
        let key = key.map_err(TrackerError::storage)?;
        let hit_key = match key.len() {
            16 => {
                tally.count += 1;
                Key::try_from(key.as_ref()).ok()
            }
            17 => key[1..].try_into().ok(),
            _ => None,
        };
        tally.newest = hit_key.map_or(tally.newest, |k| k.max(tally.newest));
    }
    tree.insert(TALLY_KEY, &tally.encode())
        .map_err(TrackerError::storage)?;
    Ok(tally)
}
