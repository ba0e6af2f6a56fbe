//! `TrackerConfig` as UniFFI sees it (defined in `engine/config.rs`; this
//! mirror must match it field for field, and carries the defaults the
//! foreign constructors use). The encryption key crosses as a string.

use crate::engine::config::TrackerConfig;
use crate::engine::secret::EncryptionKey;
use crate::engine::types::{LogLevel, OfflineModeKey};

uniffi::custom_type!(EncryptionKey, String, {
    remote,
    lower: |key| key.expose().to_owned(),
    try_lift: |hex| Ok(EncryptionKey::new(hex)),
});

#[uniffi::remote(Record)]
pub struct TrackerConfig {
    pub site: String,
    pub database_path: String,
    #[uniffi(default = "logp")]
    pub log: String,
    #[uniffi(default = "logs")]
    pub log_ssl: String,
    #[uniffi(default = "xiti.com")]
    pub domain: String,
    #[uniffi(default = "/hit.xiti")]
    pub pixel_path: String,
    #[uniffi(default = true)]
    pub secure: bool,
    #[uniffi(default = None)]
    pub endpoint: Option<String>,
    #[uniffi(default = "uuid")]
    pub identifier: String,
    #[uniffi(default = None)]
    pub storage: Option<OfflineModeKey>,
    #[uniffi(default = 8000)]
    pub max_hit_size: i32,
    #[uniffi(default = 3)]
    pub max_attempts: i32,
    #[uniffi(default = 20000)]
    pub max_stored_hits: i64,
    #[uniffi(default = 30)]
    pub max_storage_age_days: i32,
    #[uniffi(default = 15000)]
    pub request_timeout_ms: i64,
    #[uniffi(default = 1)]
    pub dispatch_concurrency: i32,
    #[uniffi(default = "default")]
    pub name: String,
    #[uniffi(default = None)]
    pub encryption_key: Option<EncryptionKey>,
    #[uniffi(default = None)]
    pub log_level: Option<LogLevel>,
    #[uniffi(default = None)]
    pub hit_id_parameter: Option<String>,
    #[uniffi(default = true)]
    pub query_in_messages: bool,
}
