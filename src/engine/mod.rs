//! The engine: everything HitKit does, with no knowledge of UniFFI.
//!
//! [`Engine`] is the handle the FFI layer wraps. Its methods run on the
//! caller's thread only long enough to validate, build and enqueue; the
//! tracker's [`worker`] does the rest.

pub mod codec;
mod dispatch;
pub mod error;
pub mod events;
pub mod hit;
pub mod policy;
pub mod runtime;
pub mod sender;
pub mod settings;
pub mod store;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};

pub use error::{Error, Result};
pub use events::{Event, EventSink, Events, Status};
pub use hit::{HitKind, Param};
pub use settings::{Settings, StorageMode};
pub use store::StoredHit;
pub use worker::Done;

use events::lock;
use store::{Database, HitStore};
use worker::{Command, Reply, Worker};

/// Time a pass stopped at its deadline gets to report before the caller
/// is answered without it.
const DEADLINE_GRACE: Duration = Duration::from_millis(100);
const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// What a dispatch pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchSummary {
    /// Hits the collector accepted (and that were deleted).
    pub sent: u64,
    /// Hits the collector refused that stay stored for another attempt.
    pub failed: u64,
    /// Hits deleted without being sent: attempts used up, or too old.
    pub dropped: u64,
    /// Hits still stored when the pass ended.
    pub remaining: u64,
}

/// State shared by the caller-facing handle and the worker.
pub(crate) struct Shared {
    pub events: Events,
    pub network_available: AtomicBool,
    /// A fire-and-forget dispatch is queued and not yet started.
    pub dispatch_queued: AtomicBool,
}

/// What the caller's side needs to build hits in call order.
struct Front {
    settings: Settings,
    /// `settings.base_url()`, kept so each hit need not build it again.
    base_url: String,
    persistent: Vec<Param>,
    visitor_uuid: String,
    last_created_ms: u64,
}

pub struct Engine {
    front: Mutex<Front>,
    store: Arc<HitStore>,
    shared: Arc<Shared>,
    /// This tracker's ownership of its hit store.
    _claim: Arc<store::Claim>,
    /// Dropped last: closing the queue lets the worker finish and close the
    /// database, which saves counts only once no one else holds the store.
    commands: mpsc::UnboundedSender<Command>,
}

impl Engine {
    /// Opens the store and starts the tracker's worker.
    pub fn start(settings: Settings) -> Result<Engine> {
        settings.validate()?;
        let runtime = runtime::get()?;
        let (database, mut notices) = Database::open(&settings.database_path)?;
        let codec = codec::Codec::new(settings.encryption_key.as_deref())?;
        let (store, more) = database.hit_store_with(&settings.name, codec)?;
        let claims = store.claim(&settings.name, store::CLOSE_WAIT)?;
        // Only now that it owns the store (it may have been open already).
        store.set_codec(codec::Codec::new(settings.encryption_key.as_deref())?);
        notices.extend(more);
        let visitor_uuid = database.visitor_uuid()?;
        let sender = sender::Sender::new().map_err(|reason| Error::Runtime { reason })?;

        let shared = Arc::new(Shared {
            events: Events::default(),
            network_available: AtomicBool::new(true),
            dispatch_queued: AtomicBool::new(false),
        });
        for notice in notices {
            match notice {
                store::Notice::Warning(message) => shared.events.warning(message),
                store::Notice::Error(message) => shared.events.error(message),
            }
        }
        let (commands, queue) = mpsc::unbounded_channel();
        let worker = Worker::new(
            settings.clone(),
            store.clone(),
            database.clone(),
            sender,
            shared.clone(),
            claims.worker,
        );
        runtime.spawn(worker.run(queue));

        Ok(Engine {
            front: Mutex::new(Front {
                base_url: settings.base_url(),
                settings,
                persistent: Vec::new(),
                visitor_uuid,
                last_created_ms: 0,
            }),
            commands,
            store,
            shared,
            _claim: claims.tracker,
        })
    }

    pub fn set_event_sink(&self, sink: Option<Arc<dyn EventSink>>) {
        self.shared.events.set_sink(sink);
    }

    /// Builds a hit now (its `ts` is the time of this call) and queues it.
    pub fn track(&self, kind: HitKind, params: Vec<Param>) -> Result<()> {
        let mut front = lock(&self.front);
        // Never let a clock step back reorder hits in the store.
        let created_ms = now_ms().max(front.last_created_ms);
        front.last_created_ms = created_ms;
        let settings = &front.settings;
        let idclient = if settings.identifier == "uuid" {
            front.visitor_uuid.as_str()
        } else {
            settings.identifier.as_str()
        };
        let standard = hit::Standard {
            base_url: &front.base_url,
            site: &settings.site,
            idclient,
            platform: std::env::consts::OS,
            max_hit_size: settings.max_hit_size as usize,
        };
        let built = hit::build(
            &standard,
            &front.persistent,
            kind,
            params,
            created_ms,
            split_id,
        )?;
        self.enqueue(Command::Track {
            hit: built,
            journal: Vec::new(),
        })
    }

    /// Applies one `set_config` key; `done` runs once the worker uses it.
    pub fn set_config(&self, key: &str, value: &str, done: Option<Done>) -> Result<()> {
        self.reconfigure(|settings| settings.set(key, value), done)
    }

    pub fn set_storage_mode(&self, mode: StorageMode, done: Option<Done>) -> Result<()> {
        self.reconfigure(
            |settings| {
                settings.storage = mode;
                Ok(())
            },
            done,
        )
    }

    fn reconfigure(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<()>,
        done: Option<Done>,
    ) -> Result<()> {
        let mut front = lock(&self.front);
        if let Err(e) = change(&mut front.settings) {
            drop(front);
            if let Some(done) = done {
                events::call_back(|| done(false));
            }
            return Err(e);
        }
        front.base_url = front.settings.base_url();
        let settings = Box::new(front.settings.clone());
        self.enqueue(Command::Configure { settings, done })
    }

    pub fn settings(&self) -> Settings {
        lock(&self.front).settings.clone()
    }

    /// A parameter added to every later hit (a later key replaces an earlier one).
    pub fn set_param(&self, key: &str, value: &str) -> Result<()> {
        hit::check_key(key)?;
        let mut front = lock(&self.front);
        match front.persistent.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => front.persistent.push((key.to_owned(), value.to_owned())),
        }
        Ok(())
    }

    pub fn unset_param(&self, key: &str) {
        lock(&self.front).persistent.retain(|(k, _)| k != key);
    }

    /// The host's word on connectivity. Coming back online starts a pass in
    /// `required` mode; going offline stops a running pass at its next hit.
    pub fn set_network_available(&self, available: bool) {
        let was = self
            .shared
            .network_available
            .swap(available, Ordering::SeqCst);
        if was != available {
            let _ = self.enqueue(Command::NetworkChanged(available));
        }
    }

    /// Resolves once every earlier call is sent, saved or dropped.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.enqueue(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Starts a pass now; a request made while one waits or runs joins it.
    pub fn dispatch(&self) {
        if !self.shared.dispatch_queued.swap(true, Ordering::SeqCst) {
            let _ = self.enqueue(Command::Dispatch);
        }
    }

    /// A pass that stops cleanly at `deadline` (counted from this call).
    /// The answer comes by the deadline even if the worker is still busy
    /// with earlier work (a live send waiting on a timeout, say): the pass
    /// then runs later and, its deadline gone, sends nothing.
    pub async fn dispatch_and_wait(&self, deadline: Option<Duration>) -> DispatchSummary {
        // A deadline beyond a day is no deadline (and cannot overflow).
        let deadline = deadline
            .filter(|d| *d <= MAX_DEADLINE)
            .map(|d| Instant::now() + d);
        let nothing_done = || DispatchSummary {
            remaining: self.store.len(),
            ..Default::default()
        };
        let (reply, wait) = Reply::new();
        if self
            .enqueue(Command::DispatchAndWait {
                deadline,
                reply: reply.clone(),
            })
            .is_err()
        {
            return nothing_done();
        }
        if let (Some(deadline), Ok(runtime)) = (deadline, runtime::get()) {
            // Weak: the timer must never keep a closed tracker's store open.
            let store = Arc::downgrade(&self.store);
            runtime.spawn(async move {
                tokio::time::sleep_until((deadline + DEADLINE_GRACE).into()).await;
                let remaining = store.upgrade().map_or(0, |store| store.len());
                reply.send(DispatchSummary {
                    remaining,
                    ..Default::default()
                });
            });
        }
        wait.await.unwrap_or_else(|_| nothing_done())
    }

    /// Stored hits, read straight from the store: these calls never wait for
    /// a pass in progress.
    pub fn stored_count(&self) -> u64 {
        self.store.len()
    }

    pub fn stored_hits(&self) -> Result<Vec<StoredHit>> {
        self.store.all()
    }

    pub fn oldest(&self) -> Result<Option<StoredHit>> {
        self.store.oldest()
    }

    pub fn latest(&self) -> Result<Option<StoredHit>> {
        self.store.latest()
    }

    pub fn delete_all(&self) -> Result<u64> {
        let deleted = self.store.delete_all()?;
        let _ = self.enqueue(Command::Commit);
        Ok(deleted)
    }

    pub fn delete_older_than(&self, days: u32) -> Result<u64> {
        let cutoff = now_ms().saturating_sub(days as u64 * 86_400_000);
        let deleted = self.store.delete_created_before(cutoff)?;
        let _ = self.enqueue(Command::Commit);
        Ok(deleted)
    }

    fn enqueue(&self, command: Command) -> Result<()> {
        self.commands.send(command).map_err(|_| Error::Runtime {
            reason: "the tracker's worker has stopped".into(),
        })
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The id shared by the parts of one split hit.
fn split_id() -> u32 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes),
        Err(_) => now_ms() as u32,
    }
}
