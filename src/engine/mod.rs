//! The engine: everything HitKit does, with no knowledge of UniFFI.
//!
//! [`Engine`] is the handle the API wraps. Its methods run on the app's
//! thread only long enough to check their arguments, stamp the time and
//! hand a command to the tracker's [`worker`], which does the rest.

pub mod config;
pub mod error;
pub mod events;
pub mod hit;
pub mod inbox;
pub mod policy;
pub mod secret;
pub mod store;
pub mod transport;
pub mod types;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use config::TrackerConfig;
use error::{Result, TrackerError};
use events::{EventSink, Events};
use inbox::{Command, Completion, DispatchRequest, Inbox};
use store::{Changes, Claim, Database, HitStore, StoredHit};
use transport::Transport;
use types::{DispatchReport, HitType, OfflineModeKey};

/// What ties the app's side of a tracker to its worker: the way to the
/// app (delegate, log), the host's word on the network, and whether the
/// worker still runs.
pub(crate) struct Link {
    pub events: Events,
    pub network_available: AtomicBool,
    /// False once the worker has stopped for good (repeated panics).
    pub worker_alive: AtomicBool,
}

pub struct Engine {
    inbox: Arc<Inbox>,
    link: Arc<Link>,
    /// The configuration as the app set it, in the order it set it: checked
    /// here, then handed to the worker.
    config: Mutex<TrackerConfig>,
    store: Arc<HitStore>,
    database: Arc<Database>,
    /// This tracker's ownership of its hit store.
    _claim: Arc<Claim>,
}

impl Drop for Engine {
    /// The worker settles what is queued, syncs and stops; nothing waits.
    fn drop(&mut self) {
        self.inbox.close();
    }
}

impl Engine {
    /// Opens the store and starts the tracker's worker. `transport`: the
    /// host's HTTP stack, or `None` for the built-in one.
    pub fn start(config: TrackerConfig, transport: Option<Arc<dyn Transport>>) -> Result<Engine> {
        guarded(|| Engine::open(config, transport))
    }

    fn open(config: TrackerConfig, transport: Option<Arc<dyn Transport>>) -> Result<Engine> {
        config.validate()?;
        let transport = match transport {
            Some(transport) => transport,
            None => transport::built_in().map_err(TrackerError::runtime)?,
        };
        let (database, mut notices) = Database::open(std::path::Path::new(&config.database_path))?;
        let (store, more) = database.hit_store(&config.name)?;
        notices.extend(more);
        let claims = store.claim(&config.name, store::CLOSE_WAIT)?;
        // Applied here, so that from the first call on, the store reads as
        // this tracker's key says (a wrong or missing key: locked).
        let key_state = database.use_key(config.encryption_key.as_ref())?;
        let link = Arc::new(Link {
            events: Events::default(),
            network_available: AtomicBool::new(true),
            worker_alive: AtomicBool::new(true),
        });
        for notice in notices {
            match notice {
                store::Notice::Warning(message) => link.events.warning(message),
                store::Notice::Error(message) => link.events.error(message),
            }
        }
        let inbox = Arc::new(Inbox::default());
        let worker = worker::Worker::new(worker::Parts {
            config: config.clone(),
            inbox: inbox.clone(),
            link: link.clone(),
            database: database.clone(),
            store: store.clone(),
            transport,
            claim: claims.worker,
            key_state,
        });
        std::thread::Builder::new()
            .name("hitkit".into())
            .spawn(move || worker.run())
            .map_err(|e| TrackerError::runtime(format!("cannot start HitKit's worker: {e}")))?;
        Ok(Engine {
            inbox,
            link,
            config: Mutex::new(config),
            store,
            database,
            _claim: claims.tracker,
        })
    }

    pub fn set_event_sink(&self, sink: Option<Arc<dyn EventSink>>) {
        self.link.events.set_sink(sink);
    }

    fn send(&self, command: Command) -> Result<()> {
        self.push(command).map_err(|(error, _)| error)
    }

    /// Queues a command; on failure the command comes back with the error.
    fn push(&self, command: Command) -> std::result::Result<(), (TrackerError, Command)> {
        if !self.link.worker_alive.load(Ordering::SeqCst) {
            let error = TrackerError::runtime(
                "HitKit's worker stopped after repeated failures (see errorDidOccur)",
            );
            return Err((error, command));
        }
        self.inbox
            .push(command)
            .map_err(|command| (TrackerError::closed(), command))
    }

    /// Queues a hit; its `ts` is the time of this call. Nothing waits.
    pub fn track(&self, hit_type: HitType, params: Vec<hit::Param>) -> Result<()> {
        for (key, _) in &params {
            hit::check_key(key)?;
        }
        if self.database.meta().opted_out() {
            return Ok(());
        }
        self.send(Command::Track {
            hit_type,
            params,
            stamp_ms: now_ms(),
        })
    }

    /// Applies one `set_config` key; `done` hears `true` once the worker
    /// uses it, `false` (before the error returns) if it is refused.
    pub fn set_config(&self, key: &str, value: &str, done: Option<Completion>) -> Result<()> {
        if key == config::OPT_OUT_KEY {
            return match config::parse_bool(key, value) {
                Ok(opted_out) => self.opt_out(opted_out, done),
                Err(e) => {
                    if let Some(done) = done {
                        events::call_back(|| done(false));
                    }
                    Err(e)
                }
            };
        }
        self.reconfigure(|config| config.set(key, value), done)
    }

    pub fn set_offline_mode(&self, mode: OfflineModeKey, done: Option<Completion>) -> Result<()> {
        self.reconfigure(
            |config| {
                config.storage = Some(mode);
                Ok(())
            },
            done,
        )
    }

    fn reconfigure(
        &self,
        change: impl FnOnce(&mut TrackerConfig) -> Result<()>,
        done: Option<Completion>,
    ) -> Result<()> {
        let refuse = |done: Option<Completion>, error: TrackerError| {
            if let Some(done) = done {
                events::call_back(|| done(false));
            }
            Err(error)
        };
        let mut current = lock(&self.config);
        let mut next = current.clone();
        if let Err(e) = change(&mut next) {
            drop(current);
            return refuse(done, e);
        }
        let command = Command::Configure {
            config: Box::new(next.clone()),
            done,
        };
        match self.push(command) {
            Ok(()) => {
                *current = next;
                Ok(())
            }
            Err((error, Command::Configure { done, .. })) => {
                drop(current);
                refuse(done, error)
            }
            Err((error, _)) => Err(error),
        }
    }

    /// The current configuration; the encryption key is never returned.
    pub fn config(&self) -> TrackerConfig {
        lock(&self.config).redacted()
    }

    pub fn offline_mode(&self) -> OfflineModeKey {
        lock(&self.config).mode()
    }

    /// A parameter added to every later hit (a later key replaces an earlier one).
    pub fn set_param(&self, key: &str, value: &str) -> Result<()> {
        hit::check_key(key)?;
        self.send(Command::SetParam {
            key: key.to_owned(),
            value: Some(value.to_owned()),
        })
    }

    pub fn unset_param(&self, key: &str) -> Result<()> {
        self.send(Command::SetParam {
            key: key.to_owned(),
            value: None,
        })
    }

    /// The host's word on connectivity. Coming back online starts a pass in
    /// `required` mode; going offline stops a running pass at its next hit.
    pub fn set_network_available(&self, available: bool) {
        let was = self
            .link
            .network_available
            .swap(available, Ordering::SeqCst);
        if was != available {
            let _ = self.send(Command::NetworkChanged(available));
        }
    }

    /// Resolves once every earlier call's hits are sent, saved (synced to
    /// disk) or dropped; an error if the sync to disk failed.
    pub async fn flush(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Flush(reply))?;
        answer.await.map_err(|_| TrackerError::closed())?
    }

    /// Starts a pass now; a request made while one runs joins it when it
    /// can. The server's `Retry-After` holds it back unless `ignore_pacing`.
    pub fn dispatch(&self, ignore_pacing: bool) -> Result<()> {
        self.send(Command::Dispatch(DispatchRequest {
            reply: None,
            deadline: None,
            ignore_pacing,
            automatic: false,
            number: 0,
        }))
    }

    /// A pass that stops cleanly at `deadline` (counted from this call) and
    /// reports what it did, once its deletes are on disk.
    pub async fn dispatch_and_wait(
        &self,
        deadline: Option<Duration>,
        ignore_pacing: bool,
    ) -> Result<DispatchReport> {
        let deadline = deadline
            .filter(|d| *d <= policy::MAX_DEADLINE)
            .map(|d| Instant::now() + d);
        let (reply, answer) = oneshot::channel();
        self.send(Command::Dispatch(DispatchRequest {
            reply: Some(reply),
            deadline,
            ignore_pacing,
            automatic: false,
            number: 0,
        }))?;
        answer.await.map_err(|_| TrackerError::closed())
    }

    // ---- stored hits, read straight from the store ----

    pub fn stored_count(&self) -> u64 {
        self.store.len()
    }

    /// The collector stored hits go to now (`Offline` shows their URLs).
    pub fn base_url(&self) -> String {
        lock(&self.config).base_url()
    }

    pub fn stored_hits(&self) -> Result<Vec<StoredHit>> {
        guarded(|| self.store.all())
    }

    pub fn oldest(&self) -> Result<Option<StoredHit>> {
        guarded(|| self.store.oldest())
    }

    pub fn latest(&self) -> Result<Option<StoredHit>> {
        guarded(|| self.store.latest())
    }

    /// Deletes every stored hit; returns how many.
    pub fn delete_all(&self) -> Result<u64> {
        guarded(|| self.delete(self.store.keys()?))
    }

    pub fn delete_older_than(&self, days: i32) -> Result<u64> {
        if days < 0 {
            return Err(TrackerError::param("days", format!("{days} is negative")));
        }
        let cutoff = now_ms().saturating_sub(days as u64 * 86_400_000);
        guarded(|| self.delete(self.store.keys_before(cutoff)?))
    }

    fn delete(&self, keys: Vec<store::Key>) -> Result<u64> {
        let mut changes = Changes::default();
        for key in keys {
            changes.remove(key);
        }
        let applied = self.store.apply(changes)?;
        let _ = self.send(Command::StoreChanged);
        Ok(applied.removed.len() as u64)
    }

    // ---- the user's rights ----

    /// Opted out, the tracker builds, stores and sends nothing, and what is
    /// stored is deleted; it lasts across restarts until opted in again.
    pub fn set_opted_out(&self, opted_out: bool) -> Result<()> {
        self.opt_out(opted_out, None)
    }

    /// In effect for this thread's next call at once; saved by the worker,
    /// which then calls `done`. A tracker that cannot take it changes
    /// nothing (the choice is the database's, shared by its trackers).
    fn opt_out(&self, opted_out: bool, done: Option<Completion>) -> Result<()> {
        let meta = self.database.meta();
        let before = meta.opted_out();
        meta.note_opted_out(opted_out);
        self.push(Command::OptOut { opted_out, done })
            .map_err(|(error, command)| {
                meta.note_opted_out(before);
                if let Command::OptOut {
                    done: Some(done), ..
                } = command
                {
                    events::call_back(|| done(false));
                }
                error
            })
    }

    pub fn is_opted_out(&self) -> bool {
        self.database.meta().opted_out()
    }

    /// Forgets the user: every tracker's stored hits and journal in this
    /// database, the visitor id, and the damaged copies kept aside. The
    /// next hit gets a new visitor id.
    pub async fn erase_all(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::EraseAll(reply))?;
        answer.await.map_err(|_| TrackerError::closed())?
    }

    /// Makes the worker panic, to test that a panic is contained.
    pub fn inject_panic(&self) -> Result<()> {
        self.send(Command::Panic)
    }
}

/// Runs a call that reads the database on the app's thread: sled asserts
/// on some damaged pages, and no panic may reach the app (or the FFI).
fn guarded<T>(call: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|_| {
        Err(TrackerError::storage(
            "the database engine failed while reading the store (damaged?)",
        ))
    })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Poisoning only means an app callback panicked while the lock was held;
/// the data behind it is still consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
