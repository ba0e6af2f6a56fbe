//! Dispatch and retry (contract §3).

mod common;
use common::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn stored(fx: &Fixture, n: usize) -> (std::sync::Arc<Tracker>, std::sync::Arc<Recorder>) {
    stored_tracker(fx.config(OfflineModeKey::Always), n)
}

#[test]
fn a_refused_hit_gets_exactly_three_attempts_then_is_deleted_and_reported() {
    let fx = Fixture::new();
    let (tracker, seen) = stored(&fx, 1);
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    let first = dispatch(&tracker);
    assert_eq!(
        first,
        DispatchReport {
            sent: 0,
            failed: 1,
            dropped: 0,
            remaining: 1
        }
    );
    assert_eq!(tracker.offline().oldest().unwrap().unwrap().retry_count, 1);
    assert_eq!(dispatch(&tracker).failed, 1);
    let last = dispatch(&tracker);
    assert_eq!(
        last,
        DispatchReport {
            sent: 0,
            failed: 0,
            dropped: 1,
            remaining: 0
        }
    );
    assert_eq!(fx.collector.hits().len(), 3, "exactly three requests");
    assert_eq!(dispatch(&tracker), DispatchReport::default());
    assert_eq!(fx.collector.hits().len(), 3);
    let warnings = seen.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("3 attempt(s)") && w.contains("HTTP 500")),
        "{warnings:?}"
    );
}

#[test]
fn max_attempts_is_configurable() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 1);
    tracker
        .set_config("maxAttempts".into(), "1".into(), None)
        .unwrap();
    fx.collector.set_mode(Mode::Status {
        code: 503,
        retry_after: Some(1),
    });
    assert_eq!(dispatch(&tracker).dropped, 1);
    assert_eq!(fx.collector.hits().len(), 1);
}

#[test]
fn success_deletes_each_hit_and_order_is_kept() {
    let fx = Fixture::new();
    let (tracker, seen) = stored(&fx, 20);
    let report = dispatch(&tracker);
    assert_eq!(
        report,
        DispatchReport {
            sent: 20,
            failed: 0,
            dropped: 0,
            remaining: 0
        }
    );
    assert_eq!(pages(&fx.collector.delivered()), names("h", 20));
    assert_eq!(seen.sent(HitStatus::Success), 20);
    // One keep-alive connection carries the whole pass.
    let hits = fx.collector.delivered();
    assert!(
        hits.iter()
            .all(|h| h.connection_id == hits[0].connection_id)
    );
}

#[test]
fn loss_of_connection_stops_the_pass_and_costs_no_attempt() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 5);
    for mode in [Mode::Refuse, Mode::Reset, Mode::ResetMidResponse] {
        fx.collector.set_mode(mode.clone());
        for _ in 0..5 {
            let report = dispatch(&tracker);
            assert_eq!(
                (report.sent, report.failed, report.dropped, report.remaining),
                (0, 0, 0, 5),
                "{mode:?}"
            );
        }
    }
    assert!(
        tracker
            .offline()
            .get()
            .unwrap()
            .iter()
            .all(|h| h.retry_count == 0)
    );
    fx.collector.set_mode(Mode::Ok);
    assert_eq!(dispatch(&tracker).sent, 5);
}

#[test]
fn offline_host_costs_no_attempt_and_sends_nothing() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 3);
    tracker.set_network_available(false);
    for _ in 0..4 {
        assert_eq!(dispatch(&tracker).remaining, 3);
    }
    assert!(fx.collector.hits().is_empty());
    assert!(
        tracker
            .offline()
            .get()
            .unwrap()
            .iter()
            .all(|h| h.retry_count == 0)
    );
    tracker.set_network_available(true);
    // `always` mode: coming back online does not send by itself.
    std::thread::sleep(Duration::from_millis(200));
    assert!(fx.collector.hits().is_empty());
    assert_eq!(dispatch(&tracker).sent, 3);
}

#[test]
fn deadline_is_respected_and_nothing_is_lost() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 3);
    fx.collector.set_mode(Mode::Hang);
    let start = Instant::now();
    let report = wait(tracker.offline().dispatch_and_wait(Some(300), false)).unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(
        report,
        DispatchReport {
            sent: 0,
            failed: 0,
            dropped: 0,
            remaining: 3
        }
    );
    assert!(
        tracker
            .offline()
            .get()
            .unwrap()
            .iter()
            .all(|h| h.retry_count == 0)
    );
    fx.collector.set_mode(Mode::Ok);
    assert_eq!(dispatch(&tracker).sent, 3);
}

#[test]
fn deadline_stops_a_slow_pass_between_hits() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 10);
    fx.collector
        .set_mode(Mode::Delay(Duration::from_millis(100)));
    let report = wait(tracker.offline().dispatch_and_wait(Some(350), false)).unwrap();
    assert!(report.sent >= 1 && report.sent < 10, "{report:?}");
    assert_eq!(report.sent + report.remaining, 10);
    fx.collector.set_mode(Mode::Ok);
    assert_eq!(dispatch(&tracker).sent, report.remaining);
}

#[test]
fn concurrency_above_one_delivers_everything_on_kept_alive_connections() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 200);
    tracker
        .set_config("dispatchConcurrency".into(), "8".into(), None)
        .unwrap();
    let report = dispatch(&tracker);
    assert_eq!(report.sent, 200);
    let mut got = pages(&fx.collector.delivered());
    got.sort();
    let mut want = names("h", 200);
    want.sort();
    assert_eq!(got, want);
    let connections: std::collections::HashSet<_> = fx
        .collector
        .delivered()
        .iter()
        .map(|h| h.connection_id)
        .collect();
    // Kept alive: 200 hits over a handful of connections (the pool may open
    // a few more than 8 when a busy machine returns one late).
    assert!(connections.len() <= 32, "{} connections", connections.len());
}

#[test]
fn automatic_passes_back_off_after_a_failed_pass_but_dispatch_does_not() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "a");
    flush(&tracker);
    // The backlog exists: "b" triggers a pass, which fails; backoff starts.
    screen(&tracker, "b");
    flush(&tracker);
    fx.collector.set_mode(Mode::Ok);
    // Within the backoff, a new hit does not trigger a pass: stored behind.
    screen(&tracker, "c");
    flush(&tracker);
    assert!(fx.collector.hits().is_empty());
    assert_eq!(tracker.offline().count(), 3);
    // An explicit dispatch runs at once.
    assert_eq!(dispatch(&tracker).sent, 3);
    assert_eq!(pages(&fx.collector.delivered()), ["a", "b", "c"]);
}

#[test]
fn hits_deleted_during_a_pass_are_not_brought_back() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 30);
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    tracker.offline().dispatch(false);
    assert!(fx.collector.wait_for_requests(3, T));
    tracker.offline().delete().unwrap();
    flush(&tracker);
    assert!(eventually(T, || tracker.offline().count() == 0));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(tracker.offline().count(), 0);
    assert!(tracker.offline().get().unwrap().is_empty());
}

#[test]
fn the_deadline_holds_even_when_the_worker_is_busy_with_a_live_send() {
    let fx = Fixture::new();
    let config = TrackerConfig {
        request_timeout_ms: 3_000,
        ..fx.config(OfflineModeKey::Required)
    };
    let (tracker, _) = tracker_with(config);
    fx.collector.set_mode(Mode::Hang);
    // The worker now waits up to 3 s on this live send.
    screen(&tracker, "hanging");
    assert!(fx.collector.wait_for_requests(1, T));
    let start = Instant::now();
    let report = wait(tracker.offline().dispatch_and_wait(Some(300), false)).unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(report.sent, 0);
    flush(&tracker);
    assert_eq!(
        tracker.offline().count(),
        1,
        "the hanging hit is stored, not lost"
    );
}

#[test]
fn absurd_deadlines_are_no_deadline_and_never_panic() {
    let fx = Fixture::new();
    let (tracker, _) = stored(&fx, 2);
    assert_eq!(
        wait(tracker.offline().dispatch_and_wait(Some(i64::MAX), false))
            .unwrap()
            .sent,
        2
    );
    screen(&tracker, "x");
    flush(&tracker);
    let report = wait(tracker.offline().dispatch_and_wait(Some(0), false)).unwrap();
    assert_eq!((report.sent, report.remaining), (0, 1));
    match wait(tracker.offline().dispatch_and_wait(Some(-1), false)) {
        Err(TrackerError::InvalidParameter { key, .. }) => assert_eq!(key, "deadlineMs"),
        other => panic!("a negative deadline: {other:?}"),
    }
    assert_eq!(
        tracker.offline().count(),
        1,
        "a refused call changes nothing"
    );
}
