//! Plain values that cross the FFI.

use std::time::{Duration, SystemTime};

use crate::engine::{self, HitKind, StorageMode, StoredHit};

/// How a tracker stores hits (`storage` config key).
#[derive(uniffi::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfflineModeKey {
    /// Store hits only when the connection is lost.
    Required,
    /// Store every hit; only `dispatch` sends them.
    Always,
    /// Never store a hit (the default).
    Never,
}

#[derive(uniffi::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitStatus {
    Success,
    Failed,
}

#[derive(uniffi::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitType {
    Screen,
    Touch,
    Custom,
}

#[derive(uniffi::Record, Debug, Clone, PartialEq, Eq, Hash)]
pub struct HitParam {
    pub key: String,
    pub value: String,
}

impl HitParam {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        HitParam {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A stored hit, as `Offline` lists it.
#[derive(uniffi::Record, Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: u64,
    pub url: String,
    pub creation_date: SystemTime,
    /// Attempts already used (non-2xx answers).
    pub retry_count: u32,
    pub is_offline: bool,
    pub hit_type: HitType,
}

/// What a `dispatch_and_wait` pass did.
#[derive(uniffi::Record, Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Accepted by the collector and deleted.
    pub sent: u64,
    /// Refused by the collector, kept for another attempt.
    pub failed: u64,
    /// Deleted unsent: attempts used up, or older than `maxStorageAgeDays`.
    pub dropped: u64,
    /// Still stored when the pass ended.
    pub remaining: u64,
}

impl From<OfflineModeKey> for StorageMode {
    fn from(mode: OfflineModeKey) -> Self {
        match mode {
            OfflineModeKey::Required => StorageMode::Required,
            OfflineModeKey::Always => StorageMode::Always,
            OfflineModeKey::Never => StorageMode::Never,
        }
    }
}

impl From<StorageMode> for OfflineModeKey {
    fn from(mode: StorageMode) -> Self {
        match mode {
            StorageMode::Required => OfflineModeKey::Required,
            StorageMode::Always => OfflineModeKey::Always,
            StorageMode::Never => OfflineModeKey::Never,
        }
    }
}

impl From<engine::Status> for HitStatus {
    fn from(status: engine::Status) -> Self {
        match status {
            engine::Status::Success => HitStatus::Success,
            engine::Status::Failed => HitStatus::Failed,
        }
    }
}

impl From<HitKind> for HitType {
    fn from(kind: HitKind) -> Self {
        match kind {
            HitKind::Screen => HitType::Screen,
            HitKind::Touch => HitType::Touch,
            HitKind::Custom => HitType::Custom,
        }
    }
}

impl From<StoredHit> for Hit {
    fn from(hit: StoredHit) -> Self {
        Hit {
            id: hit.id,
            url: hit.url,
            creation_date: SystemTime::UNIX_EPOCH + Duration::from_millis(hit.created_ms),
            retry_count: hit.retry_count,
            is_offline: true,
            hit_type: hit.kind.into(),
        }
    }
}

impl From<engine::DispatchSummary> for DispatchReport {
    fn from(s: engine::DispatchSummary) -> Self {
        DispatchReport {
            sent: s.sent,
            failed: s.failed,
            dropped: s.dropped,
            remaining: s.remaining,
        }
    }
}
