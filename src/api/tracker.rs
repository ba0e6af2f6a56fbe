//! `Tracker`: builds hits and sends or stores them, per its storage mode.

use std::sync::Arc;

use crate::engine::{Engine, HitKind, Settings};

use super::delegate::{DelegateSink, SetConfigCallback, TrackerDelegate, completion};
use super::{HitParam, Offline, OfflineModeKey, TrackerConfig, TrackerError};

/// No method waits on the network or the disk: each validates, enqueues and
/// returns. `flush` is the one to await when you need everything settled.
#[derive(uniffi::Object)]
pub struct Tracker {
    engine: Arc<Engine>,
}

#[uniffi::export]
impl Tracker {
    /// Opens (or creates) the store under `config.database_path`.
    #[uniffi::constructor]
    pub fn new(config: TrackerConfig) -> Result<Arc<Self>, TrackerError> {
        Self::start(config.into())
    }

    /// `json` is an object of `set_config` keys plus `databasePath` and `name`.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, TrackerError> {
        Self::start(Settings::from_json(&json)?)
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
        Ok(self
            .engine
            .set_config(&key, &value, completion(completion_handler))?)
    }

    #[uniffi::method(default(completion_handler = None))]
    pub fn set_offline_mode(
        &self,
        mode: OfflineModeKey,
        completion_handler: Option<Arc<dyn SetConfigCallback>>,
    ) {
        // Setting a mode cannot be invalid; a stopped worker is all that can
        // fail, and the handler then hears `false`.
        let _ = self
            .engine
            .set_storage_mode(mode.into(), completion(completion_handler));
    }

    pub fn offline_mode(&self) -> OfflineModeKey {
        self.engine.settings().storage.into()
    }

    /// The current configuration.
    pub fn config(&self) -> TrackerConfig {
        self.engine.settings().into()
    }

    /// Adds `key=value` to every later hit.
    pub fn set_param(&self, key: String, value: String) -> Result<(), TrackerError> {
        Ok(self.engine.set_param(&key, &value)?)
    }

    pub fn unset_param(&self, key: String) {
        self.engine.unset_param(&key);
    }

    /// A screen hit: `p={name}`.
    #[uniffi::method(default(params = []))]
    pub fn send_screen(&self, name: String, params: Vec<HitParam>) -> Result<(), TrackerError> {
        let mut all = vec![("p".to_owned(), name)];
        all.extend(params.into_iter().map(|p| (p.key, p.value)));
        Ok(self.engine.track(HitKind::Screen, all)?)
    }

    /// A touch hit: `p={name}&click=A`.
    #[uniffi::method(default(params = []))]
    pub fn send_touch(&self, name: String, params: Vec<HitParam>) -> Result<(), TrackerError> {
        let mut all = vec![("p".to_owned(), name), ("click".to_owned(), "A".to_owned())];
        all.extend(params.into_iter().map(|p| (p.key, p.value)));
        Ok(self.engine.track(HitKind::Touch, all)?)
    }

    /// A hit with exactly these parameters.
    pub fn send(&self, params: Vec<HitParam>) -> Result<(), TrackerError> {
        let all = params.into_iter().map(|p| (p.key, p.value)).collect();
        Ok(self.engine.track(HitKind::Custom, all)?)
    }

    pub fn set_delegate(&self, delegate: Option<Arc<dyn TrackerDelegate>>) {
        let sink = delegate.map(|d| Arc::new(DelegateSink(d)) as Arc<_>);
        self.engine.set_event_sink(sink);
    }

    /// The host's view of connectivity (from NWPathMonitor or
    /// ConnectivityManager). While `false`, nothing is sent and no attempt
    /// is spent; becoming `true` dispatches stored hits in `required` mode.
    pub fn set_network_available(&self, available: bool) {
        self.engine.set_network_available(available);
    }

    /// Resolves when every earlier call's hits are sent, saved or dropped.
    pub async fn flush(&self) {
        self.engine.flush().await;
    }

    /// Stored hits. Swift and Kotlin: the property `tracker.offline`.
    #[uniffi::method(name = "get_offline")]
    pub fn offline(&self) -> Arc<Offline> {
        Arc::new(Offline::new(&self.engine))
    }
}

impl Tracker {
    fn start(settings: Settings) -> Result<Arc<Self>, TrackerError> {
        Ok(Arc::new(Tracker {
            engine: Arc::new(Engine::start(settings)?),
        }))
    }
}
