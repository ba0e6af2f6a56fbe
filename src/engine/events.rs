//! What the engine tells the host app. The FFI layer forwards these to the
//! app's `TrackerDelegate`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

/// Messages carry the hit's URL for build/send/save, as the AT SDK does.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    BuildDidEnd { status: Status, url: String },
    SendDidEnd { status: Status, url: String },
    SaveDidEnd { url: String },
    Warning(String),
    Error(String),
}

pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Warnings and errors raised before the app sets a delegate (a corrupt
/// database found at open, say) are kept, up to this many, and delivered
/// when it does.
const MAX_EARLY_EVENTS: usize = 32;

#[derive(Default)]
pub struct Events {
    inner: Mutex<EventsInner>,
}

#[derive(Default)]
struct EventsInner {
    sink: Option<Arc<dyn EventSink>>,
    early: Vec<Event>,
}

impl Events {
    pub fn set_sink(&self, sink: Option<Arc<dyn EventSink>>) {
        let early = {
            let mut inner = lock(&self.inner);
            inner.sink = sink.clone();
            if sink.is_some() {
                std::mem::take(&mut inner.early)
            } else {
                Vec::new()
            }
        };
        if let Some(sink) = sink {
            for event in early {
                deliver(&sink, event);
            }
        }
    }

    pub fn emit(&self, event: Event) {
        let sink = {
            let mut inner = lock(&self.inner);
            match &inner.sink {
                Some(sink) => sink.clone(),
                None => {
                    let keep = matches!(event, Event::Warning(_) | Event::Error(_));
                    if keep && inner.early.len() < MAX_EARLY_EVENTS {
                        inner.early.push(event);
                    }
                    return;
                }
            }
        };
        deliver(&sink, event);
    }

    pub fn warning(&self, message: impl Into<String>) {
        self.emit(Event::Warning(message.into()));
    }

    pub fn error(&self, message: impl Into<String>) {
        self.emit(Event::Error(message.into()));
    }
}

/// A delegate that panics must not take the tracker's worker down with it.
fn deliver(sink: &Arc<dyn EventSink>, event: Event) {
    call_back(|| sink.emit(event));
}

/// Runs an app callback; a panic in it (a foreign exception, through UniFFI)
/// is contained here.
pub fn call_back(callback: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(callback));
}

/// Poisoning only means a delegate panicked while we held the lock; the data
/// behind it is still consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
