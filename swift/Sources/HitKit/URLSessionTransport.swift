// URLSessionTransport.swift — HitKit's requests through the platform's HTTP stack (URLSession;
// on Linux, FoundationNetworking's).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An `HttpTransport` on `URLSession`, so hits go through the platform's stack: on Apple
/// platforms the system and configuration proxies, the user's and the enterprise's trusted CAs,
/// App Transport Security (with its `NSPinnedDomains` pinning) and debugging proxies apply, as
/// to the rest of the app.
///
/// ```swift
/// let tracker = try Tracker(config: config, transport: URLSessionTransport())
/// ```
///
/// Per request: one GET; redirects are not followed (the 3xx status is the answer); at most
/// 64 KiB of the body is read, then the request is cancelled; the status and the `Retry-After`
/// header are passed on. No complete response (DNS, connect error, reset, a body cut short, or
/// `timeoutMs` over, counted from the call) is `noResponse`.
///
/// `configuration` is copied by the session (`.ephemeral` by default: no cookies or cache kept
/// on disk); set a proxy or `protocolClasses` there.
public final class URLSessionTransport: HttpTransport, @unchecked Sendable {
    // `@unchecked`: both are set once in `init`; `requests` guards its own state.
    private let session: URLSession
    private let requests: Requests

    public init(configuration: URLSessionConfiguration = .ephemeral) {
        // One delegate queue, one callback at a time.
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        queue.name = "dev.hitkit.http"
        let requests = Requests()
        self.requests = requests
        session = URLSession(configuration: configuration, delegate: requests, delegateQueue: queue)
    }

    deinit {
        // The session keeps its delegate until invalidated; requests under way still finish.
        session.finishTasksAndInvalidate()
    }

    public func get(url: String, timeoutMs: Int64, completion: HttpCompletion) {
        guard let target = URL(string: url) else {
            completion.noResponse(reason: "not a URL: \(url)")
            return
        }
        let timeout = TimeInterval(max(timeoutMs, 1)) / 1000
        // `timeoutInterval` only bounds the wait between packets; the timer below bounds the whole.
        var request = URLRequest(url: target, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "GET"
        let task = session.dataTask(with: request)
        let id = requests.add(task, completion)
        task.resume()
        let requests = self.requests
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            requests.timeOut(id, after: timeoutMs)
        }
    }
}

/// The session's delegate: the state of each request under way, by task.
private final class Requests: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // `@unchecked`: `pending` is only touched with `lock` held.
    private struct Pending {
        let task: URLSessionTask
        let completion: HttpCompletion
        var status: Int32?
        var retryAfter: String?
        var bodyBytes = 0
    }

    /// The most of a body read: the status decides (the engine's limit too).
    private static let maxBody = 64 * 1024

    private let lock = NSLock()
    private var pending: [Int: Pending] = [:]

    func add(_ task: URLSessionTask, _ completion: HttpCompletion) -> Int {
        lock.lock()
        defer { lock.unlock() }
        pending[task.taskIdentifier] = Pending(task: task, completion: completion)
        return task.taskIdentifier
    }

    /// Removes the request: whoever takes it answers it, once.
    private func take(_ id: Int) -> Pending? {
        lock.lock()
        defer { lock.unlock() }
        return pending.removeValue(forKey: id)
    }

    func timeOut(_ id: Int, after timeoutMs: Int64) {
        guard let request = take(id) else { return }
        request.completion.noResponse(reason: "timed out after \(timeoutMs) ms")
        request.task.cancel()
    }

    // A redirect is answered with its own status, never followed: a captive portal's page is
    // not the collector.
    func urlSession(_ session: URLSession, task: URLSessionTask,
                    willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
                    completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let http = response as? HTTPURLResponse else {
            completionHandler(.cancel)
            return
        }
        lock.lock()
        pending[dataTask.taskIdentifier]?.status = Int32(clamping: http.statusCode)
        pending[dataTask.taskIdentifier]?.retryAfter = http.value(forHTTPHeaderField: "Retry-After")
        lock.unlock()
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let id = dataTask.taskIdentifier
        lock.lock()
        pending[id]?.bodyBytes += data.count
        let enough = (pending[id]?.bodyBytes ?? 0) > Self.maxBody
        lock.unlock()
        // Past the limit the status stands; the rest of the body is not read.
        if enough, let request = take(id) {
            if let status = request.status {
                request.completion.response(status: status, retryAfter: request.retryAfter)
            } else {
                request.completion.noResponse(reason: "a body before any response")
            }
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let request = take(task.taskIdentifier) else { return }
        if error == nil, let status = request.status {
            request.completion.response(status: status, retryAfter: request.retryAfter)
        } else {
            request.completion.noResponse(reason: error.map { "\($0)" } ?? "no HTTP response")
        }
    }
}
