//! The one error type of the FFI surface.

use crate::engine;

/// Every fallible HitKit call returns this. Swift: `TrackerError`;
/// Kotlin: `TrackerException`.
#[derive(uniffi::Error, Debug, Clone, PartialEq, Eq)]
pub enum TrackerError {
    /// A config key is unknown or its value has the wrong form; nothing changed.
    InvalidConfig { key: String, reason: String },
    /// A hit parameter is unusable (an empty key); the hit was not sent.
    InvalidParameter { key: String, reason: String },
    /// The database could not be created, opened or written.
    Storage { reason: String },
    /// Another process holds the database at `path`.
    StorageLocked { path: String },
    /// The library's background runtime is unavailable.
    Runtime { reason: String },
}

impl std::fmt::Display for TrackerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        engine::Error::from(self.clone()).fmt(f)
    }
}

impl std::error::Error for TrackerError {}

impl From<engine::Error> for TrackerError {
    fn from(error: engine::Error) -> Self {
        use engine::Error as E;
        match error {
            E::InvalidConfig { key, reason } => TrackerError::InvalidConfig { key, reason },
            E::InvalidParameter { key, reason } => TrackerError::InvalidParameter { key, reason },
            E::Storage { reason } => TrackerError::Storage { reason },
            E::StorageLocked { path } => TrackerError::StorageLocked { path },
            E::Runtime { reason } => TrackerError::Runtime { reason },
        }
    }
}

impl From<TrackerError> for engine::Error {
    fn from(error: TrackerError) -> Self {
        use engine::Error as E;
        match error {
            TrackerError::InvalidConfig { key, reason } => E::InvalidConfig { key, reason },
            TrackerError::InvalidParameter { key, reason } => E::InvalidParameter { key, reason },
            TrackerError::Storage { reason } => E::Storage { reason },
            TrackerError::StorageLocked { path } => E::StorageLocked { path },
            TrackerError::Runtime { reason } => E::Runtime { reason },
        }
    }
}
