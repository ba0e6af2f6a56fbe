//! One HTTP GET per hit, and what its result means for the hit.
//!
//! TLS: rustls with the `ring` provider and Mozilla's roots compiled in
//! (`webpki-roots`). No C toolchain is needed to cross-compile it, and no
//! platform verifier needs a JNI set-up on Android.

use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// A 2xx response.
    Delivered(u16),
    /// A complete response that is not 2xx: the collector said no.
    Rejected(u16),
    /// No complete response: connect error, DNS failure, reset, timeout.
    ConnectionLost(String),
    /// No request could be made at all (a URL no client can send): it will
    /// never succeed, so it counts as a refusal, not as a loss of connection.
    Unsendable(String),
}

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new() -> Result<Sender, String> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .user_agent(concat!("HitKit/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            // A redirect is not a 2xx from the collector (a captive portal's
            // page is not a delivery): it is answered as a refusal.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Sender { client })
    }

    pub async fn send(&self, url: &str, timeout: Duration) -> SendOutcome {
        let response = match self.client.get(url).timeout(timeout).send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() => return SendOutcome::Unsendable(describe(&e)),
            Err(e) => return SendOutcome::ConnectionLost(describe(&e)),
        };
        let status = response.status().as_u16();
        // Reading the body to its end both completes the response and lets
        // the connection be reused.
        if let Err(e) = response.bytes().await {
            return SendOutcome::ConnectionLost(describe(&e));
        }
        if super::policy::is_success(status) {
            SendOutcome::Delivered(status)
        } else {
            SendOutcome::Rejected(status)
        }
    }
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
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
