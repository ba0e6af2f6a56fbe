//! What the app gives HitKit to hear from it: the delegate, completion
//! handlers, a logger. Which thread calls them: docs/contract.md §5.

use std::sync::Arc;

use crate::engine::events::{self, Event, EventSink};
use crate::engine::inbox::Completion;
use crate::engine::types::{HitStatus, LogLevel};

/// Told when a `set_config` or `set_offline_mode` change is in effect
/// (`true`), or was refused (`false`).
#[uniffi::export(with_foreign)]
pub trait SetConfigCallback: Send + Sync {
    fn on_set(&self, is_set: bool);
}

/// What happens to hits. For build, send and save, `message` is the hit's
/// URL (without its query when `queryInMessages` is false).
#[uniffi::export(with_foreign)]
pub trait TrackerDelegate: Send + Sync {
    /// A hit (or a part of a split hit) was built.
    fn build_did_end(&self, status: HitStatus, message: String);
    /// A send ended: `Success` on a 2xx answer; `Failed` otherwise.
    fn send_did_end(&self, status: HitStatus, message: String);
    /// A hit was stored and synced to disk.
    fn save_did_end(&self, message: String);
    /// Something was dropped or adjusted: a hit after its last attempt, a
    /// parameter too long to fit, hits deleted by a storage limit.
    fn warning_did_occur(&self, message: String);
    /// Something failed: storage errors, a database found damaged.
    fn error_did_occur(&self, message: String);
}

/// Where HitKit's log lines go instead of the platform log.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    fn log(&self, level: LogLevel, message: String);
}

/// Sends every tracker's log lines to `logger`; `None` puts the platform
/// log back (stderr; Logcat on Android). How much is logged is each
/// tracker's `logLevel`.
#[uniffi::export]
pub fn set_logger(logger: Option<Arc<dyn Logger>>) {
    events::set_logger(logger.map(|logger| Arc::new(ForeignLogger(logger)) as Arc<_>));
}

struct ForeignLogger(Arc<dyn Logger>);

impl events::Logger for ForeignLogger {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.log(level, message.to_owned());
    }
}

pub(crate) struct DelegateSink(pub Arc<dyn TrackerDelegate>);

impl EventSink for DelegateSink {
    fn emit(&self, event: Event) {
        let delegate = &self.0;
        match event {
            Event::BuildDidEnd { status, url } => delegate.build_did_end(status, url),
            Event::SendDidEnd { status, url } => delegate.send_did_end(status, url),
            Event::SaveDidEnd { url } => delegate.save_did_end(url),
            Event::Warning(message) => delegate.warning_did_occur(message),
            Event::Error(message) => delegate.error_did_occur(message),
        }
    }
}

pub(crate) fn completion(handler: Option<Arc<dyn SetConfigCallback>>) -> Option<Completion> {
    handler.map(|handler| Box::new(move |is_set| handler.on_set(is_set)) as Completion)
}
