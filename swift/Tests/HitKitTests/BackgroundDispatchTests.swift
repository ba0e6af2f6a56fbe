// BackgroundDispatch — the logic behind `offline.dispatch()` on iOS, tvOS and watchOS — driven
// by a fake runner standing for UIApplication's background task, against the real engine and
// collector process.
import Foundation
import XCTest
@testable import HitKit   // BackgroundDispatch.run, deadlineMs

/// Plays the system: grants `secondsLeft`, counts begins and ends, expires when told.
final class FakeRunner: BackgroundTimeRunner, @unchecked Sendable {
    let secondsLeft: Double?
    let expireBeforeBegan: Bool
    let names = Box<[String]>([])
    let ends = Box(0)
    private let expiry = Box<(@Sendable () -> Void)?>(nil)
    private let onEnd: @Sendable () -> Void

    init(secondsLeft: Double?, expireBeforeBegan: Bool = false, onEnd: @escaping @Sendable () -> Void = {}) {
        self.secondsLeft = secondsLeft
        self.expireBeforeBegan = expireBeforeBegan
        self.onEnd = onEnd
    }

    func begin(name: String,
               began: @escaping @Sendable (Double?, @escaping @Sendable () -> Void) -> Void,
               expired: @escaping @Sendable () -> Void) {
        names.mutate { $0.append(name) }
        expiry.mutate { $0 = expired }
        if expireBeforeBegan { expired() }
        began(secondsLeft) { [self] in
            onEnd()
            ends.mutate { $0 += 1 }
        }
    }

    /// The system wants its time back (UIKit's expiration handler).
    func expire() { expiry.value?() }
}

// `@unchecked Sendable`: see HitKitTests.
final class BackgroundDispatchTests: CollectorTestCase, @unchecked Sendable {
    /// A tracker holding `pages`, stored (`always` mode) and not yet sent.
    private func tracker(storing pages: [String], timeoutMs: Int64 = 2000) async throws -> Tracker {
        let dir = tempDir()
        var config = config(dir, storage: .always)
        config.requestTimeoutMs = timeoutMs
        let tracker = try Tracker(config: config)
        for page in pages { try tracker.sendScreen(name: page) }
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), Int64(pages.count))
        return tracker
    }

    func testTheDeadlineIsTheTimeLeftLessTheMarginAtMostTheLongest() {
        let background = BackgroundDispatch(runner: FakeRunner(secondsLeft: nil))
        XCTAssertEqual(background.deadlineMs(secondsLeft: 12), 7_000)
        XCTAssertEqual(background.deadlineMs(secondsLeft: nil), 25_000, "no limit: the longest")
        XCTAssertEqual(background.deadlineMs(secondsLeft: 600), 25_000)
        XCTAssertEqual(background.deadlineMs(secondsLeft: 3), 0, "too late for a request")
        let custom = BackgroundDispatch(runner: FakeRunner(secondsLeft: nil), margin: 1, longest: 9)
        XCTAssertEqual(custom.deadlineMs(secondsLeft: 4.5), 3_500)
        XCTAssertEqual(custom.deadlineMs(secondsLeft: nil), 9_000)
    }

    func testThePassGetsTheDeadlineAndTheTimeEndsOnceWhenItIsOver() {
        let runner = FakeRunner(secondsLeft: 12)
        let deadlines = Box<[Int64]>([])
        BackgroundDispatch(runner: runner).run { deadline in deadlines.mutate { $0.append(deadline) } }
        eventually("the time given back") { runner.ends.value == 1 }
        XCTAssertEqual(deadlines.value, [7_000])
        XCTAssertEqual(runner.names.value, ["HitKit dispatch"])

        // A pass already over when expiry comes: nothing more to end.
        runner.expire()
        XCTAssertEqual(runner.ends.value, 1)
    }

    /// The real pass: the time is given back once its deletes are on disk, not before.
    func testDispatchSendsEverythingThenEndsTheTimeExactlyOnce() async throws {
        let tracker = try await tracker(storing: ["b1", "b2", "b3"])
        let storedAtEnd = Box<[Int64]>([])
        let offline = tracker.offline
        let runner = FakeRunner(secondsLeft: nil) { storedAtEnd.mutate { $0.append(offline.count()) } }
        BackgroundDispatch(runner: runner).dispatch(offline)
        eventually("the time given back") { runner.ends.value == 1 }
        XCTAssertEqual(storedAtEnd.value, [0], "ended after the pass deleted what it sent")
        XCTAssertEqual(Collector.deliveredPages(), ["b1", "b2", "b3"])
        XCTAssertEqual(runner.names.value.count, 1, "one begin")
        runner.expire()
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(runner.ends.value, 1)
    }

    /// 6 s left, 5 s margin: the pass stops after 1 s although the collector hangs and requests
    /// may take 10 s; the hits it did not send stay stored, no attempt spent.
    func testDispatchPassesTheDeadlineToDispatchAndWait() async throws {
        let tracker = try await tracker(storing: ["d1", "d2"], timeoutMs: 10_000)
        Collector.setMode("hang")
        let runner = FakeRunner(secondsLeft: 6)
        let started = Date()
        BackgroundDispatch(runner: runner).dispatch(tracker.offline)
        eventually("the pass over", timeout: 8) { runner.ends.value == 1 }
        let took = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(took, 0.9)
        XCTAssertLessThan(took, 4, "stopped at its deadline, not the 10 s request timeout")
        XCTAssertEqual(tracker.offline.count(), 2)
        XCTAssertEqual(try tracker.offline.get().map(\.retryCount), [0, 0])
    }

    /// Expiry while the pass runs: the time is given back at once (the system would end the
    /// app otherwise); the pass still stops at its deadline, and ending it then does nothing.
    func testAnExpiryEndsTheTimeAtOnceAndOnlyOnce() async throws {
        let tracker = try await tracker(storing: ["e1"], timeoutMs: 10_000)
        Collector.setMode("hang")
        let runner = FakeRunner(secondsLeft: 6.5)
        let reports = Box<[DispatchReport]>([])
        let offline = tracker.offline
        BackgroundDispatch(runner: runner).run { deadline in
            if let report = try? await offline.dispatchAndWait(deadlineMs: deadline) {
                reports.mutate { $0.append(report) }
            }
        }
        eventually("the request under way") { Collector.requests().count == 1 }
        XCTAssertEqual(runner.ends.value, 0)
        runner.expire()
        XCTAssertEqual(runner.ends.value, 1, "ended in the expiry handler itself")
        XCTAssertTrue(reports.value.isEmpty, "the pass is still running")
        eventually("the pass over at its deadline", timeout: 8) { !reports.value.isEmpty }
        XCTAssertEqual(reports.value, [DispatchReport(sent: 0, failed: 0, dropped: 0, remaining: 1)])
        XCTAssertEqual(runner.ends.value, 1)
    }

    /// No time granted (the expiry comes before the time began): ended at once; the pass runs
    /// anyway, as the plain dispatch would, and does not end it again.
    func testAnExpiryBeforeTheTimeBeganEndsItAtOnce() async throws {
        let tracker = try await tracker(storing: ["x1"])
        let runner = FakeRunner(secondsLeft: nil, expireBeforeBegan: true)
        BackgroundDispatch(runner: runner).dispatch(tracker.offline)
        XCTAssertEqual(runner.ends.value, 1)
        eventually("delivered") { Collector.delivered().count == 1 }
        eventually("deleted") { tracker.offline.count() == 0 }
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(runner.ends.value, 1)
    }

    /// Here (Linux) there is no background time: the SmartTag SDK's line is the plain dispatch.
    func testTheSmartTagLineDispatchesWithoutBackgroundTimeHere() async throws {
        XCTAssertNil(BackgroundDispatch.platform)
        let tracker = try await tracker(storing: ["s1", "s2"])
        tracker.offline.dispatch()
        eventually("delivered") { Collector.delivered().count == 2 }
        XCTAssertEqual(Collector.deliveredPages(), ["s1", "s2"])
    }
}
