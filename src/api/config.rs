//! `TrackerConfig`: the constructor's configuration record.

use crate::engine::Settings;

use super::types::OfflineModeKey;

/// Defaults are those of the AT SmartTag SDK. In Rust,
/// `TrackerConfig { site, database_path, ..Default::default() }`.
#[derive(uniffi::Record, Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// Numeric site id (`s`).
    pub site: String,
    /// A directory HitKit owns; created if missing.
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
    /// Replaces everything before `?`, e.g. `http://127.0.0.1:8080/hit.xiti`.
    #[uniffi(default = None)]
    pub endpoint: Option<String>,
    /// `uuid`: a v4 UUID made once and kept with the hits; anything else is
    /// used as the visitor id as it is.
    #[uniffi(default = "uuid")]
    pub identifier: String,
    /// `None` means `Never`.
    #[uniffi(default = None)]
    pub storage: Option<OfflineModeKey>,
    #[uniffi(default = 8000)]
    pub max_hit_size: u32,
    #[uniffi(default = 3)]
    pub max_attempts: u32,
    /// 0: no limit.
    #[uniffi(default = 20000)]
    pub max_stored_hits: u64,
    /// 0: no limit.
    #[uniffi(default = 30)]
    pub max_storage_age_days: u32,
    #[uniffi(default = 15000)]
    pub request_timeout_ms: u64,
    #[uniffi(default = 1)]
    pub dispatch_concurrency: u32,
    /// Trackers of different names keep separate hits in one database.
    #[uniffi(default = "default")]
    pub name: String,
    /// 64 hex digits (32 bytes): stored hits are sealed with AES-256-GCM.
    /// Keep the key in the Keychain / Android Keystore, not beside the data.
    #[uniffi(default = None)]
    pub encryption_key: Option<String>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Settings::default().into()
    }
}

impl From<Settings> for TrackerConfig {
    fn from(s: Settings) -> Self {
        TrackerConfig {
            site: s.site,
            database_path: s.database_path.to_string_lossy().into_owned(),
            log: s.log,
            log_ssl: s.log_ssl,
            domain: s.domain,
            pixel_path: s.pixel_path,
            secure: s.secure,
            endpoint: s.endpoint,
            identifier: s.identifier,
            storage: Some(s.storage.into()),
            max_hit_size: s.max_hit_size,
            max_attempts: s.max_attempts,
            max_stored_hits: s.max_stored_hits,
            max_storage_age_days: s.max_storage_age_days,
            request_timeout_ms: s.request_timeout_ms,
            dispatch_concurrency: s.dispatch_concurrency,
            name: s.name,
            encryption_key: s.encryption_key,
        }
    }
}

impl From<TrackerConfig> for Settings {
    fn from(c: TrackerConfig) -> Self {
        Settings {
            site: c.site,
            database_path: c.database_path.into(),
            name: c.name,
            log: c.log,
            log_ssl: c.log_ssl,
            domain: c.domain,
            pixel_path: c.pixel_path,
            secure: c.secure,
            endpoint: c.endpoint,
            identifier: c.identifier,
            storage: c.storage.unwrap_or(OfflineModeKey::Never).into(),
            max_hit_size: c.max_hit_size,
            max_attempts: c.max_attempts,
            max_stored_hits: c.max_stored_hits,
            max_storage_age_days: c.max_storage_age_days,
            request_timeout_ms: c.request_timeout_ms,
            dispatch_concurrency: c.dispatch_concurrency,
            encryption_key: c.encryption_key,
        }
    }
}
