// The contract's scenarios (docs/contract.md) through the shipped URLSessionTransport (FoundationNetworking here),
// against the real engine and a real collector process. The same scenarios run from Kotlin
// through HttpURLConnectionTransport (kotlin/src/test/kotlin/dev/hitkit/HostTransportTest.kt).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import HitKit

/// The shipped transport, counting the requests it is given (so a test sees it was used).
final class CountingTransport: HttpTransport, @unchecked Sendable {
    let urls = Box<[String]>([])
    private let inner = URLSessionTransport()

    func get(url: String, timeoutMs: Int64, completion: HttpCompletion) {
        urls.mutate { $0.append(url) }
        inner.get(url: url, timeoutMs: timeoutMs, completion: completion)
    }
}

// `@unchecked Sendable`: see HitKitTests.
final class HostTransportTests: CollectorTestCase, @unchecked Sendable {
    private let transport = CountingTransport()

    private func tracker(_ storage: OfflineModeKey, timeoutMs: Int64 = 2000) throws -> Tracker {
        let dir = tempDir()
        var config = config(dir, storage: storage)
        config.requestTimeoutMs = timeoutMs
        return try Tracker(config: config, transport: transport)
    }

    func testStoredOnLossOfConnectionThenDispatchedOldestFirst() async throws {
        let tracker = try tracker(.required)
        Collector.setMode("refuse")
        for page in ["h1", "h2", "h3"] { try tracker.sendScreen(name: page) }
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 3)
        XCTAssertEqual(try tracker.offline.get().map(\.retryCount), [0, 0, 0])

        Collector.setMode("ok")
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 3, failed: 0, dropped: 0, remaining: 0))
        XCTAssertEqual(Collector.deliveredPages(), ["h1", "h2", "h3"])
        XCTAssertEqual(tracker.offline.count(), 0)
        // The live attempts (lost), then the dispatch: all through the transport.
        let urls = transport.urls.value
        XCTAssertGreaterThan(urls.count, 3, "\(urls)")
        let pages = urls.suffix(3).map { URLComponents(string: $0)?.queryItems?.first { $0.name == "p" }?.value }
        XCTAssertEqual(pages, ["h1", "h2", "h3"])
    }

    func testA500GetsExactlyThreeAttemptsThenTheHitIsDropped() async throws {
        let tracker = try tracker(.always)
        try tracker.sendScreen(name: "doomed")
        try await tracker.flush()
        Collector.setMode("500")
        var report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 1, dropped: 0, remaining: 1))
        XCTAssertEqual(try tracker.offline.oldest()?.retryCount, 1)
        report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 1, dropped: 0, remaining: 1))
        report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 0, dropped: 1, remaining: 0))
        XCTAssertEqual(Collector.requests().map(\.answered), [500, 500, 500])
        XCTAssertEqual(tracker.offline.count(), 0)
        XCTAssertEqual(transport.urls.value.count, 3)
    }

    /// Refused, reset, cut mid-response, hung, or a name that does not resolve: no attempt spent.
    func testNoCompleteResponseCostsNoAttempt() async throws {
        let tracker = try tracker(.always, timeoutMs: 500)
        try tracker.sendScreen(name: "o1")
        try tracker.sendScreen(name: "o2")
        try await tracker.flush()
        // Requests the collector sees in one pass: a loss stops the pass.
        for (mode, expected) in [("refuse", 0), ("reset", 1), ("reset-mid", 1), ("hang", 1)] {
            Collector.setMode(mode)
            let before = Collector.requests().count
            let started = Date()
            let report = try await tracker.offline.dispatchAndWait()
            let took = Date().timeIntervalSince(started)
            XCTAssertEqual(report, DispatchReport(sent: 0, failed: 0, dropped: 0, remaining: 2), mode)
            // The transport's own timeout answers; the engine would give up only 2 s later.
            XCTAssertLessThan(took, 1.8, mode)
            let requests = Collector.requests().dropFirst(before)
            XCTAssertEqual(requests.count, expected, mode)
            XCTAssertTrue(requests.allSatisfy { $0.answered == nil }, mode)
            XCTAssertEqual(try tracker.offline.get().map(\.retryCount), [0, 0], mode)
        }
        Collector.setMode("ok")
        try tracker.setConfig(key: "endpoint", value: "http://hitkit-test.invalid/hit.xiti")
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 0, dropped: 0, remaining: 2), "DNS")
        XCTAssertEqual(try tracker.offline.get().map(\.retryCount), [0, 0])

        try tracker.setConfig(key: "endpoint", value: Collector.endpoint)
        let sent = try await tracker.offline.dispatchAndWait().sent
        XCTAssertEqual(sent, 2)
        XCTAssertEqual(Collector.deliveredPages(), ["o1", "o2"])
    }

    /// The collector answers 302 to /redirected (where it answers 200): the 302 is the answer.
    func testARedirectIsAnsweredWithItsStatusNotFollowed() async throws {
        let tracker = try tracker(.always)
        try tracker.sendScreen(name: "moved")
        try await tracker.flush()
        Collector.setMode("redirect")
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 1, dropped: 0, remaining: 1))
        XCTAssertEqual(try tracker.offline.oldest()?.retryCount, 1, "a refusal costs one attempt")
        XCTAssertEqual(Collector.requests().map(\.answered), [302])
        XCTAssertTrue(Collector.delivered().isEmpty, "nothing delivered at the redirect's target")
    }

    /// A body of gigabytes: the status decides, at most 64 KiB is read.
    func testAHugeBodyIsNotRead() async throws {
        let tracker = try tracker(.never)
        let recorder = Recorder()
        tracker.setDelegate(recorder)
        Collector.setMode("body-\(Int64(16) << 30)")
        let started = Date()
        try tracker.sendScreen(name: "big")
        try await tracker.flush()
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(recorder.of("send").map(\.status), [.success])
        XCTAssertLessThan(took, 5, "reading 16 GiB takes far longer")
        // FoundationNetworking (Linux) holds up the next request of every URLSession in the
        // process for up to seconds after a transfer this fast is cancelled; let that pass
        // here, not in the next test's calls to the collector (which wait 10 s at most).
        XCTAssertTrue(urlSessionAnswers(within: 30))
    }

    /// Retry-After on a 503, passed on by the host's stack, pauses dispatch unless the app insists.
    func testRetryAfterFromTheHostStackPausesDispatch() async throws {
        let tracker = try tracker(.always)
        for page in ["p1", "p2", "p3"] { try tracker.sendScreen(name: page) }
        try await tracker.flush()
        Collector.setMode("503,retry-after=2")
        var report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 1, dropped: 0, remaining: 3), "stops at the first 503")

        Collector.setMode("ok")
        // Without the header this would send: an explicit dispatch ignores the backoff.
        report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 0, failed: 0, dropped: 0, remaining: 3), "paused")
        XCTAssertEqual(Collector.requests().count, 1)
        report = try await tracker.offline.dispatchAndWait(ignoreServerPacing: true)
        XCTAssertEqual(report.sent, 3)
        XCTAssertEqual(Collector.deliveredPages(), ["p1", "p2", "p3"])

        // The pause ends when its time is over.
        try tracker.sendScreen(name: "p4")
        try await tracker.flush()
        Collector.setMode("503,retry-after=1")
        report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.failed, 1)
        Collector.setMode("ok")
        report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, 0)
        try await Task.sleep(nanoseconds: 1_100_000_000)
        report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, 1)
    }
}

/// True once a request through `URLSession.shared` (the collector's `GET /count`) is answered.
private func urlSessionAnswers(within seconds: TimeInterval) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let url = URL(string: "http://\(Collector.controlAddress)/count")!
    URLSession.shared.dataTask(with: url) { _, _, _ in done.signal() }.resume()
    return done.wait(timeout: .now() + seconds) == .success
}
