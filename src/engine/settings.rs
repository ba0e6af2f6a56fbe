//! A tracker's configuration: defaults, the `set_config` keys, and the
//! validation every path into it (constructor, JSON, `set_config`) shares.

use std::path::PathBuf;

use super::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMode {
    /// Nothing is written to disk; a hit that cannot be sent is lost.
    Never,
    /// Hits are stored only when the connection is lost.
    Required,
    /// Every hit is stored; only `dispatch` sends them.
    Always,
}

impl StorageMode {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "never" => Some(StorageMode::Never),
            "required" => Some(StorageMode::Required),
            "always" => Some(StorageMode::Always),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StorageMode::Never => "never",
            StorageMode::Required => "required",
            StorageMode::Always => "always",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub site: String,
    pub database_path: PathBuf,
    pub name: String,
    pub log: String,
    pub log_ssl: String,
    pub domain: String,
    pub pixel_path: String,
    pub secure: bool,
    pub endpoint: Option<String>,
    pub identifier: String,
    pub storage: StorageMode,
    pub max_hit_size: u32,
    pub max_attempts: u32,
    pub max_stored_hits: u64,
    pub max_storage_age_days: u32,
    pub request_timeout_ms: u64,
    pub dispatch_concurrency: u32,
    /// 64 hex digits: stored hits are sealed with AES-256-GCM.
    pub encryption_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            site: String::new(),
            database_path: PathBuf::new(),
            name: "default".into(),
            log: "logp".into(),
            log_ssl: "logs".into(),
            domain: "xiti.com".into(),
            pixel_path: "/hit.xiti".into(),
            secure: true,
            endpoint: None,
            identifier: "uuid".into(),
            storage: StorageMode::Never,
            max_hit_size: 8000,
            max_attempts: 3,
            max_stored_hits: 20_000,
            max_storage_age_days: 30,
            request_timeout_ms: 15_000,
            dispatch_concurrency: 1,
            encryption_key: None,
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
];

/// Keys fixed for a tracker's life: accepted by `from_json` only.
pub const CONSTRUCTOR_KEYS: &[&str] = &["databasePath", "name"];

/// Smallest `maxHitSize` that still leaves room for a split part's header.
pub const MIN_HIT_SIZE: u32 = 256;
pub const MAX_DISPATCH_CONCURRENCY: u32 = 16;

impl Settings {
    /// Checks every field; the error names the config key at fault.
    pub fn validate(&self) -> Result<()> {
        check_site(&self.site)?;
        if self.database_path.as_os_str().is_empty() {
            return Err(Error::config(
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
            return Err(Error::config(
                "identifier",
                "must be `uuid` or a non-empty visitor id",
            ));
        }
        check_range(
            "maxHitSize",
            self.max_hit_size as u64,
            MIN_HIT_SIZE as u64,
            1 << 20,
        )?;
        check_range("maxAttempts", self.max_attempts as u64, 1, 100)?;
        check_range(
            "maxStorageAgeDays",
            self.max_storage_age_days as u64,
            0,
            36_500,
        )?;
        check_range("requestTimeoutMs", self.request_timeout_ms, 1, 600_000)?;
        check_range(
            "dispatchConcurrency",
            self.dispatch_concurrency as u64,
            1,
            MAX_DISPATCH_CONCURRENCY as u64,
        )?;
        // The pieces can each look right and still not make a URL (a domain
        // ending in a number is read as a bad IPv4 address).
        // Checked even while `endpoint` is set: clearing it must not expose
        // a collector URL that cannot be sent.
        for sub in [&self.log, &self.log_ssl] {
            let url = format!("https://{sub}.{}{}", self.domain, self.pixel_path);
            if reqwest::Url::parse(&url).is_err() {
                return Err(Error::config(
                    "domain",
                    format!("`{url}` is not a usable URL"),
                ));
            }
        }
        if let Some(key) = &self.encryption_key {
            super::codec::parse_key(key)?;
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

    /// Builds settings from a JSON object whose keys are the `set_config`
    /// keys plus `databasePath` and `name`. Values may be strings, numbers
    /// or booleans.
    pub fn from_json(json: &str) -> Result<Settings> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::config("json", format!("malformed JSON: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| Error::config("json", "expected a JSON object of config keys"))?;
        let mut settings = Settings::default();
        for (key, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null if key == "endpoint" || key == "encryptionKey" => {
                    String::new()
                }
                _ => {
                    return Err(Error::config(
                        key,
                        "expected a string, a number or a boolean",
                    ));
                }
            };
            settings.assign(key, &text, true)?;
        }
        if settings.site.is_empty() {
            return Err(Error::config("site", "is required"));
        }
        if settings.database_path.as_os_str().is_empty() {
            return Err(Error::config("databasePath", "is required"));
        }
        settings.validate()?;
        Ok(settings)
    }

    fn assign(&mut self, key: &str, value: &str, constructing: bool) -> Result<()> {
        match key {
            "log" => self.log = value.to_owned(),
            "logSSL" => self.log_ssl = value.to_owned(),
            "domain" => self.domain = value.to_owned(),
            "pixelPath" => self.pixel_path = value.to_owned(),
            "site" => self.site = value.to_owned(),
            "secure" => self.secure = parse_bool(key, value)?,
            "identifier" => self.identifier = value.to_owned(),
            "storage" => {
                self.storage = StorageMode::parse(value).ok_or_else(|| {
                    Error::config(
                        key,
                        format!("`{value}` is not one of required, always, never"),
                    )
                })?
            }
            "endpoint" => {
                self.endpoint = if value.is_empty() {
                    None
                } else {
                    Some(value.to_owned())
                }
            }
            "maxHitSize" => self.max_hit_size = parse_number(key, value)?,
            "maxAttempts" => self.max_attempts = parse_number(key, value)?,
            "maxStoredHits" => self.max_stored_hits = parse_number(key, value)?,
            "maxStorageAgeDays" => self.max_storage_age_days = parse_number(key, value)?,
            "requestTimeoutMs" => self.request_timeout_ms = parse_number(key, value)?,
            "dispatchConcurrency" => self.dispatch_concurrency = parse_number(key, value)?,
            "encryptionKey" => {
                self.encryption_key = if value.is_empty() {
                    None
                } else {
                    Some(value.to_owned())
                }
            }
            "databasePath" | "name" if !constructing => {
                return Err(Error::config(
                    key,
                    "is fixed for a tracker's life: set it when creating the tracker",
                ));
            }
            "databasePath" => self.database_path = PathBuf::from(value),
            "name" => self.name = value.to_owned(),
            _ => {
                return Err(Error::config(
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
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::config(
            key,
            format!("`{value}` is not `true` or `false`"),
        )),
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::config(key, format!("`{value}` is not a non-negative whole number")))
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(Error::config(
            key,
            format!("{value} is out of range {min}..={max}"),
        ));
    }
    Ok(())
}

fn check_site(site: &str) -> Result<()> {
    if site.is_empty() || !site.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::config(
            "site",
            format!("`{site}` is not a numeric site id"),
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        return Err(Error::config(
            "name",
            "must be 1 to 64 letters, digits, `-`, `_` or `.`",
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
        return Err(Error::config(key, format!("`{value}` is not a host name")));
    }
    Ok(())
}

fn check_pixel_path(path: &str) -> Result<()> {
    let ok = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"?#%".contains(&b));
    if !ok {
        return Err(Error::config(
            "pixelPath",
            format!("`{path}` is not a path like /hit.xiti"),
        ));
    }
    Ok(())
}

fn check_endpoint(endpoint: &str) -> Result<()> {
    let bad = |why: &str| Error::config("endpoint", format!("`{endpoint}` {why}"));
    let url = reqwest::Url::parse(endpoint).map_err(|e| bad(&format!("is not a URL ({e})")))?;
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
