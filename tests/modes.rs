//! The three storage modes, (contract §2).

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn never_delivers_live_and_stores_nothing() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    for name in names("home", 3) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(pages(&fx.collector.delivered()), names("home", 3));
    assert_eq!(tracker.offline().count(), 0);
    assert_eq!(seen.sent(HitStatus::Success), 3);
    assert_eq!(seen.saved(), 0);
}

#[test]
fn never_loses_a_hit_sent_while_the_connection_is_lost() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Never);
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "lost");
    flush(&tracker);
    assert_eq!(seen.sent(HitStatus::Failed), 1);
    assert_eq!(tracker.offline().count(), 0);
    fx.collector.set_mode(Mode::Ok);
    assert_eq!(dispatch(&tracker).sent, 0);
    assert!(fx.collector.hits().is_empty());
}

#[test]
fn never_is_the_default_mode() {
    let fx = Fixture::new();
    let config = TrackerConfig {
        storage: None,
        ..fx.config(OfflineModeKey::Never)
    };
    let (tracker, _) = tracker_with(config);
    assert_eq!(tracker.offline_mode(), OfflineModeKey::Never);
}

#[test]
fn required_stores_on_loss_of_connection_and_dispatch_delivers_oldest_first() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Required);
    screen(&tracker, "live");
    flush(&tracker);
    assert_eq!(pages(&fx.collector.delivered()), ["live"]);

    fx.collector.set_mode(Mode::Refuse);
    for name in names("off", 3) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 3);
    assert_eq!(
        seen.saved(),
        3,
        "save_did_end after the flush: {:?}",
        seen.all()
    );

    fx.collector.set_mode(Mode::Ok);
    let report = dispatch(&tracker);
    assert_eq!(
        report,
        DispatchReport {
            sent: 3,
            failed: 0,
            dropped: 0,
            remaining: 0
        }
    );
    let delivered = pages(&fx.collector.delivered());
    assert_eq!(delivered, ["live", "off0", "off1", "off2"]);
    assert_eq!(tracker.offline().count(), 0);
}

#[test]
fn required_new_hit_goes_behind_the_backlog_when_the_backlog_cannot_leave() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "a");
    screen(&tracker, "b");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 2);
    // Back online, but the collector refuses everything: the stored hits use
    // attempts and stay, so the new hit is stored behind them, not sent.
    fx.collector.set_mode(Mode::Status {
        code: 500,
        retry_after: None,
    });
    screen(&tracker, "c");
    flush(&tracker);
    let stored = stored_urls(&tracker);
    assert_eq!(stored.len(), 3);
    assert!(stored[2].contains("p=c"), "{stored:?}");
    assert!(
        fx.collector
            .hits()
            .iter()
            .all(|h| h.param("p") != Some("c"))
    );
}

#[test]
fn required_new_hit_first_sends_the_backlog_then_itself() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    fx.collector.set_mode(Mode::Refuse);
    screen(&tracker, "first");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 1);
    fx.collector.set_mode(Mode::Ok);
    screen(&tracker, "second");
    flush(&tracker);
    assert_eq!(pages(&fx.collector.delivered()), ["first", "second"]);
    assert_eq!(tracker.offline().count(), 0);
    let hits = fx.collector.delivered();
    assert_eq!(hits[0].param("cn"), Some("offline"));
    assert_eq!(
        hits[1].param("cn"),
        None,
        "the live hit is not marked offline"
    );
}

#[test]
fn required_does_not_store_a_hit_the_collector_refused() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Required);
    fx.collector.set_mode(Mode::Status {
        code: 404,
        retry_after: None,
    });
    screen(&tracker, "gone");
    flush(&tracker);
    assert_eq!(fx.collector.hits().len(), 1);
    assert_eq!(tracker.offline().count(), 0);
    assert_eq!(seen.sent(HitStatus::Failed), 1);
}

#[test]
fn required_stores_on_timeout_and_on_reset() {
    for mode in [Mode::Hang, Mode::Reset, Mode::ResetMidResponse] {
        let fx = Fixture::new();
        let config = TrackerConfig {
            request_timeout_ms: 300,
            ..fx.config(OfflineModeKey::Required)
        };
        let (tracker, _) = tracker_with(config);
        fx.collector.set_mode(mode.clone());
        screen(&tracker, "x");
        flush(&tracker);
        assert_eq!(tracker.offline().count(), 1, "{mode:?}");
    }
}

#[test]
fn required_stores_while_the_host_says_offline_without_trying() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Required);
    tracker.set_network_available(false);
    screen(&tracker, "a");
    flush(&tracker);
    assert_eq!(tracker.offline().count(), 1);
    assert!(fx.collector.hits().is_empty());
    // Coming back online sends the backlog by itself.
    tracker.set_network_available(true);
    assert!(fx.collector.wait_for_delivered(1, T));
    assert!(eventually(T, || tracker.offline().count() == 0));
}

#[test]
fn always_sends_nothing_until_dispatch() {
    let fx = Fixture::new();
    let (tracker, seen) = fx.tracker(OfflineModeKey::Always);
    for name in names("s", 4) {
        screen(&tracker, &name);
    }
    flush(&tracker);
    assert!(fx.collector.hits().is_empty());
    assert_eq!(tracker.offline().count(), 4);
    assert_eq!(seen.saved(), 4);
    tracker.offline().dispatch(false);
    assert!(fx.collector.wait_for_delivered(4, T));
    assert_eq!(pages(&fx.collector.delivered()), names("s", 4));
    assert!(eventually(T, || tracker.offline().count() == 0));
}

#[test]
fn mode_changes_apply_in_call_order_and_call_back() {
    let fx = Fixture::new();
    let (tracker, _) = fx.tracker(OfflineModeKey::Never);
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Heard(std::sync::Arc<std::sync::Mutex<Vec<bool>>>);
    impl SetConfigCallback for Heard {
        fn on_set(&self, is_set: bool) {
            self.0.lock().unwrap().push(is_set);
        }
    }
    tracker.set_offline_mode(
        OfflineModeKey::Always,
        Some(std::sync::Arc::new(Heard(heard.clone()))),
    );
    assert_eq!(tracker.offline_mode(), OfflineModeKey::Always);
    screen(&tracker, "kept");
    tracker
        .set_config(
            "storage".into(),
            "never".into(),
            Some(std::sync::Arc::new(Heard(heard.clone()))),
        )
        .unwrap();
    screen(&tracker, "live");
    flush(&tracker);
    assert_eq!(*heard.lock().unwrap(), [true, true]);
    assert_eq!(tracker.offline().count(), 1);
    assert_eq!(pages(&fx.collector.delivered()), ["live"]);
    // Hits stored under another mode stay dispatchable in `never`.
    assert_eq!(dispatch(&tracker).sent, 1);
}
