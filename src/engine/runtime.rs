//! The library's own tokio runtime, shared by every tracker in the process.
//!
//! Callers are never assumed to be inside a runtime: every sync entry point
//! hands its work to this one.

use std::sync::OnceLock;
use tokio::runtime::Runtime;

use super::error::{Error, Result};

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

pub fn get() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                // Two threads: one can sit in a blocking flush while the other sends.
                .worker_threads(2)
                .max_blocking_threads(4)
                .thread_name("hitkit")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| Error::Runtime {
            reason: reason.clone(),
        })
}
