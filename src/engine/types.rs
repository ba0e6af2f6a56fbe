//! The values HitKit's API speaks in. Plain Rust: `api/` declares them to
//! UniFFI under the same names, so Rust, Swift and Kotlin share one
//! vocabulary.

/// How a tracker stores hits (`storage` config key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfflineModeKey {
    /// Hits are sent; a hit whose send fails for loss of connection is stored.
    Required,
    /// Every hit is stored; only a dispatch sends them.
    Always,
    /// Nothing is stored; a hit that cannot be sent is lost (the default).
    Never,
}

impl OfflineModeKey {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "never" => Some(Self::Never),
            "required" => Some(Self::Required),
            "always" => Some(Self::Always),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Required => "required",
            Self::Always => "always",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitStatus {
    Success,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitType {
    Screen,
    Touch,
    Custom,
}

/// How much HitKit writes to the platform log (`logLevel` config key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Off,
    Error,
    Warning,
    Info,
    Debug,
}

impl LogLevel {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "off" => Some(Self::Off),
            "error" => Some(Self::Error),
            "warning" => Some(Self::Warning),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// What a dispatch pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Accepted by the collector, and deleted.
    pub sent: i64,
    /// Refused by the collector, kept for another attempt.
    pub failed: i64,
    /// Deleted unsent: attempts used up, or older than `maxStorageAgeDays`.
    pub dropped: i64,
    /// Still stored when the pass ended.
    pub remaining: i64,
}
