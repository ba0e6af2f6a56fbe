//! Hits that go out live (`never` and `required` modes), one request at a
//! time so they reach the collector in order.

use std::collections::VecDeque;

use super::super::store::Key;
use super::super::types::HitType;

/// One part of a hit (a hit split in `mh` parts has several).
#[derive(Debug, Clone)]
pub struct Part {
    pub key: Key,
    pub query: String,
}

/// A hit waiting to go out live, or going out.
#[derive(Debug)]
pub struct LiveHit {
    /// Order of the app's call, for `flush`.
    pub seq: u64,
    pub hit_type: HitType,
    /// Parts not yet settled, in order.
    pub parts: VecDeque<Part>,
    /// Its parts are in the in-flight journal (`required` mode).
    pub journaled: bool,
    /// A pass over the stored hits ran for it (`required` mode): if hits
    /// are still stored, it goes behind them.
    pub waited_for_pass: bool,
}

/// The live queue: its head may have one request in flight.
#[derive(Default)]
pub struct LiveQueue {
    pub hits: VecDeque<LiveHit>,
    /// The request in flight for the head's first part.
    pub in_flight: Option<u64>,
}

impl LiveQueue {
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// The oldest call whose hit is still here.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.hits.front().map(|hit| hit.seq)
    }

    pub fn push(&mut self, hit: LiveHit) {
        self.hits.push_back(hit);
    }

    /// Removes the head whose request is in flight (`token`), if it is.
    pub fn is_head_request(&self, token: u64) -> bool {
        self.in_flight == Some(token)
    }
}
