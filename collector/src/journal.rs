//! Thread-safe log of received hits. Connection tasks write to it, the
//! blocking public API reads and waits on it, hence std locks + a Condvar.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::hit::ReceivedHit;

type Callback = Arc<dyn Fn(&ReceivedHit) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Journal {
    log: Mutex<Log>,
    changed: Condvar,
    callbacks: RwLock<Vec<Callback>>,
}

#[derive(Default)]
struct Log {
    entries: Vec<Entry>,
    next_seq: u64,
}

struct Entry {
    seq: u64,
    hit: ReceivedHit,
}

/// Handle on a recorded hit whose outcome is not known yet. It carries its
/// own copy so the callback still fires if `clear()` ran in between.
pub(crate) struct Pending {
    seq: u64,
    hit: ReceivedHit,
}

impl Journal {
    /// Records a hit on arrival, so waiters see requests that will never
    /// be answered (hang, reset) too.
    pub fn record(&self, hit: ReceivedHit) -> Pending {
        let mut log = self.lock();
        let seq = log.next_seq;
        log.next_seq += 1;
        log.entries.push(Entry {
            seq,
            hit: hit.clone(),
        });
        drop(log);
        self.changed.notify_all();
        Pending { seq, hit }
    }

    /// Fixes the outcome of a hit and tells the live callbacks. Called
    /// before the response is written, so a client that got its answer
    /// always finds the hit already marked.
    pub fn settle(&self, mut pending: Pending, answered: Option<u16>) {
        pending.hit.answered = answered;
        let mut log = self.lock();
        // Sequence numbers only grow, so the entry (if not cleared) is found by bisection.
        if let Ok(i) = log.entries.binary_search_by_key(&pending.seq, |e| e.seq) {
            log.entries[i].hit.answered = answered;
        }
        drop(log);
        self.changed.notify_all();
        let callbacks = self
            .callbacks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for callback in callbacks {
            callback(&pending.hit);
        }
    }

    pub fn hits(&self) -> Vec<ReceivedHit> {
        self.lock().entries.iter().map(|e| e.hit.clone()).collect()
    }

    pub fn delivered(&self) -> Vec<ReceivedHit> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.hit.is_delivered())
            .map(|e| e.hit.clone())
            .collect()
    }

    /// `(requests, delivered)` without cloning anything.
    pub fn counts(&self) -> (usize, usize) {
        let log = self.lock();
        (log.entries.len(), log.delivered_count())
    }

    pub fn clear(&self) {
        self.lock().entries.clear();
        self.changed.notify_all();
    }

    pub fn subscribe(&self, callback: Callback) {
        self.callbacks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(callback);
    }

    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |log| log.entries.len() >= n)
    }

    pub fn wait_for_delivered(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |log| log.delivered_count() >= n)
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&Log) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut log = self.lock();
        loop {
            if done(&log) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            log = self
                .changed
                .wait_timeout(log, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Poisoning is ignored: nothing panics while holding the lock, so the
    /// log is always consistent and should stay readable.
    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Log {
    fn delivered_count(&self) -> usize {
        self.entries.iter().filter(|e| e.hit.is_delivered()).count()
    }
}
