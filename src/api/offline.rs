//! `Offline`: the stored hits of one tracker, and their dispatch.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::engine::Engine;

use super::{DispatchReport, Hit, TrackerError};

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
    /// collector accepts is deleted. Runs at once, whatever the backoff.
    pub fn dispatch(&self) {
        if let Some(engine) = self.engine.upgrade() {
            engine.dispatch();
        }
    }

    /// Like `dispatch`, but resolves with what the pass did. With a deadline
    /// (ms from now) the pass stops cleanly there: unsent hits stay stored.
    #[uniffi::method(default(deadline_ms = None))]
    pub async fn dispatch_and_wait(&self, deadline_ms: Option<u64>) -> DispatchReport {
        let Some(engine) = self.engine.upgrade() else {
            return DispatchReport::default();
        };
        let deadline = deadline_ms.map(Duration::from_millis);
        engine.dispatch_and_wait(deadline).await.into()
    }

    pub fn count(&self) -> u64 {
        self.engine
            .upgrade()
            .map_or(0, |engine| engine.stored_count())
    }

    /// Every stored hit, oldest first.
    pub fn get(&self) -> Result<Vec<Hit>, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(Vec::new());
        };
        Ok(engine.stored_hits()?.into_iter().map(Hit::from).collect())
    }

    pub fn oldest(&self) -> Result<Option<Hit>, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(None);
        };
        Ok(engine.oldest()?.map(Hit::from))
    }

    pub fn latest(&self) -> Result<Option<Hit>, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(None);
        };
        Ok(engine.latest()?.map(Hit::from))
    }

    /// Deletes every stored hit; returns how many.
    pub fn delete(&self) -> Result<u64, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(0);
        };
        Ok(engine.delete_all()?)
    }

    /// Deletes hits created more than `days` days ago; returns how many.
    pub fn delete_older_than(&self, days: u32) -> Result<u64, TrackerError> {
        let Some(engine) = self.engine.upgrade() else {
            return Ok(0);
        };
        Ok(engine.delete_older_than(days)?)
    }
}
