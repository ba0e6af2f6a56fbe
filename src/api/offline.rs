//! `Offline`: the stored hits of one tracker, and their dispatch.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::engine::Engine;
use crate::engine::error::TrackerError;
use crate::engine::types::DispatchReport;

use super::Hit;

/// A view of its tracker's store. Reads go straight to the store and never
/// wait for a pass in progress.
///
/// It does not keep its tracker open (in Kotlin and Swift, a forgotten
/// `tracker.offline` must not hold the database until a garbage collection):
/// once the tracker is closed, it reads as empty and dispatches nothing.
#[derive(uniffi::Object)]
pub struct Offline {
    engine: Weak<Engine>,
}

impl Offline {
    pub(crate) fn new(engine: &Arc<Engine>) -> Self {
        Offline {
            engine: Arc::downgrade(engine),
        }
    }
}

#[uniffi::export]
impl Offline {
    /// Sends every stored hit, oldest first, in the background; each one the
    /// collector accepts is deleted. Runs at once, whatever the backoff, but
    /// not while the collector asked to wait (`Retry-After`) unless
    /// `ignore_server_pacing`.
    #[uniffi::method(default(ignore_server_pacing = false))]
    pub fn dispatch(&self, ignore_server_pacing: bool) {
        if let Some(engine) = self.engine.upgrade() {
            let _ = engine.dispatch(ignore_server_pacing);
        }
    }

    /// Like `dispatch`, but resolves with what the pass did, once its
    /// deletes are on disk. With a deadline (ms from now) the pass stops
    /// cleanly there: unsent hits stay stored.
    #[uniffi::method(default(deadline_ms = None, ignore_server_pacing = false))]
    pub async fn dispatch_and_wait(
        &self,
        deadline_ms: Option<i64>,
        ignore_server_pacing: bool,
    ) -> Result<DispatchReport, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(DispatchReport::default());
        };
        let deadline = match deadline_ms {
            None => None,
            Some(ms) => Some(Duration::from_millis(u64::try_from(ms).map_err(|_| {
                TrackerError::param("deadlineMs", format!("{ms} is negative"))
            })?)),
        };
        engine
            .dispatch_and_wait(deadline, ignore_server_pacing)
            .await
    }

    /// Stored hits, including any that cannot be read (a missing key).
    pub fn count(&self) -> i64 {
        self.engine
            .upgrade()
            .map_or(0, |engine| engine.stored_count() as i64)
    }

    /// Every readable stored hit, oldest first.
    pub fn get(&self) -> Result<Vec<Hit>, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(Vec::new());
        };
        let base = engine.base_url();
        let hits = engine.stored_hits()?;
        Ok(hits
            .into_iter()
            .map(|stored| Hit::new(stored, &base))
            .collect())
    }

    pub fn oldest(&self) -> Result<Option<Hit>, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(None);
        };
        let base = engine.base_url();
        Ok(engine.oldest()?.map(|stored| Hit::new(stored, &base)))
    }

    pub fn latest(&self) -> Result<Option<Hit>, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(None);
        };
        let base = engine.base_url();
        Ok(engine.latest()?.map(|stored| Hit::new(stored, &base)))
    }

    /// Deletes every stored hit; returns how many.
    pub fn delete(&self) -> Result<i64, TrackerError> {
        match self.engine.upgrade() {
            Some(engine) => Ok(engine.delete_all()? as i64),
            None => Ok(0),
        }
    }

    /// Deletes hits created more than `days` days ago; returns how many.
    pub fn delete_older_than(&self, days: i32) -> Result<i64, TrackerError> {
        match self.engine.upgrade() {
            Some(engine) => Ok(engine.delete_older_than(days)? as i64),
            None => Ok(0),
        }
    }
}
