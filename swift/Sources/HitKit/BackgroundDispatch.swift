// BackgroundDispatch.swift — `offline.dispatch()` that can finish after the app leaves the
// screen: inside a UIApplication background task (iOS, tvOS, visionOS, Mac Catalyst) or a
// ProcessInfo expiring activity (watchOS); elsewhere the plain dispatch.
//
// The logic (`BackgroundDispatch`) is plain Swift, tested on Linux with a fake runner; the two
// platform runners at the end of this file are a few lines each and are NOT COMPILED HERE
// (no Apple SDK on this machine).
import Foundation

extension Offline {
    /// Sends every stored hit, oldest first, in the background; each one the collector accepts
    /// is deleted. Runs at once, whatever the backoff, but not while the collector asked to wait
    /// (`Retry-After`) unless `ignoreServerPacing`.
    ///
    /// On iOS, tvOS and visionOS the pass runs inside a background task, on watchOS inside an
    /// expiring activity, so it can finish once the app leaves the screen; it stops cleanly a
    /// little before the system's limit (`BackgroundDispatch`), and the hits it did not reach
    /// stay stored. Elsewhere this is `dispatchWithoutBackgroundTime(ignoreServerPacing:)`.
    public func dispatch(ignoreServerPacing: Bool = false) {
        if let background = BackgroundDispatch.platform {
            background.dispatch(self, ignoreServerPacing: ignoreServerPacing)
        } else {
            dispatchWithoutBackgroundTime(ignoreServerPacing: ignoreServerPacing)
        }
    }
}

/// Time the system grants an app to finish work in the background.
public protocol BackgroundTimeRunner: Sendable {
    /// Asks the system for time and returns at once. Then, from any thread:
    /// - `began(secondsLeft, end)` exactly once: the time has started (`secondsLeft`: how long
    ///   the system gives, `nil` when it sets no limit); the caller calls `end` exactly once to
    ///   give the time back;
    /// - `expired()` at most once: the system wants the time back now (this may come before
    ///   `began`, when it grants none).
    func begin(name: String,
               began: @escaping @Sendable (_ secondsLeft: Double?, _ end: @escaping @Sendable () -> Void) -> Void,
               expired: @escaping @Sendable () -> Void)
}

/// A dispatch inside background time: the pass (`dispatchAndWait`) gets a deadline `margin`
/// seconds before the system's limit, at most `longest` seconds (also when the system sets no
/// limit: an app in the foreground can leave it at any moment); the time is given back exactly
/// once, when the pass is over or as soon as the system wants it back, whichever comes first.
public struct BackgroundDispatch: Sendable {
    public let runner: any BackgroundTimeRunner
    public let margin: Double
    public let longest: Double

    public init(runner: any BackgroundTimeRunner, margin: Double = 5, longest: Double = 25) {
        self.runner = runner
        self.margin = margin
        self.longest = longest
    }

    /// This platform's background time, or `nil` where there is none to ask for (Linux, macOS).
    public static var platform: BackgroundDispatch? {
        #if os(watchOS)
        return BackgroundDispatch(runner: ExpiringActivityRunner())
        #elseif canImport(UIKit)
        return BackgroundDispatch(runner: BackgroundTaskRunner())
        #else
        return nil
        #endif
    }

    /// Dispatches `offline`'s stored hits inside background time; returns at once.
    public func dispatch(_ offline: Offline, ignoreServerPacing: Bool = false) {
        run { deadlineMs in
            // The report and errors are the delegate's to hear, as for the plain dispatch.
            _ = try? await offline.dispatchAndWait(deadlineMs: deadlineMs, ignoreServerPacing: ignoreServerPacing)
        }
    }

    /// The deadline for a pass with `secondsLeft` of background time (`nil`: no limit), in ms.
    func deadlineMs(secondsLeft: Double?) -> Int64 {
        let seconds = min(secondsLeft ?? .infinity, longest + margin) - margin
        return Int64(max(seconds, 0) * 1000)
    }

    /// Runs `pass` with its deadline inside background time; returns at once.
    func run(_ pass: @escaping @Sendable (_ deadlineMs: Int64) async -> Void) {
        let time = HeldTime()
        let deadlineMs = self.deadlineMs
        runner.begin(name: "HitKit dispatch", began: { secondsLeft, end in
            time.began(end)
            let deadline = deadlineMs(secondsLeft)
            Task.detached {
                await pass(deadline)
                time.end()
            }
        }, expired: {
            time.end()
        })
    }
}

/// Background time held by one pass: given back exactly once, by whichever of the pass's end or
/// the system's expiry comes first (an expiry before the time began gives it back at once).
final class HeldTime: @unchecked Sendable {
    // `@unchecked`: `giveBack` and `ended` are only touched with `lock` held.
    private let lock = NSLock()
    private var giveBack: (@Sendable () -> Void)?
    private var ended = false

    func began(_ giveBack: @escaping @Sendable () -> Void) {
        lock.lock()
        if ended {
            lock.unlock()
            giveBack()
            return
        }
        self.giveBack = giveBack
        lock.unlock()
    }

    func end() {
        lock.lock()
        guard !ended else {
            lock.unlock()
            return
        }
        ended = true
        let giveBack = self.giveBack
        self.giveBack = nil
        lock.unlock()
        giveBack?()
    }
}

/// True the first time only.
final class Once: @unchecked Sendable {
    // `@unchecked`: `done` is only touched with `lock` held.
    private let lock = NSLock()
    private var done = false

    func first() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}

// MARK: - Platform runners: NOT COMPILED HERE (no Apple SDK on this machine)

#if os(watchOS)
/// watchOS: `ProcessInfo.performExpiringActivity`. NOT COMPILED HERE.
struct ExpiringActivityRunner: BackgroundTimeRunner {
    func begin(name: String,
               began: @escaping @Sendable (_ secondsLeft: Double?, _ end: @escaping @Sendable () -> Void) -> Void,
               expired: @escaping @Sendable () -> Void) {
        let once = Once()
        ProcessInfo.processInfo.performExpiringActivity(withReason: name) { expiring in
            if expiring {
                // None granted (the first call), or the system wants it back now.
                if once.first() { began(nil) {} }
                expired()
                return
            }
            guard once.first() else { return }
            // The activity lasts while this block runs: hold it until the pass gives it back.
            let done = DispatchSemaphore(value: 0)
            began(nil) { done.signal() }
            done.wait()
        }
    }
}
#elseif canImport(UIKit)
import UIKit

/// iOS, tvOS, visionOS, Mac Catalyst: `UIApplication.beginBackgroundTask`. NOT COMPILED HERE.
struct BackgroundTaskRunner: BackgroundTimeRunner {
    func begin(name: String,
               began: @escaping @Sendable (_ secondsLeft: Double?, _ end: @escaping @Sendable () -> Void) -> Void,
               expired: @escaping @Sendable () -> Void) {
        // `UIApplication.shared` belongs to the main actor: begin at once when called there (an
        // app entering the background), else as soon as the main thread can.
        if Thread.isMainThread {
            MainActor.assumeIsolated { Self.begin(name, began, expired) }
        } else {
            DispatchQueue.main.async { MainActor.assumeIsolated { Self.begin(name, began, expired) } }
        }
    }

    @MainActor
    private static func begin(_ name: String,
                              _ began: @escaping @Sendable (Double?, @escaping @Sendable () -> Void) -> Void,
                              _ expired: @escaping @Sendable () -> Void) {
        let app = UIApplication.shared
        // The expiry handler runs on the main thread and must end the task before it returns:
        // `expired` does, through `end` below.
        let id = app.beginBackgroundTask(withName: name) { expired() }
        let left = app.backgroundTimeRemaining   // huge while in the foreground
        began(left < 3600 ? left : nil) {
            if id != .invalid { app.endBackgroundTask(id) }
        }
    }
}
#endif
