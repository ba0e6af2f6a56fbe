// The contract's scenarios (docs/contract.md), run from Swift against the real engine and a real collector process.
// The same scenarios run from Kotlin (kotlin/src/test/kotlin/dev/hitkit/HitKitTest.kt).
import Foundation
import XCTest
import HitKit

// `@unchecked Sendable`: Linux XCTest's entry for an async test captures the test case; XCTest
// makes one instance per test method and runs them one at a time (see CollectorTestCase).
final class HitKitTests: CollectorTestCase, @unchecked Sendable {
    private func tracker(_ storage: OfflineModeKey?, path: String? = nil) throws -> Tracker {
        try Tracker(config: config(path ?? tempDir(), storage: storage))
    }

    // MARK: - storage modes

    func testNeverDeliversLiveAndStoresNothing() async throws {
        let tracker = try tracker(nil)
        XCTAssertEqual(tracker.offlineMode(), .never)
        try tracker.sendScreen(name: "home")
        try tracker.sendTouch(name: "buy")
        try await tracker.flush()
        XCTAssertEqual(Collector.deliveredPages(), ["home", "buy"])
        XCTAssertEqual(Collector.delivered()[1].param("click"), "A")
        XCTAssertEqual(tracker.offline.count(), 0)

        // A hit that cannot be sent is lost, not stored.
        Collector.setMode("refuse")
        try tracker.sendScreen(name: "lost")
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 0)
        XCTAssertTrue(try tracker.offline.get().isEmpty)
    }

    func testRequiredStoresOnLossOfConnectionAndDispatchDeliversOldestFirst() async throws {
        let tracker = try tracker(.required)
        Collector.setMode("refuse")
        for page in ["h1", "h2", "h3"] { try tracker.sendScreen(name: page) }
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 3)
        let stored = try tracker.offline.get()
        XCTAssertTrue(stored.allSatisfy { $0.isOffline && $0.url.contains("cn=offline") && $0.url.contains("olt=") })

        Collector.setMode("ok")
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report, DispatchReport(sent: 3, failed: 0, dropped: 0, remaining: 0))
        XCTAssertEqual(Collector.deliveredPages(), ["h1", "h2", "h3"])
        XCTAssertEqual(tracker.offline.count(), 0)

        // Fire-and-forget dispatch: the SmartTag SDK's `tracker.offline.dispatch()`.
        Collector.setMode("refuse")
        try tracker.sendScreen(name: "h4")
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 1)
        Collector.setMode("ok")
        tracker.offline.dispatch()
        eventually("h4 delivered and deleted") { tracker.offline.count() == 0 }
        XCTAssertEqual(Collector.deliveredPages(), ["h1", "h2", "h3", "h4"])
    }

    func testAlwaysSendsNothingUntilDispatch() async throws {
        let tracker = try tracker(.always)
        for page in ["a1", "a2", "a3"] { try tracker.sendScreen(name: page) }
        try await tracker.flush()
        XCTAssertEqual(tracker.offline.count(), 3)
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertTrue(Collector.requests().isEmpty, "always: nothing is sent before dispatch")

        tracker.offline.dispatch()
        eventually("three hits delivered") { Collector.delivered().count == 3 }
        XCTAssertEqual(Collector.deliveredPages(), ["a1", "a2", "a3"])
        eventually("store emptied") { tracker.offline.count() == 0 }
    }

    // MARK: - dispatch and retry

    func testFailingCollectorGetsExactlyThreeAttemptsThenTheHitIsDeletedAndReported() async throws {
        let tracker = try tracker(.always)
        let warned = OnlyWarnings()   // implements one delegate method; the others default
        tracker.setDelegate(warned)
        try tracker.sendScreen(name: "doomed")
        try await tracker.flush()
        Collector.setMode("500")

        let first = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(first, DispatchReport(sent: 0, failed: 1, dropped: 0, remaining: 1))
        XCTAssertEqual(try tracker.offline.oldest()?.retryCount, 1)
        let second = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(second.failed, 1)
        XCTAssertEqual(try tracker.offline.oldest()?.retryCount, 2)
        let third = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(third, DispatchReport(sent: 0, failed: 0, dropped: 1, remaining: 0))

        XCTAssertEqual(Collector.requests().count, 3, "exactly three attempts")
        XCTAssertEqual(Collector.requests().map { $0.answered }, [500, 500, 500])
        XCTAssertEqual(tracker.offline.count(), 0)
        eventually("warningDidOccur") { !warned.warnings.value.isEmpty }
        XCTAssertTrue(warned.warnings.value.contains { $0.contains("3 attempt") }, "\(warned.warnings.value)")

        // Nothing left to try.
        let after = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(after, DispatchReport(sent: 0, failed: 0, dropped: 0, remaining: 0))
        XCTAssertEqual(Collector.requests().count, 3)
    }

    func testOfflineCostsNoAttempt() async throws {
        let tracker = try tracker(.always)
        try tracker.sendScreen(name: "o1")
        try tracker.sendScreen(name: "o2")
        try await tracker.flush()
        tracker.setNetworkAvailable(false)
        for _ in 0..<4 {
            let report = try await tracker.offline.dispatchAndWait()
            XCTAssertEqual(report, DispatchReport(sent: 0, failed: 0, dropped: 0, remaining: 2))
        }
        XCTAssertTrue(Collector.requests().isEmpty)
        XCTAssertEqual(try tracker.offline.get().map(\.retryCount), [0, 0])

        // A lost connection (collector down) costs no attempt either.
        tracker.setNetworkAvailable(true)
        Collector.setMode("refuse")
        let refused = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(refused.remaining, 2)
        XCTAssertEqual(try tracker.offline.get().map(\.retryCount), [0, 0])

        Collector.setMode("ok")
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, 2)
        XCTAssertEqual(Collector.deliveredPages(), ["o1", "o2"])
    }

    // MARK: - durability

    func testHitsSurviveANewTrackerOnTheSamePath() async throws {
        let path = tempDir()
        var first: Tracker? = try tracker(.always, path: path)
        try first!.sendScreen(name: "s1")
        try first!.sendScreen(name: "s2")
        try await first!.flush()
        XCTAssertEqual(first!.offline.count(), 2)
        first = nil   // the last reference: the tracker closes; its worker releases the store

        let second = try openRetryingWhileLocked(path)
        XCTAssertEqual(second.offline.count(), 2)
        XCTAssertEqual(try second.offline.get().map { $0.url.contains("p=s1") }, [true, false])
        let report = try await second.offline.dispatchAndWait()
        XCTAssertEqual(report.sent, 2)
        XCTAssertEqual(Collector.deliveredPages(), ["s1", "s2"])
    }

    func testOneLiveTrackerPerNameAndSealedHitsNeedTheirKey() async throws {
        let path = tempDir()
        var sealed = config(path, storage: .always)
        sealed.encryptionKey = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0"
        var first: Tracker? = try Tracker(config: sealed)
        XCTAssertThrowsError(try Tracker(config: config(path, storage: .always))) { error in
            guard case TrackerError.InvalidConfig(let key, _) = error else {
                return XCTFail("expected InvalidConfig, got \(error)")
            }
            XCTAssertEqual(key, "name")
        }
        try first!.sendScreen(name: "secret")
        try await first!.flush()
        first = nil

        // Without the key the sealed hit is kept, unsent. A new hit cannot be stored in clear
        // in an encrypted store: it waits in memory and flush says so. With the key, both leave.
        var keyless: Tracker? = try openRetryingWhileLocked(path)
        // The worker applies the tracker's key (none) as it starts; until then the store still
        // reads with the key the last tracker gave it. flush waits for the worker.
        try await keyless!.flush()
        XCTAssertEqual(try keyless!.offline.get().count, 0)
        let kept = try await keyless!.offline.dispatchAndWait()
        XCTAssertEqual(kept.remaining, 1)
        try keyless!.sendScreen(name: "held")
        do {
            try await keyless!.flush()
            XCTFail("flush must say the new hit is only in memory")
        } catch TrackerError.Storage(let reason) {
            XCTAssertTrue(reason.contains("kept in memory"), reason)
        }
        XCTAssertTrue(Collector.requests().isEmpty)
        try keyless!.setConfig(key: "encryptionKey", value: sealed.encryptionKey!)
        try await keyless!.flush()
        let both = try await keyless!.offline.dispatchAndWait()
        XCTAssertEqual(both, DispatchReport(sent: 2, failed: 0, dropped: 0, remaining: 0))
        XCTAssertEqual(Collector.deliveredPages(), ["secret", "held"])
        keyless = nil

        // The key is never shown: config() holds a placeholder.
        let keyed = try openRetryingWhileLocked(path, config: sealed)
        let shown = try XCTUnwrap(keyed.config().encryptionKey, "a key is set, and says so")
        XCTAssertFalse(shown.contains(sealed.encryptionKey!.prefix(16)), shown)
    }

    /// The store is released when the closed tracker's worker finishes: retry briefly.
    private func openRetryingWhileLocked(_ path: String, config given: TrackerConfig? = nil) throws -> Tracker {
        let end = Date().addingTimeInterval(5)
        while true {
            do {
                return try Tracker(config: given ?? config(path, storage: .always))
            } catch TrackerError.StorageLocked(let lockedPath) where Date() < end {
                _ = lockedPath
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    // MARK: - delegate

    /// Delegate methods arrive on HitKit's worker thread: not the caller's (here the main
    /// thread, as this test is synchronous), and not the main thread.
    func testDelegateCallbacksArriveOnHitKitsWorkerThread() throws {
        let testThread = currentThreadID()
        XCTAssertTrue(Thread.isMainThread)
        let recorder = Recorder()
        let tracker = try tracker(.required)
        tracker.setDelegate(recorder)

        try tracker.sendScreen(name: "live")
        try blocking { try await tracker.flush() }
        eventually("sendDidEnd(success)") { !recorder.of("send").isEmpty }
        let sent = recorder.of("send")[0]
        XCTAssertEqual(sent.status, .success)
        XCTAssertTrue(sent.message.contains("p=live"), sent.message)
        XCTAssertTrue(recorder.of("build").contains { $0.status == .success && $0.message.contains("p=live") })

        Collector.setMode("refuse")
        try tracker.sendScreen(name: "kept")
        try blocking { try await tracker.flush() }
        eventually("saveDidEnd") { !recorder.of("save").isEmpty }
        XCTAssertTrue(recorder.of("save")[0].message.contains("p=kept"))

        let events = recorder.all
        XCTAssertFalse(events.isEmpty)
        for event in events {
            XCTAssertNotEqual(event.thread, testThread, "\(event.kind) arrived on the caller's thread")
            XCTAssertFalse(event.isMain, "\(event.kind) arrived on the main thread")
        }
    }

    // MARK: - typed errors and bad input

    func testBadConfigThrowsTheTypedError() throws {
        let tracker = try tracker(nil)
        XCTAssertThrowsError(try tracker.setConfig(key: "storage", value: "sometimes")) { error in
            guard case TrackerError.InvalidConfig(let key, let reason) = error else {
                return XCTFail("expected TrackerError.InvalidConfig, got \(error)")
            }
            XCTAssertEqual(key, "storage")
            XCTAssertFalse(reason.isEmpty)
        }
        XCTAssertEqual(tracker.offlineMode(), .never, "a refused change changes nothing")

        XCTAssertThrowsError(try tracker.setConfig(key: "noSuchKey", value: "1")) { error in
            XCTAssertEqual(invalidConfigKey(error), "noSuchKey")
        }
        XCTAssertThrowsError(try tracker.setConfig(key: "maxHitSize", value: "0")) { error in
            XCTAssertEqual(invalidConfigKey(error), "maxHitSize")
        }
        XCTAssertThrowsError(try tracker.setConfig(key: "endpoint", value: "not a url")) { error in
            XCTAssertEqual(invalidConfigKey(error), "endpoint")
        }
        XCTAssertThrowsError(try Tracker(config: TrackerConfig(site: "abc", databasePath: tempDir()))) { error in
            XCTAssertEqual(invalidConfigKey(error), "site")
        }
        XCTAssertThrowsError(try Tracker(config: TrackerConfig(site: "", databasePath: tempDir()))) { error in
            XCTAssertEqual(invalidConfigKey(error), "site")
        }
        XCTAssertThrowsError(try Tracker.fromJson(json: "{\"site\": \"1\", ")) { error in
            XCTAssertEqual(invalidConfigKey(error), "json")
        }
        let json = "{\"site\": \"123\", \"databasePath\": \"\(tempDir())\", \"storage\": \"always\"}"
        XCTAssertEqual(try Tracker.fromJson(json: json).offlineMode(), .always)
    }

    func testBadParametersThrowInvalidParameter() throws {
        let tracker = try tracker(.always)
        XCTAssertThrowsError(try tracker.sendScreen(name: "x", params: [HitParam(key: "", value: "v")])) { error in
            guard case TrackerError.InvalidParameter = error else {
                return XCTFail("expected TrackerError.InvalidParameter, got \(error)")
            }
        }
        XCTAssertThrowsError(try tracker.send(params: [HitParam(key: "", value: "v")]))
        XCTAssertThrowsError(try tracker.setParam(key: "", value: "v"))
        try blocking { try await tracker.flush() }
        XCTAssertEqual(tracker.offline.count(), 0, "a refused hit is not stored")
        // The error reads as the engine's sentence, not as the enum's dump.
        do {
            try tracker.send(params: [HitParam(key: "", value: "v")])
            XCTFail("an empty key is refused")
        } catch let error as TrackerError {
            XCTAssertEqual(error.localizedDescription, trackerErrorMessage(error: error))
            XCTAssertFalse(error.localizedDescription.isEmpty)
            XCTAssertFalse(error.localizedDescription.contains("InvalidParameter"), error.localizedDescription)
        }
    }

    // MARK: - Offline.get() and Hit

    func testOfflineGetReturnsHitsWithDates() async throws {
        let tracker = try tracker(.always)
        let before = Date()
        try tracker.sendScreen(name: "first", params: [HitParam(key: "x", value: "1")])
        try tracker.sendTouch(name: "second")
        try tracker.send(params: [HitParam(key: "ev", value: "3")])
        try await tracker.flush()
        let after = Date()

        let hits: [Hit] = try tracker.offline.get()
        XCTAssertEqual(hits.map(\.hitType), [.screen, .touch, .custom])
        for hit in hits {
            let created: Date = hit.creationDate
            XCTAssertGreaterThanOrEqual(created.timeIntervalSince1970, before.timeIntervalSince1970 - 0.001)
            XCTAssertLessThanOrEqual(created.timeIntervalSince1970, after.timeIntervalSince1970 + 0.001)
            XCTAssertTrue(hit.isOffline)
            XCTAssertEqual(hit.retryCount, 0)
        }
        XCTAssertTrue(hits[0].url.hasPrefix(Collector.endpoint + "?s=123&"), hits[0].url)
        XCTAssertLessThanOrEqual(hits[0].creationDate, hits[2].creationDate)
        XCTAssertEqual(try tracker.offline.oldest(), hits[0])
        XCTAssertEqual(try tracker.offline.latest(), hits[2])
        XCTAssertEqual(try tracker.offline.deleteOlderThan(days: 1), 0)
        XCTAssertEqual(try tracker.offline.delete(), 3)
        XCTAssertEqual(tracker.offline.count(), 0)
    }

    // MARK: - the SmartTag SDK's lines and closures

    func testSmartTagLinesCompileVerbatim() async throws {
        let tracker = try tracker(nil)
        // --- verbatim from the SmartTag SDK's docs (docs/migrating.md): no `try`, no labels to add ---
        tracker.setOfflineMode(OfflineModeKey.required, completionHandler: nil)
        tracker.setConfig("storage", value: "required", completionHandler: nil)
        tracker.offline.dispatch()
        // ---
        try await tracker.flush()
        XCTAssertEqual(tracker.offlineMode(), .required)
        XCTAssertEqual(tracker.config().storage, .required)
        // The `try await` form of docs/contract.md §6: dispatchAndWait throws (a negative deadline).
        let report = try await tracker.offline.dispatchAndWait()
        XCTAssertEqual(report.remaining, 0)
    }

    func testClosuresAsCompletionHandlersHearTrueAndFalse() async throws {
        let tracker = try tracker(nil)
        let heard = Box<[String: Bool]>([:])
        let worker = Box<UInt64?>(nil)
        let caller = currentThreadID()

        tracker.setOfflineMode(.always, completionHandler: { isSet in
            heard.mutate { $0["mode"] = isSet }
            worker.mutate { $0 = currentThreadID() }
        })
        tracker.setConfig("maxAttempts", value: "5") { isSet in heard.mutate { $0["good"] = isSet } }
        tracker.setConfig("maxAttempts", value: "many") { isSet in heard.mutate { $0["bad"] = isSet } }
        tracker.setConfig("noSuchKey", value: "1", completionHandler: { isSet in heard.mutate { $0["unknown"] = isSet } })
        try await tracker.flush()
        eventually("four handlers called") { heard.value.count == 4 }
        XCTAssertEqual(heard.value, ["mode": true, "good": true, "bad": false, "unknown": false])
        XCTAssertEqual(tracker.offlineMode(), .always)
        XCTAssertEqual(tracker.config().maxAttempts, 5)
        XCTAssertNotEqual(worker.value, caller, "accepted changes are confirmed on HitKit's worker thread")
    }
}

private func invalidConfigKey(_ error: Error) -> String? {
    if case TrackerError.InvalidConfig(let key, _) = error { return key }
    XCTFail("expected TrackerError.InvalidConfig, got \(error)")
    return nil
}
