//! What the fuzz targets and the seed generator (`examples/seeds.rs`)
//! share: the input formats and the codecs.
//!
//! Inputs are plain byte layouts rather than `arbitrary` structures, so the
//! generator can write seeds holding real records made by the real encoder,
//! and libFuzzer mutates the record bytes themselves.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use hitkit::internal::store::hits::Key;
use hitkit::internal::store::record::{Codec, Sealer};

/// The key every sealed seed is sealed with; the unlocked codecs hold it.
pub const KEY: &str = "6b8d1f0a3c5e7092b4d6f8a1c3e5079b2d4f6a8c1e3f5071a2c4e6f8091b3d5f";

/// The ways a store reads its records, chosen by an input's first byte.
pub const CODECS: [&str; 4] = [
    "plain",       // a store in clear, no key
    "locked",      // an encrypted store, no key (or the wrong one)
    "unlocked",    // an encrypted store with its key
    "turning-off", // encryption being turned off: the key, records in clear allowed
];

pub fn sealer() -> Arc<Sealer> {
    static SEALER: LazyLock<Arc<Sealer>> =
        LazyLock::new(|| Arc::new(Sealer::new(&KEY.into()).expect("a valid key")));
    SEALER.clone()
}

/// The codec of `selector` (taken modulo the number of codecs).
pub fn codec(selector: u8) -> &'static Codec {
    static ALL: LazyLock<[Codec; 4]> = LazyLock::new(|| {
        [
            Codec::plain(),
            Codec::new(None, true),
            Codec::new(Some(sealer()), true),
            Codec::new(Some(sealer()), false),
        ]
    });
    &ALL[selector as usize % ALL.len()]
}

/// Takes `[len][len bytes]` off the front of `data`.
fn short<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, rest) = data.split_first()?;
    let (bytes, rest) = rest.split_at_checked(len as usize)?;
    *data = rest;
    Some(bytes)
}

/// The `record` target's input: a value under any place.
/// `[codec][tree len][tree][key len][key][value...]`
pub struct RecordInput<'a> {
    pub codec: u8,
    pub tree: &'a [u8],
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl<'a> RecordInput<'a> {
    pub fn parse(mut data: &'a [u8]) -> Option<Self> {
        let (&codec, rest) = data.split_first()?;
        data = rest;
        let tree = short(&mut data)?;
        let key = short(&mut data)?;
        Some(RecordInput {
            codec,
            tree,
            key,
            value: data,
        })
    }

    pub fn tree(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.tree)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.codec, self.tree.len() as u8];
        out.extend_from_slice(self.tree);
        out.push(self.key.len() as u8);
        out.extend_from_slice(self.key);
        out.extend_from_slice(self.value);
        out
    }
}

/// The `journal` target's input: a journal entry of tracker `name`, for
/// the hit that would be stored under `key`.
/// `[codec][name len][name][16-byte key][value...]`
pub struct JournalInput<'a> {
    pub codec: u8,
    pub name: &'a [u8],
    pub key: Key,
    pub value: &'a [u8],
}

impl<'a> JournalInput<'a> {
    pub fn parse(mut data: &'a [u8]) -> Option<Self> {
        let (&codec, rest) = data.split_first()?;
        data = rest;
        let name = short(&mut data)?;
        let (key, value) = data.split_first_chunk::<16>()?;
        Some(JournalInput {
            codec,
            name,
            key: *key,
            value,
        })
    }

    pub fn tree(&self) -> String {
        format!("hits/{}", String::from_utf8_lossy(self.name))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.codec, self.name.len() as u8];
        out.extend_from_slice(self.name);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(self.value);
        out
    }
}

/// Which sled tree a `stored_values` entry goes to.
pub const STORE_TREES: [&str; 3] = ["hits/default", "hits/other", "meta"];

/// How a `stored_values` entry's key is made, from its kind byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// 16 bytes taken as a stored hit's key (first byte kept below 0xFF,
    /// as a real creation time is).
    Hit,
    /// 16 bytes taken as a journal entry's hit key (`0xFF` put in front).
    Journal,
    /// The bytes as they are: any length, the tally key, meta's names.
    Raw,
}

/// One entry written into the store before it is opened.
pub struct StoreEntry {
    pub tree: &'static str,
    pub kind: KeyKind,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// The `stored_values` target's input:
/// `[flags]` then entries `[tree and kind][key len][key][value len: u16 LE][value]`.
/// The tree is `byte % 3`, the kind `byte / 3 % 3` ([`KeyKind`]).
pub struct StoreInput {
    pub flags: u8,
    pub entries: Vec<StoreEntry>,
}

impl StoreInput {
    pub const MAX_ENTRIES: usize = 64;

    pub fn parse(data: &[u8]) -> Option<StoreInput> {
        let (&flags, mut data) = data.split_first()?;
        let mut entries = Vec::new();
        while entries.len() < Self::MAX_ENTRIES {
            let Some((&selector, rest)) = data.split_first() else {
                break;
            };
            data = rest;
            let Some(key) = short(&mut data) else { break };
            let Some((len, rest)) = data.split_first_chunk::<2>() else {
                break;
            };
            let len = (u16::from_le_bytes(*len) as usize).min(rest.len());
            let (value, rest) = rest.split_at(len);
            data = rest;
            let kind = [KeyKind::Hit, KeyKind::Journal, KeyKind::Raw][selector as usize / 3 % 3];
            let key = match kind {
                KeyKind::Raw => key.to_vec(),
                _ if key.len() < 16 => continue,
                KeyKind::Hit => {
                    let mut hit = key[..16].to_vec();
                    hit[0] = hit[0].min(0xFE);
                    hit
                }
                KeyKind::Journal => [&[0xFF], &key[..16]].concat(),
            };
            entries.push(StoreEntry {
                tree: STORE_TREES[selector as usize % 3],
                kind,
                key,
                value: value.to_vec(),
            });
        }
        Some(StoreInput { flags, entries })
    }

    /// Writes an entry in the input format (the generator's side).
    pub fn push_bytes(out: &mut Vec<u8>, tree: usize, kind: KeyKind, key: &[u8], value: &[u8]) {
        let kind = match kind {
            KeyKind::Hit => 0,
            KeyKind::Journal => 1,
            KeyKind::Raw => 2,
        };
        let key = match kind {
            1 => &key[1..], // the 0xFF is put back when read
            _ => key,
        };
        out.push((kind * 3 + tree) as u8);
        out.push(key.len() as u8);
        out.extend_from_slice(key);
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(value);
    }
}
