//! `Tracker`: builds hits and sends or stores them, per its storage mode.

use std::sync::Arc;

use crate::engine::Engine;
use crate::engine::config::TrackerConfig;
use crate::engine::error::TrackerError;
use crate::engine::types::{HitParam, HitType, OfflineModeKey};

use super::Offline;
use super::delegate::{DelegateSink, SetConfigCallback, TrackerDelegate, completion};
use super::transport::{HostTransport, HttpTransport};

/// No method waits on the network or the disk: each checks its arguments,
/// hands the work to the tracker's worker thread and returns. `flush` is
/// the one to await when you need everything settled.
#[derive(uniffi::Object)]
pub struct Tracker {
    engine: Arc<Engine>,
    /// This tracker in `hitkit_quick_send` (see `quick.rs`).
    quick_send_id: i64,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        super::quick::unregister(self.quick_send_id);
    }
}

#[uniffi::export]
impl Tracker {
    /// Opens (or creates) the store under `config.database_path`. With a
    /// `transport`, every request goes through the host's HTTP stack.
    #[uniffi::constructor(default(transport = None))]
    pub fn new(
        config: TrackerConfig,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<Arc<Self>, TrackerError> {
        Self::start(config, transport)
    }

    /// `json` is an object of `set_config` keys plus `databasePath` and `name`.
    #[uniffi::constructor(default(transport = None))]
    pub fn from_json(
        json: String,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<Arc<Self>, TrackerError> {
        Self::start(TrackerConfig::from_json(&json)?, transport)
    }

    /// Changes one key (`storage`, `endpoint`, `maxAttempts`, ...). A bad key
    /// or value is an `InvalidConfig` error and changes nothing.
    #[uniffi::method(default(completion_handler = None))]
    pub fn set_config(
        &self,
        key: String,
        value: String,
        completion_handler: Option<Arc<dyn SetConfigCallback>>,
    ) -> Result<(), TrackerError> {
        self.engine
            .set_config(&key, &value, completion(completion_handler))
    }

    /// Changes the storage mode (it cannot be invalid: the handler hears
    /// `false` only if the tracker is closed).
    #[uniffi::method(default(completion_handler = None))]
    pub fn set_offline_mode(
        &self,
        mode: OfflineModeKey,
        completion_handler: Option<Arc<dyn SetConfigCallback>>,
    ) {
        let _ = self
            .engine
            .set_offline_mode(mode, completion(completion_handler));
    }

    pub fn offline_mode(&self) -> OfflineModeKey {
        self.engine.offline_mode()
    }

    /// The current configuration. The encryption key is never returned:
    /// when one is set, `encryption_key` holds a placeholder.
    pub fn config(&self) -> TrackerConfig {
        self.engine.config()
    }

    /// Adds `key=value` to every later hit.
    pub fn set_param(&self, key: String, value: String) -> Result<(), TrackerError> {
        self.engine.set_param(&key, &value)
    }

    pub fn unset_param(&self, key: String) {
        let _ = self.engine.unset_param(&key);
    }

    /// A screen hit: `p={name}`.
    #[uniffi::method(default(params = []))]
    pub fn send_screen(&self, name: String, params: Vec<HitParam>) -> Result<(), TrackerError> {
        self.track(HitType::Screen, [("p", name)], params)
    }

    /// A touch hit: `p={name}&click=A`.
    #[uniffi::method(default(params = []))]
    pub fn send_touch(&self, name: String, params: Vec<HitParam>) -> Result<(), TrackerError> {
        self.track(HitType::Touch, [("p", name), ("click", "A".into())], params)
    }

    /// A hit with exactly these parameters.
    pub fn send(&self, params: Vec<HitParam>) -> Result<(), TrackerError> {
        self.track(HitType::Custom, [], params)
    }

    pub fn set_delegate(&self, delegate: Option<Arc<dyn TrackerDelegate>>) {
        let sink = delegate.map(|d| Arc::new(DelegateSink(d)) as Arc<_>);
        self.engine.set_event_sink(sink);
    }

    /// The host's view of connectivity (NWPathMonitor, ConnectivityManager).
    /// While `false`, nothing is sent and no attempt is spent; becoming
    /// `true` dispatches stored hits in `required` mode.
    pub fn set_network_available(&self, available: bool) {
        self.engine.set_network_available(available);
    }

    /// Resolves when every earlier call's hits are sent, saved (synced to
    /// disk) or dropped. An error means a sync to disk failed: those hits
    /// may not be saved.
    pub async fn flush(&self) -> Result<(), TrackerError> {
        self.engine.flush().await
    }

    /// Stored hits. Swift and Kotlin: the property `tracker.offline`.
    #[uniffi::method(name = "get_offline")]
    pub fn offline(&self) -> Arc<Offline> {
        Arc::new(Offline::new(&self.engine))
    }

    /// The user's choice not to be tracked, kept across restarts: while
    /// opted out, nothing is built, stored or sent, and what was stored is
    /// deleted.
    pub fn set_opt_out(&self, opted_out: bool) -> Result<(), TrackerError> {
        self.engine.set_opted_out(opted_out)
    }

    pub fn is_opted_out(&self) -> bool {
        self.engine.is_opted_out()
    }

    /// This tracker's id for `hitkit_quick_send`, the one-call path the
    /// Kotlin and Swift packages use for `sendScreen`, `sendTouch` and
    /// `send`. Apps do not need it.
    pub fn quick_send_id(&self) -> i64 {
        self.quick_send_id
    }

    /// Forgets the user: every tracker's stored hits and journal in this
    /// database, the visitor id and the damaged copies kept aside. The next
    /// hit gets a new visitor id.
    pub async fn erase_all(&self) -> Result<(), TrackerError> {
        self.engine.erase_all().await
    }
}

impl Tracker {
    fn start(
        config: TrackerConfig,
        transport: Option<Arc<dyn HttpTransport>>,
    ) -> Result<Arc<Self>, TrackerError> {
        let transport = transport.map(|t| Arc::new(HostTransport(t)) as Arc<_>);
        let engine = Arc::new(Engine::start(config, transport)?);
        Ok(Arc::new(Tracker {
            quick_send_id: super::quick::register(&engine),
            engine,
        }))
    }

    fn track<const N: usize>(
        &self,
        hit_type: HitType,
        first: [(&str, String); N],
        params: Vec<HitParam>,
    ) -> Result<(), TrackerError> {
        let mut all = Vec::with_capacity(N + params.len());
        all.extend(first.into_iter().map(|(k, v)| (k.to_owned(), v)));
        all.extend(params.into_iter().map(|p| (p.key, p.value)));
        self.engine.track(hit_type, all)
    }

    /// The engine, for HitKit's own tools and tests.
    #[doc(hidden)]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}
