//! How a hit leaves the device: one GET per hit, through the built-in
//! client (reqwest, cargo feature `reqwest`, on by default) or through the
//! host's HTTP stack when the app gives one (URLSession, HttpURLConnection).
//! Either way the engine's rules are the same: the result is a
//! [`Response`], and [`policy::outcome`](super::policy::outcome) says what
//! it means.

use std::sync::Weak;
use std::time::Duration;

use super::inbox::{Command, Inbox};
use super::policy::Response;

#[cfg(feature = "reqwest")]
pub mod reqwest;

/// Sends one GET. Implementations return at once and answer later, on any
/// thread, through the [`ResponseSink`] (exactly once: a sink dropped
/// unanswered counts as no response). They must not follow redirects, and
/// need read no more of a body than they like: the status decides.
pub trait Transport: Send + Sync {
    fn get(&self, url: String, timeout: Duration, sink: ResponseSink);
}

/// Where a transport puts the answer to one request: the tracker's worker.
pub struct ResponseSink {
    inbox: Weak<Inbox>,
    token: u64,
    answered: bool,
}

impl ResponseSink {
    pub(crate) fn new(inbox: Weak<Inbox>, token: u64) -> Self {
        ResponseSink {
            inbox,
            token,
            answered: false,
        }
    }

    pub fn respond(mut self, response: Response) {
        self.answered = true;
        self.deliver(response);
    }

    fn deliver(&self, response: Response) {
        if let Some(inbox) = self.inbox.upgrade() {
            // A closed inbox: the tracker is gone and so is the question.
            let _ = inbox.push_now(Command::Sent {
                token: self.token,
                response,
            });
        }
    }
}

impl Drop for ResponseSink {
    fn drop(&mut self) {
        if !self.answered {
            self.deliver(Response::NoResponse(
                "the HTTP transport dropped the request unanswered".into(),
            ));
        }
    }
}

/// The transport used when the app gives none.
pub fn built_in() -> Result<std::sync::Arc<dyn Transport>, String> {
    #[cfg(feature = "reqwest")]
    {
        Ok(std::sync::Arc::new(reqwest::ReqwestTransport::new()?))
    }
    #[cfg(not(feature = "reqwest"))]
    {
        Err(
            "this build of HitKit has no built-in HTTP client (cargo feature `reqwest`): \
             give the tracker an HttpTransport"
                .into(),
        )
    }
}
