//! `TrackerError` as UniFFI sees it (defined, with its messages, in
//! `engine/error.rs`). Swift: `TrackerError`; Kotlin: `TrackerException`.

use crate::engine::error::TrackerError;

#[uniffi::remote(Error)]
pub enum TrackerError {
    InvalidConfig { key: String, reason: String },
    InvalidParameter { key: String, reason: String },
    Storage { reason: String },
    StorageLocked { path: String },
    Runtime { reason: String },
}

/// The error's message, for the platforms' own error descriptions (Swift's
/// `errorDescription`): the same words in every language.
#[uniffi::export]
pub fn tracker_error_message(error: TrackerError) -> String {
    error.to_string()
}
