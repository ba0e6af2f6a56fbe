//! Many threads, racing dispatches, a flapping collector: every hit is
//! accounted for and none reaches the collector twice.

mod common;
use common::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const THREADS: usize = 8;
const PER_THREAD: usize = 1000;

fn race(storage: OfflineModeKey) {
    let fx = Fixture::new();
    // A refused connection fails at once; the timeout only has to outlast
    // a slow answer on a loaded machine (a timeout would make a duplicate).
    let config = TrackerConfig {
        request_timeout_ms: 5_000,
        ..fx.config(storage)
    };
    let (tracker, seen) = tracker_with(config);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let tracker = tracker.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    tracker
                        .send(vec![HitParam::new("n", format!("{t}-{i}"))])
                        .unwrap();
                    if i % 97 == 0 {
                        tracker.offline().dispatch(false);
                    }
                }
            })
        })
        .collect();
    {
        let collector = &fx.collector;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut up = true;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(15));
                    up = !up;
                    collector.set_mode(if up { Mode::Ok } else { Mode::Refuse });
                }
                collector.set_mode(Mode::Ok);
            });
            for producer in producers {
                producer.join().unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    }
    flush(&tracker);

    let produced = THREADS * PER_THREAD;
    let delivered: Vec<String> = fx
        .collector
        .delivered()
        .iter()
        .map(|h| h.param("n").unwrap().to_owned())
        .collect();
    let unique: HashSet<_> = delivered.iter().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "a hit reached the collector twice"
    );
    let stored = tracker.offline().count() as usize;
    // Loss of connection never drops a hit: nothing failed, nothing dropped.
    assert_eq!(seen.sent(HitStatus::Failed), 0);
    assert!(seen.warnings().is_empty(), "{:?}", seen.warnings());
    assert_eq!(
        delivered.len() + stored,
        produced,
        "delivered {} + stored {stored}",
        delivered.len()
    );
    // Drain what is left: everything arrives exactly once.
    while tracker.offline().count() > 0 {
        dispatch(&tracker);
    }
    let delivered = fx.collector.delivered();
    let unique: HashSet<_> = delivered
        .iter()
        .map(|h| h.param("n").unwrap().to_owned())
        .collect();
    assert_eq!((unique.len(), delivered.len()), (produced, produced));
    // One at a time (dispatchConcurrency 1): each thread's hits arrive in
    // the order that thread made them.
    let mut next = [0usize; THREADS];
    for hit in &delivered {
        let (t, i) = hit.param("n").unwrap().split_once('-').unwrap();
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[t], "thread {t}: hit {i} arrived out of order");
        next[t] += 1;
    }
}

#[test]
fn always_mode_with_racing_dispatches() {
    race(OfflineModeKey::Always);
}

#[test]
fn required_mode_with_a_flapping_collector() {
    race(OfflineModeKey::Required);
}
