//! A stored hit as bytes, and the sealing that protects it at rest.
//!
//! Format 1, written now (the first byte says which):
//! - plain:  `0x01 | hit type | attempts | query`
//! - sealed: `0x02 | nonce (12) | AES-256-GCM(hit type | attempts | query)`,
//!   with associated data naming the tree and the key the record lives
//!   under, so a sealed record copied to another place does not open.
//!
//! The collector's URL is not stored: a hit is sent to the one configured
//! when it goes out. Creation time and id are in the key.
//!
//! Stores written before format 1 hold JSON records (`{"url":…}`) or
//! `HKE1 | nonce | AES-256-GCM(JSON)`; both are still read.

use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::super::error::{Result, TrackerError};
use super::super::secret::EncryptionKey;
use super::super::types::HitType;

const PLAIN: u8 = 0x01;
const SEALED: u8 = 0x02;
const LEGACY_SEALED: &[u8; 4] = b"HKE1";
const TAG_LEN: usize = 16;

/// What is stored under a hit's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub hit_type: HitType,
    /// Non-2xx answers so far.
    pub attempts: u32,
    /// The hit's query, `cn=offline` and `olt` included.
    pub query: String,
}

/// Why a record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Sealed, and no key is set.
    NoKey,
    /// Sealed with another key, moved from elsewhere, or damaged.
    NotOpened,
    /// Plain, in a store that is encrypted: not written by HitKit with
    /// the store's key, so not trusted.
    PlainInEncryptedStore,
    /// Not a record HitKit writes.
    Malformed,
}

/// Seals and opens records with the app's key.
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    pub fn new(key: &EncryptionKey) -> Result<Sealer> {
        let bytes = key.bytes()?;
        let key = UnboundKey::new(&AES_256_GCM, bytes.as_slice())
            .map_err(|_| TrackerError::config("encryptionKey", "is not a valid AES-256 key"))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// `SEALED | nonce | ciphertext + tag`, bound to `place`.
    pub fn seal(&self, plain: &[u8], place: &Place<'_>) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| TrackerError::storage(format!("no randomness for encryption: {e}")))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plain.len() + TAG_LEN);
        out.push(SEALED);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let mut body = out.split_off(1 + NONCE_LEN);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.bytes()),
                &mut body,
            )
            .map_err(|_| TrackerError::storage("encryption failed"))?;
        out.append(&mut body);
        Ok(out)
    }

    /// The plain bytes of a sealed value (`SEALED | nonce | …`).
    pub fn open(&self, sealed: &[u8], place: &Place<'_>) -> Option<Vec<u8>> {
        let rest = sealed.strip_prefix(&[SEALED])?;
        self.open_parts(rest, Aad::from(place.bytes()))
    }

    fn open_parts(&self, nonce_and_body: &[u8], aad: Aad<Vec<u8>>) -> Option<Vec<u8>> {
        if nonce_and_body.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = nonce_and_body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = body.to_vec();
        let plain = self.key.open_in_place(nonce, aad, &mut buffer).ok()?;
        let len = plain.len();
        buffer.truncate(len);
        Some(buffer)
    }
}

/// Where a sealed value lives: its tree and its key, or a name in `meta`.
pub struct Place<'a> {
    pub tree: &'a str,
    pub key: &'a [u8],
}

impl Place<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(16 + self.tree.len() + self.key.len());
        aad.extend_from_slice(b"hitkit/1\0");
        aad.extend_from_slice(self.tree.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.key);
        aad
    }
}

/// How the records of one store are written and read.
pub struct Codec {
    sealer: Option<Arc<Sealer>>,
    /// The store holds the key marker: only sealed records are trusted.
    encrypted_store: bool,
}

impl Codec {
    pub fn new(sealer: Option<Arc<Sealer>>, encrypted_store: bool) -> Codec {
        Codec {
            sealer,
            encrypted_store,
        }
    }

    /// Records in clear, in a store that is not encrypted.
    pub fn plain() -> Codec {
        Codec::new(None, false)
    }

    pub fn sealer(&self) -> Option<&Arc<Sealer>> {
        self.sealer.as_ref()
    }

    pub fn encrypted_store(&self) -> bool {
        self.encrypted_store
    }

    /// Whether this codec may write: an encrypted store takes sealed
    /// records only, so without its key nothing can be stored.
    pub fn can_write(&self) -> bool {
        self.sealer.is_some() || !self.encrypted_store
    }

    pub fn encode(&self, record: &Record, place: &Place<'_>) -> Result<Vec<u8>> {
        let mut plain = Vec::with_capacity(3 + record.query.len());
        plain.push(PLAIN);
        plain.push(type_byte(record.hit_type));
        plain.push(record.attempts.min(u8::MAX as u32) as u8);
        plain.extend_from_slice(record.query.as_bytes());
        match &self.sealer {
            Some(sealer) => sealer.seal(&plain[1..], place),
            None if self.encrypted_store => Err(TrackerError::storage(
                "the store is encrypted and its key is not set: nothing can be written in clear",
            )),
            None => Ok(plain),
        }
    }

    pub fn decode(&self, bytes: &[u8], place: &Place<'_>) -> Result<Record, Unreadable> {
        match bytes.first() {
            Some(&SEALED) => {
                let sealer = self.sealer.as_ref().ok_or(Unreadable::NoKey)?;
                let plain = sealer.open(bytes, place).ok_or(Unreadable::NotOpened)?;
                body(&plain)
            }
            _ if self.encrypted_store && !bytes.starts_with(LEGACY_SEALED) => {
                Err(Unreadable::PlainInEncryptedStore)
            }
            Some(&PLAIN) => body(&bytes[1..]),
            Some(b'{') => legacy_json(bytes),
            _ => match bytes.strip_prefix(LEGACY_SEALED) {
                Some(rest) => {
                    let sealer = self.sealer.as_ref().ok_or(Unreadable::NoKey)?;
                    let json = sealer
                        .open_parts(rest, Aad::from(Vec::new()))
                        .ok_or(Unreadable::NotOpened)?;
                    legacy_json(&json)
                }
                None => Err(Unreadable::Malformed),
            },
        }
    }
}

impl Default for Codec {
    fn default() -> Self {
        Codec::plain()
    }
}

fn type_byte(hit_type: HitType) -> u8 {
    match hit_type {
        HitType::Screen => 0,
        HitType::Touch => 1,
        HitType::Custom => 2,
    }
}

fn body(bytes: &[u8]) -> Result<Record, Unreadable> {
    let [kind, attempts, query @ ..] = bytes else {
        return Err(Unreadable::Malformed);
    };
    let hit_type = match kind {
        0 => HitType::Screen,
        1 => HitType::Touch,
        2 => HitType::Custom,
        _ => return Err(Unreadable::Malformed),
    };
    let query = std::str::from_utf8(query).map_err(|_| Unreadable::Malformed)?;
    Ok(Record {
        hit_type,
        attempts: *attempts as u32,
        query: query.to_owned(),
    })
}

/// `{"url": "...", "created_ms": n, "retry_count": n, "kind": "screen"}`.
fn legacy_json(bytes: &[u8]) -> Result<Record, Unreadable> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| Unreadable::Malformed)?;
    let url = value["url"].as_str().ok_or(Unreadable::Malformed)?;
    let hit_type = match value["kind"].as_str() {
        Some("screen") => HitType::Screen,
        Some("touch") => HitType::Touch,
        Some("custom") => HitType::Custom,
        _ => return Err(Unreadable::Malformed),
    };
    let attempts = value["retry_count"]
        .as_u64()
        .unwrap_or(0)
        .min(u32::MAX as u64) as u32;
    let query = url.split_once('?').map_or("", |(_, query)| query);
    Ok(Record {
        hit_type,
        attempts,
        query: query.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const HERE: Place<'static> = Place {
        tree: "hits/default",
        key: &[1, 2, 3],
    };

    fn record() -> Record {
        Record {
            hit_type: HitType::Touch,
            attempts: 1,
            query: "s=1&p=secret".into(),
        }
    }

    fn sealed(key: &str) -> Codec {
        Codec::new(Some(Arc::new(Sealer::new(&key.into()).unwrap())), true)
    }

    #[test]
    fn plain_records_are_short_and_round_trip() {
        let codec = Codec::new(None, false);
        let bytes = codec.encode(&record(), &HERE).unwrap();
        assert_eq!(bytes.len(), 3 + record().query.len());
        assert_eq!(codec.decode(&bytes, &HERE), Ok(record()));
    }

    #[test]
    fn sealed_records_round_trip_and_hide_the_query() {
        let codec = sealed(KEY);
        let bytes = codec.encode(&record(), &HERE).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
        assert_eq!(codec.decode(&bytes, &HERE), Ok(record()));
        assert_ne!(
            bytes,
            codec.encode(&record(), &HERE).unwrap(),
            "fresh nonce"
        );
    }

    #[test]
    fn a_sealed_record_opens_only_where_it_was_written() {
        let codec = sealed(KEY);
        let bytes = codec.encode(&record(), &HERE).unwrap();
        let elsewhere = Place {
            tree: "hits/default",
            key: &[1, 2, 4],
        };
        let other_tree = Place {
            tree: "hits/other",
            key: &[1, 2, 3],
        };
        assert_eq!(codec.decode(&bytes, &elsewhere), Err(Unreadable::NotOpened));
        assert_eq!(
            codec.decode(&bytes, &other_tree),
            Err(Unreadable::NotOpened)
        );
    }

    #[test]
    fn wrong_missing_or_damaged_keys_make_records_unreadable() {
        let bytes = sealed(KEY).encode(&record(), &HERE).unwrap();
        assert_eq!(
            sealed(OTHER).decode(&bytes, &HERE),
            Err(Unreadable::NotOpened)
        );
        assert_eq!(
            Codec::new(None, true).decode(&bytes, &HERE),
            Err(Unreadable::NoKey)
        );
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            sealed(KEY).decode(&flipped, &HERE),
            Err(Unreadable::NotOpened)
        );
        assert_eq!(
            sealed(KEY).decode(&bytes[..10], &HERE),
            Err(Unreadable::NotOpened)
        );
    }

    #[test]
    fn an_encrypted_store_refuses_plain_records_and_plain_writes() {
        let plain = Codec::new(None, false).encode(&record(), &HERE).unwrap();
        assert_eq!(
            sealed(KEY).decode(&plain, &HERE),
            Err(Unreadable::PlainInEncryptedStore)
        );
        assert!(Codec::new(None, true).encode(&record(), &HERE).is_err());
        assert!(!Codec::new(None, true).can_write());
    }

    #[test]
    fn records_of_earlier_stores_are_read() {
        let json =
            br#"{"url":"http://h/x?s=1&p=old","created_ms":7,"retry_count":2,"kind":"screen"}"#;
        let expected = Record {
            hit_type: HitType::Screen,
            attempts: 2,
            query: "s=1&p=old".into(),
        };
        assert_eq!(Codec::new(None, false).decode(json, &HERE), Ok(expected));
        assert_eq!(
            Codec::new(None, false).decode(b"\x07junk", &HERE),
            Err(Unreadable::Malformed)
        );
    }
}
