//! HitKit: an analytics tracker whose hits survive loss of connection.
//!
//! The API is [`Tracker`] and its [`Offline`] store, configured by
//! [`TrackerConfig`]; Swift and Kotlin see the same API through UniFFI.
//! docs/contract.md says what it promises; ARCHITECTURE.md how it works.
//!
//! ```no_run
//! use hitkit::{OfflineModeKey, Tracker, TrackerConfig};
//!
//! let tracker = Tracker::new(
//!     TrackerConfig {
//!         site: "123456".into(),
//!         database_path: "/path/to/app/data/hitkit".into(),
//!         storage: Some(OfflineModeKey::Required),
//!         ..Default::default()
//!     },
//!     None,
//! )?;
//! tracker.send_screen("Home".into(), vec![])?;
//! tracker.offline().dispatch(false);
//! # Ok::<(), hitkit::TrackerError>(())
//! ```

mod api;
mod engine;

pub use api::*;

/// HitKit's insides, for its own tools (CLI, crash harness, fuzzers,
/// benchmarks and tests). Not part of the API: no promise holds here.
#[doc(hidden)]
pub mod internal {
    pub use crate::engine::*;
}

uniffi::setup_scaffolding!("hitkit");
