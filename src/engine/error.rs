//! The one error type of HitKit: Rust's `TrackerError`, Swift's
//! `TrackerError`, Kotlin's `TrackerException`. Messages are declared here
//! and nowhere else.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// A config key is unknown or its value has the wrong form; nothing changed.
    #[error("invalid config `{key}`: {reason}")]
    InvalidConfig { key: String, reason: String },
    /// An argument is unusable (an empty parameter key, a negative count);
    /// nothing was done.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter { key: String, reason: String },
    /// The database could not be created, opened, written or flushed.
    #[error("storage error: {reason}")]
    Storage { reason: String },
    /// Another process holds the database at `path`.
    #[error("the database {path} is in use by another process")]
    StorageLocked { path: String },
    /// The tracker cannot work: it is closed, or a thread could not start.
    #[error("HitKit cannot do this now: {reason}")]
    Runtime { reason: String },
}

impl TrackerError {
    pub fn config(key: &str, reason: impl Into<String>) -> Self {
        TrackerError::InvalidConfig {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn param(key: &str, reason: impl Into<String>) -> Self {
        TrackerError::InvalidParameter {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn storage(reason: impl std::fmt::Display) -> Self {
        TrackerError::Storage {
            reason: reason.to_string(),
        }
    }

    pub fn runtime(reason: impl Into<String>) -> Self {
        TrackerError::Runtime {
            reason: reason.into(),
        }
    }

    pub(crate) fn closed() -> Self {
        TrackerError::runtime("the tracker is closed")
    }
}

pub type Result<T, E = TrackerError> = std::result::Result<T, E>;
