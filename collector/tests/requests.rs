//! Request handling: keep-alive, decoding, recording and waiting.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{connect, get, read_response, read_to_end, send};
use hitkit_collector::Collector;

const WAIT: Duration = Duration::from_secs(2);

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let collector = Collector::start().unwrap();
    let mut stream = connect(collector.port()).unwrap();
    for n in 1..=2 {
        send(&mut stream, &format!("/hit.xiti?n={n}"), "").unwrap();
        let response = read_response(&mut stream).unwrap();
        assert_eq!(
            (response.status, response.header("Connection")),
            (200, None)
        );
    }
    get(collector.port(), "/hit.xiti?n=3").unwrap();

    let ids: Vec<_> = collector
        .delivered()
        .iter()
        .map(|h| h.connection_id)
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "same connection reused");
    assert_ne!(ids[1], ids[2], "a new connection gets a new id");
}

#[test]
fn connection_close_is_honoured() {
    let collector = Collector::start().unwrap();
    let mut stream = connect(collector.port()).unwrap();
    send(&mut stream, "/hit.xiti", "Connection: close\r\n").unwrap();
    let response = read_response(&mut stream).unwrap();
    assert_eq!(response.header("Connection"), Some("close"));
    let (rest, end) = read_to_end(&mut stream);
    assert!(
        rest.is_empty() && end.is_ok(),
        "server closes after answering"
    );
}

#[test]
fn bodies_are_skipped_and_the_connection_stays_usable() {
    let collector = Collector::start().unwrap();
    let mut stream = connect(collector.port()).unwrap();
    stream
        .write_all(b"POST /hit.xiti?a=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    send(&mut stream, "/hit.xiti?a=2", "").unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    let values: Vec<_> = collector
        .hits()
        .iter()
        .map(|h| h.param("a").unwrap().to_owned())
        .collect();
    assert_eq!(values, ["1", "2"]);
}

#[test]
fn query_is_kept_raw_and_decoded_in_order() {
    let collector = Collector::start().unwrap();
    let query = "s=123&idclient=ab-12&p=Home%20Page&x=a+b&e=%C3%A9t%C3%A9&s=dup&bad=%FF&flag";
    get(collector.port(), &format!("/hit.xiti?{query}")).unwrap();
    let hit = &collector.hits()[0];
    assert_eq!(
        (hit.path.as_str(), hit.query.as_str()),
        ("/hit.xiti", query)
    );
    assert_eq!(hit.param("p"), Some("Home Page"));
    assert_eq!(hit.param("x"), Some("a+b"), "'+' is not a space");
    assert_eq!(hit.param("e"), Some("été"));
    assert_eq!(hit.param("s"), Some("123"), "first value wins");
    assert_eq!(
        hit.param("bad"),
        Some("\u{FFFD}"),
        "invalid UTF-8 is decoded lossily"
    );
    assert_eq!(hit.param("flag"), Some(""));
    assert_eq!(hit.param("missing"), None);
    let keys: Vec<_> = hit.params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["s", "idclient", "p", "x", "e", "s", "bad", "flag"]);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now_ms.abs_diff(hit.received_at_ms) < 10_000);
}

#[test]
fn malformed_requests_get_400_and_are_not_recorded() {
    let collector = Collector::start().unwrap();
    let mut stream = connect(collector.port()).unwrap();
    stream.write_all(b"NONSENSE\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 400);
    assert!(collector.hits().is_empty());
}

#[test]
fn waiting_clearing_and_live_callbacks() {
    let collector = Collector::start().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    collector.on_hit(move |hit| {
        sink.lock()
            .unwrap()
            .push((hit.param("n").map(str::to_owned), hit.answered))
    });

    let started = Instant::now();
    assert!(!collector.wait_for_delivered(1, Duration::from_millis(50)));
    assert!(started.elapsed() >= Duration::from_millis(50));

    let port = collector.port();
    let client = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        get(port, "/hit.xiti?n=1").unwrap();
    });
    assert!(collector.wait_for_delivered(1, WAIT));
    assert!(collector.wait_for_requests(1, Duration::ZERO));
    client.join().unwrap();
    assert_eq!(*seen.lock().unwrap(), [(Some("1".to_owned()), Some(200))]);

    collector.clear();
    assert!(collector.hits().is_empty() && collector.delivered().is_empty());
}
