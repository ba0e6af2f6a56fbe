//! The built-in transport: reqwest on a small tokio runtime of its own (one
//! thread, `hitkit-http`), made on first use. tokio is here for HTTP only;
//! the worker does not need it.
//!
//! TLS: rustls with the `ring` provider and Mozilla's roots compiled in
//! (`webpki-roots`). No C toolchain is needed to cross-compile it, and no
//! platform verifier needs a JNI set-up on Android (docs/adr/0002).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::super::policy::Response;
use super::{ResponseSink, Transport};

/// The most of a response body read: the status decides, and a hostile
/// server must not make the app hold a gigabyte.
pub const MAX_BODY: usize = 64 * 1024;

pub struct ReqwestTransport {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ReqwestTransport {
    pub fn new() -> Result<ReqwestTransport, String> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .user_agent(concat!("HitKit/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            // A redirect is not a 2xx from the collector (a captive portal's
            // page is not a delivery): it is answered as a refusal.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ReqwestTransport {
            client,
            runtime: runtime()?,
        })
    }
}

impl Transport for ReqwestTransport {
    fn get(&self, url: String, timeout: Duration, sink: ResponseSink) {
        let client = self.client.clone();
        self.runtime.spawn(async move {
            let response = fetch(&client, &url, timeout).await;
            sink.respond(response);
        });
    }
}

async fn fetch(client: &reqwest::Client, url: &str, timeout: Duration) -> Response {
    let mut response = match client.get(url).timeout(timeout).send().await {
        Ok(response) => response,
        Err(e) if e.is_builder() => return Response::Unsendable(describe(&e)),
        Err(e) => return Response::NoResponse(describe(&e)),
    };
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read the body to its end when it is small, so the connection can be
    // used again; past MAX_BODY, drop the connection instead.
    let mut read = 0;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                if read > MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Response::NoResponse(describe(&e)),
        }
    }
    Response::Status { code, retry_after }
}

/// One thread runs every tracker's requests: they wait on the network, not
/// on the CPU.
fn runtime() -> Result<tokio::runtime::Handle, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Handle, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("hitkit-http".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .clone()
}

fn tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "connection failed".to_owned()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
