//! What the engine tells the app: delegate events and log lines.
//!
//! Which thread runs what the app gave HitKit (delegate, completion
//! handlers, logger) is said once, in docs/contract.md §5: HitKit's worker
//! thread, except the two cases named there.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, RwLock};

use super::lock;
use super::types::{HitStatus, LogLevel};

/// Messages carry the hit's URL for build/send/save, as the AT SDK does
/// (without its query when `queryInMessages` is false).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    BuildDidEnd { status: HitStatus, url: String },
    SendDidEnd { status: HitStatus, url: String },
    SaveDidEnd { url: String },
    Warning(String),
    Error(String),
}

impl Event {
    fn log_level(&self) -> LogLevel {
        match self {
            Event::Error(_) => LogLevel::Error,
            Event::Warning(_) => LogLevel::Warning,
            Event::SendDidEnd { .. } | Event::SaveDidEnd { .. } => LogLevel::Info,
            Event::BuildDidEnd { .. } => LogLevel::Debug,
        }
    }

    fn log_line(&self) -> String {
        match self {
            Event::BuildDidEnd { status, url } => format!("built ({status:?}): {url}"),
            Event::SendDidEnd { status, url } => format!("sent ({status:?}): {url}"),
            Event::SaveDidEnd { url } => format!("saved: {url}"),
            Event::Warning(message) | Event::Error(message) => message.clone(),
        }
    }
}

/// The app's delegate, as the engine sees it.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Where log lines go; the platform's log unless the app sets its own.
pub trait Logger: Send + Sync {
    fn log(&self, level: LogLevel, message: &str);
}

static LOGGER: RwLock<Option<Arc<dyn Logger>>> = RwLock::new(None);

/// Replaces the platform log (`None` puts it back) for every tracker.
pub fn set_logger(logger: Option<Arc<dyn Logger>>) {
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = logger;
}

fn log(level: LogLevel, message: &str) {
    let custom = LOGGER.read().unwrap_or_else(|p| p.into_inner()).clone();
    match custom {
        Some(logger) => call_back(|| logger.log(level, message)),
        None => platform_log(level, message),
    }
}

#[cfg(not(target_os = "android"))]
fn platform_log(level: LogLevel, message: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "hitkit {}: {message}",
        level.as_str()
    );
}

/// Logcat, through the NDK's `liblog`.
/// Not compiled on this project's build machine (no Android NDK there).
#[cfg(target_os = "android")]
fn platform_log(level: LogLevel, message: &str) {
    use std::ffi::CString;
    #[link(name = "log")]
    unsafe extern "C" {
        fn __android_log_write(priority: i32, tag: *const u8, text: *const u8) -> i32;
    }
    let priority = match level {
        LogLevel::Error => 6,
        LogLevel::Warning => 5,
        LogLevel::Info => 4,
        _ => 3,
    };
    if let Ok(text) = CString::new(message.replace('\0', " ")) {
        // SAFETY: both strings are NUL-terminated and outlive the call.
        unsafe { __android_log_write(priority, c"HitKit".as_ptr().cast(), text.as_ptr().cast()) };
    }
}

/// Warnings and errors raised before the app sets a delegate (a damaged
/// database found at open, say) are kept, up to this many, and delivered
/// when it does.
const MAX_EARLY_EVENTS: usize = 32;

pub struct Events {
    inner: Mutex<EventsInner>,
}

struct EventsInner {
    sink: Option<Arc<dyn EventSink>>,
    early: Vec<Event>,
    log_level: LogLevel,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            inner: Mutex::new(EventsInner {
                sink: None,
                early: Vec::new(),
                log_level: LogLevel::Warning,
            }),
        }
    }
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
                call_back(|| sink.emit(event));
            }
        }
    }

    pub fn set_log_level(&self, level: LogLevel) {
        lock(&self.inner).log_level = level;
    }

    /// Whether an event of this kind would reach anyone: hit events are
    /// only formatted when it would.
    pub fn wants_hit_events(&self) -> bool {
        let inner = lock(&self.inner);
        inner.sink.is_some() || inner.log_level >= LogLevel::Info
    }

    pub fn emit(&self, event: Event) {
        let (sink, log_level) = {
            let mut inner = lock(&self.inner);
            let keep = inner.sink.is_none()
                && matches!(event, Event::Warning(_) | Event::Error(_))
                && inner.early.len() < MAX_EARLY_EVENTS;
            if keep {
                inner.early.push(event.clone());
            }
            (inner.sink.clone(), inner.log_level)
        };
        let level = event.log_level();
        if level <= log_level && log_level != LogLevel::Off {
            log(level, &event.log_line());
        }
        if let Some(sink) = sink {
            call_back(|| sink.emit(event));
        }
    }

    pub fn warning(&self, message: impl Into<String>) {
        self.emit(Event::Warning(message.into()));
    }

    pub fn error(&self, message: impl Into<String>) {
        self.emit(Event::Error(message.into()));
    }
}

/// Runs an app callback; a panic in it (a foreign exception, through
/// UniFFI) is contained here.
pub fn call_back(callback: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(callback));
}
