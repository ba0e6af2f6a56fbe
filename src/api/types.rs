//! The engine's values, declared to UniFFI under their own names: Rust,
//! Swift and Kotlin say the same thing (the definitions are in
//! `engine/types.rs`; these mirrors must match them field for field).

use std::time::SystemTime;

use crate::engine::types::{
    DispatchReport, Hit, HitParam, HitStatus, HitType, LogLevel, OfflineModeKey,
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

#[uniffi::remote(Record)]
pub struct Hit {
    pub id: i64,
    pub url: String,
    pub creation_date: SystemTime,
    pub retry_count: i32,
    pub is_offline: bool,
    pub hit_type: HitType,
}

#[uniffi::remote(Record)]
pub struct DispatchReport {
    pub sent: i64,
    pub failed: i64,
    pub dropped: i64,
    pub remaining: i64,
}
