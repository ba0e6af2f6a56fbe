//! Control API: a second listener, unaffected by the collection mode, that
//! lets tests in other languages drive a collector running as a process.

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
                Ok(Some(request)) => (self.route(&request).await, request.keep_alive),
                Ok(None) | Err(ReadError::Broken) => return,
                Err(ReadError::Malformed(why)) => (Response::text(400, why), false),
            };
            if response.write_to(&mut stream, !keep_alive).await.is_err() || !keep_alive {
                return;
            }
        }
    }

    async fn route(&self, request: &Request) -> Response {
        match request.path.as_str() {
            "/mode" => self.mode(&request.query).await,
            "/hits" => Response::json(to_json(&self.journal.hits())),
            "/delivered" => Response::json(to_json(&self.journal.delivered())),
            "/count" => {
                let (requests, delivered) = self.journal.counts();
                Response::json(
                    serde_json::json!({ "requests": requests, "delivered": delivered }).to_string(),
                )
            }
            "/clear" => {
                self.journal.clear();
                Response::text(200, "ok")
            }
            _ => Response::text(
                404,
                "unknown route: try /mode, /hits, /delivered, /count or /clear",
            ),
        }
    }

    /// `/mode?set=...[&retry_after=N]` switches; a bare `/mode` reports.
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

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain strings and numbers cannot fail to serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}
