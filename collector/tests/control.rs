//! The HTTP control API used to drive a collector from another process.

mod common;

use std::io::ErrorKind;

use common::{connect, get, read_response, send};
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
        ("reset", Mode::Reset),
        ("ok", Mode::Ok),
    ] {
        let response = get(control, &format!("/mode?set={set}")).unwrap();
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
        let response = get(control, bad).unwrap();
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
    send(&mut stream, "/mode?set=refuse", "").unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    assert_eq!(
        connect(collector.port()).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    send(&mut stream, "/mode?set=ok", "").unwrap();
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

    assert_eq!(get(control, "/clear").unwrap().status, 200);
    assert!(collector.hits().is_empty());
    assert_eq!(get(control, "/hits").unwrap().body, "[]");
}
