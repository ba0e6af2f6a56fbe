//! The baseline store: SQLite as the AT SDK uses it, one row per hit.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// `synchronous`: FULL makes every commit durable when it returns (an fsync
/// of the WAL), the same promise as HitKit's `save_did_end`; NORMAL does not
/// fsync at commit in WAL mode.
#[derive(Clone, Copy)]
pub enum Sync {
    Full,
    Normal,
}

pub struct HitTable {
    conn: Connection,
}

impl HitTable {
    pub fn create(dir: &Path, sync: Sync) -> HitTable {
        let conn = Connection::open(dir.join("hits.sqlite")).expect("sqlite opens");
        let sync = match sync {
            Sync::Full => "FULL",
            Sync::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {sync};
             CREATE TABLE IF NOT EXISTS hits (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 url TEXT NOT NULL,
                 created_ms INTEGER NOT NULL,
                 retry_count INTEGER NOT NULL DEFAULT 0
             );"
        ))
        .expect("sqlite schema");
        HitTable { conn }
    }

    fn insert(&self, url: &str, created_ms: u64) {
        self.conn
            .prepare_cached("INSERT INTO hits (url, created_ms) VALUES (?1, ?2)")
            .and_then(|mut insert| insert.execute((url, created_ms as i64)))
            .expect("sqlite insert");
    }

    /// One autocommit INSERT per hit; returns the time for all of them.
    pub fn insert_each(&self, urls: &[String]) -> Duration {
        let start = Instant::now();
        for (i, url) in urls.iter().enumerate() {
            self.insert(url, i as u64);
        }
        start.elapsed()
    }

    /// One transaction per `batch` hits.
    pub fn insert_batched(&mut self, urls: &[String], batch: usize) -> Duration {
        let start = Instant::now();
        for chunk in urls.chunks(batch.max(1)) {
            let tx = self.conn.transaction().expect("sqlite begin");
            for (i, url) in chunk.iter().enumerate() {
                tx.prepare_cached("INSERT INTO hits (url, created_ms) VALUES (?1, ?2)")
                    .and_then(|mut insert| insert.execute((url, i as i64)))
                    .expect("sqlite insert");
            }
            tx.commit().expect("sqlite commit");
        }
        start.elapsed()
    }

    /// The oldest hit, as the AT SDK's dispatch reads it.
    pub fn oldest(&self) -> Option<(i64, String)> {
        self.conn
            .prepare_cached("SELECT id, url FROM hits ORDER BY id LIMIT 1")
            .and_then(|mut select| select.query_row([], |row| Ok((row.get(0)?, row.get(1)?))))
            .ok()
    }

    pub fn delete(&self, id: i64) {
        self.conn
            .prepare_cached("DELETE FROM hits WHERE id = ?1")
            .and_then(|mut delete| delete.execute([id]))
            .expect("sqlite delete");
    }

    /// The latency of each autocommit INSERT, one at a time.
    pub fn insert_latencies(&self, url: &str, count: usize) -> Vec<Duration> {
        (0..count)
            .map(|i| {
                let start = Instant::now();
                self.insert(url, i as u64);
                start.elapsed()
            })
            .collect()
    }
}
