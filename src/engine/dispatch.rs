//! One dispatch pass: send stored hits oldest first, delete each one the
//! collector accepted, count an attempt for each it refused, and stop at once
//! when the connection is lost or the deadline comes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::events::{Event, Status};
use super::policy::{self, AfterRejection};
use super::sender::{SendOutcome, Sender};
use super::settings::Settings;
use super::store::{Database, HitStore, Key, StoredHit};
use super::{DispatchSummary, Shared};

/// Why a pass ended before the store was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The host said the network is unavailable.
    Offline,
    /// A send got no complete response.
    ConnectionLost,
    Deadline,
    StorageError,
}

#[derive(Debug, Default)]
pub struct PassResult {
    pub summary: DispatchSummary,
    pub stop: Option<Stop>,
    /// The store changed and needs a flush.
    pub changed: bool,
}

impl PassResult {
    /// A failed pass makes automatic passes back off.
    pub fn failed(&self) -> bool {
        self.stop == Some(Stop::ConnectionLost) || self.summary.failed > 0
    }
}

/// During a long pass, deletes are made durable at least this often, so a
/// kill re-sends at most this much of the pass (delivery is at-least-once).
const COMMIT_EVERY: Duration = Duration::from_millis(250);

pub struct Pass<'a> {
    pub store: &'a Arc<HitStore>,
    pub database: &'a Arc<Database>,
    pub sender: &'a Sender,
    pub shared: &'a Shared,
    pub settings: &'a Settings,
}

impl Pass<'_> {
    /// With `dispatchConcurrency` 1 the collector receives hits in creation
    /// order; above 1, sends still start in that order.
    pub async fn run(self, deadline: Option<Instant>) -> PassResult {
        let mut result = PassResult::default();
        let mut in_flight: JoinSet<(StoredHit, SendOutcome)> = JoinSet::new();
        let mut cursor: Option<Key> = None;
        let mut exhausted = false;
        let concurrency = self.settings.dispatch_concurrency.max(1) as usize;
        let mut last_commit = Instant::now();

        loop {
            while result.stop.is_none() && !exhausted && in_flight.len() < concurrency {
                if !self.shared.network_available.load(Ordering::SeqCst) {
                    result.stop = Some(Stop::Offline);
                    break;
                }
                let timeout = match self.time_left(deadline) {
                    Some(left) => left,
                    None => {
                        result.stop = Some(Stop::Deadline);
                        break;
                    }
                };
                match self.store.next_after(cursor.as_ref()) {
                    Ok(Some(hit)) => {
                        cursor = Some(hit.key);
                        let sender = self.sender.clone();
                        in_flight.spawn(async move {
                            let outcome = sender.send(&hit.url, timeout).await;
                            (hit, outcome)
                        });
                    }
                    Ok(None) => exhausted = true,
                    Err(e) => {
                        self.shared.events.error(format!("dispatch stopped: {e}"));
                        result.stop = Some(Stop::StorageError);
                    }
                }
            }

            let joined = match deadline {
                Some(at) => {
                    match tokio::time::timeout_at(at.into(), in_flight.join_next()).await {
                        Ok(joined) => joined,
                        Err(_) => {
                            // Sends cut short stay stored: at worst the collector
                            // got one and it is sent again later.
                            in_flight.abort_all();
                            result.stop = Some(Stop::Deadline);
                            break;
                        }
                    }
                }
                None => in_flight.join_next().await,
            };
            let Some(joined) = joined else { break };
            let Ok((hit, outcome)) = joined else { continue };
            self.settle(hit, outcome, &mut result);
            if result.changed && last_commit.elapsed() >= COMMIT_EVERY {
                let database = self.database.clone();
                let _ = tokio::task::spawn_blocking(move || database.flush()).await;
                last_commit = Instant::now();
            }
        }
        result.summary.remaining = self.store.len();
        result
    }

    fn time_left(&self, deadline: Option<Instant>) -> Option<Duration> {
        let timeout = Duration::from_millis(self.settings.request_timeout_ms);
        match deadline {
            None => Some(timeout),
            Some(at) => {
                let left = at.checked_duration_since(Instant::now())?;
                (!left.is_zero()).then(|| left.min(timeout))
            }
        }
    }

    fn settle(&self, hit: StoredHit, outcome: SendOutcome, result: &mut PassResult) {
        let events = &self.shared.events;
        match outcome {
            SendOutcome::Delivered(_) => {
                if let Err(e) = self.store.remove(&hit.key) {
                    events.error(format!(
                        "sent hit could not be deleted, it may be sent again: {e}"
                    ));
                }
                result.changed = true;
                result.summary.sent += 1;
                events.emit(Event::SendDidEnd {
                    status: Status::Success,
                    url: hit.url,
                });
            }
            SendOutcome::Rejected(_) | SendOutcome::Unsendable(_) => {
                let why = match outcome {
                    SendOutcome::Unsendable(reason) => format!("could not be sent ({reason})"),
                    SendOutcome::Rejected(code) => format!("answered HTTP {code}"),
                    _ => String::new(),
                };
                result.changed = true;
                let attempts = match self.store.record_attempt(&hit.key) {
                    Ok(Some(attempts)) => attempts,
                    // Deleted by the app during the send: nothing left to count.
                    Ok(None) => return,
                    Err(e) => {
                        events.error(format!("attempt could not be counted: {e}"));
                        return;
                    }
                };
                events.emit(Event::SendDidEnd {
                    status: Status::Failed,
                    url: hit.url.clone(),
                });
                match policy::after_rejection(attempts, self.settings.max_attempts) {
                    AfterRejection::Keep => result.summary.failed += 1,
                    AfterRejection::Drop => {
                        if let Err(e) = self.store.remove(&hit.key) {
                            events.error(format!("hit could not be deleted: {e}"));
                        }
                        result.summary.dropped += 1;
                        events.warning(format!(
                            "hit dropped after {attempts} attempt(s), last {why}: {}",
                            hit.url
                        ));
                    }
                }
            }
            SendOutcome::ConnectionLost(_) => {
                // Costs no attempt; the hit stays as it was.
                result.stop.get_or_insert(Stop::ConnectionLost);
            }
        }
    }
}
