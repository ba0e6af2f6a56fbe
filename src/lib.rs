//! HitKit: an analytics tracker whose hits survive loss of connection.
//!
//! - [`api`]: the surface UniFFI exports to Swift and Kotlin, and the Rust API.
//! - [`engine`]: hit building, the sled store, the sender, the dispatch and
//!   retry policy, and the serial worker that owns a tracker's state.
//!
//! ```no_run
//! use hitkit::{OfflineModeKey, Tracker, TrackerConfig};
//!
//! let tracker = Tracker::new(TrackerConfig {
//!     site: "123456".into(),
//!     database_path: "/path/to/app/data/hitkit".into(),
//!     storage: Some(OfflineModeKey::Required),
//!     ..Default::default()
//! })?;
//! tracker.send_screen("Home".into(), vec![])?;
//! tracker.offline().dispatch();
//! # Ok::<(), hitkit::TrackerError>(())
//! ```

pub mod api;
pub mod engine;

pub use api::*;

uniffi::setup_scaffolding!("hitkit");
