// Test support: the collector process (started by scripts/test-swift.sh, which passes its
// addresses as HITKIT_COLLECTOR / HITKIT_CONTROL), trackers on temp dirs, a recording delegate.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import HitKit

/// The `hitkit collect` process, driven through its control port.
enum Collector {
    static var hitAddress: String { address("HITKIT_COLLECTOR") }
    static var controlAddress: String { address("HITKIT_CONTROL") }
    static var endpoint: String { "http://\(hitAddress)/hit.xiti" }

    private static func address(_ name: String) -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            fatalError("\(name) is not set: run the Swift tests through scripts/test-swift.sh")
        }
        return value
    }

    /// `GET http://CONTROL/path`: the control API's reads (`/hits`, `/delivered`, `/count`, `/mode`).
    static func get(_ path: String) -> String { control("GET", path) }

    /// `POST http://CONTROL/path`: the control API changes state only on POST (`/mode?set=`, `/clear`).
    @discardableResult
    static func post(_ path: String) -> String { control("POST", path) }

    /// The response body as text; a non-200 answer fails with its status and body. Blocking.
    private static func control(_ method: String, _ path: String) -> String {
        var request = URLRequest(url: URL(string: "http://\(controlAddress)\(path)")!)
        request.httpMethod = method
        // An empty body, so the POST goes out with `Content-Length: 0`.
        if method == "POST" { request.httpBody = Data() }
        let done = DispatchSemaphore(value: 0)
        let box = Box<Result<String, Error>>(.failure(URLError(.timedOut)))
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            let body = String(decoding: data ?? Data(), as: UTF8.self)
            if let error {
                box.mutate { $0 = .failure(error) }
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                box.mutate { $0 = .failure(ControlError(message: "control \(method) \(path): HTTP \(http.statusCode): \(body)")) }
            } else {
                box.mutate { $0 = .success(body) }
            }
            done.signal()
        }
        task.resume()
        _ = done.wait(timeout: .now() + 10)
        return try! box.value.get()
    }

    struct ControlError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static func setMode(_ mode: String) { post("/mode?set=\(mode)") }
    static func reset() { setMode("ok"); post("/clear") }

    struct Request: Decodable {
        let params: [[String]]
        let answered: Int?
        func param(_ key: String) -> String? { params.first { $0.first == key }?.last }
    }

    /// Every request the hit port received (answered or not), in arrival order.
    static func requests() -> [Request] { decode(get("/hits")) }
    /// The requests answered 2xx, in arrival order.
    static func delivered() -> [Request] { decode(get("/delivered")) }
    /// The `p` (page) of each delivered hit.
    static func deliveredPages() -> [String] { delivered().compactMap { $0.param("p") } }

    private static func decode(_ json: String) -> [Request] {
        try! JSONDecoder().decode([Request].self, from: Data(json.utf8))
    }
}

/// A value shared with HitKit's threads. `value` is a read-only snapshot: with a setter,
/// `box.value[k] = v` or `box.value.append(x)` would read and write under two separate lock
/// acquisitions and lose updates made in between. Every change goes through `mutate`.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    init(_ value: T) { _value = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return _value }
    /// Runs `body` on the value with the lock held for the whole read-modify-write.
    @discardableResult
    func mutate<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&_value)
    }
}

/// The calling thread, comparable across threads.
func currentThreadID() -> UInt64 {
    #if canImport(Darwin)
    var tid: UInt64 = 0
    pthread_threadid_np(nil, &tid)
    return tid
    #else
    return UInt64(pthread_self())
    #endif
}

/// Records every delegate message with the thread it arrived on. Implements every method,
/// so it does not rely on the defaults (see `OnlyWarnings` for that).
final class Recorder: TrackerDelegate, @unchecked Sendable {
    struct Event { let kind: String; let status: HitStatus?; let message: String; let thread: UInt64; let isMain: Bool }
    private let events = Box<[Event]>([])

    private func record(_ kind: String, _ status: HitStatus?, _ message: String) {
        let event = Event(kind: kind, status: status, message: message,
                          thread: currentThreadID(), isMain: Thread.isMainThread)
        events.mutate { $0.append(event) }
    }
    func buildDidEnd(status: HitStatus, message: String) { record("build", status, message) }
    func sendDidEnd(status: HitStatus, message: String) { record("send", status, message) }
    func saveDidEnd(message: String) { record("save", nil, message) }
    func warningDidOccur(message: String) { record("warning", nil, message) }
    func errorDidOccur(message: String) { record("error", nil, message) }

    var all: [Event] { events.value }
    func of(_ kind: String) -> [Event] { all.filter { $0.kind == kind } }
}

/// A delegate that adopts `TrackerDelegate` but implements one method only: the protocol
/// extension in HitKit+Idiom.swift supplies the other four.
final class OnlyWarnings: TrackerDelegate, @unchecked Sendable {
    let warnings = Box<[String]>([])
    func warningDidOccur(message: String) { warnings.mutate { $0.append(message) } }
}

/// Records every log line (`setLogger`); called on whichever thread logs.
final class LogRecorder: Logger, @unchecked Sendable {
    let lines = Box<[(LogLevel, String)]>([])
    func log(level: LogLevel, message: String) { lines.mutate { $0.append((level, message)) } }
}

/// A fresh temp dir per test (removed by the test case's teardown).
/// What every suite here starts from: the collector reset before each test, and the temporary
/// directories a test made removed after it. `@unchecked Sendable`: XCTest makes one instance per
/// test method and runs them one at a time, so `dirs` is never shared.
class CollectorTestCase: XCTestCase, @unchecked Sendable {
    private var dirs: [String] = []

    override func setUp() {
        super.setUp()
        Collector.reset()
    }

    override func tearDown() {
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir) }
        dirs = []
        super.tearDown()
    }

    /// A fresh directory, removed after the test.
    func tempDir() -> String {
        let dir = makeTempDir()
        dirs.append(dir)
        return dir
    }
}

func makeTempDir() -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("hitkit-swift-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func config(_ path: String, storage: OfflineModeKey? = nil) -> TrackerConfig {
    TrackerConfig(site: "123", databasePath: path, secure: false, endpoint: Collector.endpoint,
                  storage: storage, requestTimeoutMs: 2000)
}

/// Waits (polling) until `condition` holds, or fails the test after `timeout` seconds.
func eventually(_ what: String, timeout: TimeInterval = 10, file: StaticString = #filePath,
                line: UInt = #line, _ condition: () -> Bool) {
    let end = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > end {
            XCTFail("timed out after \(timeout) s waiting for: \(what)", file: file, line: line)
            return
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
}

/// Runs async code to completion from a synchronous test (whose thread must stay put).
func blocking<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = Box<Result<T, Error>?>(nil)
    Task.detached {
        let result: Result<T, Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        box.mutate { $0 = result }
        done.signal()
    }
    done.wait()
    return try box.value!.get()
}
