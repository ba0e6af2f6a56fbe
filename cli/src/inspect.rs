//! `hitkit inspect`: what a tracker's store holds, e.g. one copied from a
//! device (the directory a tracker's `databasePath` points at).
//!
//! It opens the store with the engine's own code, so it reads exactly what
//! the tracker would. That also means it takes the store's lock file: a
//! store in use by a running app is reported as such, never read under it.

use std::path::Path;

use hitkit::internal::error::TrackerError as Error;
use hitkit::internal::store::{Database, StoredHit};
use hitkit::internal::types::HitType as HitKind;
use serde_json::{Value, json};

use crate::Failure;
use crate::clock::iso8601;

pub struct Options {
    pub path: std::path::PathBuf,
    pub name: String,
    pub json: bool,
    pub list: bool,
}

pub fn run(opts: &Options) -> Result<(), Failure> {
    let path = opts.path.as_path();
    check_is_store(path)?;
    let (database, mut notices) = Database::open(path).map_err(|e| explain(path, e))?;
    let (store, more) = database
        .hit_store(&opts.name)
        .map_err(|e| explain(path, e))?;
    notices.extend(more);
    // Opening can repair things (in-flight hits turned into stored ones,
    // unreadable ones deleted): say so, on stderr so JSON stays clean.
    for notice in notices {
        eprintln!("note: {notice}");
    }
    let hits = store.all().map_err(|e| explain(path, e))?;

    if opts.json {
        let text = if opts.list {
            Value::Array(hits.iter().map(hit_json).collect())
        } else {
            json!({
                "path": path.display().to_string(),
                "name": opts.name,
                "count": hits.len(),
                "oldest": hits.first().map(|h| iso8601(h.created_ms())),
                "newest": hits.last().map(|h| iso8601(h.created_ms())),
            })
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&text).unwrap_or_default()
        );
        return Ok(());
    }

    println!(
        "{} (tracker \"{}\"): {} stored hit(s)",
        path.display(),
        opts.name,
        hits.len()
    );
    if let (Some(first), Some(last)) = (hits.first(), hits.last()) {
        println!(
            "  oldest {}   newest {}",
            iso8601(first.created_ms()),
            iso8601(last.created_ms())
        );
        let count = |kind: HitKind| hits.iter().filter(|h| h.record.hit_type == kind).count();
        println!(
            "  screen {}   touch {}   custom {}   retried {}",
            count(HitKind::Screen),
            count(HitKind::Touch),
            count(HitKind::Custom),
            hits.iter().filter(|h| h.record.attempts > 0).count()
        );
    }
    if opts.list {
        println!(
            "  {:<8} {:<24}  {:<7}  {:<6}  URL",
            "ID", "CREATED (UTC)", "RETRIES", "TYPE"
        );
        for hit in &hits {
            println!(
                "  {:<8} {:<24}  {:<7}  {:<6}  {}",
                hit.id(),
                iso8601(hit.created_ms()),
                hit.record.attempts,
                kind_name(hit.record.hit_type),
                hit.record.query
            );
        }
    } else if !hits.is_empty() {
        println!("  (--list shows each hit)");
    }
    Ok(())
}

/// Refuses paths that are not a tracker's store: `Database::open` would
/// otherwise create an empty store there and report 0 hits.
fn check_is_store(path: &Path) -> Result<(), Failure> {
    let shown = path.display();
    if !path.exists() {
        return Err(Failure::usage(format!("{shown}: no such directory")));
    }
    if !path.is_dir() {
        return Err(Failure::usage(format!(
            "{shown} is a file; give the directory a tracker's databasePath points at"
        )));
    }
    if !path.join("store").is_dir() {
        return Err(Failure::usage(format!(
            "{shown} holds no HitKit store (no {shown}/store directory); give the directory a tracker's databasePath points at"
        )));
    }
    Ok(())
}

fn explain(path: &Path, error: Error) -> Failure {
    match error {
        Error::StorageLocked { .. } => Failure::usage(format!(
            "the store at {} is locked by another process (an app or tracker holds {}); \
             stop it, or copy the directory and inspect the copy",
            path.display(),
            path.join("hitkit.lock").display()
        )),
        other => Failure::usage(format!(
            "cannot read the store at {}: {other}",
            path.display()
        )),
    }
}

fn hit_json(hit: &StoredHit) -> Value {
    json!({
        "id": hit.id(),
        "created": iso8601(hit.created_ms()),
        "created_ms": hit.created_ms(),
        "retry_count": hit.record.attempts,
        "type": kind_name(hit.record.hit_type),
        "query": hit.record.query,
    })
}

fn kind_name(kind: HitKind) -> &'static str {
    match kind {
        HitKind::Screen => "screen",
        HitKind::Touch => "touch",
        HitKind::Custom => "custom",
    }
}
