// HitKit+Events.swift — the delegate's messages as an AsyncStream (hand-written).
//
//   for await event in tracker.events() {
//       switch event {
//       case .sendDidEnd(.success, let url): ...
//       case .warningDidOccur(let message): ...
//       default: break
//       }
//   }
//
// Built on the delegate: `events()` sets a delegate that feeds the stream. A tracker has one
// delegate and HitKit cannot hand back the one set before, so `events()` REPLACES it; to keep
// a delegate, pass it as `forwardingTo:` — it hears every message first, then the stream does.
// Setting another delegate later (or `setDelegate(nil)`) ends the stream, and so does the
// tracker's end: the stream's delegate is released then, and finishes the stream.

import Foundation

/// One message of `TrackerDelegate`, as a value.
public enum TrackerEvent: Sendable, Equatable {
    /// A hit (or a part of a split hit) was built; the message is its URL.
    case buildDidEnd(status: HitStatus, message: String)
    /// A send ended: `.success` on a 2xx answer, `.failed` otherwise.
    case sendDidEnd(status: HitStatus, message: String)
    /// A hit was stored and synced to disk.
    case saveDidEnd(message: String)
    /// Something was dropped or adjusted.
    case warningDidOccur(message: String)
    /// Something failed.
    case errorDidOccur(message: String)
}

extension Tracker {
    /// The tracker's delegate messages as a stream, in the order HitKit emits them (on its
    /// worker thread). Replaces the tracker's delegate; `forwardingTo` keeps one in the loop.
    /// The stream starts buffering at once (`bufferingPolicy`, unbounded by default), so
    /// nothing is missed between this call and the first `for await`. One consumer at a time.
    /// Ending the consumer's task stops the buffering; `forwardingTo` still hears every message.
    public func events(
        forwardingTo delegate: TrackerDelegate? = nil,
        bufferingPolicy: AsyncStream<TrackerEvent>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<TrackerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: TrackerEvent.self, bufferingPolicy: bufferingPolicy)
        setDelegate(delegate: StreamDelegate(continuation, forwardingTo: delegate))
        return stream
    }
}

/// Yields every message into a stream after handing it to `forward`. HitKit holds it as the
/// tracker's delegate; when HitKit lets go of it (another delegate, the tracker's end), the
/// stream finishes.
final class StreamDelegate: TrackerDelegate {
    private let continuation: AsyncStream<TrackerEvent>.Continuation
    private let forward: TrackerDelegate?

    init(_ continuation: AsyncStream<TrackerEvent>.Continuation, forwardingTo forward: TrackerDelegate?) {
        self.continuation = continuation
        self.forward = forward
    }

    deinit { continuation.finish() }

    func buildDidEnd(status: HitStatus, message: String) {
        forward?.buildDidEnd(status: status, message: message)
        continuation.yield(.buildDidEnd(status: status, message: message))
    }

    func sendDidEnd(status: HitStatus, message: String) {
        forward?.sendDidEnd(status: status, message: message)
        continuation.yield(.sendDidEnd(status: status, message: message))
    }

    func saveDidEnd(message: String) {
        forward?.saveDidEnd(message: message)
        continuation.yield(.saveDidEnd(message: message))
    }

    func warningDidOccur(message: String) {
        forward?.warningDidOccur(message: message)
        continuation.yield(.warningDidOccur(message: message))
    }

    func errorDidOccur(message: String) {
        forward?.errorDidOccur(message: message)
        continuation.yield(.errorDidOccur(message: message))
    }
}
