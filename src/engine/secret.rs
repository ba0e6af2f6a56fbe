//! The app's encryption key as HitKit holds it: zeroed when dropped, never
//! printed, and checked to be exactly 64 hex digits.

use zeroize::Zeroizing;

use super::error::{Result, TrackerError};

pub const KEY_HEX_LEN: usize = 64;

/// 32 bytes, written as 64 hex digits (`encryptionKey`).
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(Zeroizing<String>);

/// What `config()` shows in place of a key: a key is never returned.
pub const REDACTED: &str = "(set, not shown)";

impl EncryptionKey {
    pub fn new(hex: impl Into<String>) -> Self {
        EncryptionKey(Zeroizing::new(hex.into()))
    }

    /// The stand-in `config()` returns; it is not a usable key.
    pub fn redacted() -> Self {
        EncryptionKey::new(REDACTED)
    }

    /// The hex text, for the FFI layer only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key's bytes; fails unless it is exactly 64 hex digits.
    pub fn bytes(&self) -> Result<Zeroizing<[u8; 32]>> {
        let bad = || {
            TrackerError::config(
                "encryptionKey",
                format!("must be {KEY_HEX_LEN} hex digits (32 bytes)"),
            )
        };
        if self.0.as_str() == REDACTED {
            return Err(TrackerError::config(
                "encryptionKey",
                "is the placeholder config() shows in place of a key: pass the key itself",
            ));
        }
        let hex = self.0.as_bytes();
        if hex.len() != KEY_HEX_LEN {
            return Err(bad());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
            *byte =
                (hex_digit(pair[0]).ok_or_else(bad)? << 4) | hex_digit(pair[1]).ok_or_else(bad)?;
        }
        Ok(key)
    }
}

/// Only `0-9a-fA-F`: `u8::from_str_radix` would also take a leading `+`.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

impl From<&str> for EncryptionKey {
    fn from(hex: &str) -> Self {
        EncryptionKey::new(hex)
    }
}

impl From<String> for EncryptionKey {
    fn from(hex: String) -> Self {
        EncryptionKey::new(hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn only_64_hex_digits_make_a_key() {
        assert_eq!(EncryptionKey::from(KEY).bytes().unwrap()[31], 0x1f);
        assert_eq!(
            EncryptionKey::from(KEY.to_uppercase()).bytes().unwrap()[10],
            0x0a
        );
        let plus = format!("+{}", &KEY[1..]);
        let tail = format!("{}zz", &KEY[..62]);
        for bad in ["", "00", &KEY[1..], &plus, &tail, &format!("{KEY}00")] {
            assert!(EncryptionKey::from(bad).bytes().is_err(), "{bad}");
        }
        assert!(EncryptionKey::from("é".repeat(32)).bytes().is_err());
    }

    #[test]
    fn the_placeholder_is_not_a_key_and_says_so() {
        let error = EncryptionKey::redacted().bytes().unwrap_err();
        assert!(error.to_string().contains("placeholder"), "{error}");
    }

    #[test]
    fn a_key_is_never_printed() {
        let text = format!("{:?}", Some(EncryptionKey::from(KEY)));
        assert!(!text.contains("0a0b"), "{text}");
    }
}
