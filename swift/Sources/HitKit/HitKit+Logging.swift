// HitKit+Logging.swift — where HitKit's log lines go, in one line (hand-written).
//
//   HitKitLog.useUnifiedLog()                       the unified log (os.Logger): Console.app,
//                                                   `log stream --predicate 'subsystem == "dev.hitkit"'`
//   HitKitLog.use { level, message in ... }         a closure of your own
//   HitKitLog.usePlatformLog()                      back to the default: stderr
//   setLogger(logger: ClosureLogger { ... })        the same, with the generated call
//
// How much is logged is each tracker's `logLevel` (`TrackerConfig.logLevel` or the
// `logLevel` key: off, error, warning (default), info, debug): `debug` adds a line per hit
// built, `info` a line per hit sent or saved. The destination is process-wide: it applies to
// every tracker (contract §9). Lines arrive on whichever thread logs — HitKit's worker, or the
// caller's for an error found on the spot — so the closure must be thread-safe.
//
// In a file that imports both `os` and `HitKit`, the generated protocol is `HitKit.Logger`
// (plain `Logger` is ambiguous with `os.Logger`).

import Foundation
#if canImport(os)
import os
#endif

/// A `Logger` that hands every line to a closure.
public final class ClosureLogger: Logger {
    private let body: @Sendable (LogLevel, String) -> Void

    public init(_ body: @escaping @Sendable (_ level: LogLevel, _ message: String) -> Void) {
        self.body = body
    }

    public func log(level: LogLevel, message: String) { body(level, message) }
}

/// One-line choices of where every tracker's log lines go.
public enum HitKitLog {
    /// Every tracker's lines go to `body` instead of the platform log.
    public static func use(_ body: @escaping @Sendable (_ level: LogLevel, _ message: String) -> Void) {
        setLogger(logger: ClosureLogger(body))
    }

    /// Back to the platform log: stderr (what Xcode's console shows).
    public static func usePlatformLog() {
        setLogger(logger: nil)
    }

    #if canImport(os)
    /// Every tracker's lines go to the unified log, under `subsystem` and `category`. Lines
    /// carry hit URLs (visitor id, screen names: contract §8.3), so by default they are logged
    /// `.private`: shown while a debugger is attached, `<private>` in a device's log otherwise.
    /// Pass `publicMessages: true` to see them in Console.app from a release build — best
    /// with `queryInMessages = false`, which keeps the query out of every message.
    ///
    /// NOT COMPILED on this project's build machine (Linux has no `os` module); the closure
    /// path it is built on (`ClosureLogger`) is compiled and tested there.
    @available(iOS 14.0, macOS 11.0, tvOS 14.0, watchOS 7.0, *)
    public static func useUnifiedLog(
        subsystem: String = "dev.hitkit",
        category: String = "HitKit",
        publicMessages: Bool = false
    ) {
        let log = os.Logger(subsystem: subsystem, category: category)
        use { level, message in
            // The privacy of an interpolation must be a literal, hence two calls.
            if publicMessages {
                log.log(level: osLogType(level), "\(message, privacy: .public)")
            } else {
                log.log(level: osLogType(level), "\(message, privacy: .private)")
            }
        }
    }

    /// error → error, warning → default (notice), info → info, debug → debug.
    @available(iOS 14.0, macOS 11.0, tvOS 14.0, watchOS 7.0, *)
    static func osLogType(_ level: LogLevel) -> OSLogType {
        switch level {
        case .error: return .error
        case .warning: return .default
        case .info: return .info
        case .debug, .off: return .debug
        }
    }
    #endif
}
