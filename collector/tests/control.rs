//! The HTTP control API used to drive a collector from another process.

mod common;

use std::io::ErrorKind;

use common::{connect, get, post, raw, read_response, send_method};
use hitkit_collector::{Collector, Mode, ReceivedHit};
use serde_json::Value;

fn control() -> (Collector, u16) {
    let collector = Collector::start().unwrap();
    let port = collector.start_control(0).unwrap();
    assert_ne!(port, collector.port());
    (collector, port)
}

#[test]
fn mode_route_switches_and_reports() {
    let (collector, control) = control();
    for (set, want) in [
        (
            "503&retry_after=9",
            Mode::Status {
                code: 503,
                retry_after: Some(9),
            },
        ),
        (
            "429",
            Mode::Status {
                code: 429,
                retry_after: None,
            },
        ),
        (
            "delay-20",
            Mode::Delay(std::time::Duration::from_millis(20)),
        ),
        ("reset-mid", Mode::ResetMidResponse),
        ("hang", Mode::Hang),
        ("redirect", Mode::Redirect),
        ("reset", Mode::Reset),
        ("ok", Mode::Ok),
    ] {
        let response = post(control, &format!("/mode?set={set}")).unwrap();
        assert_eq!(
            (response.status, response.body.as_str()),
            (200, "ok"),
            "{set}"
        );
        assert_eq!(collector.mode(), want);
        assert_eq!(get(control, "/mode").unwrap().body, want.to_string());
    }
}

#[test]
fn mode_route_rejects_bad_values() {
    let (collector, control) = control();
    for bad in [
        "/mode?set=sideways",
        "/mode?set=42",
        "/mode?set=hang&retry_after=3",
        "/mode?set=503&retry_after=x",
    ] {
        let response = post(control, bad).unwrap();
        assert_eq!(response.status, 400, "{bad}");
        assert!(!response.body.is_empty(), "400 explains itself");
    }
    assert_eq!(get(control, "/nope").unwrap().status, 404);
    assert_eq!(collector.mode(), Mode::Ok);
}

#[test]
fn control_stays_up_while_refusing() {
    let (collector, control) = control();
    // Keep-alive on the control connection too.
    let mut stream = connect(control).unwrap();
    send_method(&mut stream, "POST", "/mode?set=refuse", "").unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    assert_eq!(
        connect(collector.port()).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    send_method(&mut stream, "POST", "/mode?set=ok", "").unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    assert_eq!(get(collector.port(), "/hit.xiti").unwrap().status, 200);
}

#[test]
fn hits_delivered_count_and_clear() {
    let (collector, control) = control();
    get(collector.port(), "/hit.xiti?s=1&p=A%20B").unwrap();
    collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    get(collector.port(), "/hit.xiti?s=2").unwrap();

    let hits: Vec<ReceivedHit> =
        serde_json::from_str(&get(control, "/hits").unwrap().body).unwrap();
    assert_eq!(hits, collector.hits());
    let raw: Value = serde_json::from_str(&get(control, "/hits").unwrap().body).unwrap();
    assert_eq!(raw[0]["params"][1], serde_json::json!(["p", "A B"]));
    assert_eq!(raw[0]["answered"], 200);
    assert_eq!(raw[1]["answered"], 500);
    assert!(raw[1]["received_at_ms"].is_u64() && raw[1]["connection_id"].is_u64());

    let delivered: Value = serde_json::from_str(&get(control, "/delivered").unwrap().body).unwrap();
    assert_eq!(delivered.as_array().unwrap().len(), 1);
    assert_eq!(delivered[0]["query"], "s=1&p=A%20B");

    let count = get(control, "/count").unwrap();
    assert_eq!(count.header("Content-Type"), Some("application/json"));
    let count: Value = serde_json::from_str(&count.body).unwrap();
    assert_eq!(count, serde_json::json!({"requests": 2, "delivered": 1}));

    assert_eq!(post(control, "/clear").unwrap().status, 200);
    assert!(collector.hits().is_empty());
    assert_eq!(get(control, "/hits").unwrap().body, "[]");
}

// --- who may use it -----------------------------------------------------------
// A page the developer visits can reach 127.0.0.1 too: through a link or an
// image (GET), a cross-site form (POST with its Origin), or DNS rebinding
// (its own host name, resolving to 127.0.0.1, in the Host header).

#[test]
fn state_changes_need_post_and_reads_need_get() {
    let (collector, control) = control();
    get(collector.port(), "/hit.xiti?s=1").unwrap();

    for target in ["/mode?set=refuse", "/mode?set=500&retry_after=1", "/clear"] {
        let response = get(control, target).unwrap();
        assert_eq!(response.status, 405, "GET {target}: {}", response.body);
        assert_eq!(response.header("Allow"), Some("POST"), "GET {target}");
        assert!(
            response.body.contains("POST") && !response.body.contains('\n'),
            "one line saying what to do: {:?}",
            response.body
        );
    }
    assert_eq!(collector.mode(), Mode::Ok, "a GET switched the mode");
    assert_eq!(collector.hits().len(), 1, "a GET cleared the hits");

    for target in ["/mode", "/hits", "/delivered", "/count"] {
        let response = post(control, target).unwrap();
        assert_eq!(response.status, 405, "POST {target}: {}", response.body);
        assert_eq!(response.header("Allow"), Some("GET"), "POST {target}");
    }
    assert_eq!(
        raw(control, "PUT", "/clear", "Host: 127.0.0.1\r\n")
            .unwrap()
            .status,
        405
    );
    assert_eq!(collector.hits().len(), 1);

    assert_eq!(post(control, "/clear").unwrap().status, 200);
    assert!(collector.hits().is_empty());
}

#[test]
fn control_refuses_hosts_other_than_loopback() {
    let (collector, control) = control();
    get(collector.port(), "/hit.xiti?s=1").unwrap();
    for host in [
        "evil.example".to_owned(),
        format!("evil.example:{control}"),
        format!("127.0.0.1.evil.example:{control}"),
        "localhost.evil.example".to_owned(),
        "127.0.0.2".to_owned(),
        "0.0.0.0".to_owned(),
        format!("[::2]:{control}"),
        String::new(),
    ] {
        let headers = format!("Host: {host}\r\n");
        for (method, target) in [
            ("GET", "/hits"),
            ("GET", "/mode"),
            ("POST", "/mode?set=refuse"),
            ("POST", "/clear"),
        ] {
            let response = raw(control, method, target, &headers).unwrap();
            assert_eq!(
                response.status, 403,
                "{method} {target} with Host {host:?}: {}",
                response.body
            );
            assert!(
                response.body.contains(&format!("{host:?}")),
                "names the host: {}",
                response.body
            );
        }
    }
    // The absolute form names its host in the target; it must be loopback too.
    let response = raw(
        control,
        "GET",
        "http://evil.example/hits",
        "Host: 127.0.0.1\r\n",
    )
    .unwrap();
    assert_eq!(response.status, 403, "{}", response.body);

    assert_eq!(collector.mode(), Mode::Ok);
    assert_eq!(collector.hits().len(), 1);
}

#[test]
fn control_needs_exactly_one_host_header() {
    let (collector, control) = control();
    let missing = raw(control, "GET", "/hits", "").unwrap();
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(missing.body.contains("Host"), "{}", missing.body);
    let two = raw(
        control,
        "POST",
        "/mode?set=refuse",
        "Host: 127.0.0.1\r\nHost: evil.example\r\n",
    )
    .unwrap();
    assert_eq!(two.status, 400, "{}", two.body);
    assert_eq!(collector.mode(), Mode::Ok);
}

#[test]
fn control_accepts_every_loopback_host() {
    let (collector, control) = control();
    for host in [
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{control}"),
        "localhost".to_owned(),
        format!("LocalHost:{control}"),
        "[::1]".to_owned(),
        format!("[::1]:{control}"),
    ] {
        let headers = format!("Host: {host}\r\n");
        let set = raw(control, "POST", "/mode?set=500", &headers).unwrap();
        assert_eq!((set.status, set.body.as_str()), (200, "ok"), "Host {host}");
        let read = raw(control, "GET", "/mode", &headers).unwrap();
        assert_eq!(
            (read.status, read.body.as_str()),
            (200, "500"),
            "Host {host}"
        );
        collector.set_mode(Mode::Ok);
    }
    // A local page (a developer's own tool on localhost) may use it too.
    let local = format!("Host: 127.0.0.1:{control}\r\nOrigin: http://localhost:3000\r\n");
    assert_eq!(raw(control, "POST", "/clear", &local).unwrap().status, 200);
}

#[test]
fn control_refuses_requests_from_other_origins() {
    let (collector, control) = control();
    get(collector.port(), "/hit.xiti?s=1").unwrap();
    // What a cross-site form POST to http://127.0.0.1:PORT/clear looks like.
    for origin in [
        "http://evil.example",
        "https://evil.example:8443",
        "http://127.0.0.1.evil.example",
        "null",
    ] {
        let headers = format!("Host: 127.0.0.1:{control}\r\nOrigin: {origin}\r\n");
        for (method, target) in [
            ("POST", "/clear"),
            ("POST", "/mode?set=refuse"),
            ("GET", "/hits"),
        ] {
            let response = raw(control, method, target, &headers).unwrap();
            assert_eq!(
                response.status, 403,
                "{method} {target} from {origin}: {}",
                response.body
            );
        }
    }
    assert_eq!(collector.mode(), Mode::Ok);
    assert_eq!(collector.hits().len(), 1);
}

#[test]
fn hit_port_takes_any_host() {
    // Apps reach the collector under the machine's name, an emulator's alias
    // for it, or with no Host at all: none of the control checks apply.
    let (collector, _control) = control();
    for headers in [
        "Host: dev-box.local:8080\r\n",
        "Host: 10.0.2.2:8080\r\n",
        "",
        "Host: a\r\nHost: b\r\nOrigin: http://evil.example\r\n",
    ] {
        let response = raw(collector.port(), "GET", "/hit.xiti?s=1", headers).unwrap();
        assert_eq!(response.status, 200, "{headers:?}");
    }
    assert_eq!(collector.delivered().len(), 4);
}
