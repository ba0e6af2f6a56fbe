//! Control API: a second listener, unaffected by the collection mode, that
//! lets tests in other languages drive a collector running as a process.
//!
//! Routes: `POST /mode?set=<mode>[&retry_after=N]` and `POST /clear` change
//! state; `GET /mode`, `/hits`, `/delivered` and `/count` read it. The wrong
//! method gets 405 with an `Allow` header.
//!
//! The listener is on 127.0.0.1, but a web page the developer visits can
//! still reach it: directly (a cross-site form POST) or through DNS
//! rebinding (a host name of the page's that then resolves to 127.0.0.1).
//! So every request must name a loopback host (`127.0.0.1`, `localhost` or
//! `[::1]`, any port) in its one `Host` header, else 403 (400 when `Host` is
//! missing or repeated), and a request carrying a browser's `Origin` header
//! must come from a loopback origin too (else 403). GETs cannot change
//! anything, so a page cannot act through an image or a link either. The
//! hit port has none of these checks: apps reach it under any name.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use crate::http::{ReadError, Request, Response, decode_query, read_request};
use crate::journal::Journal;
use crate::mode::Mode;
use crate::server::HitServer;

/// Everything a route needs.
pub(crate) struct Control {
    pub server: Arc<HitServer>,
    pub journal: Arc<Journal>,
}

impl Control {
    /// Accepts control connections until the collector's runtime stops.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(tokio::spawn(Arc::clone(&self).serve_connection(stream))),
                // Typically out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    }

    async fn serve_connection(self: Arc<Self>, mut stream: TcpStream) {
        let mut buf = Vec::new();
        loop {
            let (response, keep_alive) = match read_request(&mut stream, &mut buf).await {
                Ok(Some(request)) => (self.handle(&request).await, request.keep_alive),
                Ok(None) | Err(ReadError::Broken) => return,
                Err(ReadError::Malformed(why)) => (Response::text(400, why), false),
            };
            if response.write_to(&mut stream, !keep_alive).await.is_err() || !keep_alive {
                return;
            }
        }
    }

    async fn handle(&self, request: &Request) -> Response {
        if let Err(refusal) = check_caller(request) {
            return refusal;
        }
        let Some(route) = Route::parse(&request.path, &request.query) else {
            return Response::text(
                404,
                "unknown route: try GET /mode, /hits, /delivered or /count, \
                 POST /mode?set=<mode> or POST /clear",
            );
        };
        if request.method != route.method() {
            return Response::text(405, route.wrong_method()).header("Allow", route.method());
        }
        match route {
            Route::Mode | Route::SetMode => self.mode(&request.query).await,
            Route::Hits => Response::json(to_json(&self.journal.hits())),
            Route::Delivered => Response::json(to_json(&self.journal.delivered())),
            Route::Count => {
                let (requests, delivered) = self.journal.counts();
                Response::json(
                    serde_json::json!({ "requests": requests, "delivered": delivered }).to_string(),
                )
            }
            Route::Clear => {
                self.journal.clear();
                Response::text(200, "ok")
            }
        }
    }

    /// `POST /mode?set=...[&retry_after=N]` switches; `GET /mode` reports.
    async fn mode(&self, query: &str) -> Response {
        let params = decode_query(query);
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let Some(set) = get("set") else {
            return Response::text(200, self.server.mode().to_string());
        };
        let mode = match (Mode::parse(set), get("retry_after")) {
            (Err(e), _) => return Response::text(400, e),
            (Ok(mode), None) => mode,
            (Ok(Mode::Status { code, .. }), Some(secs)) => match secs.parse() {
                Ok(secs) => Mode::Status {
                    code,
                    retry_after: Some(secs),
                },
                Err(_) => return Response::text(400, format!("bad retry_after {secs:?}")),
            },
            (Ok(_), Some(_)) => {
                return Response::text(400, "retry_after only applies to a status code");
            }
        };
        match self.server.set_mode(mode).await {
            Ok(()) => Response::text(200, "ok"),
            Err(e) => Response::text(500, format!("could not switch mode: {e}")),
        }
    }
}

#[derive(Clone, Copy)]
enum Route {
    Mode,
    SetMode,
    Hits,
    Delivered,
    Count,
    Clear,
}

impl Route {
    /// `None` for an unknown route. `/mode` reads unless it is given `set`.
    fn parse(path: &str, query: &str) -> Option<Route> {
        Some(match path {
            "/mode" if decode_query(query).iter().any(|(k, _)| k == "set") => Route::SetMode,
            "/mode" => Route::Mode,
            "/hits" => Route::Hits,
            "/delivered" => Route::Delivered,
            "/count" => Route::Count,
            "/clear" => Route::Clear,
            _ => return None,
        })
    }

    /// Only POSTs change state, so a page cannot act through a link or an image.
    fn method(self) -> &'static str {
        match self {
            Route::SetMode | Route::Clear => "POST",
            Route::Mode | Route::Hits | Route::Delivered | Route::Count => "GET",
        }
    }

    /// The 405 explanation.
    fn wrong_method(self) -> &'static str {
        match self {
            Route::SetMode => {
                "switching the mode needs POST /mode?set=<mode>; GET /mode only reads it"
            }
            Route::Clear => "clearing the hits needs POST /clear; GET never changes anything",
            Route::Mode => "GET /mode reads the mode; to switch it, POST /mode?set=<mode>",
            Route::Hits | Route::Delivered | Route::Count => "this route only reads: use GET",
        }
    }
}

/// Refuses a request that a web page could have sent: one whose `Host` (or
/// absolute-form target) names anything but loopback, which is what DNS
/// rebinding produces, or one carrying a non-loopback browser `Origin`.
fn check_caller(request: &Request) -> Result<(), Response> {
    let host = match request.hosts.as_slice() {
        [host] => host,
        [] => {
            return Err(Response::text(
                400,
                "control API: missing Host header (send Host: 127.0.0.1:<port>)",
            ));
        }
        _ => {
            return Err(Response::text(
                400,
                "control API: more than one Host header",
            ));
        }
    };
    for named in std::iter::once(host).chain(&request.target_host) {
        if !is_loopback_host(named) {
            return Err(Response::text(
                403,
                format!(
                    "control API: host {named:?} is not 127.0.0.1, localhost or [::1]; \
                     only local clients may use it, not pages served under another name"
                ),
            ));
        }
    }
    for origin in &request.origins {
        let host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if !host.is_some_and(is_loopback_host) {
            return Err(Response::text(
                403,
                format!("control API: requests from web pages are refused (Origin {origin:?})"),
            ));
        }
    }
    Ok(())
}

/// `127.0.0.1`, `localhost` or `[::1]`, with an optional port: the names
/// under which only this machine reaches the control listener.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    };
    name == "127.0.0.1" || name == "[::1]" || name.eq_ignore_ascii_case("localhost")
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain strings and numbers cannot fail to serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8081",
            "localhost",
            "LocalHost:1",
            "[::1]",
            "[::1]:65535",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8081",
            "127.0.0.1.evil.example",
            "localhost.evil.example:80",
            "evil.example#127.0.0.1",
            "127.0.0.2",
            "0.0.0.0",
            "localhost:",
            "localhost:+80",
            "localhost:123456",
            "::1",
            "[::2]",
            "localhost:80:80",
            "user@localhost",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
