// The rest of the API from Swift, against the real engine and a real collector process:
// opt-out, eraseAll, the host's HTTP transport, the logger, per-hit ids, the collector chosen
// at send time, deadlines, readable errors. The same scenarios run from Kotlin
// (kotlin/src/test/kotlin/dev/hitkit/HitKitApiTest.kt).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import HitKit   // QuickSend (internal)
import hitkitFFI

// `@unchecked Sendable`: see HitKitTests.
final class HitKitApiTests: CollectorTestCase, @unchecked Sendable {
    override func tearDown() {
        setLogger(logger: nil)
        super.tearDown()
    }

    /// The store is released when the closed tracker's worker finishes: retry briefly.
    private func openRetrying(_ given: TrackerConfig) throws -> Tracker {
        let end = Date().addingTimeInterval(5)
        while true {
            do {
                return try Tracker(config: given)
            } catch TrackerError.StorageLocked where Date() < end {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    // MARK: - the one-call send path

    /// Unusual strings go through the length-prefixed UTF-8 payload exactly as through UniFFI.
    func testQuickPathSendsTheSameHitsAsTheGeneratedCalls() async throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .always))
        let names = ["Accueil é", "日本語", "📱 phone", "", "a=b&c?d#e", String(repeating: "x", count: 300)]
        let params = [HitParam(key: "k1", value: "vé"), HitParam(key: "k2", value: ""), HitParam(key: "k3", value: "🚀/+")]
        for name in names { try tracker.sendScreen(name: name, params: params) }
        try tracker.sendTouch(name: "touché", params: params)
        try tracker.send(params: params)
        for name in names { try tracker.sendScreenGenerated(name: name, params: params) }
        try tracker.sendTouchGenerated(name: "touché", params: params)
        try tracker.sendGenerated(params: params)
        try await tracker.flush()
        let n = names.count + 2
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, Int64(2 * n))

        let keys: Set<String> = ["p", "click", "k1", "k2", "k3"]
        let seen = Collector.delivered().map { $0.params.filter { keys.contains($0[0]) } }
        XCTAssertEqual(Array(seen.prefix(n)), Array(seen.dropFirst(n)))
        XCTAssertEqual(seen.prefix(names.count + 1).map { $0.first { $0[0] == "p" }?[1] }, names + ["touché"])
        XCTAssertEqual(seen[n - 1], [["k1", "vé"], ["k2", ""], ["k3", "🚀/+"]])
        XCTAssertEqual(Collector.delivered()[names.count].param("click"), "A")
    }

    func testQuickSendAnswersQueuedOrNotHere() async throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .always))
        let id = tracker.quickSendId()
        func call(_ id: Int64, _ type: Int32, _ payload: [UInt8]) -> Int32 {
            payload.withUnsafeBufferPointer { hitkit_quick_send(id, type, $0.baseAddress, UInt32($0.count)) }
        }
        let payload = QuickSend.encode("direct", [HitParam(key: "k", value: "v")])
        XCTAssertEqual(call(id, QuickSend.screen, payload), 0)
        XCTAssertEqual(call(-1, QuickSend.screen, payload), 1, "an unknown tracker")
        XCTAssertEqual(call(id, 7, payload), 1, "an unknown hit type")
        XCTAssertEqual(call(id, QuickSend.screen, Array(payload.dropLast())), 1, "a cut payload")
        XCTAssertEqual(call(id, QuickSend.screen, QuickSend.encode("x", [HitParam(key: "", value: "v")])), 1, "a bad key")
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 1)
        XCTAssertTrue(try tracker.offline.get()[0].url.contains("p=direct"))
    }

    /// "Not here" makes the generated call, so the error is the one UniFFI would give.
    func testQuickPathFallsBackToTheGeneratedCallsErrors() async throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .always))
        let bad = [HitParam(key: "", value: "v")]
        for send in [{ try tracker.sendScreen(name: "x", params: bad) },
                     { try tracker.sendTouch(name: "x", params: bad) },
                     { try tracker.send(params: bad) }] {
            XCTAssertThrowsError(try send()) { error in
                guard case TrackerError.InvalidParameter = error else {
                    return XCTFail("expected InvalidParameter, got \(error)")
                }
            }
        }
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 0, "nothing refused was queued")
    }

    /// The id cache never sends one tracker's hit to another.
    func testEachTrackersHitsGoToItsOwnStore() async throws {
        let a = try Tracker(config: config(tempDir(), storage: .always))
        let b = try Tracker(config: config(tempDir(), storage: .always))
        for i in 0..<3 {
            try a.sendScreen(name: "a\(i)")
            try b.sendScreen(name: "b\(i)")
            try b.sendTouch(name: "b\(i)")
        }
        try await a.flush()
        try await b.flush()
        XCTAssertEqual(a.offline.count(), 3)
        XCTAssertEqual(b.offline.count(), 6)
        XCTAssertTrue(try a.offline.get().allSatisfy { $0.url.contains("p=a") })
        XCTAssertTrue(try b.offline.get().allSatisfy { $0.url.contains("p=b") })
    }

    // MARK: - errors and deadlines

    func testTrackerErrorsReadAsTheEnginesMessage() throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .always))
        do {
            try tracker.setConfig(key: "maxAttempts", value: "many")
            XCTFail("a bad value is refused")
        } catch {
            let typed = try XCTUnwrap(error as? TrackerError)
            XCTAssertEqual(error.localizedDescription, trackerErrorMessage(error: typed))
            XCTAssertEqual((error as? LocalizedError)?.errorDescription, trackerErrorMessage(error: typed))
            XCTAssertTrue(error.localizedDescription.contains("maxAttempts"), error.localizedDescription)
            XCTAssertFalse(error.localizedDescription.contains("InvalidConfig"), error.localizedDescription)
        }
    }

    func testANegativeDeadlineIsInvalidParameter() async throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .always))
        do {
            _ = try await tracker.offline.dispatchAndWait(deadlineMs: -1)
            XCTFail("a negative deadline is refused")
        } catch TrackerError.InvalidParameter(let key, _) {
            XCTAssertEqual(key, "deadlineMs")
        }
        try tracker.sendScreen(name: "d")
        let report = try await tracker.offline.dispatchAndWait(deadlineMs: 5_000)
        XCTAssertEqual(report, DispatchReport(sent: 1, failed: 0, dropped: 0, remaining: 0))
    }

    // MARK: - opt-out, forgetting

    func testOptOutDeletesStoresNothingAndIsKeptAcrossRestarts() async throws {
        let path = tempDir()
        var tracker: Tracker? = try Tracker(config: config(path, storage: .always))
        XCTAssertFalse(tracker!.isOptedOut())
        try tracker!.sendScreen(name: "before")
        try await tracker!.flush()
        XCTAssertEqual(tracker!.offline.count(), 1)
        try tracker!.setOptOut(true)
        XCTAssertTrue(tracker!.isOptedOut())
        try tracker!.sendScreen(name: "ignored")
        try await tracker!.flush()
        XCTAssertEqual(tracker!.offline.count(), 0, "what was stored is deleted; nothing new is stored")
        tracker = nil

        let reopened = try openRetrying(config(path, storage: .always))
        XCTAssertTrue(reopened.isOptedOut(), "the choice is kept")
        try reopened.setOptOut(false)
        try reopened.sendScreen(name: "after")
        try await reopened.flush()
        let report = try await reopened.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 1, failed: 0, dropped: 0, remaining: 0))
        XCTAssertEqual(Collector.deliveredPages(), ["after"])
    }

    func testEraseAllForgetsStoredHitsAndTheVisitor() async throws {
        let tracker = try Tracker(config: config(tempDir(), storage: .required))
        try tracker.sendScreen(name: "first")
        try await tracker.flush()
        let visitor = try XCTUnwrap(Collector.delivered().first?.param("idclient"))
        Collector.setMode("refuse")
        try tracker.sendScreen(name: "stored")
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 1)

        try await tracker.eraseAll()
        XCTAssertEqual(tracker.offline.count(), 0)
        Collector.setMode("ok")
        try tracker.sendScreen(name: "after")
        try await tracker.flush()
        XCTAssertEqual(Collector.deliveredPages(), ["first", "after"])
        XCTAssertNotEqual(Collector.delivered()[1].param("idclient"), visitor, "a new visitor id")
    }

    // MARK: - where hits go, and how

    /// A stored hit goes to the collector configured when it is sent, not when it was made.
    func testStoredHitsGoToTheCollectorConfiguredAtSendTime() async throws {
        var before = config(tempDir(), storage: .always)
        before.endpoint = "http://127.0.0.1:9/hit.xiti"
        let tracker = try Tracker(config: before)
        try tracker.sendScreen(name: "moved")
        try await tracker.flush()
        try tracker.setConfig(key: "endpoint", value: Collector.endpoint)
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 1, failed: 0, dropped: 0, remaining: 0))
        XCTAssertEqual(Collector.deliveredPages(), ["moved"])
    }

    /// The host's HTTP stack (here URLSession): every request goes through it.
    final class URLSessionTransport: HttpTransport, @unchecked Sendable {
        let urls = Box<[String]>([])
        let threads = Box<[UInt64]>([])
        let offline = Box(false)
        private let session: URLSession = {
            let configuration = URLSessionConfiguration.ephemeral
            configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
            return URLSession(configuration: configuration)
        }()

        func get(url: String, timeoutMs: Int64, completion: HttpCompletion) {
            urls.mutate { $0.append(url) }
            threads.mutate { $0.append(currentThreadID()) }
            if offline.value {
                completion.noResponse(reason: "offline")
                return
            }
            var request = URLRequest(url: URL(string: url)!)
            request.timeoutInterval = Double(timeoutMs) / 1000
            // Returns at once: URLSession answers on its own queue.
            session.dataTask(with: request) { _, response, error in
                if let http = response as? HTTPURLResponse {
                    completion.response(status: Int32(http.statusCode),
                                        retryAfter: http.value(forHTTPHeaderField: "Retry-After"))
                } else {
                    completion.noResponse(reason: "\(error.map { "\($0)" } ?? "no response")")
                }
            }.resume()
        }
    }

    func testAHostTransportCarriesEveryRequest() async throws {
        let transport = URLSessionTransport()
        let caller = currentThreadID()
        let tracker = try Tracker(config: config(tempDir(), storage: .required), transport: transport)
        try tracker.sendScreen(name: "via-host")
        try await tracker.flush()
        XCTAssertEqual(Collector.deliveredPages(), ["via-host"])
        XCTAssertEqual(transport.urls.value.count, 1)
        XCTAssertTrue(transport.urls.value[0].contains("p=via-host"), transport.urls.value[0])
        XCTAssertNotEqual(transport.threads.value[0], caller, "called on HitKit's thread")

        // No response: a loss of connection, kept in required mode, no attempt spent.
        transport.offline.mutate { $0 = true }
        try tracker.sendScreen(name: "kept")
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 1)
        XCTAssertEqual(try tracker.offline.oldest()?.retryCount, 0)
        transport.offline.mutate { $0 = false }
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, 1)
        XCTAssertEqual(Collector.deliveredPages(), ["via-host", "kept"])
        XCTAssertEqual(transport.urls.value.count, 3)
    }

    /// http:// to another machine: one warning per tracker. (Logged as the worker starts, so a
    /// delegate set after the constructor may miss it: the logger is global.)
    func testTheLoggerHearsTheClearTextWarningOncePerTracker() async throws {
        let logger = LogRecorder()
        setLogger(logger: logger)
        @Sendable func cleartext() -> Int {
            logger.lines.value.filter { $0.0 == .warning && $0.1.contains("in clear") }.count
        }
        var remote = config(tempDir(), storage: .always)
        remote.endpoint = "http://collector.example/hit.xiti"   // never contacted: `always`, no dispatch
        remote.logLevel = .warning
        let tracker = try Tracker(config: remote)
        eventually("the clear-text warning") { cleartext() == 1 }
        try tracker.sendScreen(name: "a")
        tracker.setConfig("maxAttempts", value: "4")
        try tracker.sendScreen(name: "b")
        try await tracker.flush()

        remote.databasePath = tempDir()
        let other = try Tracker(config: remote)
        eventually("the second tracker's warning") { cleartext() == 2 }
        try await other.flush()
        XCTAssertEqual(cleartext(), 2)
        XCTAssertTrue(Collector.requests().isEmpty)
        XCTAssertFalse(logger.lines.value.contains { $0.0 == .debug || $0.0 == .info })
    }

    func testHitIdsAndMessagesWithoutTheQuery() async throws {
        var given = config(tempDir(), storage: .required)
        given.hitIdParameter = "hid"
        given.queryInMessages = false
        let tracker = try Tracker(config: given)
        let recorder = Recorder()
        tracker.setDelegate(recorder)
        try tracker.sendScreen(name: "one")
        try tracker.sendScreen(name: "two")
        try await tracker.flush()
        let ids = Collector.delivered().map { $0.param("hid") }
        XCTAssertEqual(Set(ids).count, 2)
        XCTAssertTrue(ids.allSatisfy { !($0 ?? "").isEmpty }, "\(ids)")
        eventually("two sendDidEnd") { recorder.of("send").count == 2 }
        // The collector's URL only: no parameter (no visitor id, no screen name).
        for event in recorder.all {
            XCTAssertTrue(event.message.hasPrefix(Collector.endpoint), event.message)
            XCTAssertFalse(event.message.contains("=") || event.message.contains("one"), event.message)
        }
    }
}
