// NetworkAvailability: the function NetworkPathMonitor (NWPathMonitor) calls on every path
// update, with a hand-driven clock, then against the real engine and collector process.
import Foundation
import XCTest
@testable import HitKit   // NetworkAvailability's clock

/// A clock the test moves: actions wait until `fire()`.
final class ManualClock: @unchecked Sendable {
    let delays = Box<[TimeInterval]>([])
    private let waiting = Box<[@Sendable () -> Void]>([])

    func later(_ delay: TimeInterval, _ action: @escaping @Sendable () -> Void) {
        delays.mutate { $0.append(delay) }
        waiting.mutate { $0.append(action) }
    }

    func fire() {
        let due = waiting.mutate { actions in
            defer { actions = [] }
            return actions
        }
        for action in due { action() }
    }

    var pending: Int { waiting.value.count }
}

// `@unchecked Sendable`: see HitKitTests.
final class NetworkAvailabilityTests: CollectorTestCase, @unchecked Sendable {
    private let clock = ManualClock()
    private let reports = Box<[Bool]>([])
    private lazy var availability: NetworkAvailability = {
        let clock = self.clock, reports = self.reports
        return NetworkAvailability(lossSettle: 1.5, later: { delay, action in clock.later(delay, action) }) { available in
            reports.mutate { $0.append(available) }
        }
    }()

    private func tracker() throws -> Tracker {
        let dir = tempDir()
        return try Tracker(config: config(dir, storage: .required))
    }

    func testReportsOnlyChangesAndAComebackAtOnce() {
        availability.update(true)
        availability.update(true)
        XCTAssertEqual(reports.value, [true], "the first update, then nothing new")

        availability.update(false)
        availability.update(false)
        XCTAssertEqual(reports.value, [true], "a loss waits")
        XCTAssertEqual(clock.delays.value, [1.5], "one wait for repeated losses")
        clock.fire()
        XCTAssertEqual(reports.value, [true, false])
        availability.update(false)
        XCTAssertEqual(clock.pending, 0, "already reported")

        availability.update(true)
        XCTAssertEqual(reports.value, [true, false, true], "coming back is at once")
    }

    func testALossShorterThanTheSettleTimeReportsNothing() {
        availability.update(true)
        availability.update(false)   // Wi-Fi lost...
        availability.update(true)    // ...cellular there
        clock.fire()
        XCTAssertEqual(reports.value, [true])

        // A loss that starts again waits its own full time.
        availability.update(false)
        availability.update(true)
        availability.update(false)
        XCTAssertEqual(clock.delays.value, [1.5, 1.5, 1.5])
        clock.fire()
        XCTAssertEqual(reports.value, [true, false])
    }

    func testTheFirstUpdateIsReportedEvenWhenOffline() {
        availability.update(false)
        clock.fire()
        XCTAssertEqual(reports.value, [false])
    }

    /// The monitor holds its tracker weakly: it never keeps one open, and outlives it quietly.
    func testTheTrackerIsHeldWeakly() throws {
        var tracker: Tracker? = try self.tracker()
        weak var gone = tracker
        let availability = NetworkAvailability(tracker: tracker!, lossSettle: 0)
        tracker = nil
        XCTAssertNil(gone)
        availability.update(false)
        availability.update(true)
    }

    /// `required` mode: what was stored while offline goes out when the network is back, with
    /// no new hit.
    func testStoredHitsGoOutWhenTheNetworkComesBack() async throws {
        let tracker = try tracker()
        let availability = NetworkAvailability(tracker: tracker, lossSettle: 0)
        availability.update(false)
        for page in ["n1", "n2"] { try tracker.sendScreen(name: page) }
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 2)
        XCTAssertTrue(Collector.requests().isEmpty, "offline: nothing tried")

        availability.update(true)
        eventually("stored hits delivered") { Collector.delivered().count == 2 }
        XCTAssertEqual(Collector.deliveredPages(), ["n1", "n2"])
        eventually("and deleted") { tracker.offline.count() == 0 }
    }

    /// The real timer: a loss is reported after the settle time, not before.
    func testALossIsReportedAfterTheSettleTime() {
        let heard = Box<[(Bool, TimeInterval)]>([])
        let started = Date()
        let availability = NetworkAvailability(lossSettle: 0.3) { available in
            heard.mutate { $0.append((available, Date().timeIntervalSince(started))) }
        }
        availability.update(false)
        eventually("the loss reported") { !heard.value.isEmpty }
        XCTAssertEqual(heard.value.first?.0, false)
        XCTAssertGreaterThanOrEqual(heard.value.first?.1 ?? 0, 0.3)
    }
}
