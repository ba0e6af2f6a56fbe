//! `Offline`: the stored hits of one tracker, and their dispatch.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;

use super::{DispatchReport, Hit, TrackerError};

/// Reads go straight to the store and never wait for a pass in progress.
#[derive(uniffi::Object)]
pub struct Offline {
    engine: Arc<Engine>,
}

impl Offline {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Offline { engine }
    }
}

#[uniffi::export]
impl Offline {
    /// Sends every stored hit, oldest first, in the background; each one the
    /// collector accepts is deleted. Runs at once, whatever the backoff.
    pub fn dispatch(&self) {
        self.engine.dispatch();
    }

    /// Like `dispatch`, but resolves with what the pass did. With a deadline
    /// (ms from now) the pass stops cleanly there: unsent hits stay stored.
    #[uniffi::method(default(deadline_ms = None))]
    pub async fn dispatch_and_wait(&self, deadline_ms: Option<u64>) -> DispatchReport {
        let deadline = deadline_ms.map(Duration::from_millis);
        self.engine.dispatch_and_wait(deadline).await.into()
    }

    pub fn count(&self) -> u64 {
        self.engine.stored_count()
    }

    /// Every stored hit, oldest first.
    pub fn get(&self) -> Result<Vec<Hit>, TrackerError> {
        Ok(self
            .engine
            .stored_hits()?
            .into_iter()
            .map(Hit::from)
            .collect())
    }

    pub fn oldest(&self) -> Result<Option<Hit>, TrackerError> {
        Ok(self.engine.oldest()?.map(Hit::from))
    }

    pub fn latest(&self) -> Result<Option<Hit>, TrackerError> {
        Ok(self.engine.latest()?.map(Hit::from))
    }

    /// Deletes every stored hit; returns how many.
    pub fn delete(&self) -> Result<u64, TrackerError> {
        Ok(self.engine.delete_all()?)
    }

    /// Deletes hits created more than `days` days ago; returns how many.
    pub fn delete_older_than(&self, days: u32) -> Result<u64, TrackerError> {
        Ok(self.engine.delete_older_than(days)?)
    }
}
