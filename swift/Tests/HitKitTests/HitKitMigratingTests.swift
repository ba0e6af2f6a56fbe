// The HitKit Swift column of docs/migrating.md, call by call, against the real engine and a real
// collector process: each spelling the guide shows compiles and does what the guide says.
// The Kotlin column runs in HitKitMigratingTest.kt.
import Foundation
import XCTest
import HitKit

// `@unchecked Sendable`: XCTest makes one instance per test method and runs them one at a time.
final class HitKitMigratingTests: CollectorTestCase, @unchecked Sendable {
    func testTheGuidesHitKitSpellings() async throws {
        let dir = tempDir()
        // §1: set-up.
        // Through the host's HTTP stack, as the guide suggests for apps that set a proxy.
        let tracker = try Tracker(config: TrackerConfig(site: "123456", databasePath: dir, secure: false,
                                                        endpoint: Collector.endpoint, storage: .required, name: "name"),
                                  transport: URLSessionTransport())
        let other = try Tracker.fromJson(json: "{\"site\":\"123456\",\"databasePath\":\"\(dir)\",\"name\":\"other\"}")
        XCTAssertEqual(other.config().name, "other")
        XCTAssertThrowsError(try Tracker(config: TrackerConfig(site: "1", databasePath: dir, name: "name"))) { error in
            guard case TrackerError.InvalidConfig(key: "name", reason: _) = error else { return XCTFail("\(error)") }
        }
        tracker.setConfig("storage", value: "required", completionHandler: nil)
        try tracker.setConfig(key: "storage", value: "required")
        tracker.setOfflineMode(OfflineModeKey.required, completionHandler: nil)
        for (key, value) in [("site", "123456"), ("log", "logp"), ("logSSL", "logs"), ("domain", "xiti.com"),
                             ("pixelPath", "/hit.xiti"), ("identifier", "uuid"), ("maxHitSize", "8000")] {
            try tracker.setConfig(key: key, value: value)
        }
        // A SmartTag key HitKit does not have.
        XCTAssertThrowsError(try tracker.setConfig(key: "enableBackgroundTask", value: "true")) { error in
            guard case TrackerError.InvalidConfig(key: "enableBackgroundTask", reason: _) = error else { return XCTFail("\(error)") }
        }
        let recorder = Recorder()
        tracker.setDelegate(recorder)

        // §3: sending.
        try tracker.sendScreen(name: "Shop::Home")
        try tracker.sendTouch(name: "Buy")
        try tracker.sendScreen(name: "Home", params: [HitParam(key: "x", value: "1")])
        try tracker.setParam(key: "y", value: "2")
        try tracker.send(params: [HitParam(key: "p", value: "custom")])
        tracker.unsetParam(key: "y")
        try tracker.sendScreen(name: "after")
        try await tracker.flush()
        let delivered = Collector.delivered()
        XCTAssertEqual(delivered.compactMap { $0.param("p") }, ["Shop::Home", "Buy", "Home", "custom", "after"])
        XCTAssertEqual(delivered.map { $0.param("click") }, [nil, "A", nil, nil, nil])
        XCTAssertEqual(delivered.map { $0.param("x") }, [nil, nil, "1", nil, nil])
        XCTAssertEqual(delivered.map { $0.param("y") }, [nil, nil, nil, "2", nil])
        eventually("five sendDidEnd") { recorder.of("send").count == 5 }

        // §2: the offline feature.
        tracker.setNetworkAvailable(false)
        try tracker.sendScreen(name: "stored")
        try await tracker.flush()
        tracker.offline.dispatch()   // offline: nothing is tried, no attempt spent
        XCTAssertEqual(tracker.offline.count(), 1)
        let hits: [Hit] = try tracker.offline.get()
        XCTAssertEqual(hits.map(\.hitType), [.screen])
        XCTAssertEqual(hits.first?.retryCount, 0)
        XCTAssertTrue(hits.first?.isOffline ?? false)
        XCTAssertEqual(try tracker.offline.oldest()?.id, try tracker.offline.latest()?.id)
        XCTAssertLessThan(hits.first?.creationDate.timeIntervalSinceNow ?? -3600, 1)
        XCTAssertEqual(try tracker.offline.deleteOlderThan(days: 7), 0)
        tracker.setNetworkAvailable(true)
        let report = try await tracker.offline.dispatchAndWait(deadlineMs: 25_000)
        XCTAssertEqual(report.remaining, 0)
        XCTAssertEqual(Collector.deliveredPages().last, "stored")
        XCTAssertEqual(try tracker.offline.delete(), 0)

        try tracker.setOptOut(true)
        XCTAssertTrue(tracker.isOptedOut())
    }
}
