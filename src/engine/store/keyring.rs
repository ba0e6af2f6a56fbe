//! The database's encryption state, shared by all its hit stores: in clear,
//! encrypted and unlocked (the key is known), or encrypted and locked.
//!
//! A store becomes encrypted when a tracker first gives a key: every record
//! is sealed, then the key marker is written (so a kill midway leaves a
//! store in clear, sealed again on the next start). From then on records
//! in clear are refused. Turning encryption off removes the marker first,
//! then opens every record.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use super::super::error::{Result, TrackerError};
use super::super::secret::EncryptionKey;
use super::meta::{KeyCheck, Meta};
use super::record::{Codec, Place, Sealer};

/// The database's current codec, swapped as a whole when the key changes.
#[derive(Default)]
pub struct Keyring {
    codec: RwLock<Arc<Codec>>,
    /// Shared by every batch a hit store writes, from taking the codec to
    /// the write; a key change holds it alone while it rewrites the records
    /// and swaps the codec. So no batch is sealed with a codec the change has
    /// left behind, and none removes a hit the rewrite then puts back.
    steady: RwLock<()>,
}

/// Where a tracker's key left the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// Not encrypted, and no key given.
    Clear,
    /// Encrypted, and the key is known.
    Unlocked,
    /// Encrypted, and the key is missing or wrong: nothing can be stored.
    Locked(String),
}

impl Keyring {
    pub fn codec(&self) -> Arc<Codec> {
        self.codec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Taken by a hit store for each batch it writes (see `steady`).
    pub fn steady(&self) -> RwLockReadGuard<'_, ()> {
        self.steady.read().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, codec: Codec) {
        *self.codec.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(codec);
    }

    /// Applies a tracker's key to the whole database: the last tracker to
    /// give one decides (every tracker of an encrypted database needs the
    /// key; one without it, or with another, locks it).
    pub fn use_key(
        &self,
        key: Option<&EncryptionKey>,
        meta: &Meta,
        db: &sled::Db,
    ) -> Result<KeyState> {
        let _switching = self.steady.write().unwrap_or_else(|p| p.into_inner());
        let sealer = key.map(Sealer::new).transpose()?.map(Arc::new);
        match (meta.check_key(sealer.as_deref())?, sealer) {
            (KeyCheck::NoMarker, None) => {
                self.set(Codec::plain());
                Ok(KeyState::Clear)
            }
            (KeyCheck::NoMarker, Some(sealer)) => {
                let sealed = Codec::new(Some(sealer.clone()), true);
                rewrite_all(db, &Codec::plain(), &sealed)?;
                meta.visitor_id(Some(&sealer), false)?;
                meta.write_marker(&sealer)?;
                db.flush().map_err(TrackerError::storage)?;
                self.set(sealed);
                Ok(KeyState::Unlocked)
            }
            (KeyCheck::Matches, Some(sealer)) => {
                self.set(Codec::new(Some(sealer), true));
                Ok(KeyState::Unlocked)
            }
            (_, sealer) => {
                self.set(Codec::new(None, true));
                Ok(KeyState::Locked(match sealer {
                    None => "the store is encrypted and no encryptionKey is set".into(),
                    Some(_) => "encryptionKey is not the key this store is encrypted with".into(),
                }))
            }
        }
    }

    /// Turns encryption off: needs the store unlocked.
    pub fn turn_off(&self, meta: &Meta, db: &sled::Db) -> Result<()> {
        let _switching = self.steady.write().unwrap_or_else(|p| p.into_inner());
        let current = self.codec();
        let Some(sealer) = current.sealer().cloned() else {
            return match meta.check_key(None)? {
                KeyCheck::NoMarker => Ok(()),
                _ => Err(TrackerError::config(
                    "encryptionKey",
                    "cannot be removed while the store is locked: set the right key first",
                )),
            };
        };
        meta.remove_marker()?;
        let opening = Codec::new(Some(sealer.clone()), false);
        rewrite_all(db, &opening, &Codec::plain())?;
        meta.unseal_visitor(&sealer)?;
        self.set(Codec::plain());
        Ok(())
    }
}

/// Rewrites every readable record of every hit tree from `from` to `to`.
/// Each tree goes in atomic batches; a record is rewritten only if `from`
/// reads it, so running it again after a kill finishes the job.
fn rewrite_all(db: &sled::Db, from: &Codec, to: &Codec) -> Result<()> {
    for name in super::hits::tracker_names(db) {
        let tree_name = format!("hits/{name}");
        let tree = db.open_tree(&tree_name).map_err(TrackerError::storage)?;
        let rewritten = tree.iter().filter_map(|entry| {
            let (key, value) = match entry {
                Ok(entry) => entry,
                Err(e) => return Some(Err(TrackerError::storage(e))),
            };
            if key.len() < 16 {
                return None; // the tally
            }
            let place = Place {
                tree: &tree_name,
                key: &key,
            };
            let record = from.decode(&value, &place).ok()?;
            Some(to.encode(&record, &place).map(|bytes| (key.clone(), bytes)))
        });
        super::hits::apply_in_batches(&tree, rewritten)?;
    }
    db.flush().map_err(TrackerError::storage)?;
    Ok(())
}
