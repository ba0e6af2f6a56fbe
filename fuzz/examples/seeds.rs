//! Writes the fuzz seeds, `fuzz/seeds/<target>/`, from real records:
//!
//! - `record`, `journal`: records made by the engine's encoder
//!   (`Codec::encode`), plain and sealed, under stored-hit and journal
//!   places; legacy JSON and `HKE1` records as stores before format 1
//!   wrote them (the engine reads them, no longer writes them); a few
//!   damaged ones.
//! - `clean_close`: the `hitkit.closed` left by real trackers' clean closes.
//! - `stored_values`: every entry of stores made by real trackers (in
//!   clear and encrypted, with journal entries), with and without the tally.
//!
//! Every record that should read is checked to read before it is written.
//! Sealed records take a fresh nonce, so each run writes other bytes.
//!
//!   cargo run --manifest-path fuzz/Cargo.toml --example seeds

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hitkit::internal::store::Database;
use hitkit::internal::store::hits::{Changes, journal_key, make_key};
use hitkit::internal::store::record::{Place, Record};
use hitkit::internal::types::HitType;
use hitkit::{HitParam, OfflineModeKey, Tracker, TrackerConfig};
use hitkit_fuzz::{JournalInput, KEY, KeyKind, RecordInput, STORE_TREES, StoreInput, codec};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

const PLAIN: u8 = 0;
const LOCKED: u8 = 1;
const UNLOCKED: u8 = 2;
const TURNING_OFF: u8 = 3;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let dir = |target: &str| {
        let dir = root.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("seeds directory");
        dir
    };
    let records = record_seeds(&dir("record"));
    let journal = journal_seeds(&dir("journal"));
    let stores = real_stores();
    let closes = clean_close_seeds(&dir("clean_close"), &stores);
    let trees = stored_values_seeds(&dir("stored_values"), &stores);
    println!(
        "seeds written to {}: record {records}, journal {journal}, clean_close {closes}, \
         stored_values {trees}",
        root.display()
    );
}

fn records() -> Vec<Record> {
    let idclient = "0b5f6a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
    let part = format!(
        "s=123456&idclient={idclient}&ts=1700000000000&mh=1-3-4242&olt=1700000000.250\
         &vtag=0.1.0&ptag=linux&{}&cn=offline",
        (0..120)
            .map(|i| format!("x{i}=v{i}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    vec![
        Record {
            hit_type: HitType::Screen,
            attempts: 0,
            query: format!(
                "s=123456&idclient={idclient}&ts=1700000000000&olt=1700000000.001\
                 &vtag=0.1.0&ptag=linux&p=Home&cn=offline"
            ),
        },
        Record {
            hit_type: HitType::Touch,
            attempts: 2,
            query: format!(
                "s=123456&idclient={idclient}&ts=1700000000123&hid=7f3a9c1e\
                 &vtag=0.1.0&ptag=android&p=Pay%20Now&click=A&cn=offline"
            ),
        },
        Record {
            hit_type: HitType::Custom,
            attempts: 255,
            query: String::new(),
        },
        Record {
            hit_type: HitType::Screen,
            attempts: 1,
            query: "s=1&p=café&x=%E2%82%AC".into(),
        },
        Record {
            hit_type: HitType::Custom,
            attempts: 0,
            query: part,
        },
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write a seed");
}

/// As stores before format 1 wrote a hit: JSON, fields in this order.
fn legacy_json(record: &Record, created_ms: u64) -> Vec<u8> {
    let kind = match record.hit_type {
        HitType::Screen => "screen",
        HitType::Touch => "touch",
        HitType::Custom => "custom",
    };
    let url = format!("https://logs.xiti.com/hit.xiti?{}", record.query);
    format!(
        r#"{{"url":{},"created_ms":{created_ms},"retry_count":{},"kind":"{kind}"}}"#,
        serde_json::to_string(&url).expect("a string"),
        record.attempts
    )
    .into_bytes()
}

/// `HKE1 | nonce | AES-256-GCM(JSON)`, no associated data, as before format 1.
fn legacy_sealed(json: &[u8]) -> Vec<u8> {
    let bytes = hitkit::internal::secret::EncryptionKey::from(KEY)
        .bytes()
        .expect("a valid key");
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes.as_slice()).expect("key"));
    let mut nonce = [0u8; NONCE_LEN];
    getrandom(&mut nonce);
    let mut body = json.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
        .expect("sealing works");
    [&b"HKE1"[..], &nonce, &body].concat()
}

/// A nonce from the OS, through ring (no other dependency needed).
fn getrandom(out: &mut [u8]) {
    use ring::rand::{SecureRandom, SystemRandom};
    SystemRandom::new().fill(out).expect("randomness");
}

/// Damaged and foreign values, read by every codec.
const DAMAGED: &[(&str, &[u8])] = &[
    ("empty", b""),
    ("version-only", b"\x01"),
    ("bad-type", b"\x01\x07\x00s=1"),
    ("bad-utf8", b"\x01\x00\x00s=\xff\xfe"),
    ("sealed-short", b"\x02short"),
    ("json-broken", b"{\"url\":"),
    ("json-no-kind", br#"{"url":"http://h/x?s=1"}"#),
    ("hke1-short", b"HKE1"),
];

fn record_seeds(dir: &Path) -> usize {
    let mut n = 0;
    let mut seed = |name: String, codec_id: u8, tree: &str, key: &[u8], value: &[u8]| {
        let input = RecordInput {
            codec: codec_id,
            tree: tree.as_bytes(),
            key,
            value,
        };
        write(dir, &name, &input.to_bytes());
        n += 1;
    };
    for (i, record) in records().iter().enumerate() {
        let created_ms = 1_700_000_000_000 + i as u64;
        for tree in ["hits/default", "hits/other"] {
            let key = make_key(created_ms, i as u64 + 1);
            let place = Place { tree, key: &key };
            let tag = tree.trim_start_matches("hits/");
            let plain = codec(PLAIN).encode(record, &place).expect("encode");
            let sealed = codec(UNLOCKED).encode(record, &place).expect("encode");
            assert_eq!(codec(PLAIN).decode(&plain, &place).as_ref(), Ok(record));
            assert_eq!(codec(UNLOCKED).decode(&sealed, &place).as_ref(), Ok(record));
            for codec_id in [PLAIN, LOCKED, UNLOCKED, TURNING_OFF] {
                seed(
                    format!("plain-{tag}-{i}-c{codec_id}"),
                    codec_id,
                    tree,
                    &key,
                    &plain,
                );
                seed(
                    format!("sealed-{tag}-{i}-c{codec_id}"),
                    codec_id,
                    tree,
                    &key,
                    &sealed,
                );
            }
        }
        let key = make_key(created_ms, 100 + i as u64);
        let place = Place {
            tree: "hits/default",
            key: &key,
        };
        let json = legacy_json(record, created_ms);
        let hke1 = legacy_sealed(&json);
        assert_eq!(
            codec(PLAIN).decode(&json, &place).map(|r| r.query),
            Ok(record.query.clone())
        );
        assert_eq!(
            codec(UNLOCKED).decode(&hke1, &place).map(|r| r.query),
            Ok(record.query.clone())
        );
        for codec_id in [PLAIN, LOCKED, UNLOCKED, TURNING_OFF] {
            seed(
                format!("json-{i}-c{codec_id}"),
                codec_id,
                "hits/default",
                &key,
                &json,
            );
            seed(
                format!("hke1-{i}-c{codec_id}"),
                codec_id,
                "hits/default",
                &key,
                &hke1,
            );
        }
    }
    let key = make_key(1_700_000_000_000, 1);
    for (name, value) in DAMAGED {
        for codec_id in [PLAIN, UNLOCKED] {
            seed(
                format!("damaged-{name}-c{codec_id}"),
                codec_id,
                "hits/default",
                &key,
                value,
            );
        }
    }
    n
}

fn journal_seeds(dir: &Path) -> usize {
    let mut n = 0;
    for (i, record) in records().iter().enumerate() {
        let key = make_key(1_700_000_000_000 + i as u64, i as u64 + 1);
        let jkey = journal_key(&key);
        for name in ["default", "other"] {
            let tree = format!("hits/{name}");
            let place = Place {
                tree: &tree,
                key: &jkey,
            };
            for (kind, writer) in [("plain", PLAIN), ("sealed", UNLOCKED)] {
                let value = codec(writer).encode(record, &place).expect("encode");
                assert_eq!(codec(writer).decode(&value, &place).as_ref(), Ok(record));
                // Read back as each kind of store would.
                for codec_id in [PLAIN, LOCKED, UNLOCKED, TURNING_OFF] {
                    let input = JournalInput {
                        codec: codec_id,
                        name: name.as_bytes(),
                        key,
                        value: &value,
                    };
                    write(
                        dir,
                        &format!("{kind}-{name}-{i}-c{codec_id}"),
                        &input.to_bytes(),
                    );
                    n += 1;
                }
            }
        }
    }
    n
}

/// Stores made by real trackers, closed cleanly.
struct Stores {
    _dir: tempfile::TempDir,
    paths: Vec<PathBuf>,
}

fn tracker(path: &Path, name: &str, key: Option<&str>) -> Arc<Tracker> {
    Tracker::new(
        TrackerConfig {
            site: "123456".into(),
            database_path: path.display().to_string(),
            endpoint: Some("http://127.0.0.1:9/hit.xiti".into()),
            storage: Some(OfflineModeKey::Always),
            name: name.into(),
            encryption_key: key.map(Into::into),
            hit_id_parameter: Some("hid".into()),
            ..Default::default()
        },
        None,
    )
    .expect("a tracker")
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// Waits until the store's lock is free (a dropped tracker's worker
/// finishes its clean close just after the drop).
fn wait_for_release(path: &Path) {
    let lock = std::fs::File::open(path.join("hitkit.lock")).expect("lock file");
    let deadline = Instant::now() + Duration::from_secs(10);
    while lock.try_lock().is_err() {
        assert!(
            Instant::now() < deadline,
            "the tracker never released its store"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn real_stores() -> Stores {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut paths = Vec::new();
    for (label, key) in [("plain", None), ("sealed", Some(KEY))] {
        let path = dir.path().join(label);
        for (name, hits) in [("default", 3), ("other", 1)] {
            let tracker = tracker(&path, name, key);
            for i in 0..hits {
                let params = vec![HitParam::new("chapter", format!("ch{i}"))];
                match i % 3 {
                    0 => tracker.send_screen(format!("Screen {i}"), params),
                    1 => tracker.send_touch(format!("Button {i}"), params),
                    _ => tracker.send(params),
                }
                .expect("a hit");
            }
            block_on(tracker.flush()).expect("flush");
            drop(tracker);
            wait_for_release(&path);
        }
        // Hits in flight when the app stopped: journal entries, written
        // by the engine's own store.
        {
            let (database, _) = Database::open(&path).expect("the store opens");
            let key = key.map(hitkit::internal::secret::EncryptionKey::from);
            database.use_key(key.as_ref()).expect("the key");
            let (store, _) = database.hit_store("default").expect("hit store");
            let mut changes = Changes::default();
            for (i, record) in records().into_iter().take(2).enumerate() {
                changes.journal(&make_key(1_800_000_000_000, 900 + i as u64), record);
            }
            store.apply(changes).expect("journal entries");
            database.sync().expect("sync");
        }
        wait_for_release(&path);
        paths.push(path);
    }
    Stores { _dir: dir, paths }
}

fn clean_close_seeds(dir: &Path, stores: &Stores) -> usize {
    for (i, path) in stores.paths.iter().enumerate() {
        let bytes = std::fs::read(path.join("hitkit.closed")).expect("a clean close record");
        assert!(
            hitkit::internal::store::clean_close::CleanClose::parse(&bytes).is_some(),
            "a real record parses"
        );
        write(dir, &format!("closed-{i}"), &bytes);
    }
    write(dir, "empty-record", br#"{"counts":{},"files":{}}"#);
    stores.paths.len() + 1
}

fn stored_values_seeds(dir: &Path, stores: &Stores) -> usize {
    let mut n = 0;
    for (i, path) in stores.paths.iter().enumerate() {
        let db = sled::open(path.join("store")).expect("sled");
        for with_tally in [true, false] {
            for flags in [0u8, 1] {
                let mut input = vec![flags];
                for (t, tree_name) in STORE_TREES.iter().enumerate() {
                    let tree = db.open_tree(tree_name).expect("tree");
                    for entry in tree.iter() {
                        let (key, value) = entry.expect("entry");
                        let kind = match key.len() {
                            _ if !tree_name.starts_with("hits/") => KeyKind::Raw,
                            16 => KeyKind::Hit,
                            17 => KeyKind::Journal,
                            _ if !with_tally => continue,
                            _ => KeyKind::Raw,
                        };
                        StoreInput::push_bytes(&mut input, t, kind, &key, &value);
                    }
                }
                let parsed = StoreInput::parse(&input).expect("the seed parses");
                assert!(parsed.entries.len() < StoreInput::MAX_ENTRIES);
                write(
                    dir,
                    &format!("store-{i}-tally{}-f{flags}", with_tally as u8),
                    &input,
                );
                n += 1;
            }
        }
    }
    n
}
