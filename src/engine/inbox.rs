//! The queue between the app's threads and the tracker's worker.
//!
//! Handing over a hit is a push under a mutex the worker holds only to
//! swap the queue out. After a round of work the worker lingers awake
//! (short naps, [`policy::LINGER`]), so paced hits find it awake and the
//! app's thread makes no system call; only a worker asleep for good is
//! woken (one `unpark`). Asleep, it costs no timer unless a deadline needs
//! one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Instant;

use tokio::sync::oneshot;

use super::config::TrackerConfig;
use super::error::Result;
use super::hit::Param;
use super::lock;
use super::policy::{self, Response};
use super::types::{DispatchReport, HitType};

/// Called once a `set_config`/`set_offline_mode` change is in effect.
pub type Completion = Box<dyn FnOnce(bool) + Send>;

/// What the worker is asked to do, in the order the app asked.
pub enum Command {
    /// A hit, stamped with the time of the call.
    Track {
        hit_type: HitType,
        params: Vec<Param>,
        stamp_ms: u64,
    },
    /// A parameter added to every later hit (`None` removes it).
    SetParam {
        key: String,
        value: Option<String>,
    },
    Configure {
        config: Box<TrackerConfig>,
        done: Option<Completion>,
    },
    NetworkChanged(bool),
    Dispatch(DispatchRequest),
    /// Answered once every hit tracked before it is sent, saved or dropped.
    Flush(oneshot::Sender<Result<()>>),
    /// A transport's answer to the request it was given `token` for.
    Sent {
        token: u64,
        response: Response,
    },
    /// The app deleted stored hits: make that durable soon.
    StoreChanged,
    /// The user's choice; `done` hears `true` once it is saved (and what
    /// was stored deleted), `false` if it could not be saved.
    OptOut {
        opted_out: bool,
        done: Option<Completion>,
    },
    EraseAll(oneshot::Sender<Result<()>>),
    /// Panics inside the worker: for tests of how a panic is contained.
    Panic,
}

/// A request to send what is stored.
pub struct DispatchRequest {
    /// `dispatch_and_wait`'s answer; `None` for fire-and-forget.
    pub reply: Option<oneshot::Sender<DispatchReport>>,
    pub deadline: Option<Instant>,
    /// Go even while the server asked to wait (`Retry-After`).
    pub ignore_pacing: bool,
    /// Not asked by the app (new hits in `required` mode).
    pub automatic: bool,
    /// Given by the worker, in the order requests arrive.
    pub number: u64,
}

#[derive(Default)]
struct Queue {
    commands: Vec<Command>,
    closed: bool,
    /// A fire-and-forget dispatch is queued and not yet taken: another one
    /// asked meanwhile is the same request.
    dispatch_queued: bool,
}

#[derive(Default)]
pub struct Inbox {
    queue: Mutex<Queue>,
    has_work: AtomicBool,
    /// The worker is parked for good and must be woken.
    asleep: AtomicBool,
    worker: OnceLock<Thread>,
}

impl Inbox {
    /// From the app's thread: wakes the worker only if it sleeps for good
    /// (no system call while it lingers). `Err` gives the command back:
    /// the tracker is closed.
    pub fn push(&self, command: Command) -> std::result::Result<(), Command> {
        self.enqueue(command)?;
        self.wake();
        Ok(())
    }

    /// From HitKit's own threads (a transport's answer): wakes the worker
    /// at once, lingering or not, so a pass waits on the network only.
    pub fn push_now(&self, command: Command) -> std::result::Result<(), Command> {
        self.enqueue(command)?;
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
        Ok(())
    }

    fn enqueue(&self, command: Command) -> std::result::Result<(), Command> {
        {
            let mut queue = lock(&self.queue);
            if queue.closed {
                return Err(command);
            }
            if let Command::Dispatch(DispatchRequest {
                reply: None,
                ignore_pacing: false,
                automatic: false,
                ..
            }) = &command
            {
                if queue.dispatch_queued {
                    return Ok(());
                }
                queue.dispatch_queued = true;
            }
            queue.commands.push(command);
            self.has_work.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn wake(&self) {
        if self.asleep.load(Ordering::SeqCst)
            && let Some(worker) = self.worker.get()
        {
            worker.unpark();
        }
    }

    /// No more commands: the worker finishes what it has and stops.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
        self.has_work.store(true, Ordering::SeqCst);
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    // ---- the worker's side ----

    pub fn set_worker(&self, worker: Thread) {
        let _ = self.worker.set(worker);
    }

    /// Moves the queued commands into `into`; `true` once closed.
    pub fn take(&self, into: &mut Vec<Command>) -> bool {
        let mut queue = lock(&self.queue);
        self.has_work.store(false, Ordering::SeqCst);
        queue.dispatch_queued = false;
        std::mem::swap(into, &mut queue.commands);
        queue.closed
    }

    /// Waits for a command or `until`: awake for [`policy::LINGER`] after
    /// work, then asleep.
    pub fn wait(&self, until: Option<Instant>, lingering: bool) {
        let start = Instant::now();
        if lingering {
            let stop = until.map_or(start + policy::LINGER, |t| t.min(start + policy::LINGER));
            while !self.has_work.load(Ordering::SeqCst) && Instant::now() < stop {
                std::thread::park_timeout(policy::NAP);
            }
        }
        self.asleep.store(true, Ordering::SeqCst);
        while !self.has_work.load(Ordering::SeqCst) {
            match until {
                None => std::thread::park(),
                Some(at) => match at.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => std::thread::park_timeout(left),
                    _ => break,
                },
            }
        }
        self.asleep.store(false, Ordering::SeqCst);
    }
}
