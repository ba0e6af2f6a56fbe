//! How a stored hit is written as bytes: JSON, sealed with AES-256-GCM when
//! the app supplies a key.
//!
//! A sealed value is `HKE1 | nonce (12 bytes) | ciphertext + tag`. Plain JSON
//! values stay readable whatever the key, so turning encryption on keeps the
//! hits stored before it. A sealed value with a wrong or missing key cannot
//! be read: the store drops it and the worker reports it, never a crash.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::hit::HitKind;

const SEALED: &[u8; 4] = b"HKE1";
pub const KEY_HEX_LEN: usize = 64;

/// The JSON stored under each key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub url: String,
    pub created_ms: u64,
    #[serde(default)]
    pub retry_count: u32,
    pub kind: HitKind,
}

#[derive(Default)]
pub struct Codec {
    key: Option<LessSafeKey>,
}

impl Codec {
    /// `key_hex`: 64 hex digits (32 bytes), or `None` for plain JSON.
    pub fn new(key_hex: Option<&str>) -> Result<Codec> {
        let Some(hex) = key_hex else {
            return Ok(Codec::default());
        };
        let bytes = parse_key(hex)?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| Error::config("encryptionKey", "is not a valid AES-256 key"))?;
        Ok(Codec {
            key: Some(LessSafeKey::new(key)),
        })
    }

    pub fn encode(&self, record: &Record) -> Result<Vec<u8>> {
        let mut json = serde_json::to_vec(record).map_err(Error::storage)?;
        let Some(key) = &self.key else {
            return Ok(json);
        };
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::storage(format!("no randomness for encryption: {e}")))?;
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut json)
            .map_err(|_| Error::storage("encryption failed"))?;
        let mut sealed = Vec::with_capacity(SEALED.len() + NONCE_LEN + json.len());
        sealed.extend_from_slice(SEALED);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&json);
        Ok(sealed)
    }

    /// `None`: unreadable (damaged, or sealed with another key or none).
    pub fn decode(&self, bytes: &[u8]) -> Option<Record> {
        match bytes.strip_prefix(SEALED) {
            None => serde_json::from_slice(bytes).ok(),
            Some(sealed) => {
                let key = self.key.as_ref()?;
                if sealed.len() < NONCE_LEN {
                    return None;
                }
                let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
                let mut buffer = ciphertext.to_vec();
                let plain = key.open_in_place(nonce, Aad::empty(), &mut buffer).ok()?;
                serde_json::from_slice(plain).ok()
            }
        }
    }
}

pub fn parse_key(hex: &str) -> Result<[u8; 32]> {
    let bad = || {
        Error::config(
            "encryptionKey",
            format!("must be {KEY_HEX_LEN} hex digits (32 bytes)"),
        )
    };
    if hex.len() != KEY_HEX_LEN || !hex.is_ascii() {
        return Err(bad());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn record() -> Record {
        Record {
            url: "http://h/x?p=secret".into(),
            created_ms: 7,
            retry_count: 1,
            kind: HitKind::Touch,
        }
    }

    #[test]
    fn sealed_values_round_trip_and_hide_the_url() {
        let codec = Codec::new(Some(KEY)).unwrap();
        let bytes = codec.encode(&record()).unwrap();
        assert!(bytes.starts_with(SEALED));
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
        assert_eq!(codec.decode(&bytes), Some(record()));
        // A fresh nonce each time.
        assert_ne!(bytes, codec.encode(&record()).unwrap());
    }

    #[test]
    fn wrong_missing_or_damaged_keys_make_values_unreadable() {
        let bytes = Codec::new(Some(KEY)).unwrap().encode(&record()).unwrap();
        assert_eq!(Codec::new(Some(OTHER)).unwrap().decode(&bytes), None);
        assert_eq!(Codec::new(None).unwrap().decode(&bytes), None);
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(Codec::new(Some(KEY)).unwrap().decode(&flipped), None);
        assert_eq!(Codec::new(Some(KEY)).unwrap().decode(&bytes[..10]), None);
    }

    #[test]
    fn plain_values_stay_readable_with_a_key() {
        let plain = Codec::new(None).unwrap().encode(&record()).unwrap();
        assert_eq!(
            Codec::new(Some(KEY)).unwrap().decode(&plain),
            Some(record())
        );
    }

    #[test]
    fn keys_must_be_64_hex_digits() {
        for bad in [
            "",
            "00",
            &KEY[1..],
            &format!("{}zz", &KEY[2..]),
            &format!("{KEY}00"),
            "é".repeat(32).as_str(),
        ] {
            assert!(Codec::new(Some(bad)).is_err(), "{bad}");
        }
    }
}
