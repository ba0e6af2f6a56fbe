//! A tracker's configuration: the defaults, the `set_config` keys, and the
//! one validation that the constructor, `from_json` and `set_config` share
//! (docs/contract.md §6).

use super::error::{Result, TrackerError};
use super::secret::EncryptionKey;
use super::types::{LogLevel, OfflineModeKey};

/// Defaults are those of the AT SmartTag SDK. In Rust,
/// `TrackerConfig { site, database_path, ..Default::default() }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerConfig {
    /// Numeric site id (`s`).
    pub site: String,
    /// A directory HitKit owns; created if missing (mode 0700).
    pub database_path: String,
    pub log: String,
    pub log_ssl: String,
    pub domain: String,
    pub pixel_path: String,
    /// `true`: `https` and `logSSL`; `false`: `http` and `log`.
    pub secure: bool,
    /// Replaces everything before `?`, e.g. `http://127.0.0.1:8080/hit.xiti`.
    pub endpoint: Option<String>,
    /// `uuid`: a v4 UUID made once and kept in the database; anything else
    /// is the visitor id as it is.
    pub identifier: String,
    /// `None` means `Never`.
    pub storage: Option<OfflineModeKey>,
    pub max_hit_size: i32,
    pub max_attempts: i32,
    /// 0: no limit.
    pub max_stored_hits: i64,
    /// 0: no limit.
    pub max_storage_age_days: i32,
    pub request_timeout_ms: i64,
    pub dispatch_concurrency: i32,
    /// Trackers of different names keep separate hits in one database.
    pub name: String,
    /// 64 hex digits (32 bytes): stored hits are sealed with AES-256-GCM.
    pub encryption_key: Option<EncryptionKey>,
    /// What HitKit writes to the platform log; `None` means `Warning`.
    pub log_level: Option<LogLevel>,
    /// A parameter name (say `hid`): every hit then carries an id of its
    /// own under it, the same across retries, restarts and `mh` parts, so
    /// a collector can drop the duplicates that at-least-once delivery makes.
    pub hit_id_parameter: Option<String>,
    /// `false`: delegate and log messages name a hit by its collector URL
    /// without the query (no visitor id, no screen names).
    pub query_in_messages: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            site: String::new(),
            database_path: String::new(),
            log: "logp".into(),
            log_ssl: "logs".into(),
            domain: "xiti.com".into(),
            pixel_path: "/hit.xiti".into(),
            secure: true,
            endpoint: None,
            identifier: "uuid".into(),
            storage: None,
            max_hit_size: 8000,
            max_attempts: 3,
            max_stored_hits: 20_000,
            max_storage_age_days: 30,
            request_timeout_ms: 15_000,
            dispatch_concurrency: 1,
            name: "default".into(),
            encryption_key: None,
            log_level: None,
            hit_id_parameter: None,
            query_in_messages: true,
        }
    }
}

/// The keys `set_config` accepts, in the spelling of the AT SDK.
pub const CONFIG_KEYS: &[&str] = &[
    "log",
    "logSSL",
    "domain",
    "pixelPath",
    "site",
    "secure",
    "identifier",
    "storage",
    "maxHitSize",
    "endpoint",
    "maxAttempts",
    "maxStoredHits",
    "maxStorageAgeDays",
    "requestTimeoutMs",
    "dispatchConcurrency",
    "encryptionKey",
    "logLevel",
    "hitIdParameter",
    "queryInMessages",
    OPT_OUT_KEY,
];

/// The user's choice not to be tracked: kept in the database, not in the
/// configuration (it outlives a restart whatever the app's config says).
pub const OPT_OUT_KEY: &str = "optOut";

/// Keys fixed for a tracker's life: accepted by `from_json` only.
pub const CONSTRUCTOR_KEYS: &[&str] = &["databasePath", "name"];

/// Smallest `maxHitSize` that still leaves room for a split part's header.
pub const MIN_HIT_SIZE: i32 = 256;
pub const MAX_HIT_SIZE: i32 = 1 << 20;
pub const MAX_DISPATCH_CONCURRENCY: i32 = 16;

impl TrackerConfig {
    pub fn mode(&self) -> OfflineModeKey {
        self.storage.unwrap_or(OfflineModeKey::Never)
    }

    pub fn log_level(&self) -> LogLevel {
        self.log_level.unwrap_or(LogLevel::Warning)
    }

    /// Checks every field; the error names the config key at fault.
    pub fn validate(&self) -> Result<()> {
        check_site(&self.site)?;
        if self.database_path.is_empty() {
            return Err(TrackerError::config(
                "databasePath",
                "must name a directory the app can write",
            ));
        }
        check_name(&self.name)?;
        check_host_label("log", &self.log)?;
        check_host_label("logSSL", &self.log_ssl)?;
        check_host_label("domain", &self.domain)?;
        check_pixel_path(&self.pixel_path)?;
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint)?;
        }
        if self.identifier.is_empty() {
            return Err(TrackerError::config(
                "identifier",
                "must be `uuid` or a non-empty visitor id",
            ));
        }
        check_range(
            "maxHitSize",
            self.max_hit_size.into(),
            MIN_HIT_SIZE.into(),
            MAX_HIT_SIZE.into(),
        )?;
        check_range("maxAttempts", self.max_attempts.into(), 1, 100)?;
        check_range("maxStoredHits", self.max_stored_hits, 0, i64::MAX)?;
        check_range(
            "maxStorageAgeDays",
            self.max_storage_age_days.into(),
            0,
            36_500,
        )?;
        check_range("requestTimeoutMs", self.request_timeout_ms, 1, 600_000)?;
        check_range(
            "dispatchConcurrency",
            self.dispatch_concurrency.into(),
            1,
            MAX_DISPATCH_CONCURRENCY.into(),
        )?;
        // Checked even while `endpoint` is set: clearing it must not expose
        // a collector URL that cannot be sent.
        for sub in [&self.log, &self.log_ssl] {
            let url = format!("https://{sub}.{}{}", self.domain, self.pixel_path);
            if !super::hit::is_sendable_base(&url) {
                return Err(TrackerError::config(
                    "domain",
                    format!("`{url}` is not a usable URL"),
                ));
            }
        }
        if let Some(key) = &self.encryption_key {
            key.bytes()?;
        }
        if let Some(name) = &self.hit_id_parameter {
            check_parameter_name(name)?;
        }
        Ok(())
    }

    /// Applies one `set_config` key. On error `self` is left unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let mut next = self.clone();
        next.assign(key, value, false)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Builds a config from a JSON object whose keys are the `set_config`
    /// keys plus `databasePath` and `name`. Values may be strings, numbers
    /// or booleans.
    pub fn from_json(json: &str) -> Result<TrackerConfig> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| TrackerError::config("json", format!("malformed JSON: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| TrackerError::config("json", "expected a JSON object of config keys"))?;
        let mut config = TrackerConfig::default();
        for (key, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null if OPTIONAL_KEYS.contains(&key.as_str()) => String::new(),
                _ => {
                    return Err(TrackerError::config(
                        key,
                        "expected a string, a number or a boolean",
                    ));
                }
            };
            config.assign(key, &text, true)?;
        }
        if config.site.is_empty() {
            return Err(TrackerError::config("site", "is required"));
        }
        if config.database_path.is_empty() {
            return Err(TrackerError::config("databasePath", "is required"));
        }
        config.validate()?;
        Ok(config)
    }

    fn assign(&mut self, key: &str, value: &str, constructing: bool) -> Result<()> {
        let optional = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        match key {
            "log" => self.log = value.to_owned(),
            "logSSL" => self.log_ssl = value.to_owned(),
            "domain" => self.domain = value.to_owned(),
            "pixelPath" => self.pixel_path = value.to_owned(),
            "site" => self.site = value.to_owned(),
            "secure" => self.secure = parse_bool(key, value)?,
            "identifier" => self.identifier = value.to_owned(),
            "storage" => {
                let mode = OfflineModeKey::parse(value);
                self.storage = Some(one_of(key, value, mode, "required, always, never")?);
            }
            "endpoint" => self.endpoint = optional(value),
            "maxHitSize" => self.max_hit_size = parse_number(key, value)?,
            "maxAttempts" => self.max_attempts = parse_number(key, value)?,
            "maxStoredHits" => self.max_stored_hits = parse_number(key, value)?,
            "maxStorageAgeDays" => self.max_storage_age_days = parse_number(key, value)?,
            "requestTimeoutMs" => self.request_timeout_ms = parse_number(key, value)?,
            "dispatchConcurrency" => self.dispatch_concurrency = parse_number(key, value)?,
            "encryptionKey" => self.encryption_key = optional(value).map(EncryptionKey::new),
            "logLevel" => {
                let level = LogLevel::parse(value);
                self.log_level = Some(one_of(
                    key,
                    value,
                    level,
                    "off, error, warning, info, debug",
                )?);
            }
            "hitIdParameter" => self.hit_id_parameter = optional(value),
            "queryInMessages" => self.query_in_messages = parse_bool(key, value)?,
            OPT_OUT_KEY => {
                return Err(TrackerError::config(
                    key,
                    "is the user's choice, kept by HitKit: set it on a tracker (setOptOut or \
                     setConfig), not when creating one",
                ));
            }
            "databasePath" | "name" if !constructing => {
                return Err(TrackerError::config(
                    key,
                    "is fixed for a tracker's life: set it when creating the tracker",
                ));
            }
            "databasePath" => self.database_path = value.to_owned(),
            "name" => self.name = value.to_owned(),
            _ => {
                return Err(TrackerError::config(
                    key,
                    format!("unknown key; known keys: {}", CONFIG_KEYS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Everything before the `?` of a hit.
    pub fn base_url(&self) -> String {
        if let Some(endpoint) = &self.endpoint {
            return endpoint.clone();
        }
        let (scheme, sub) = if self.secure {
            ("https", &self.log_ssl)
        } else {
            ("http", &self.log)
        };
        format!("{scheme}://{sub}.{}{}", self.domain, self.pixel_path)
    }

    /// The config as `config()` returns it: the key is never handed back.
    pub fn redacted(&self) -> TrackerConfig {
        TrackerConfig {
            encryption_key: self
                .encryption_key
                .as_ref()
                .map(|_| EncryptionKey::redacted()),
            ..self.clone()
        }
    }
}

/// Keys a JSON `null` clears.
const OPTIONAL_KEYS: &[&str] = &["endpoint", "encryptionKey", "hitIdParameter"];

fn one_of<T>(key: &str, value: &str, parsed: Option<T>, choices: &str) -> Result<T> {
    parsed.ok_or_else(|| TrackerError::config(key, format!("`{value}` is not one of {choices}")))
}

pub fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(TrackerError::config(
            key,
            format!("`{value}` is not `true` or `false`"),
        )),
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| TrackerError::config(key, format!("`{value}` is not a whole number")))
}

fn check_range(key: &str, value: i64, min: i64, max: i64) -> Result<()> {
    if value < min || value > max {
        let range = if max == i64::MAX {
            format!("{min} or more")
        } else {
            format!("{min}..={max}")
        };
        return Err(TrackerError::config(
            key,
            format!("{value} is out of range: {range}"),
        ));
    }
    Ok(())
}

fn check_site(site: &str) -> Result<()> {
    if site.is_empty() || !site.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TrackerError::config(
            "site",
            format!("`{site}` is not a numeric site id"),
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    check_token("name", name, 64, b"-_.")
}

fn check_parameter_name(name: &str) -> Result<()> {
    check_token("hitIdParameter", name, 32, b"-_.~")
}

/// 1 to `max` letters, digits or one of `extra`.
fn check_token(key: &str, value: &str, max: usize, extra: &[u8]) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if !ok {
        let extra: Vec<String> = extra.iter().map(|c| format!("`{}`", *c as char)).collect();
        return Err(TrackerError::config(
            key,
            format!(
                "`{value}` is not 1 to {max} letters, digits or {}",
                extra.join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_host_label(key: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && !value.starts_with(['.', '-'])
        && !value.ends_with(['.', '-'])
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
    if !ok {
        return Err(TrackerError::config(
            key,
            format!("`{value}` is not a host name"),
        ));
    }
    Ok(())
}

fn check_pixel_path(path: &str) -> Result<()> {
    let ok = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"?#%".contains(&b));
    if !ok {
        return Err(TrackerError::config(
            "pixelPath",
            format!("`{path}` is not a path like /hit.xiti"),
        ));
    }
    Ok(())
}

fn check_endpoint(endpoint: &str) -> Result<()> {
    let bad = |why: &str| TrackerError::config("endpoint", format!("`{endpoint}` {why}"));
    // The URL parser is built without Unicode host tables (they would add
    // 137 KB to the library): an international host is written `xn--…`.
    if !endpoint.is_ascii() {
        return Err(bad(
            "must be ASCII: write an international host name as xn--…",
        ));
    }
    let url = url::Url::parse(endpoint).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || endpoint.contains(['?', '#']) {
        return Err(bad("must not carry a query or fragment"));
    }
    Ok(())
}
