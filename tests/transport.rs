//! How hits leave the device (docs/contract.md §3): through the host's HTTP
//! stack when the app gives one, under the same rules as the built-in
//! client; the server's pacing (`Retry-After`); a hostile server's body.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// A host transport written the way an app's would be: one plain HTTP/1.1
/// GET per request on its own thread, answering through the completion.
#[derive(Default)]
struct SocketTransport {
    requests: AtomicUsize,
}

impl HttpTransport for SocketTransport {
    fn get(&self, url: String, timeout_ms: i64, completion: Arc<HttpCompletion>) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || match fetch(&url, timeout_ms) {
            Ok((status, retry_after)) => completion.response(status, retry_after),
            Err(e) => completion.no_response(e.to_string()),
        });
    }
}

fn fetch(url: &str, timeout_ms: i64) -> std::io::Result<(i32, Option<String>)> {
    let rest = url.strip_prefix("http://").expect("a local http URL");
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host)?;
    let timeout = Duration::from_millis(timeout_ms as u64);
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {line:?}")))?;
    let mut retry_after = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("retry-after")
        {
            retry_after = Some(value.trim().to_owned());
        }
    }
    Ok((status, retry_after))
}

fn with_transport(
    fx: &Fixture,
    storage: OfflineModeKey,
    transport: Arc<dyn HttpTransport>,
) -> (Arc<Tracker>, Arc<Recorder>) {
    let tracker = Tracker::new(
        TrackerConfig {
            request_timeout_ms: 500,
            ..fx.config(storage)
        },
        Some(transport),
    )
    .expect("tracker");
    let seen = Arc::new(Recorder::default());
    tracker.set_delegate(Some(seen.clone()));
    (tracker, seen)
}

/// The offline feature's scenarios through the host's HTTP stack: stored on loss of
/// connection, dispatched oldest first, three attempts on refusals, and a
/// loss costs no attempt.
#[test]
fn the_host_transport_follows_the_same_rules() {
    let fx = Fixture::new();
    let transport = Arc::new(SocketTransport::default());
    let (tracker, seen) = with_transport(&fx, OfflineModeKey::Required, transport.clone());
    fx.collector.set_mode(Mode::Refuse);
    for name in names("r", 3) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3, "stored on loss of connection");
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    assert_eq!(dispatch(&tracker).failed, 3);
    fx.collector.set_mode(Mode::Reset);
    let report = dispatch(&tracker);
    assert_eq!((report.sent, report.failed, report.remaining), (0, 0, 3));
    let attempts: Vec<i32> = tracker
        .offline()
        .get()
        .unwrap()
        .iter()
        .map(|h| h.retry_count)
        .collect();
    assert_eq!(attempts, [1, 1, 1], "a reset costs no attempt");
    fx.collector.set_mode(Mode::Ok);
    assert_eq!(dispatch(&tracker).sent, 3);
    assert_eq!(pages(&fx.collector.delivered()), names("r", 3));
    assert!(transport.requests.load(Ordering::SeqCst) >= 9);
    assert_eq!(seen.sent(HitStatus::Failed), 3);
    // Refused live, a hit is not stored.
    fx.collector.set_mode(Mode::Status {
        code: 404,
        retry_after: None,
    });
    screen(&tracker, "refused");
    flush(&tracker);
    assert_eq!(
        seen.sent(HitStatus::Failed),
        4,
        "a live refusal is not stored"
    );
    assert_eq!(tracker.offline().count(), 0);
}

/// A transport that never answers, or drops its completion, or throws: no
/// response (a loss of connection), never a stuck tracker.
#[test]
fn a_transport_that_misbehaves_is_a_loss_of_connection() {
    struct Silent(Mutex<Vec<Arc<HttpCompletion>>>);
    impl HttpTransport for Silent {
        fn get(&self, _: String, _: i64, completion: Arc<HttpCompletion>) {
            self.0.lock().unwrap().push(completion);
        }
    }
    struct Dropping;
    impl HttpTransport for Dropping {
        fn get(&self, _: String, _: i64, _: Arc<HttpCompletion>) {}
    }
    struct Panicking;
    impl HttpTransport for Panicking {
        fn get(&self, _: String, _: i64, _: Arc<HttpCompletion>) {
            panic!("the host's stack threw");
        }
    }
    struct Twice;
    impl HttpTransport for Twice {
        fn get(&self, _: String, _: i64, completion: Arc<HttpCompletion>) {
            completion.no_response("first".into());
            completion.response(200, None);
        }
    }
    /// `HttpURLConnection.getResponseCode()` is -1 for what is not HTTP.
    struct NotHttp(i32);
    impl HttpTransport for NotHttp {
        fn get(&self, _: String, _: i64, completion: Arc<HttpCompletion>) {
            completion.response(self.0, None);
        }
    }
    let transports: [(&str, Arc<dyn HttpTransport>); 7] = [
        ("silent", Arc::new(Silent(Mutex::new(Vec::new())))),
        ("dropping", Arc::new(Dropping)),
        ("panicking", Arc::new(Panicking)),
        ("answering twice", Arc::new(Twice)),
        ("answering -1", Arc::new(NotHttp(-1))),
        ("answering 0", Arc::new(NotHttp(0))),
        ("answering 1000", Arc::new(NotHttp(1000))),
    ];
    for (name, transport) in transports {
        let fx = Fixture::new();
        let (tracker, _) = with_transport(&fx, OfflineModeKey::Required, transport);
        let start = Instant::now();
        screen(&tracker, "h");
        flush(&tracker);
        assert_eq!(tracker.offline().count(), 1, "{name}: stored as on a loss");
        let report = dispatch(&tracker);
        assert_eq!((report.sent, report.remaining), (0, 1), "{name}");
        assert_eq!(
            tracker.offline().get().unwrap()[0].retry_count,
            0,
            "{name}: no attempt spent"
        );
        assert!(start.elapsed() < T, "{name}: took {:?}", start.elapsed());
    }
}

/// `Retry-After` on 503 (and 429) pauses automatic sends and explicit
/// dispatches until it ends, unless the app asks to go ahead; it is
/// reported.
#[test]
fn retry_after_pauses_dispatch_until_it_ends_unless_the_app_insists() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    for name in names("p", 3) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    fx.collector.set_mode(Mode::Status {
        code: 503,
        retry_after: Some(2),
    });
    let report = dispatch(&tracker);
    assert_eq!(
        (report.failed, report.remaining),
        (1, 3),
        "stops at the first 503"
    );
    assert!(
        seen.warnings().iter().any(|w| w.contains("Retry-After")),
        "{:?}",
        seen.warnings()
    );
    fx.collector.set_mode(Mode::Ok);
    let paused = dispatch(&tracker);
    assert_eq!(
        (paused.sent, paused.remaining),
        (0, 3),
        "paused: nothing sent"
    );
    assert_eq!(fx.collector.hits().len(), 1);
    let insisted = wait(tracker.offline().dispatch_and_wait(None, true)).unwrap();
    assert_eq!(insisted.sent, 3, "the app asked to go ahead");

    // A 429 pauses too, until its time is over (hits accepted since the
    // 503 ended that pause).
    for name in names("q", 2) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    fx.collector.set_mode(Mode::Status {
        code: 429,
        retry_after: Some(1),
    });
    assert_eq!(dispatch(&tracker).sent, 0);
    fx.collector.set_mode(Mode::Ok);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(dispatch(&tracker).sent, 2);
}

/// Automatic passes (`required` mode) wait for the pause too: new hits go
/// behind the stored ones meanwhile.
#[test]
fn retry_after_pauses_automatic_passes() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    fx.collector.set_mode(Mode::Status {
        code: 503,
        retry_after: Some(60),
    });
    screen(&tracker, "refused");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 0, "a live refusal is not stored");
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "stored");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 1);
    fx.collector.set_mode(Mode::Ok);
    let before = fx.collector.hits().len();
    screen(&tracker, "behind");
    flush(&tracker);
    assert_eq!(
        fx.collector.hits().len(),
        before,
        "paused for 60 s: nothing sent"
    );
    assert_eq!(tracker.offline().count(), 2);
}

/// A `Retry-After` beyond an hour is not honoured: the backoff applies.
#[test]
fn an_absurd_retry_after_falls_back_to_the_backoff() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Always);
    screen(&tracker, "h");
    flush(&tracker);
    fx.collector.set_mode(Mode::Status {
        code: 503,
        retry_after: Some(7200),
    });
    assert_eq!(dispatch(&tracker).failed, 1);
    fx.collector.set_mode(Mode::Ok);
    assert_eq!(
        dispatch(&tracker).sent,
        1,
        "an explicit dispatch ignores the backoff"
    );
}

/// A server that answers with a gigabyte: the status decides, at most
/// 64 KiB is read, and memory stays put.
#[test]
fn a_huge_response_body_is_not_read() {
    fn peak_kb() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap()
    }
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    fx.collector.set_mode(Mode::HugeBody(1 << 30));
    let before = peak_kb();
    let start = Instant::now();
    screen(&tracker, "big");
    flush(&tracker);
    let took = start.elapsed();
    let grew_mb = (peak_kb() - before) / 1024;
    assert_eq!(seen.sent(HitStatus::Success), 1, "the status decides");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(grew_mb < 32, "peak RSS grew {grew_mb} MB");
}

/// Going back online sends what was stored while offline, with no new hit.
#[test]
fn the_network_coming_back_sends_what_was_stored() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    tracker.set_network_available(false);
    for name in names("o", 3) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3);
    assert!(fx.collector.hits().is_empty());
    tracker.set_network_available(true);
    assert!(fx.collector.wait_for_delivered(3, T));
    assert_eq!(pages(&fx.collector.delivered()), names("o", 3));
    assert!(eventually(T, || tracker.offline().count() == 0));
}
