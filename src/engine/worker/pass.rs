//! One dispatch pass: stored hits go out oldest first, up to
//! `dispatchConcurrency` at a time; the pass stops at once when the
//! connection is lost, the network is off, the server asked to wait, or
//! its deadline comes. The worker drives it: it never waits on a send.
//!
//! Requests that overlap share a pass (one attempt per hit per pass), when
//! the pass will still see every hit tracked before them; otherwise they
//! wait for the next one (see `Worker::request_dispatch`).

use std::time::Instant;

use tokio::sync::oneshot;

use super::super::store::Key;
use super::super::types::DispatchReport;

/// Why a pass ended before the store was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The host said the network is unavailable.
    Offline,
    /// A send got no complete response.
    ConnectionLost,
    /// The server asked for a pause (`Retry-After`).
    Paced,
    Deadline,
    StorageError,
    /// The tracker is closing, or the user opted out.
    Cancelled,
}

/// A `dispatch_and_wait` caller of this pass.
pub struct Waiter {
    pub reply: oneshot::Sender<DispatchReport>,
    pub deadline: Option<Instant>,
}

pub struct Pass {
    /// The last key handed to the transport.
    pub cursor: Option<Key>,
    pub in_flight: usize,
    pub exhausted: bool,
    pub stop: Option<Stop>,
    pub report: DispatchReport,
    /// When the pass stops; `None` if any of its requests has no deadline.
    pub deadline: Option<Instant>,
    pub waiters: Vec<Waiter>,
    pub ignore_pacing: bool,
    /// No explicit request: only automatic ones (backoff applies).
    pub automatic: bool,
    /// The explicit requests it answers (their numbers).
    pub requests: Vec<u64>,
}

impl Pass {
    pub fn new(automatic: bool) -> Pass {
        Pass {
            cursor: None,
            in_flight: 0,
            exhausted: false,
            stop: None,
            report: DispatchReport::default(),
            deadline: None,
            waiters: Vec::new(),
            ignore_pacing: false,
            automatic,
            requests: Vec::new(),
        }
    }

    /// Nothing more will be sent and nothing is in flight.
    pub fn is_over(&self) -> bool {
        (self.stop.is_some() || self.exhausted) && self.in_flight == 0
    }

    /// A failed pass makes automatic passes back off.
    pub fn failed(&self) -> bool {
        self.stop == Some(Stop::ConnectionLost) || self.report.failed > 0
    }
}

/// Deadlines of requests sharing a pass: the latest wins, and none wins
/// over any.
pub fn joined_deadline(pass: Option<Instant>, request: Option<Instant>) -> Option<Instant> {
    Some(pass?.max(request?))
}
