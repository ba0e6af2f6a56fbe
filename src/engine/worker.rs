//! The tracker's serial worker: the one task that changes a tracker's state.
//!
//! Calls from the app only enqueue commands, so they never wait on the
//! network or the disk. The worker takes commands in order, a batch at a
//! time, then group-commits: one flush covers every hit saved in the batch,
//! and `save_did_end` fires only after it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::codec::Codec;
use super::dispatch::Pass;
use super::events::{Event, Status, call_back, lock};
use super::hit::{self, BuiltHit};
use super::policy::{self, Backoff};
use super::sender::{SendOutcome, Sender};
use super::settings::{Settings, StorageMode};
use super::store::{Claim, Database, HitStore};
use super::{DispatchSummary, Shared, now_ms};

/// Called once a `set_config`/`set_offline_mode` change is in effect.
pub type Done = Box<dyn FnOnce(bool) + Send>;

pub enum Command {
    /// `journal`: ids of the hit's parts in the in-flight journal, if any.
    Track {
        hit: BuiltHit,
        journal: Vec<u64>,
    },
    Configure {
        settings: Box<Settings>,
        done: Option<Done>,
    },
    NetworkChanged(bool),
    Dispatch,
    DispatchAndWait {
        deadline: Option<Instant>,
        reply: Reply,
    },
    Flush(oneshot::Sender<()>),
    /// The app deleted stored hits: make it durable with the next commit.
    Commit,
}

/// The answer to a `dispatch_and_wait`: given by the worker, or by a timer
/// at the deadline, whichever comes first.
#[derive(Clone)]
pub struct Reply(Arc<Mutex<Option<oneshot::Sender<DispatchSummary>>>>);

impl Reply {
    pub fn new() -> (Reply, oneshot::Receiver<DispatchSummary>) {
        let (sender, receiver) = oneshot::channel();
        (Reply(Arc::new(Mutex::new(Some(sender)))), receiver)
    }

    pub fn send(&self, summary: DispatchSummary) {
        if let Some(sender) = lock(&self.0).take() {
            let _ = sender.send(summary);
        }
    }
}

/// Commands handled before a group commit is forced.
const MAX_BATCH: usize = 1024;

pub struct Worker {
    pub settings: Settings,
    pub store: Arc<HitStore>,
    pub database: Arc<Database>,
    pub sender: Sender,
    pub shared: Arc<Shared>,
    backoff: Backoff,
    unflushed: bool,
    /// Stored hits waiting for the flush that makes them saved.
    saved_urls: Vec<String>,
    flush_waiters: Vec<oneshot::Sender<()>>,
    unreadable_reported: u64,
    /// Released when the worker ends: only then may another tracker take
    /// over its hits.
    _claim: Arc<Claim>,
}

impl Worker {
    pub fn new(
        settings: Settings,
        store: Arc<HitStore>,
        database: Arc<Database>,
        sender: Sender,
        shared: Arc<Shared>,
        claim: Arc<Claim>,
    ) -> Worker {
        Worker {
            settings,
            store,
            database,
            sender,
            shared,
            backoff: Backoff::default(),
            unflushed: false,
            saved_urls: Vec::new(),
            flush_waiters: Vec::new(),
            unreadable_reported: 0,
            _claim: claim,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.enforce_age_limit();
        self.report_unreadable();
        self.commit().await;
        let mut batch = Vec::new();
        while let Some(command) = commands.recv().await {
            batch.push(command);
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.journal(&mut batch).await;
            for command in batch.drain(..) {
                self.handle(command).await;
            }
            self.commit().await;
        }
        // Every tracker handle is gone: what was queued is done, save it.
        self.commit().await;
    }

    /// Before a batch goes out, its `required`-mode hits are written to the
    /// in-flight journal and flushed (one flush for the batch): from then on a
    /// kill costs at most a duplicate, never the hit. `never` writes nothing;
    /// `always` stores the hit itself.
    async fn journal(&mut self, batch: &mut [Command]) {
        let mut mode = self.settings.storage;
        for command in batch.iter_mut() {
            match command {
                Command::Configure { settings, .. } => mode = settings.storage,
                Command::Track { hit, journal } if mode == StorageMode::Required => {
                    for url in &hit.urls {
                        match self.store.journal_add(hit.created_ms, hit.kind, url) {
                            Ok(id) => journal.push(id),
                            Err(e) => self.shared.events.error(format!("hit not journaled: {e}")),
                        }
                    }
                    self.unflushed = true;
                }
                _ => {}
            }
        }
        self.commit().await;
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Track { hit, journal } => {
                self.track(hit).await;
                // Sent, stored or lost by now: the journal has done its job.
                for id in journal {
                    if self.store.journal_remove(id).is_ok() {
                        self.unflushed = true;
                    }
                }
            }
            Command::Configure { settings, done } => {
                if settings.encryption_key != self.settings.encryption_key {
                    // Validated by `Settings::set`, so this cannot fail.
                    if let Ok(codec) = Codec::new(settings.encryption_key.as_deref()) {
                        self.store.set_codec(codec);
                    }
                }
                self.settings = *settings;
                if let Some(done) = done {
                    call_back(|| done(true));
                }
            }
            Command::NetworkChanged(available) => {
                if available {
                    self.backoff.reset();
                    self.automatic_pass().await;
                }
            }
            Command::Dispatch => {
                self.pass(None).await;
                // Requests made during the pass were merged into it; from
                // here on a request starts a new one.
                self.shared.dispatch_queued.store(false, Ordering::SeqCst);
            }
            Command::DispatchAndWait { deadline, reply } => {
                let summary = self.pass(deadline).await;
                // The deletes are on disk before the caller hears of them (an
                // iOS app may be suspended as soon as it does).
                self.commit().await;
                reply.send(summary);
            }
            Command::Flush(waiter) => self.flush_waiters.push(waiter),
            Command::Commit => self.unflushed = true,
        }
    }

    async fn track(&mut self, hit: BuiltHit) {
        for url in &hit.urls {
            self.emit(Event::BuildDidEnd {
                status: Status::Success,
                url: url.clone(),
            });
        }
        for warning in &hit.warnings {
            self.shared.events.warning(warning.clone());
        }
        match self.settings.storage {
            StorageMode::Always => self.store_hit(&hit, &hit.urls),
            StorageMode::Never => {
                for url in &hit.urls {
                    // A hit that cannot be sent is lost in this mode.
                    let delivered = self.network_available()
                        && matches!(self.send(url).await, SendOutcome::Delivered(_));
                    self.emit_sent(delivered, url);
                }
            }
            StorageMode::Required => self.track_required(hit).await,
        }
    }

    /// While stored hits wait, a new hit first tries to send them, and goes
    /// behind them if they are still there, so order is kept.
    async fn track_required(&mut self, hit: BuiltHit) {
        if !self.store.is_empty() {
            self.automatic_pass().await;
        }
        if !self.store.is_empty() || !self.network_available() {
            self.store_hit(&hit, &hit.urls);
            return;
        }
        for (i, url) in hit.urls.iter().enumerate() {
            let outcome = if self.network_available() {
                self.send(url).await
            } else {
                SendOutcome::ConnectionLost("network unavailable".into())
            };
            match outcome {
                SendOutcome::Delivered(_) => self.emit_sent(true, url),
                // The collector answered: not a loss of connection, so not stored.
                SendOutcome::Rejected(_) | SendOutcome::Unsendable(_) => self.emit_sent(false, url),
                SendOutcome::ConnectionLost(_) => {
                    self.store_hit(&hit, &hit.urls[i..]);
                    break;
                }
            }
        }
    }

    fn store_hit(&mut self, hit: &BuiltHit, urls: &[String]) {
        // All parts of one hit share one `olt`.
        let olt = now_ms() as f64 / 1000.0;
        for url in urls {
            self.make_room();
            match self
                .store
                .insert(hit.created_ms, hit.kind, hit::to_offline(url, olt))
            {
                Ok(stored) => {
                    self.unflushed = true;
                    self.saved_urls.push(stored.url);
                }
                Err(e) => self
                    .shared
                    .events
                    .error(format!("hit lost, it could not be stored ({e}): {url}")),
            }
        }
    }

    fn make_room(&mut self) {
        let max = self.settings.max_stored_hits;
        while policy::over_count_limit(self.store.len(), max) {
            match self.store.pop_oldest() {
                Ok(Some(oldest)) => {
                    self.unflushed = true;
                    self.shared.events.warning(format!(
                        "store full (maxStoredHits {max}): dropped the oldest hit {oldest}"
                    ));
                }
                _ => break,
            }
        }
    }

    fn enforce_age_limit(&mut self) -> u64 {
        let days = self.settings.max_storage_age_days;
        let Some(cutoff) = policy::age_cutoff_ms(now_ms(), days) else {
            return 0;
        };
        match self.store.delete_created_before(cutoff) {
            Ok(0) => 0,
            Ok(deleted) => {
                self.unflushed = true;
                self.shared.events.warning(format!(
                    "dropped {deleted} stored hit(s) older than {days} day(s) (maxStorageAgeDays)"
                ));
                deleted
            }
            Err(e) => {
                self.shared
                    .events
                    .error(format!("old hits could not be deleted: {e}"));
                0
            }
        }
    }

    /// A pass the app did not ask for: `required` mode only, online only,
    /// and not before the backoff allows it.
    async fn automatic_pass(&mut self) {
        let wanted = self.settings.storage == StorageMode::Required
            && !self.store.is_empty()
            && self.network_available()
            && self.backoff.allows_automatic_pass(Instant::now());
        if wanted {
            self.pass(None).await;
        }
    }

    async fn pass(&mut self, deadline: Option<Instant>) -> DispatchSummary {
        let dropped_by_age = self.enforce_age_limit();
        let pass = Pass {
            store: &self.store,
            database: &self.database,
            sender: &self.sender,
            shared: &self.shared,
            settings: &self.settings,
        };
        let result = pass.run(deadline).await;
        if result.failed() {
            self.backoff.record_failure(Instant::now());
        } else if result.summary.sent > 0 {
            self.backoff.reset();
        }
        self.unflushed |= result.changed;
        self.report_unreadable();
        let mut summary = result.summary;
        summary.dropped += dropped_by_age;
        summary
    }

    /// Once per change in their number, not at every pass.
    fn report_unreadable(&mut self) {
        let count = self.store.take_unreadable();
        if count > 0 && count != self.unreadable_reported {
            self.shared.events.error(format!(
                "{count} stored hit(s) could not be read: damaged, or sealed with another \
                 encryption key (or none). They are kept, unsent, until the right key is \
                 set or maxStorageAgeDays removes them"
            ));
        }
        self.unreadable_reported = count;
    }

    /// The group commit.
    async fn commit(&mut self) {
        if self.unflushed {
            self.unflushed = false;
            let database = self.database.clone();
            let flushed = tokio::task::spawn_blocking(move || database.flush())
                .await
                .unwrap_or_else(|e| Err(super::Error::storage(e)));
            let saved = std::mem::take(&mut self.saved_urls);
            match flushed {
                Ok(()) => {
                    for url in saved {
                        self.emit(Event::SaveDidEnd { url });
                    }
                }
                Err(e) => self.shared.events.error(format!(
                    "{} hit(s) may not be saved, the flush failed: {e}",
                    saved.len()
                )),
            }
        }
        for waiter in self.flush_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    async fn send(&self, url: &str) -> SendOutcome {
        let timeout = Duration::from_millis(self.settings.request_timeout_ms);
        self.sender.send(url, timeout).await
    }

    fn network_available(&self) -> bool {
        self.shared.network_available.load(Ordering::SeqCst)
    }

    fn emit_sent(&self, delivered: bool, url: &str) {
        let status = if delivered {
            Status::Success
        } else {
            Status::Failed
        };
        self.emit(Event::SendDidEnd {
            status,
            url: url.to_owned(),
        });
    }

    fn emit(&self, event: Event) {
        self.shared.events.emit(event);
    }
}
