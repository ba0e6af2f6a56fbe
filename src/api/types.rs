//! The values of the API. Most are the engine's own, declared to UniFFI
//! under their own names so Rust, Swift and Kotlin say the same thing
//! (`uniffi::remote`: these declarations must match `engine/types.rs`
//! field for field). `Hit` is the API's view of a stored hit.

use std::time::{Duration, SystemTime};

use crate::engine::hit;
use crate::engine::store::StoredHit;
use crate::engine::types::{
    DispatchReport, HitParam, HitStatus, HitType, LogLevel, OfflineModeKey,
};

#[uniffi::remote(Enum)]
pub enum OfflineModeKey {
    Required,
    Always,
    Never,
}

#[uniffi::remote(Enum)]
pub enum HitStatus {
    Success,
    Failed,
}

#[uniffi::remote(Enum)]
pub enum HitType {
    Screen,
    Touch,
    Custom,
}

#[uniffi::remote(Enum)]
pub enum LogLevel {
    Off,
    Error,
    Warning,
    Info,
    Debug,
}

#[uniffi::remote(Record)]
pub struct HitParam {
    pub key: String,
    pub value: String,
}

/// A stored hit, as `Offline` lists it.
#[derive(uniffi::Record, Debug, Clone, PartialEq)]
pub struct Hit {
    /// Unique among the tracker's stored hits.
    pub id: i64,
    /// The URL it will be sent to: the current collector and its query.
    pub url: String,
    pub creation_date: SystemTime,
    /// Attempts already used (non-2xx answers).
    pub retry_count: i32,
    pub is_offline: bool,
    pub hit_type: HitType,
}

impl Hit {
    pub(crate) fn new(stored: StoredHit, base_url: &str) -> Hit {
        Hit {
            id: stored.id() as i64,
            url: hit::url(base_url, &stored.record.query),
            creation_date: SystemTime::UNIX_EPOCH + Duration::from_millis(stored.created_ms()),
            retry_count: stored.record.attempts as i32,
            is_offline: true,
            hit_type: stored.record.hit_type,
        }
    }
}

#[uniffi::remote(Record)]
pub struct DispatchReport {
    pub sent: i64,
    pub failed: i64,
    pub dropped: i64,
    pub remaining: i64,
}
