//! The database's own records, in the `meta` tree: the visitor id, the key
//! marker of an encrypted store, and the user's opt-out.

use std::sync::atomic::{AtomicBool, Ordering};

use super::super::error::{Result, TrackerError};
use super::record::{Place, Sealer};

const VISITOR_ID: &[u8] = b"idclient";
const KEY_MARKER: &[u8] = b"key_check";
const OPTED_OUT: &[u8] = b"opted_out";
/// What the key marker seals: opening it proves the key is the store's.
const MARKER_TEXT: &[u8] = b"hitkit store key";

pub struct Meta {
    tree: sled::Tree,
    opted_out: AtomicBool,
}

fn place(key: &[u8]) -> Place<'_> {
    Place { tree: "meta", key }
}

/// What the key marker says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// No marker: the store is not encrypted.
    NoMarker,
    /// The key opens the marker.
    Matches,
    /// A marker, and no key or another key.
    DoesNotMatch,
}

impl Meta {
    pub fn open(db: &sled::Db) -> Result<Meta> {
        let tree = db.open_tree("meta").map_err(TrackerError::storage)?;
        let opted_out = tree
            .get(OPTED_OUT)
            .map_err(TrackerError::storage)?
            .is_some_and(|v| v.as_ref() == [1]);
        Ok(Meta {
            tree,
            opted_out: AtomicBool::new(opted_out),
        })
    }

    pub fn check_key(&self, sealer: Option<&Sealer>) -> Result<KeyCheck> {
        let Some(marker) = self.tree.get(KEY_MARKER).map_err(TrackerError::storage)? else {
            return Ok(KeyCheck::NoMarker);
        };
        let opens = sealer.and_then(|s| s.open(&marker, &place(KEY_MARKER)));
        Ok(match opens {
            Some(text) if text == MARKER_TEXT => KeyCheck::Matches,
            _ => KeyCheck::DoesNotMatch,
        })
    }

    /// Marks the store encrypted with `sealer`'s key (written last, once
    /// every record is sealed).
    pub fn write_marker(&self, sealer: &Sealer) -> Result<()> {
        let marker = sealer.seal(MARKER_TEXT, &place(KEY_MARKER))?;
        self.tree
            .insert(KEY_MARKER, marker)
            .map_err(TrackerError::storage)?;
        Ok(())
    }

    /// Removed first when encryption is turned off, before any record is
    /// written in clear.
    pub fn remove_marker(&self) -> Result<()> {
        self.tree
            .remove(KEY_MARKER)
            .map_err(TrackerError::storage)?;
        Ok(())
    }

    /// The visitor id used when `identifier` is `uuid`, made on first use.
    /// In an encrypted store it is sealed; `None`: it cannot be read or
    /// made without the store's key (`sealer` must then be given).
    pub fn visitor_id(&self, sealer: Option<&Sealer>, encrypted: bool) -> Result<Option<String>> {
        if let Some(stored) = self.tree.get(VISITOR_ID).map_err(TrackerError::storage)? {
            let text = match sealer {
                Some(sealer) => sealer.open(&stored, &place(VISITOR_ID)),
                None => None,
            };
            if let Some(id) = text.and_then(|t| String::from_utf8(t).ok()) {
                return Ok(Some(id));
            }
            let sealed = stored.first() == Some(&0x02);
            // Locked: wait for the key. In a store in clear (encryption was
            // being turned off when the app was killed, and it now runs
            // without the key), the sealed id is unreadable for good: a new
            // one is made, or every hit would wait for a key never given.
            if sealed && sealer.is_none() && encrypted {
                return Ok(None);
            }
            // A visitor id in clear is trusted only in a store in clear.
            if !sealed
                && !encrypted
                && let Ok(id) = String::from_utf8(stored.to_vec())
            {
                if let Some(sealer) = sealer {
                    self.save_visitor(&id, Some(sealer))?;
                }
                return Ok(Some(id));
            }
        }
        if encrypted && sealer.is_none() {
            return Ok(None);
        }
        let id = new_uuid_v4();
        self.save_visitor(&id, sealer)?;
        Ok(Some(id))
    }

    fn save_visitor(&self, id: &str, sealer: Option<&Sealer>) -> Result<()> {
        let value = match sealer {
            Some(sealer) => sealer.seal(id.as_bytes(), &place(VISITOR_ID))?,
            None => id.as_bytes().to_vec(),
        };
        self.tree
            .insert(VISITOR_ID, value)
            .map_err(TrackerError::storage)?;
        Ok(())
    }

    /// Rewrites the visitor id in clear (encryption turned off).
    pub fn unseal_visitor(&self, sealer: &Sealer) -> Result<()> {
        if let Some(id) = self.visitor_id(Some(sealer), true)? {
            self.save_visitor(&id, None)?;
        }
        Ok(())
    }

    /// The next hit gets a new visitor id.
    pub fn forget_visitor(&self) -> Result<()> {
        self.tree
            .remove(VISITOR_ID)
            .map_err(TrackerError::storage)?;
        Ok(())
    }

    pub fn opted_out(&self) -> bool {
        self.opted_out.load(Ordering::SeqCst)
    }

    /// Takes effect at once in this process (the app's thread calls it);
    /// [`Meta::set_opted_out`] makes it last.
    pub fn note_opted_out(&self, opted_out: bool) {
        self.opted_out.store(opted_out, Ordering::SeqCst);
    }

    /// Durable once the database is next synced.
    pub fn set_opted_out(&self, opted_out: bool) -> Result<()> {
        self.tree
            .insert(OPTED_OUT, &[opted_out as u8])
            .map_err(TrackerError::storage)?;
        self.opted_out.store(opted_out, Ordering::SeqCst);
        Ok(())
    }
}

fn new_uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: time and address still make a usable visitor id.
        let seed = super::super::now_ms() as u128 ^ ((&bytes as *const _ as usize as u128) << 64);
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
