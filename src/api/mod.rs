//! The FFI surface: what UniFFI exports to Swift and Kotlin. Thin by design:
//! each call converts its arguments and hands over to the engine.

mod config;
mod delegate;
mod error;
mod offline;
mod tracker;
mod types;

pub use config::TrackerConfig;
pub use delegate::{SetConfigCallback, TrackerDelegate};
pub use error::TrackerError;
pub use offline::Offline;
pub use tracker::Tracker;
pub use types::{DispatchReport, Hit, HitParam, HitStatus, HitType, OfflineModeKey};
