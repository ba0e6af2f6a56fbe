//! Row 3: draining stored hits to the loopback collector, against the same
//! HTTP client sending the same URLs with no storage at all, and against a
//! serial sender (one request at a time on a kept-alive connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hitkit::Tracker;
use hitkit_collector::{Collector, Mode};
use serde_json::{Value, json};

use crate::common::{self, Probe, per_second};
use crate::report::{Line, Target};
use crate::sqlite::{HitTable, Sync};

/// On loopback: the collector answers at once.
const HITS: usize = 10_000;
const CONCURRENCY: [u32; 3] = [1, 4, 8];
/// With the collector answering after `DELAY`, a stand-in for a mobile
/// network's round trip, which is what concurrency is for.
const DELAYED_HITS: usize = 1_000;
const DELAY: Duration = Duration::from_millis(2);
const DELAYED_CONCURRENCY: [u32; 2] = [1, 8];
/// The AT SDK's own drain (SQLite read, GET, DELETE per hit) costs an fsync
/// per hit: measured on fewer hits.
const AT_SDK_HITS: usize = 1_000;

pub fn run(
    collector: &Collector,
    lines: &mut Vec<Line>,
    details: &mut serde_json::Map<String, Value>,
) {
    let dir = common::scratch_dir();
    let tracker = common::tracker(dir.path(), &collector.endpoint());
    let probe = Probe::attach(&tracker);
    let raw = RawClient::new();
    let mut detail = serde_json::Map::new();

    // Loopback.
    let mut urls = Vec::new();
    let hitkit: Vec<Duration> = CONCURRENCY
        .iter()
        .map(|&c| drain(collector, &tracker, &probe, HITS, c, &mut urls))
        .collect();
    let raw_times: Vec<Duration> = CONCURRENCY
        .iter()
        .map(|&c| raw.send_all(collector, &urls, c as usize))
        .collect();
    push_lines(lines, "", HITS, &CONCURRENCY, &hitkit, &raw_times);
    detail.insert(
        "loopback".into(),
        times_json(HITS, &CONCURRENCY, &hitkit, &raw_times),
    );

    // The AT SDK's way, on loopback.
    let at_sdk = at_sdk_drain(&raw, collector, &urls[..AT_SDK_HITS]);
    lines.push(
        Line::new(
            "drain",
            "drain, concurrency 1",
            per_second(HITS as u64, hitkit[0]),
            "hits/s",
        )
        .versus(
            "AT SDK way: SQLite read+GET+DELETE",
            per_second(AT_SDK_HITS as u64, at_sdk),
        ),
    );
    detail.insert(
        "at_sdk_way".into(),
        json!({"hits": AT_SDK_HITS, "seconds": at_sdk.as_secs_f64(),
               "how": "SELECT the oldest row, GET it with the raw client (keep-alive), DELETE it (autocommit, WAL, synchronous=FULL), one hit at a time"}),
    );

    // A collector that takes DELAY to answer.
    collector.set_mode(Mode::Delay(DELAY));
    let mut delayed_urls = Vec::new();
    let hitkit_delayed: Vec<Duration> = DELAYED_CONCURRENCY
        .iter()
        .map(|&c| {
            drain(
                collector,
                &tracker,
                &probe,
                DELAYED_HITS,
                c,
                &mut delayed_urls,
            )
        })
        .collect();
    let raw_delayed: Vec<Duration> = DELAYED_CONCURRENCY
        .iter()
        .map(|&c| raw.send_all(collector, &delayed_urls, c as usize))
        .collect();
    collector.set_mode(Mode::Ok);
    common::close(tracker, dir.path());
    let label = format!(", {} ms answer", DELAY.as_millis());
    push_lines(
        lines,
        &label,
        DELAYED_HITS,
        &DELAYED_CONCURRENCY,
        &hitkit_delayed,
        &raw_delayed,
    );
    detail.insert(
        "delayed".into(),
        times_json(
            DELAYED_HITS,
            &DELAYED_CONCURRENCY,
            &hitkit_delayed,
            &raw_delayed,
        ),
    );
    detail.insert(
        "raw_client".into(),
        json!("reqwest 0.13 built as HitKit's sender builds it (rustls/ring, same user agent, 30 s idle pool, 15 s timeout, body read to the end), on a 2-worker tokio runtime like HitKit's; no storage; workers take the URLs in order"),
    );
    detail.insert(
        "serial_baseline".into(),
        json!("the raw client with one request in flight on a kept-alive connection (no storage)"),
    );
    details.insert("drain".into(), detail.into());
}

/// Stores `hits` hits, then times `dispatch_and_wait` at `concurrency`.
/// The first call keeps the stored URLs in `urls`, for the raw client.
fn drain(
    collector: &Collector,
    tracker: &Tracker,
    probe: &Probe,
    hits: usize,
    concurrency: u32,
    urls: &mut Vec<String>,
) -> Duration {
    let saved = probe.counts().saves;
    for i in 0..hits {
        common::send_hit(tracker, i);
    }
    probe.wait_saves(saved + hits as u64);
    if urls.is_empty() {
        *urls = common::stored_urls(tracker);
    }
    tracker
        .set_config("dispatchConcurrency".into(), concurrency.to_string(), None)
        .expect("dispatchConcurrency is a key");
    common::block_on(tracker.flush()).expect("flush");
    collector.clear();
    let start = Instant::now();
    let report =
        common::block_on(tracker.offline().dispatch_and_wait(None, false)).expect("dispatch");
    let elapsed = start.elapsed();
    assert_eq!(
        report.sent, hits as i64,
        "every stored hit is sent: {report:?}"
    );
    assert_eq!(collector.delivered().len(), hits);
    collector.clear();
    elapsed
}

fn push_lines(
    lines: &mut Vec<Line>,
    label: &str,
    hits: usize,
    concurrency: &[u32],
    hitkit: &[Duration],
    raw: &[Duration],
) {
    let n = hits as u64;
    let serial = per_second(n, raw[0]);
    for (i, c) in concurrency.iter().enumerate() {
        let rate = per_second(n, hitkit[i]);
        let what = format!("drain {}k{label}, concurrency {c}", hits / 1000);
        lines.push(
            Line::new("drain", what.clone(), rate, "hits/s")
                .versus(format!("raw client, {c} in flight"), per_second(n, raw[i]))
                .target(Target::RatioAtLeast(0.5))
                .percent(),
        );
        if *c > 1 {
            lines.push(
                Line::new("drain", what, rate, "hits/s")
                    .versus("serial keep-alive", serial)
                    .target(Target::RatioAtLeast(5.0)),
            );
        }
    }
}

fn times_json(hits: usize, concurrency: &[u32], hitkit: &[Duration], raw: &[Duration]) -> Value {
    let secs = |d: &[Duration]| d.iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
    json!({"hits": hits, "concurrency": concurrency, "hitkit_seconds": secs(hitkit), "raw_seconds": secs(raw)})
}

/// What the AT SDK does: read the oldest hit, send it, delete it, commit.
fn at_sdk_drain(raw: &RawClient, collector: &Collector, urls: &[String]) -> Duration {
    let dir = common::scratch_dir();
    let table = HitTable::create(dir.path(), Sync::Full);
    table.insert_each(urls);
    collector.clear();
    let start = Instant::now();
    raw.runtime.block_on(async {
        while let Some((id, url)) = table.oldest() {
            RawClient::get(&raw.client, &url).await;
            table.delete(id);
        }
    });
    let elapsed = start.elapsed();
    assert_eq!(collector.delivered().len(), urls.len());
    collector.clear();
    elapsed
}

/// reqwest configured as HitKit's sender configures it.
struct RawClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl RawClient {
    fn new() -> RawClient {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent("HitKit/0.1.0")
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        RawClient { client, runtime }
    }

    async fn get(client: &reqwest::Client, url: &str) {
        let response = client
            .get(url)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .expect("raw send");
        assert!(response.status().is_success());
        response.bytes().await.expect("raw body");
    }

    /// Sends every URL with `concurrency` requests in flight, in order.
    fn send_all(&self, collector: &Collector, urls: &[String], concurrency: usize) -> Duration {
        collector.clear();
        let urls = Arc::new(urls.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        self.runtime.block_on(async {
            let workers: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (client, urls, next) = (self.client.clone(), urls.clone(), next.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(url) = urls.get(i) else { break };
                            RawClient::get(&client, url).await;
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.await.expect("raw sender");
            }
        });
        let elapsed = start.elapsed();
        assert_eq!(collector.delivered().len(), urls.len());
        collector.clear();
        elapsed
    }
}
