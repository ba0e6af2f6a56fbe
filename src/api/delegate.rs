//! The app's callbacks.
//!
//! They are called on HitKit's own worker thread, never the app's main
//! thread; keep them short and hop to the main thread for UI work.

use std::sync::Arc;

use crate::engine::{Done, Event, EventSink};

/// Told when a `set_config` or `set_offline_mode` change is in effect
/// (`true`), or was refused (`false`).
#[uniffi::export(with_foreign)]
pub trait SetConfigCallback: Send + Sync {
    fn on_set(&self, is_set: bool);
}

/// What happens to hits. For build, send and save, `message` is the hit's URL.
#[uniffi::export(with_foreign)]
pub trait TrackerDelegate: Send + Sync {
    /// A hit (or a part of a split hit) was built.
    fn build_did_end(&self, status: super::HitStatus, message: String);
    /// A send ended: `Success` on a 2xx answer; `Failed` otherwise.
    fn send_did_end(&self, status: super::HitStatus, message: String);
    /// A hit was stored and flushed to disk.
    fn save_did_end(&self, message: String);
    /// Something was dropped or adjusted: a hit after its last attempt, a
    /// parameter too long to fit, hits deleted by a storage limit.
    fn warning_did_occur(&self, message: String);
    /// Something failed: storage errors, a database found corrupt.
    fn error_did_occur(&self, message: String);
}

pub(crate) struct DelegateSink(pub Arc<dyn TrackerDelegate>);

impl EventSink for DelegateSink {
    fn emit(&self, event: Event) {
        let delegate = &self.0;
        match event {
            Event::BuildDidEnd { status, url } => delegate.build_did_end(status.into(), url),
            Event::SendDidEnd { status, url } => delegate.send_did_end(status.into(), url),
            Event::SaveDidEnd { url } => delegate.save_did_end(url),
            Event::Warning(message) => delegate.warning_did_occur(message),
            Event::Error(message) => delegate.error_did_occur(message),
        }
    }
}

pub(crate) fn completion(handler: Option<Arc<dyn SetConfigCallback>>) -> Option<Done> {
    handler.map(|handler| Box::new(move |is_set| handler.on_set(is_set)) as Done)
}
