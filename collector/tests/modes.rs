//! Each `Mode` behaves as documented, observed through real sockets.

mod common;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use common::{connect, get, read_response, read_to_end, send};
use hitkit_collector::{Collector, Mode};

const WAIT: Duration = Duration::from_secs(2);

#[test]
fn ok_answers_200_with_empty_body() {
    let collector = Collector::start().unwrap();
    let response = get(collector.port(), "/hit.xiti?s=1").unwrap();
    assert_eq!((response.status, response.body.as_str()), (200, ""));
    assert_eq!(response.header("Content-Length"), Some("0"));
    let delivered = collector.delivered();
    assert_eq!(
        delivered.len(),
        1,
        "a hit is recorded before its answer is sent"
    );
    assert_eq!(delivered[0].answered, Some(200));
    assert_eq!(
        collector.endpoint(),
        format!("http://127.0.0.1:{}/hit.xiti", collector.port())
    );
}

#[test]
fn status_answers_the_code_and_retry_after() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::Status {
        code: 503,
        retry_after: Some(5),
    });
    let response = get(collector.port(), "/hit.xiti").unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(response.header("Retry-After"), Some("5"));

    collector.set_mode(Mode::Status {
        code: 404,
        retry_after: None,
    });
    let response = get(collector.port(), "/hit.xiti").unwrap();
    assert_eq!(
        (response.status, response.header("Retry-After")),
        (404, None)
    );

    let answered: Vec<_> = collector.hits().iter().map(|h| h.answered).collect();
    assert_eq!(answered, [Some(503), Some(404)]);
    assert!(collector.delivered().is_empty());
}

#[test]
fn refuse_closes_the_port_and_coming_back_rebinds_it() {
    let collector = Collector::start().unwrap();
    let port = collector.port();
    let mut open = connect(port).unwrap();
    send(&mut open, "/hit.xiti?n=1", "").unwrap();
    assert_eq!(read_response(&mut open).unwrap().status, 200);

    collector.set_mode(Mode::Refuse);
    assert_eq!(collector.mode(), Mode::Refuse);
    let err = connect(port).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    let (bytes, _) = read_to_end(&mut open);
    assert!(
        bytes.is_empty(),
        "open connections are closed without an answer"
    );

    collector.set_mode(Mode::Ok);
    assert_eq!(get(port, "/hit.xiti?n=2").unwrap().status, 200);
    assert_eq!(collector.delivered().len(), 2);
}

#[test]
fn reset_answers_nothing_and_resets() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::Reset);
    let mut stream = connect(collector.port()).unwrap();
    send(&mut stream, "/hit.xiti?s=1", "").unwrap();
    let (bytes, end) = read_to_end(&mut stream);
    assert!(bytes.is_empty());
    assert_eq!(end.unwrap_err().kind(), ErrorKind::ConnectionReset);
    let hits = collector.hits();
    assert_eq!((hits.len(), hits[0].answered), (1, None));
}

#[test]
fn reset_mid_response_sends_an_incomplete_head() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::ResetMidResponse);
    let mut stream = connect(collector.port()).unwrap();
    send(&mut stream, "/hit.xiti", "").unwrap();
    let (bytes, end) = read_to_end(&mut stream);
    assert!(
        !bytes.windows(4).any(|w| w == b"\r\n\r\n"),
        "got a complete head: {bytes:?}"
    );
    // The partial bytes may be discarded by the reset, but the reset itself shows.
    assert_eq!(end.unwrap_err().kind(), ErrorKind::ConnectionReset);
    assert_eq!(collector.hits()[0].answered, None);
}

#[test]
fn hang_never_answers_until_the_mode_changes() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::Hang);
    let mut stream = connect(collector.port()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    send(&mut stream, "/hit.xiti", "").unwrap();
    assert!(collector.wait_for_requests(1, WAIT));
    let err = stream.read(&mut [0u8; 16]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );

    collector.set_mode(Mode::Ok);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (bytes, _) = read_to_end(&mut stream);
    assert!(
        bytes.is_empty(),
        "a hung request is dropped, never answered late"
    );
    assert_eq!(collector.hits()[0].answered, None);
}

#[test]
fn redirect_answers_302_with_a_location_that_answers_200() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::Redirect);
    let response = get(collector.port(), "/hit.xiti?s=1&p=home").unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(
        response.header("Location"),
        Some("/redirected?s=1&p=home"),
        "the same query, so a followed redirect reads as the same hit"
    );
    assert_eq!(
        get(collector.port(), "/hit.xiti")
            .unwrap()
            .header("Location"),
        Some("/redirected")
    );
    assert!(collector.delivered().is_empty(), "a 302 is not a delivery");

    // What a client that follows the redirect does next.
    let followed = get(collector.port(), "/redirected?s=1&p=home").unwrap();
    assert_eq!((followed.status, followed.header("Location")), (200, None));
    let answered: Vec<_> = collector
        .hits()
        .iter()
        .map(|h| (h.path.clone(), h.answered))
        .collect();
    assert_eq!(
        answered,
        [
            ("/hit.xiti".to_owned(), Some(302)),
            ("/hit.xiti".to_owned(), Some(302)),
            ("/redirected".to_owned(), Some(200)),
        ]
    );
    assert_eq!(collector.delivered()[0].param("p"), Some("home"));

    collector.set_mode(Mode::Ok);
    assert_eq!(get(collector.port(), "/hit.xiti").unwrap().status, 200);
}

#[test]
fn delay_answers_after_the_delay() {
    let collector = Collector::start().unwrap();
    collector.set_mode(Mode::Delay(Duration::from_millis(200)));
    let started = Instant::now();
    let response = get(collector.port(), "/hit.xiti").unwrap();
    assert_eq!(response.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(collector.delivered().len(), 1);
}

#[test]
fn start_on_a_fixed_port_and_stop_frees_it() {
    let port = Collector::start().map(|c| c.port()).unwrap(); // dropped: port free again
    let collector = Collector::start_on(port).unwrap();
    assert_eq!(collector.port(), port);
    assert!(Collector::start_on(port).is_err(), "the port is taken");
    collector.stop();
    assert_eq!(
        connect(port).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn works_from_inside_another_tokio_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let collector = Collector::start().unwrap();
        collector.set_mode(Mode::Refuse);
        collector.set_mode(Mode::Ok);
        let port = collector.port();
        let status = tokio::task::spawn_blocking(move || get(port, "/hit.xiti").unwrap().status)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert!(collector.wait_for_delivered(1, WAIT));
        drop(collector);
    });
}
