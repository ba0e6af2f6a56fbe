//! The host's HTTP stack as HitKit's transport (URLSession, Android's
//! HttpURLConnection): an app passes an `HttpTransport` when it creates a
//! tracker, and every request goes through it. The engine's rules do not
//! change: 2xx is success, any other status costs one attempt, no response
//! is a loss of connection.
//!
//! The trait is synchronous with a completion object rather than `async`:
//! async foreign traits do not yet compile in Swift 6 mode.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::lock;
use crate::engine::policy::Response;
use crate::engine::transport::{ResponseSink, Transport};

/// Sends one GET. Must return at once and call `completion` exactly once,
/// on any thread, within about `timeout_ms`. Must not follow redirects
/// (a redirect is answered with its status), and need read no more than
/// 64 KiB of the body: the status decides.
#[uniffi::export(with_foreign)]
pub trait HttpTransport: Send + Sync {
    fn get(&self, url: String, timeout_ms: i64, completion: Arc<HttpCompletion>);
}

/// How a transport answers one request. Only the first answer counts.
#[derive(uniffi::Object)]
pub struct HttpCompletion {
    sink: Mutex<Option<ResponseSink>>,
}

#[uniffi::export]
impl HttpCompletion {
    /// A complete response: its status, and its `Retry-After` header if any.
    /// A status outside 100–599 (Android's -1) counts as no response.
    pub fn response(&self, status: i32, retry_after: Option<String>) {
        let code = u16::try_from(status).unwrap_or(0);
        self.answer(Response::Status { code, retry_after });
    }

    /// No complete response (connect error, DNS, reset, timeout).
    pub fn no_response(&self, reason: String) {
        self.answer(Response::NoResponse(reason));
    }
}

impl HttpCompletion {
    fn answer(&self, response: Response) {
        if let Some(sink) = lock(&self.sink).take() {
            sink.respond(response);
        }
    }
}

pub(crate) struct HostTransport(pub Arc<dyn HttpTransport>);

impl Transport for HostTransport {
    fn get(&self, url: String, timeout: Duration, sink: ResponseSink) {
        let completion = Arc::new(HttpCompletion {
            sink: Mutex::new(Some(sink)),
        });
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let transport = self.0.clone();
        // A transport that throws (or panics) answers nothing: the sink,
        // dropped, says "no response".
        crate::engine::events::call_back(move || transport.get(url, timeout_ms, completion));
    }
}
