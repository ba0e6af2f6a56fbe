// The delegate's messages as an AsyncStream (Tracker.events), against the real engine and a
// real collector process. The same checks run from Kotlin (HitKitEventsTest.kt).
import Foundation
import XCTest
import HitKit

// `@unchecked Sendable`: XCTest makes one instance per test method and runs them one at a time.
final class HitKitEventsTests: CollectorTestCase, @unchecked Sendable {
    /// What a stream gave within `timeout` seconds: its first `count` events (all of them when
    /// nil), and whether it finished by itself.
    private func collect(_ stream: AsyncStream<TrackerEvent>, count: Int? = nil,
                         timeout: TimeInterval = 10) async -> (events: [TrackerEvent], finished: Bool) {
        let reader = Task { () -> ([TrackerEvent], Bool) in
            var events: [TrackerEvent] = []
            for await event in stream {
                events.append(event)
                if events.count == count { return (events, false) }
            }
            return (events, !Task.isCancelled)   // a cancelled iteration ends as if finished
        }
        let watchdog = Task {
            try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            reader.cancel()
        }
        let result = await reader.value
        watchdog.cancel()
        return result
    }

    private func kind(_ event: TrackerEvent) -> String {
        switch event {
        case .buildDidEnd(let status, _): return "build \(status)"
        case .sendDidEnd(let status, _): return "send \(status)"
        case .saveDidEnd: return "save"
        case .warningDidOccur: return "warning"
        case .errorDidOccur: return "error"
        }
    }

    private func message(_ event: TrackerEvent) -> String {
        switch event {
        case .buildDidEnd(_, let message), .sendDidEnd(_, let message), .saveDidEnd(let message),
             .warningDidOccur(let message), .errorDidOccur(let message):
            return message
        }
    }

    func testAStoredThenDispatchedHitArrivesInOrder() async throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .required))
        let stream = tracker.events()
        Collector.setMode("refuse")   // no connection: the hit is stored
        try tracker.sendScreen(name: "stored")
        try await tracker.flush()
        Collector.setMode("ok")
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, 1)

        let got = await collect(stream, count: 3).events
        XCTAssertEqual(got.map(kind), ["build success", "save", "send success"])
        for event in got { XCTAssertTrue(message(event).contains("p=stored"), "\(event)") }
        XCTAssertTrue(got.count == 3 && message(got[1]).contains("cn=offline"), "\(got)")
        XCTAssertEqual(Collector.deliveredPages(), ["stored"])
    }

    func testEventsReplacesTheDelegateSetBeforeAndAnotherDelegateEndsTheStream() async throws {
        let tracker = try Tracker(config: config(tempDir()))
        let before = Recorder()
        tracker.setDelegate(before)
        let stream = tracker.events()
        try tracker.sendScreen(name: "live")
        try await tracker.flush()
        tracker.setDelegate(nil)   // HitKit lets go of the stream's delegate: the stream ends
        let got = await collect(stream)
        XCTAssertTrue(got.finished, "the stream did not finish: \(got.events)")
        XCTAssertEqual(got.events.map(kind), ["build success", "send success"])
        XCTAssertTrue(before.all.isEmpty)
    }

    func testTheStreamEndsWithTheTracker() async throws {
        var tracker: Tracker? = try Tracker(config: config(tempDir()))
        let stream = tracker!.events()
        try tracker!.sendScreen(name: "last")
        try await tracker!.flush()
        tracker = nil
        let got = await collect(stream)
        XCTAssertTrue(got.finished, "the stream did not finish: \(got.events)")
        XCTAssertEqual(got.events.map(kind), ["build success", "send success"])
    }

    func testForwardingToKeepsADelegateInTheLoop() async throws {
        let tracker = try Tracker(config: config(tempDir()))
        let kept = Recorder()
        let stream = tracker.events(forwardingTo: kept)
        try tracker.sendScreen(name: "both")
        try await tracker.flush()
        let got = await collect(stream, count: 2).events
        XCTAssertEqual(got.map(kind), ["build success", "send success"])
        eventually("the kept delegate's two messages") { kept.all.count == 2 }
        XCTAssertEqual(kept.all.map(\.kind), ["build", "send"])
        XCTAssertEqual(kept.all.map(\.message), got.map(message))
    }

    func testWarningsArriveAsWarningDidOccur() async throws {
        var given = config(tempDir())
        given.maxHitSize = 256
        let tracker = try Tracker(config: given)
        let stream = tracker.events()
        try tracker.sendScreen(name: "big", params: [HitParam(key: "huge", value: String(repeating: "x", count: 1000))])
        try await tracker.flush()
        tracker.setDelegate(nil)
        let warnings = await collect(stream).events.filter { kind($0) == "warning" }
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first.map(message)?.contains("`huge` cannot fit") ?? false, "\(warnings)")
    }
}
