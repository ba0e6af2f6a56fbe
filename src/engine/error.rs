//! The engine's error type. The FFI layer maps it one-to-one onto `TrackerError`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration key is unknown or its value has the wrong form.
    InvalidConfig { key: String, reason: String },
    /// A hit or persistent parameter is unusable (empty key, ...).
    InvalidParameter { key: String, reason: String },
    /// The database could not be opened, read or written.
    Storage { reason: String },
    /// Another process holds the database.
    StorageLocked { path: String },
    /// The library could not start its background runtime.
    Runtime { reason: String },
}

impl Error {
    pub fn config(key: &str, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn param(key: &str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn storage(reason: impl fmt::Display) -> Self {
        Error::Storage {
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig { key, reason } => write!(f, "invalid config `{key}`: {reason}"),
            Error::InvalidParameter { key, reason } => {
                write!(f, "invalid parameter `{key}`: {reason}")
            }
            Error::Storage { reason } => write!(f, "storage error: {reason}"),
            Error::StorageLocked { path } => {
                write!(f, "database {path} is in use by another process")
            }
            Error::Runtime { reason } => write!(f, "background runtime unavailable: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
