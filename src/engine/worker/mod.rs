//! The tracker's serial worker: the one thread that changes a tracker's
//! state (docs/adr/0001-serial-worker.md).
//!
//! It works in rounds. A round takes every queued command, in order;
//! decides what each hit becomes (stored, journaled and queued to go out
//! live, or dropped); applies every change to the store as one batch;
//! syncs it when something must be durable (one sync for the round: group
//! commit); tells the app (`save_did_end` only after the sync); then
//! starts the sends the round allows. Sends never block it: their answers
//! come back as commands, so new hits are journaled within one round
//! however slow the collector is.

mod live;
mod pass;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use super::config::TrackerConfig;
use super::error::{Result, TrackerError};
use super::events::{Event, call_back};
use super::hit::{self, BuiltHit, Param};
use super::inbox::{Command, Completion, DispatchRequest, Inbox};
use super::policy::{self, AfterRefusal, Backoff, Outcome};
use super::store::keyring::KeyState;
use super::store::record::Record;
use super::store::{Changes, Claim, Database, HitStore, Key, hits};
use super::transport::{ResponseSink, Transport};
use super::types::{DispatchReport, HitStatus, HitType, OfflineModeKey};
use super::{Link, now_ms};

use live::{LiveHit, LiveQueue, Part};
use pass::{Pass, Stop, Waiter, joined_deadline};

/// Panics this close together stop the worker for good: something is
/// broken that restarting does not mend.
const MAX_PANICS: usize = 5;
const PANIC_WINDOW: Duration = Duration::from_secs(60);

/// What a request in flight is for.
enum Request {
    Live,
    Pass { key: Key, record: Record },
}

struct InFlight {
    request: Request,
    /// A transport that never answers is taken as no response after this.
    give_up: Instant,
}

/// A hit tracked while the store is locked (its key is missing): kept in
/// memory until the key comes, within the live queue's bound.
struct Held {
    seq: u64,
    hit_type: HitType,
    params: Vec<Param>,
    stamp_ms: u64,
}

pub struct Worker {
    config: TrackerConfig,
    base_url: String,
    persistent: Vec<Param>,
    inbox: Arc<Inbox>,
    link: Arc<Link>,
    database: Arc<Database>,
    store: Arc<HitStore>,
    transport: Arc<dyn Transport>,
    /// Creation time and id of the newest key: new hits are keyed after it.
    last_key: (u64, u64),
    visitor: Option<String>,
    key_state: KeyState,
    held: VecDeque<Held>,
    /// Commands taken and not yet handled (kept across a panic).
    pending: VecDeque<Command>,
    changes: Changes,
    /// Hits stored this round, with the URL `save_did_end` will carry
    /// after the sync if anyone listens (not built otherwise).
    saved: Vec<(Key, Option<String>)>,
    /// A batch that could not be written since the last sync: the sync's
    /// `flush` callers hear of it, not of a success.
    write_failure: Option<TrackerError>,
    /// Written, and must be durable before the round ends.
    must_sync: bool,
    /// Written, not yet synced (deletes during a pass).
    dirty: bool,
    last_sync: Instant,
    live: LiveQueue,
    pass: Option<Pass>,
    /// Requests that could not join the running pass: the next one.
    next_pass: Vec<DispatchRequest>,
    /// Reports to give once this round's sync is done.
    replies: Vec<(oneshot::Sender<DispatchReport>, DispatchReport)>,
    /// `flush` callers: each waits for the hits and the dispatch requests
    /// made before it (`(next hit seq, next request number)` at its call).
    flush_waiters: Vec<(u64, u64, oneshot::Sender<Result<()>>)>,
    /// `never`-mode hits dropped since the live queue filled up.
    live_overflow: u64,
    /// Order of the app's calls that made hits.
    next_seq: u64,
    /// Explicit dispatch requests: numbered in order, pending until their
    /// pass ends.
    next_request: u64,
    pending_requests: BTreeSet<u64>,
    backoff: Backoff,
    in_flight: HashMap<u64, InFlight>,
    next_token: u64,
    unreadable_reported: u64,
    cleartext_warned: bool,
    panics: VecDeque<Instant>,
    closing: bool,
    /// Released when the worker ends: only then may another tracker take
    /// over its hits.
    _claim: Arc<Claim>,
}

pub struct Parts {
    pub config: TrackerConfig,
    pub inbox: Arc<Inbox>,
    pub link: Arc<Link>,
    pub database: Arc<Database>,
    pub store: Arc<HitStore>,
    pub transport: Arc<dyn Transport>,
    pub claim: Arc<Claim>,
    pub key_state: KeyState,
}

impl Worker {
    pub fn new(parts: Parts) -> Worker {
        Worker {
            base_url: parts.config.base_url(),
            config: parts.config,
            persistent: Vec::new(),
            inbox: parts.inbox,
            link: parts.link,
            database: parts.database,
            store: parts.store,
            transport: parts.transport,
            last_key: (0, 0),
            visitor: None,
            key_state: parts.key_state,
            held: VecDeque::new(),
            pending: VecDeque::new(),
            changes: Changes::default(),
            saved: Vec::new(),
            write_failure: None,
            must_sync: false,
            dirty: false,
            last_sync: Instant::now(),
            live: LiveQueue::default(),
            pass: None,
            next_pass: Vec::new(),
            replies: Vec::new(),
            flush_waiters: Vec::new(),
            live_overflow: 0,
            next_seq: 0,
            next_request: 0,
            pending_requests: BTreeSet::new(),
            backoff: Backoff::default(),
            in_flight: HashMap::new(),
            next_token: 0,
            unreadable_reported: 0,
            cleartext_warned: false,
            panics: VecDeque::new(),
            closing: false,
            _claim: parts.claim,
        }
    }

    /// The worker thread's body: rounds until the tracker is closed. A panic
    /// (sled has many assertions) is contained: reported, and the worker
    /// goes on with the same store and the commands not yet handled.
    pub fn run(mut self) {
        self.inbox.set_worker(std::thread::current());
        let mut started = false;
        loop {
            let result = catch_unwind(AssertUnwindSafe(|| {
                if !started {
                    self.start();
                    started = true;
                }
                self.rounds()
            }));
            match result {
                Ok(()) => break,
                Err(panic) => {
                    if !self.recover(panic) {
                        break;
                    }
                }
            }
        }
        self.link.worker_alive.store(false, Ordering::SeqCst);
        // The store before the database, so the database's clean close finds
        // no one else using it; the claim last, so a new tracker of this
        // name opens only once all of it is released.
        let Worker {
            store,
            database,
            _claim,
            ..
        } = self;
        drop(store);
        drop(database);
        drop(_claim);
    }

    /// What a worker does before its first round: the key, the visitor id,
    /// journal recovery, the age limit.
    fn start(&mut self) {
        self.link.events.set_log_level(self.config.log_level());
        // The key was applied as the tracker opened (Engine::start).
        let state = std::mem::replace(&mut self.key_state, KeyState::Clear);
        self.key_state_is(state);
        self.init_last_key();
        self.recover_journal();
        self.enforce_age_limit();
        self.warn_if_cleartext();
        self.apply_changes();
        self.sync_round();
        self.report_unreadable();
    }

    fn rounds(&mut self) {
        let mut taken = Vec::new();
        let mut worked = false;
        loop {
            if self.pending.is_empty() && !self.pass_is_over() {
                self.inbox.wait(self.next_timer(), worked);
            }
            self.closing |= self.inbox.take(&mut taken);
            self.pending.extend(taken.drain(..));
            worked = !self.pending.is_empty();
            self.round();
            if self.closing && self.pending.is_empty() {
                self.close();
                return;
            }
        }
    }

    /// A pass with nothing left in flight is finished at the next round,
    /// without waiting for a command.
    fn pass_is_over(&self) -> bool {
        self.pass.as_ref().is_some_and(Pass::is_over)
    }

    fn round(&mut self) {
        while let Some(command) = self.pending.pop_front() {
            self.handle(command);
        }
        self.check_timers();
        self.finish_pass_if_over();
        self.decide_live();
        self.sync_round();
        self.start_sends();
    }

    // ---- commands ----

    fn handle(&mut self, command: Command) {
        match command {
            Command::Track {
                hit_type,
                params,
                stamp_ms,
            } => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.track(Held {
                    seq,
                    hit_type,
                    params,
                    stamp_ms,
                });
            }
            Command::SetParam { key, value } => match value {
                Some(value) => match self.persistent.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => self.persistent.push((key, value)),
                },
                None => self.persistent.retain(|(k, _)| *k != key),
            },
            Command::Configure { config, done } => self.configure(*config, done),
            Command::NetworkChanged(available) => {
                if available {
                    self.backoff.reset();
                    self.maybe_automatic_pass();
                }
            }
            Command::Dispatch(request) => self.request_dispatch(request),
            Command::Flush(waiter) => {
                self.flush_waiters
                    .push((self.next_seq, self.next_request, waiter));
            }
            Command::Sent { token, response } => self.settle(token, response),
            Command::StoreChanged => self.dirty = true,
            Command::OptOut { opted_out, done } => {
                let saved = self.opt_out(opted_out);
                if let Some(done) = done {
                    call_back(|| done(saved));
                }
            }
            Command::EraseAll(reply) => {
                let result = self.erase_all();
                let _ = reply.send(result);
            }
            Command::Panic => panic!("a panic asked for by a test"),
        }
    }

    fn track(&mut self, held: Held) {
        if self.database.meta().opted_out() {
            return;
        }
        // The key is the database's: another tracker on it can lock it too.
        let locked =
            matches!(self.key_state, KeyState::Locked(_)) || !self.store.codec().can_write();
        if !locked && !self.held.is_empty() {
            // Opened again since (by another tracker's key): older hits first.
            for older in std::mem::take(&mut self.held) {
                self.track(older);
            }
        }
        let needs_store = self.config.mode() != OfflineModeKey::Never;
        if locked && (needs_store || self.idclient().is_none()) {
            self.hold(held);
            return;
        }
        let Some(idclient) = self.idclient() else {
            self.hold(held);
            return;
        };
        let created_ms = held.stamp_ms.max(self.last_key.0);
        let hit_id = self
            .config
            .hit_id_parameter
            .as_deref()
            .map(|name| (name, random_hex()));
        let identity = hit::Identity {
            base_url: &self.base_url,
            site: &self.config.site,
            idclient: &idclient,
            platform: std::env::consts::OS,
            max_hit_size: self.config.max_hit_size as usize,
            hit_id,
        };
        let built = hit::build(
            &identity,
            &self.persistent,
            held.hit_type,
            held.params,
            created_ms,
            split_id,
        );
        if self.link.events.wants_hit_events() {
            for query in &built.queries {
                let url = self.message(query);
                self.emit(Event::BuildDidEnd {
                    status: HitStatus::Success,
                    url,
                });
            }
        }
        for warning in &built.warnings {
            self.link.events.warning(warning.clone());
        }
        self.route(held.seq, built);
    }

    /// Sends, journals or stores a freshly built hit, as the mode says.
    fn route(&mut self, seq: u64, built: BuiltHit) {
        let parts: VecDeque<Part> = built
            .queries
            .into_iter()
            .map(|query| Part {
                key: self.next_key(built.created_ms),
                query,
            })
            .collect();
        let mut hit = LiveHit {
            seq,
            hit_type: built.hit_type,
            parts,
            journaled: false,
            waited_for_pass: false,
        };
        match self.config.mode() {
            OfflineModeKey::Always => self.store_hit(hit),
            OfflineModeKey::Never if self.live.len() >= policy::MAX_LIVE_QUEUE => {
                if self.live_overflow == 0 {
                    self.link.events.warning(format!(
                        "{} hits are waiting to be sent (the collector is slow or \
                         unreachable): new hits are dropped until they go, as `never` \
                         mode allows",
                        policy::MAX_LIVE_QUEUE
                    ));
                }
                self.live_overflow += 1;
                self.fail_hit(hit);
            }
            OfflineModeKey::Never => self.live.push(hit),
            OfflineModeKey::Required if self.live.len() >= policy::MAX_LIVE_QUEUE => {
                // Memory stays bounded and order is kept: the waiting hits
                // (journaled already) are stored, in order, and this one
                // behind them.
                self.store_waiting_live_hits();
                self.store_hit(hit)
            }
            OfflineModeKey::Required => {
                for part in &hit.parts {
                    self.changes.journal(
                        &part.key,
                        Record {
                            hit_type: hit.hit_type,
                            attempts: 0,
                            query: part.query.clone(),
                        },
                    );
                }
                hit.journaled = true;
                self.must_sync = true;
                self.live.push(hit);
            }
        }
    }

    fn hold(&mut self, held: Held) {
        if self.held.len() >= policy::MAX_LIVE_QUEUE {
            self.link.events.error(
                "a hit was dropped: the store is locked (encryption key missing) and \
                 too many hits are already waiting for it",
            );
            return;
        }
        if self.held.is_empty() {
            let why = match &self.key_state {
                KeyState::Locked(why) => why.as_str(),
                _ => {
                    "another tracker on this database locked it (its encryptionKey is missing or wrong)"
                }
            };
            self.link.events.error(format!(
                "hits are kept in memory until the store can be opened: {why}"
            ));
        }
        self.held.push_back(held);
    }

    fn idclient(&mut self) -> Option<String> {
        if self.config.identifier != "uuid" {
            return Some(self.config.identifier.clone());
        }
        if self.visitor.is_none() {
            match self.database.visitor_id() {
                Ok(id) => {
                    self.visitor = id;
                    self.must_sync = true;
                }
                Err(e) => self
                    .link
                    .events
                    .error(format!("the visitor id cannot be read: {e}")),
            }
        }
        self.visitor.clone()
    }

    fn next_key(&mut self, created_ms: u64) -> Key {
        let ms = created_ms.max(self.last_key.0);
        let id = self.last_key.1.wrapping_add(1);
        self.last_key = (ms, id);
        hits::make_key(ms, id)
    }

    fn init_last_key(&mut self) {
        self.last_key = hits::key_parts(&self.store.newest_key());
    }

    // ---- storing ----

    /// Stores every part left of `hit`, behind what is stored (`cn=offline`,
    /// one `olt` for all its parts).
    fn store_hit(&mut self, hit: LiveHit) {
        if !self.store.codec().can_write() {
            self.link.events.error(format!(
                "{} hit part(s) lost: the store is encrypted and its key is not set",
                hit.parts.len()
            ));
            return;
        }
        let olt = now_ms() as f64 / 1000.0;
        let wants_messages = self.link.events.wants_hit_events();
        for part in hit.parts {
            self.make_room();
            let query = hit::to_offline(&part.query, olt);
            let message = wants_messages.then(|| self.message(&query));
            self.changes.insert(
                part.key,
                Record {
                    hit_type: hit.hit_type,
                    attempts: 0,
                    query,
                },
            );
            if hit.journaled {
                self.changes.unjournal(&part.key);
            }
            self.saved.push((part.key, message));
            self.must_sync = true;
        }
    }

    /// Under `maxStoredHits`, the oldest hit goes to make room. One stored
    /// in this round and not yet saved is never reported saved.
    fn make_room(&mut self) {
        let max = self.config.max_stored_hits;
        if !policy::over_count_limit(self.store.len() + self.changes.pending_inserts(), max) {
            return;
        }
        self.apply_changes();
        while policy::over_count_limit(self.store.len(), max) {
            let Ok(Some(oldest)) = self.store.oldest_key() else {
                break;
            };
            let mut drop = Changes::default();
            drop.remove(oldest);
            if let Err(e) = self.store.apply(drop) {
                self.link
                    .events
                    .error(format!("no room could be made: {e}"));
                break;
            }
            self.dirty = true;
            let unsaved = self.saved.iter().position(|(key, _)| *key == oldest);
            let url = unsaved
                .and_then(|i| self.saved.remove(i).1)
                .unwrap_or_else(|| format!("(stored hit {})", hits::key_parts(&oldest).1));
            self.link.events.warning(format!(
                "store full (maxStoredHits {max}): dropped the oldest hit {url}"
            ));
        }
    }

    fn enforce_age_limit(&mut self) -> u64 {
        let days = self.config.max_storage_age_days;
        let Some(cutoff) = policy::age_cutoff_ms(now_ms(), days) else {
            return 0;
        };
        self.database.expire_damaged_copies(cutoff);
        let (keys, journaled) = match (self.store.keys_before(cutoff), self.store.journal()) {
            (Ok(keys), Ok(journal)) => (keys, journal),
            (Err(e), _) | (_, Err(e)) => {
                self.link
                    .events
                    .error(format!("old hits could not be deleted: {e}"));
                return 0;
            }
        };
        for (key, _) in journaled {
            if hits::key_parts(&key).0 < cutoff {
                self.changes.unjournal(&key);
            }
        }
        let count = keys.len() as u64;
        for key in keys {
            self.changes.remove(key);
        }
        if count > 0 {
            self.dirty = true;
            self.link.events.warning(format!(
                "dropped {count} stored hit(s) older than {days} day(s) (maxStorageAgeDays)"
            ));
        }
        count
    }

    /// Hits left in the journal by a process that stopped mid-send become
    /// stored hits (at most a duplicate, never a loss). Entries that cannot
    /// be read stay until the right key is back or the age limit. Run again
    /// when a key opens the store, it leaves alone the entries of this
    /// worker's own live hits, which are still going out.
    fn recover_journal(&mut self) {
        // The store as this round left it: what it stores, what it unjournals.
        self.apply_changes();
        let entries = match self.store.journal() {
            Ok(entries) => entries,
            Err(e) => {
                self.link
                    .events
                    .error(format!("the journal cannot be read: {e}"));
                return;
            }
        };
        let writable = self.store.codec().can_write();
        let olt = now_ms() as f64 / 1000.0;
        let mut recovered = 0;
        let mut unreadable = 0;
        let live: HashSet<Key> = self
            .live
            .hits
            .iter()
            .filter(|hit| hit.journaled)
            .flat_map(|hit| hit.parts.iter().map(|part| part.key))
            .collect();
        for (key, record) in entries {
            if live.contains(&key) {
                continue;
            }
            match record {
                Ok(record) if writable => {
                    if !matches!(self.store.contains(&key), Ok(true)) {
                        self.changes.insert(
                            key,
                            Record {
                                query: hit::to_offline(&record.query, olt),
                                ..record
                            },
                        );
                        recovered += 1;
                    }
                    self.changes.unjournal(&key);
                }
                Ok(_) => {}
                Err(_) => unreadable += 1,
            }
        }
        if recovered > 0 {
            self.must_sync = true;
            self.link.events.warning(format!(
                "{recovered} hit(s) in flight when the app last stopped were stored"
            ));
        }
        if unreadable > 0 {
            self.link.events.error(format!(
                "{unreadable} hit(s) in the in-flight journal could not be read (sealed \
                 with another encryption key, or none): kept until the right key is set \
                 or maxStorageAgeDays removes them"
            ));
        }
    }

    // ---- configuration ----

    fn configure(&mut self, config: TrackerConfig, done: Option<Completion>) {
        let key_changed = config.encryption_key != self.config.encryption_key;
        let endpoint_changed = config.base_url() != self.base_url;
        self.config = config;
        self.base_url = self.config.base_url();
        self.link.events.set_log_level(self.config.log_level());
        if endpoint_changed {
            self.cleartext_warned = false;
            self.warn_if_cleartext();
        }
        if key_changed {
            self.apply_key();
        }
        if let Some(done) = done {
            call_back(|| done(true));
        }
    }

    /// Applies the tracker's key to the database; hits held while it was
    /// locked go on when it opens.
    fn apply_key(&mut self) {
        // What this round stored is written with the key it was stored under.
        self.apply_changes();
        let result = match &self.config.encryption_key {
            None => self
                .database
                .turn_encryption_off()
                .map(|()| KeyState::Clear),
            key => self.database.use_key(key.as_ref()),
        };
        match result {
            Ok(state) => self.key_state_is(state),
            Err(e) => self
                .link
                .events
                .error(format!("encryption key not applied: {e}")),
        }
        if !matches!(self.key_state, KeyState::Locked(_)) {
            self.visitor = None;
            self.recover_journal();
            for held in std::mem::take(&mut self.held) {
                self.track(held);
            }
        }
        self.report_unreadable();
    }

    /// Records where the key left the store; locked is said once.
    fn key_state_is(&mut self, state: KeyState) {
        if let KeyState::Locked(why) = &state
            && self.key_state != state
        {
            self.link.events.error(format!(
                "stored hits cannot be read or written: {why}. They are kept, and \
                 new hits are kept in memory, until the right key is set"
            ));
        }
        self.key_state = state;
    }

    /// Once per tracker (and per change of collector): hits sent in clear
    /// to another machine. A collector on this device (loopback) is not.
    fn warn_if_cleartext(&mut self) {
        if self.cleartext_warned || !hit::is_cleartext_remote(&self.base_url) {
            return;
        }
        self.cleartext_warned = true;
        self.link.events.warning(format!(
            "hits go to {} in clear (http): anyone on the network can read them. \
             Use https outside local testing",
            self.base_url
        ));
    }

    // ---- opting out, forgetting ----

    /// Whether the choice was saved.
    fn opt_out(&mut self, opted_out: bool) -> bool {
        if let Err(e) = self.database.meta().set_opted_out(opted_out) {
            self.link
                .events
                .error(format!("the opt-out could not be saved: {e}"));
            return false;
        }
        self.must_sync = true;
        if opted_out {
            self.forget_local();
            if let Err(e) = self.database.erase_hits() {
                self.link
                    .events
                    .error(format!("stored hits could not be deleted: {e}"));
            }
        }
        true
    }

    fn erase_all(&mut self) -> Result<()> {
        self.forget_local();
        self.database.erase_all()?;
        self.visitor = None;
        self.must_sync = true;
        Ok(())
    }

    /// Drops what this worker holds of the user's hits: queued, held, and
    /// the pass in progress (its requests are answered).
    fn forget_local(&mut self) {
        self.changes = Changes::default();
        self.saved.clear();
        self.live.hits.clear();
        self.live.in_flight = None;
        self.held.clear();
        self.in_flight.clear();
        if let Some(pass) = &mut self.pass {
            pass.stop = Some(Stop::Cancelled);
            pass.in_flight = 0;
        }
    }

    // ---- dispatch ----

    /// A request joins the running pass when that pass will still see
    /// every hit tracked before it; otherwise it waits for the next pass.
    /// Hits waiting to go out live in `required` mode are stored only
    /// after the running pass, so it would not see them.
    fn request_dispatch(&mut self, mut request: DispatchRequest) {
        if !request.automatic {
            request.number = self.next_request;
            self.next_request += 1;
            self.pending_requests.insert(request.number);
        }
        let waiting_live = self.config.mode() == OfflineModeKey::Required && !self.live.is_empty();
        match &mut self.pass {
            // Automatic requests only ever ask for a pass: one is running.
            Some(_) if request.automatic => {}
            Some(pass) if pass.stop.is_none() && !waiting_live => join(pass, request),
            Some(_) => self.next_pass.push(request),
            None if request.automatic && !self.backoff.allows_automatic_pass(Instant::now()) => {}
            None => self.start_pass(vec![request]),
        }
    }

    fn start_pass(&mut self, requests: Vec<DispatchRequest>) {
        let mut pass = Pass::new(requests.iter().all(|r| r.automatic));
        pass.deadline = requests.first().and_then(|r| r.deadline);
        let dropped_by_age = self.enforce_age_limit();
        pass.report.dropped += dropped_by_age as i64;
        for request in requests {
            join(&mut pass, request);
        }
        self.pass = Some(pass);
    }

    fn maybe_automatic_pass(&mut self) {
        let wanted = self.config.mode() == OfflineModeKey::Required
            && self.pass.is_none()
            && self.store.len() + self.changes.pending_inserts() > 0
            && self.network_available();
        if wanted {
            self.request_dispatch(DispatchRequest {
                reply: None,
                deadline: None,
                ignore_pacing: false,
                automatic: true,
                number: 0,
            });
        }
    }

    /// Starts as many sends as the pass may have in flight.
    fn advance_pass(&mut self) {
        let Some(pass) = &mut self.pass else { return };
        let concurrency = self.config.dispatch_concurrency.max(1) as usize;
        let now = Instant::now();
        // A live hit out while the pass runs (`required` mode) is stored if
        // its send is lost: the pass sends nothing newer before it settles,
        // so stored hits still go out in the order they were made.
        let live_out = self
            .live
            .in_flight
            .and_then(|_| self.live.hits.front())
            .and_then(|head| head.parts.front())
            .map(|part| part.key);
        while pass.stop.is_none() && !pass.exhausted && pass.in_flight < concurrency {
            if !self.link.network_available.load(Ordering::SeqCst) {
                pass.stop = Some(Stop::Offline);
                break;
            }
            if self.backoff.is_paced(now) && !pass.ignore_pacing {
                pass.stop = Some(Stop::Paced);
                break;
            }
            let request_timeout = Duration::from_millis(self.config.request_timeout_ms as u64);
            let timeout = match pass.deadline {
                None => request_timeout,
                Some(at) => match at.checked_duration_since(now) {
                    Some(left) if !left.is_zero() => left.min(request_timeout),
                    _ => {
                        pass.stop = Some(Stop::Deadline);
                        break;
                    }
                },
            };
            match self.store.next_after(pass.cursor.as_ref()) {
                Ok(Some(hit)) if live_out.is_some_and(|live| hit.key > live) => break,
                Ok(Some(hit)) => {
                    pass.cursor = Some(hit.key);
                    pass.in_flight += 1;
                    let url = hit::url(&self.base_url, &hit.record.query);
                    let token = self.next_token;
                    self.next_token += 1;
                    self.in_flight.insert(
                        token,
                        InFlight {
                            request: Request::Pass {
                                key: hit.key,
                                record: hit.record,
                            },
                            give_up: now + timeout + policy::HOST_TRANSPORT_GRACE,
                        },
                    );
                    let sink = ResponseSink::new(Arc::downgrade(&self.inbox), token);
                    self.transport.get(url, timeout, sink);
                }
                Ok(None) => pass.exhausted = true,
                Err(e) => {
                    self.link.events.error(format!("dispatch stopped: {e}"));
                    pass.stop = Some(Stop::StorageError);
                }
            }
        }
    }

    fn settle(&mut self, token: u64, response: policy::Response) {
        let Some(in_flight) = self.in_flight.remove(&token) else {
            return; // abandoned at a deadline, or by a close
        };
        let outcome = policy::outcome(response, SystemTime::now());
        if let Outcome::Refused {
            pace: Some(delay), ..
        } = &outcome
        {
            self.backoff.pace(Instant::now(), *delay);
            self.link.events.warning(format!(
                "the collector asked to wait {} s (Retry-After): automatic sends wait until then",
                delay.as_secs()
            ));
        }
        match in_flight.request {
            Request::Live => self.settle_live(token, outcome),
            Request::Pass { key, record } => self.settle_pass(key, record, outcome),
        }
    }

    fn settle_pass(&mut self, key: Key, mut record: Record, outcome: Outcome) {
        let Some(pass) = &mut self.pass else { return };
        pass.in_flight = pass.in_flight.saturating_sub(1);
        let url = hit::url(&self.base_url, &record.query);
        match outcome {
            Outcome::Delivered => {
                self.changes.remove(key);
                self.dirty = true;
                pass.report.sent += 1;
                self.backoff.delivered();
                let url = self.message_of(url);
                self.emit(Event::SendDidEnd {
                    status: HitStatus::Success,
                    url,
                });
            }
            Outcome::Refused { why, .. } => {
                record.attempts = record.attempts.saturating_add(1);
                let attempts = record.attempts;
                self.dirty = true;
                match policy::after_refusal(attempts, self.config.max_attempts as u32) {
                    AfterRefusal::Keep => {
                        self.changes.update(key, record);
                        pass.report.failed += 1;
                    }
                    AfterRefusal::Drop => {
                        self.changes.remove(key);
                        pass.report.dropped += 1;
                        let message = self.message_of(url.clone());
                        self.link.events.warning(format!(
                            "hit dropped after {attempts} attempt(s), last {why}: {message}"
                        ));
                    }
                }
                let url = self.message_of(url);
                self.emit(Event::SendDidEnd {
                    status: HitStatus::Failed,
                    url,
                });
            }
            Outcome::Lost(_) => {
                // Costs no attempt; the hit stays as it was.
                pass.stop.get_or_insert(Stop::ConnectionLost);
            }
        }
    }

    /// A pass whose last send is settled answers its callers (after this
    /// round's sync) and makes way for the next.
    fn finish_pass_if_over(&mut self) {
        if !self.pass.as_ref().is_some_and(Pass::is_over) {
            return;
        }
        let Some(mut pass) = self.pass.take() else {
            return;
        };
        self.apply_changes();
        if pass.failed() {
            self.backoff.record_failure(Instant::now());
        }
        self.report_unreadable();
        pass.report.remaining = self.store.len() as i64;
        for number in &pass.requests {
            self.pending_requests.remove(number);
        }
        for waiter in pass.waiters {
            self.replies.push((waiter.reply, pass.report.clone()));
        }
        // Deletes are durable before anyone hears of them (an iOS app may be
        // suspended as soon as it does).
        self.must_sync |= self.dirty;
        let requests = std::mem::take(&mut self.next_pass);
        if !requests.is_empty() {
            // Live hits that waited behind this pass (`required` mode) are
            // settled first, stored behind what is left or sent, so that the
            // pass the requests wait for sees them.
            for hit in &mut self.live.hits {
                hit.waited_for_pass = true;
            }
            self.decide_live();
            self.start_pass(requests);
        }
    }

    /// Deadlines of passes and of their callers, and transports that never
    /// answered.
    fn check_timers(&mut self) {
        let now = Instant::now();
        let overdue: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.give_up <= now)
            .map(|(token, _)| *token)
            .collect();
        for token in overdue {
            self.settle(
                token,
                policy::Response::NoResponse("the HTTP transport never answered".into()),
            );
        }
        let Some(pass) = &mut self.pass else { return };
        if pass.deadline.is_some_and(|at| at <= now) && pass.stop.is_none() {
            pass.stop = Some(Stop::Deadline);
        }
        if pass.stop == Some(Stop::Deadline) && pass.in_flight > 0 {
            // Sends cut short stay stored: at worst the collector got one and
            // it is sent again later.
            self.in_flight
                .retain(|_, f| !matches!(f.request, Request::Pass { .. }));
            pass.in_flight = 0;
        }
        let (due, waiting): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut pass.waiters)
            .into_iter()
            .partition(|w| w.deadline.is_some_and(|at| at <= now));
        pass.waiters = waiting;
        if !due.is_empty() {
            let mut report = pass.report.clone();
            self.apply_changes();
            report.remaining = self.store.len() as i64;
            self.must_sync |= self.dirty;
            for waiter in due {
                self.replies.push((waiter.reply, report.clone()));
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let pass = self.pass.as_ref();
        let deadlines = pass.into_iter().flat_map(|p| {
            p.deadline
                .into_iter()
                .chain(p.waiters.iter().filter_map(|w| w.deadline))
        });
        let give_ups = self.in_flight.values().map(|f| f.give_up);
        let commit = self.dirty.then(|| self.last_sync + policy::COMMIT_EVERY);
        deadlines.chain(give_ups).chain(commit).min()
    }

    // ---- live sends ----

    /// Decides what the live queue's head becomes: sent now, stored behind
    /// what is stored, failed, or left waiting for a pass to end.
    fn decide_live(&mut self) {
        while self.live.in_flight.is_none() {
            let Some(waited) = self.live.hits.front().map(|head| head.waited_for_pass) else {
                return;
            };
            let store_hit = match self.config.mode() {
                OfflineModeKey::Always => true,
                // Sent once this round's sync is done, or lost offline.
                OfflineModeKey::Never if self.network_available() => return,
                OfflineModeKey::Never => {
                    let hit = self.live.hits.pop_front().expect("the head is there");
                    self.fail_hit(hit);
                    continue;
                }
                OfflineModeKey::Required => {
                    if self.pass.is_some() {
                        return; // behind the pass in progress
                    }
                    let stored = self.store.len() + self.changes.pending_inserts();
                    if stored > 0 && !waited && self.network_available() {
                        // Stored hits go first: a pass, then this hit is sent
                        // if they all went, or stored behind them.
                        if let Some(head) = self.live.hits.front_mut() {
                            head.waited_for_pass = true;
                        }
                        self.maybe_automatic_pass();
                        if self.pass.is_some() {
                            return;
                        }
                    }
                    stored > 0 || !self.network_available()
                }
            };
            if !store_hit {
                return; // sent once this round's sync is done
            }
            let hit = self.live.hits.pop_front().expect("the head is there");
            self.store_hit(hit);
        }
    }

    fn send_live(&mut self) {
        if self.live_overflow > 0 && self.live.len() < policy::MAX_LIVE_QUEUE {
            self.link.events.warning(format!(
                "{} hit(s) were dropped while the live queue was full",
                std::mem::take(&mut self.live_overflow)
            ));
        }
        if self.live.in_flight.is_some() || self.closing {
            return;
        }
        let mode = self.config.mode();
        let Some(head) = self.live.hits.front() else {
            return;
        };
        let sendable = match mode {
            OfflineModeKey::Never => true,
            OfflineModeKey::Required => self.pass.is_none() && self.store.is_empty(),
            OfflineModeKey::Always => false,
        };
        if !sendable || !self.network_available() {
            return;
        }
        let Some(part) = head.parts.front() else {
            return;
        };
        let url = hit::url(&self.base_url, &part.query);
        let timeout = Duration::from_millis(self.config.request_timeout_ms as u64);
        let token = self.next_token;
        self.next_token += 1;
        self.in_flight.insert(
            token,
            InFlight {
                request: Request::Live,
                give_up: Instant::now() + timeout + policy::HOST_TRANSPORT_GRACE,
            },
        );
        self.live.in_flight = Some(token);
        let sink = ResponseSink::new(Arc::downgrade(&self.inbox), token);
        self.transport.get(url, timeout, sink);
    }

    fn settle_live(&mut self, token: u64, outcome: Outcome) {
        if !self.live.is_head_request(token) {
            return;
        }
        self.live.in_flight = None;
        let Some(head) = self.live.hits.front_mut() else {
            return;
        };
        let journaled = head.journaled;
        match outcome {
            Outcome::Delivered | Outcome::Refused { .. } => {
                let delivered = outcome == Outcome::Delivered;
                let Some(part) = head.parts.pop_front() else {
                    return;
                };
                if journaled {
                    self.changes.unjournal(&part.key);
                }
                let done = head.parts.is_empty();
                if done {
                    self.live.hits.pop_front();
                }
                if delivered {
                    self.backoff.delivered();
                }
                let url = self.message(&part.query);
                let status = if delivered {
                    HitStatus::Success
                } else {
                    HitStatus::Failed
                };
                self.emit(Event::SendDidEnd { status, url });
            }
            Outcome::Lost(_) => {
                // Not a failed pass: the next hit still tries the stored ones
                // first, and only a failed pass makes automatic ones wait.
                match self.config.mode() {
                    OfflineModeKey::Never => {
                        // The collector is out of reach: the hits behind this
                        // one would each wait a timeout to fail. A hit that
                        // cannot be sent is lost in this mode.
                        for hit in std::mem::take(&mut self.live.hits) {
                            self.fail_hit(hit);
                        }
                    }
                    _ => {
                        if let Some(hit) = self.live.hits.pop_front() {
                            self.store_hit(hit);
                        }
                    }
                }
            }
        }
    }

    /// Stores every live hit still waiting (not the one in flight), in order.
    fn store_waiting_live_hits(&mut self) {
        let keep = usize::from(self.live.in_flight.is_some());
        let waiting: Vec<LiveHit> = self.live.hits.drain(keep..).collect();
        for hit in waiting {
            self.store_hit(hit);
        }
    }

    /// `send_did_end(Failed)` for each part: lost, as `never` mode allows.
    fn fail_hit(&mut self, hit: LiveHit) {
        for part in hit.parts {
            if hit.journaled {
                self.changes.unjournal(&part.key);
            }
            let url = self.message(&part.query);
            self.emit(Event::SendDidEnd {
                status: HitStatus::Failed,
                url,
            });
        }
    }

    fn start_sends(&mut self) {
        if self.closing {
            return;
        }
        self.advance_pass();
        self.send_live();
    }

    // ---- the store, and group commit ----

    fn apply_changes(&mut self) {
        let changes = std::mem::take(&mut self.changes);
        if changes.is_empty() {
            return;
        }
        if let Err(e) = self.store.apply(changes) {
            self.link
                .events
                .error(format!("the store could not be written: {e}"));
            let lost = std::mem::take(&mut self.saved);
            if !lost.is_empty() {
                self.link.events.error(format!(
                    "{} hit(s) could not be stored and are lost",
                    lost.len()
                ));
            }
            self.write_failure = Some(e);
            // So that waiting `flush` callers are answered by a sync round.
            self.dirty = true;
        }
    }

    /// The group commit: one sync for the round, when something must be
    /// durable; then what waited on it hears of it.
    fn sync_round(&mut self) {
        // Anything written this round counts, journal removals included: a
        // hit `flush` says was sent must not come back from the journal.
        self.dirty |= !self.changes.is_empty();
        let flush_due = !self.flush_waiters.is_empty() && (self.dirty || self.must_sync);
        let commit_due = self.dirty && self.last_sync.elapsed() >= policy::COMMIT_EVERY;
        let mut result = Ok(());
        let saved = std::mem::take(&mut self.saved);
        // A pass's deletes wait here for the next sync: sled writes its log
        // twice for every batch, so one batch per sync, not per answer.
        if self.must_sync || flush_due || commit_due || !self.replies.is_empty() && self.dirty {
            self.apply_changes();
            let synced = self.database.sync();
            self.last_sync = Instant::now();
            self.must_sync = false;
            // A failed sync is tried again at the next round.
            self.dirty = synced.is_err();
            if let Err(e) = &synced {
                let what = match saved.len() {
                    0 => String::new(),
                    n => format!(" ({n} hit(s) not saved)"),
                };
                self.link
                    .events
                    .error(format!("the sync to disk failed{what}: {e}"));
            }
            // A batch that was not written fails the sync's `flush` callers
            // (apply_changes has said what it lost).
            result = match self.write_failure.take() {
                Some(failure) => Err(failure),
                None => synced,
            };
        }
        if result.is_ok() {
            for url in saved.into_iter().filter_map(|(_, url)| url) {
                self.emit(Event::SaveDidEnd { url });
            }
        }
        for (reply, report) in self.replies.drain(..) {
            let _ = reply.send(report);
        }
        let settled_before = self
            .live
            .oldest_seq()
            .into_iter()
            .chain(self.held.front().map(|h| h.seq))
            .min()
            .unwrap_or(u64::MAX);
        let oldest_request = self.pending_requests.first().copied().unwrap_or(u64::MAX);
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
            .into_iter()
            .partition(|(seq, request, _)| *seq <= settled_before && *request <= oldest_request);
        self.flush_waiters = waiting;
        for (_, _, waiter) in done {
            let _ = waiter.send(result.clone());
        }
        if !self.held.is_empty() {
            // Held hits wait for a key that may never come: say so rather
            // than keep `flush` waiting.
            let held_from = self.held.front().map_or(u64::MAX, |h| h.seq);
            let (stuck, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
                .into_iter()
                .partition(|(seq, _, _)| *seq > held_from);
            self.flush_waiters = waiting;
            for (_, _, waiter) in stuck {
                let _ = waiter.send(Err(TrackerError::storage(format!(
                    "{} hit(s) are kept in memory: the store is encrypted and its key is not set",
                    self.held.len()
                ))));
            }
        }
    }

    /// Once per change in their number, not at every pass.
    fn report_unreadable(&mut self) {
        let count = self.store.take_unreadable();
        if count > 0 && count != self.unreadable_reported {
            self.link.events.error(format!(
                "{count} stored hit(s) could not be read: damaged, or sealed with another \
                 encryption key (or none). They are kept, unsent, until the right key is \
                 set or maxStorageAgeDays removes them"
            ));
        }
        self.unreadable_reported = count;
    }

    // ---- closing, and panics ----

    /// The tracker is closed: what is queued is settled at once, nothing is
    /// waited for. Passes stop (their hits stay stored); `required` hits
    /// waiting to go out are stored; `never` hits waiting are lost.
    fn close(&mut self) {
        let waiting = std::mem::take(&mut self.next_pass);
        if let Some(pass) = &mut self.pass {
            pass.stop = Some(Stop::Cancelled);
            pass.in_flight = 0;
        }
        self.in_flight.clear();
        self.live.in_flight = None;
        self.finish_pass_if_over();
        for request in waiting {
            self.pending_requests.remove(&request.number);
            if let Some(reply) = request.reply {
                self.replies.push((
                    reply,
                    DispatchReport {
                        remaining: self.store.len() as i64,
                        ..Default::default()
                    },
                ));
            }
        }
        for hit in std::mem::take(&mut self.live.hits) {
            match self.config.mode() {
                OfflineModeKey::Never => self.fail_hit(hit),
                _ => self.store_hit(hit),
            }
        }
        if !self.held.is_empty() {
            self.link.events.error(format!(
                "{} hit(s) kept in memory are lost: the tracker closed while the store \
                 was locked (encryption key missing or wrong)",
                self.held.len()
            ));
            self.held.clear();
        }
        self.apply_changes();
        self.must_sync = true;
        self.sync_round();
    }

    /// After a panic: report it, keep what is plain data (queued commands,
    /// hits waiting, waiters), re-read what the store says, and go on. Too
    /// many panics in a row and the worker stops.
    fn recover(&mut self, panic: Box<dyn std::any::Any + Send>) -> bool {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let now = Instant::now();
        self.panics.push_back(now);
        while self.panics.front().is_some_and(|t| now - *t > PANIC_WINDOW) {
            self.panics.pop_front();
        }
        if self.panics.len() >= MAX_PANICS {
            self.link.events.error(format!(
                "HitKit's worker failed {MAX_PANICS} times in a minute (last: {what}) and \
                 stopped: stored hits are kept for the next start"
            ));
            return false;
        }
        self.link.events.error(format!(
            "HitKit's worker failed ({what}) and was restarted; nothing saved is lost"
        ));
        let _ = self.store.recount();
        if let Some(pass) = &mut self.pass {
            pass.stop = Some(Stop::StorageError);
            pass.in_flight = 0;
        }
        self.in_flight
            .retain(|_, f| !matches!(f.request, Request::Pass { .. }));
        // A live send whose answer was being settled when the panic struck
        // is sent again (at most a duplicate), not waited for forever.
        if let Some(token) = self.live.in_flight
            && !self.in_flight.contains_key(&token)
        {
            self.live.in_flight = None;
        }
        true
    }

    // ---- helpers ----

    fn network_available(&self) -> bool {
        self.link.network_available.load(Ordering::SeqCst)
    }

    /// How a hit is named in messages: its URL, without the query when
    /// `queryInMessages` is false.
    fn message(&self, query: &str) -> String {
        self.message_of(hit::url(&self.base_url, query))
    }

    fn message_of(&self, url: String) -> String {
        if self.config.query_in_messages {
            url
        } else {
            match url.split_once('?') {
                Some((base, _)) => format!("{base}?…"),
                None => url,
            }
        }
    }

    fn emit(&self, event: Event) {
        self.link.events.emit(event);
    }
}

fn join(pass: &mut Pass, request: DispatchRequest) {
    // A pass that reached the end of the store reads on past its cursor:
    // hits stored since (newer keys) are the joining request's too.
    pass.exhausted = false;
    if !request.automatic {
        pass.automatic = false;
        pass.requests.push(request.number);
    }
    pass.ignore_pacing |= request.ignore_pacing;
    match request.reply {
        Some(reply) => {
            pass.deadline = joined_deadline(pass.deadline, request.deadline);
            pass.waiters.push(Waiter {
                reply,
                deadline: request.deadline,
            });
        }
        None => pass.deadline = None,
    }
}

/// The id shared by the parts of one split hit.
fn split_id() -> u32 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes),
        Err(_) => now_ms() as u32,
    }
}

/// A hit's own id (`hitIdParameter`): 64 random bits, in hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = (now_ms() ^ 0x9E37_79B9_7F4A_7C15).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
