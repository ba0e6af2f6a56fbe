//! The FFI surface: what UniFFI exports to Swift and Kotlin, and what Rust
//! apps use. Thin by design: each call converts its arguments and hands
//! over to the engine. The values (`TrackerConfig`, `Hit`, `TrackerError`,
//! ...) are the engine's own, declared to UniFFI here.

mod config;
mod delegate;
mod error;
mod offline;
mod quick;
mod tracker;
mod transport;
mod types;

pub use crate::engine::config::TrackerConfig;
pub use crate::engine::error::TrackerError;
pub use crate::engine::secret::EncryptionKey;
pub use crate::engine::types::{
    DispatchReport, HitParam, HitStatus, HitType, LogLevel, OfflineModeKey,
};
pub use delegate::{Logger, SetConfigCallback, TrackerDelegate, set_logger};
pub use error::tracker_error_message;
pub use offline::Offline;
pub use quick::hitkit_quick_send;
pub use tracker::Tracker;
pub use transport::{HttpCompletion, HttpTransport};
pub use types::Hit;
