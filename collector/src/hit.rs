//! The record of one request as the collector saw it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::http::{Request, decode_query};

/// One request received on the collection endpoint, whatever happened to it.
/// Serialises to the JSON shape served by the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedHit {
    /// Request path, e.g. `/hit.xiti`.
    pub path: String,
    /// Raw query string as received (still percent-encoded, no `?`).
    pub query: String,
    /// Decoded query parameters in wire order (`%XX` decoded, `+` kept).
    pub params: Vec<(String, String)>,
    /// Status answered, `None` if the request was reset or left hanging.
    pub answered: Option<u16>,
    /// Arrival time, milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// Identifies the TCP connection that carried the request, so tests can
    /// check that a client reuses connections.
    pub connection_id: u64,
}

impl ReceivedHit {
    pub(crate) fn new(request: &Request, connection_id: u64) -> Self {
        ReceivedHit {
            path: request.path.clone(),
            query: request.query.clone(),
            params: decode_query(&request.query),
            answered: None,
            received_at_ms: now_ms(),
            connection_id,
        }
    }

    /// First value of the decoded parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the request was answered with a 2xx status.
    pub fn is_delivered(&self) -> bool {
        matches!(self.answered, Some(200..=299))
    }
}

fn now_ms() -> u64 {
    // A clock before 1970 is a broken machine; 0 is as good an answer as any.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
