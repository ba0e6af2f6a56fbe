// The log lines from Swift: HitKitLog.use / ClosureLogger against the real engine, which lines
// each `logLevel` lets through. The same checks run from Kotlin (HitKitLoggingTest.kt).
// (HitKitLog.useUnifiedLog needs the `os` module: not compiled on Linux, so not tested here.)
import Foundation
import XCTest
import HitKit

// `@unchecked Sendable`: XCTest makes one instance per test method and runs them one at a time.
final class HitKitLoggingTests: CollectorTestCase, @unchecked Sendable {
    // The logger is process-wide and an earlier test's tracker may still be finishing, so each
    // test looks only at the lines naming its own screens and keys (a fresh marker per test).
    private let marker = "m" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    private let lines = Box<[(level: LogLevel, message: String)]>([])

    override func tearDown() {
        HitKitLog.usePlatformLog()
        super.tearDown()
    }

    private func linesOf(_ tag: String) -> [(level: LogLevel, message: String)] {
        lines.value.filter { $0.message.contains(marker + tag) }
    }

    private func record() -> @Sendable (LogLevel, String) -> Void {
        let lines = self.lines
        return { level, message in lines.mutate { $0.append((level, message)) } }
    }

    /// A parameter too long for any part of a 256-byte hit: a warning naming its key.
    private func sendOversized(_ tracker: Tracker, _ tag: String) throws {
        try tracker.sendScreen(name: "\(marker)screen\(tag)",
                               params: [HitParam(key: marker + tag, value: String(repeating: "x", count: 1000))])
    }

    func testDebugShowsBuildLinesWarningDoesNotAndOffShowsNothing() async throws {
        HitKitLog.use(record())
        var given = config(tempDir())
        given.logLevel = .debug
        given.maxHitSize = 256
        let tracker = try Tracker(config: given)
        try tracker.sendScreen(name: "\(marker)debug")
        try await tracker.flush()
        eventually("the build and send lines") { linesOf("debug").count == 2 }
        let debug = linesOf("debug")
        XCTAssertEqual(debug.map(\.level), [.debug, .info])
        XCTAssertTrue(debug.first?.message.hasPrefix("built (Success): \(Collector.endpoint)?") ?? false, "\(debug)")
        XCTAssertTrue(debug.last?.message.hasPrefix("sent (Success): ") ?? false, "\(debug)")

        // warning: no line per hit, but warnings.
        try tracker.setConfig(key: "logLevel", value: "warning")
        try tracker.sendScreen(name: "\(marker)quiet")
        try sendOversized(tracker, "big")
        try await tracker.flush()
        eventually("the warning") { !linesOf("big").isEmpty }
        XCTAssertEqual(linesOf("big").map(\.level), [.warning])
        XCTAssertTrue(linesOf("big").first?.message.contains("cannot fit") ?? false)
        XCTAssertTrue(linesOf("quiet").isEmpty, "\(linesOf("quiet"))")

        // off: nothing, though the delegate still hears the warning.
        let recorder = Recorder()
        tracker.setDelegate(recorder)
        try tracker.setConfig(key: "logLevel", value: "off")
        try sendOversized(tracker, "silent")
        try await tracker.flush()
        eventually("the delegate's warning") { recorder.of("warning").contains { $0.message.contains(marker + "silent") } }
        try await tracker.flush()
        XCTAssertTrue(linesOf("silent").isEmpty, "\(linesOf("silent"))")
        // The two debug lines and the warning: nothing else named this test's hits.
        XCTAssertEqual(linesOf("").count, 3, "\(linesOf(""))")
    }

    func testTheDefaultLevelIsWarningAndInfoAddsSendsNotBuilds() async throws {
        setLogger(logger: ClosureLogger(record()))   // the generated call, with the adapter
        var given = config(tempDir())
        given.maxHitSize = 256
        let tracker = try Tracker(config: given)
        XCTAssertNil(tracker.config().logLevel)   // unset: the engine's default, warning
        try tracker.sendScreen(name: "\(marker)default")
        try sendOversized(tracker, "warned")
        try await tracker.flush()
        eventually("the warning") { !linesOf("warned").isEmpty }
        XCTAssertTrue(linesOf("default").isEmpty, "\(linesOf("default"))")

        try tracker.setConfig(key: "logLevel", value: "info")
        try tracker.sendScreen(name: "\(marker)info")
        try await tracker.flush()
        eventually("the send line") { !linesOf("info").isEmpty }
        try await tracker.flush()
        XCTAssertEqual(linesOf("info").map(\.level), [.info])
        XCTAssertTrue(linesOf("info").first?.message.hasPrefix("sent (Success): ") ?? false)
    }

    func testUsePlatformLogStopsTheClosure() async throws {
        HitKitLog.use(record())
        HitKitLog.usePlatformLog()   // these lines go to stderr now
        var given = config(tempDir())
        given.logLevel = .debug
        let tracker = try Tracker(config: given)
        try tracker.sendScreen(name: "\(marker)stderr")
        try await tracker.flush()
        try await tracker.flush()
        XCTAssertTrue(linesOf("stderr").isEmpty, "\(linesOf("stderr"))")
        XCTAssertEqual(Collector.deliveredPages().filter { $0 == "\(marker)stderr" }.count, 1)
    }
}
