// NetworkAvailability.swift — the host's connectivity updates, turned into the few calls to
// `tracker.setNetworkAvailable` that matter. `NetworkPathMonitor` (NWPathMonitor, at the end of
// this file, NOT COMPILED HERE) is a thin caller of it.
import Foundation

/// Takes every connectivity update (`update(_:)`) and reports only changes, in order:
///
/// - coming back is reported at once, so stored hits (`required` mode) go out without waiting
///   for the next hit;
/// - a loss is reported only once it has lasted `lossSettle` seconds: a Wi-Fi to cellular
///   handover (lost, then available a moment later) reports nothing. Reporting a loss late
///   costs little, as a failed connection costs no attempt anyway;
/// - repeated updates with the same value report nothing.
///
/// `NetworkAvailability(tracker:)` reports to `tracker.setNetworkAvailable` and holds the
/// tracker weakly, so a monitor never keeps a tracker open. Call `update(_:)` from any thread.
public final class NetworkAvailability: @unchecked Sendable {
    // `@unchecked`: the `var`s are only touched with `lock` held.
    public static let defaultLossSettle: TimeInterval = 2

    private let lossSettle: TimeInterval
    private let later: @Sendable (TimeInterval, @escaping @Sendable () -> Void) -> Void
    private let report: @Sendable (Bool) -> Void
    private let lock = NSLock()
    private var reported: Bool?          // nil: nothing reported yet, so the first update is
    private var generation: UInt64 = 0   // bumped to cancel a loss waiting to be reported
    private var lossPending = false

    /// Reports changes to `report` (on the caller's thread, or a Dispatch thread for a loss).
    public convenience init(lossSettle: TimeInterval = NetworkAvailability.defaultLossSettle,
                            report: @escaping @Sendable (_ available: Bool) -> Void) {
        self.init(lossSettle: lossSettle, later: { delay, action in
            DispatchQueue.global().asyncAfter(deadline: .now() + delay, execute: action)
        }, report: report)
    }

    /// Reports changes to `tracker.setNetworkAvailable`, while the tracker lives.
    public convenience init(tracker: Tracker, lossSettle: TimeInterval = NetworkAvailability.defaultLossSettle) {
        self.init(lossSettle: lossSettle) { [weak tracker] available in
            tracker?.setNetworkAvailable(available)
        }
    }

    /// `later(delay, action)` runs `action` after `delay` seconds (tests pass their own clock).
    init(lossSettle: TimeInterval,
         later: @escaping @Sendable (TimeInterval, @escaping @Sendable () -> Void) -> Void,
         report: @escaping @Sendable (Bool) -> Void) {
        self.lossSettle = lossSettle
        self.later = later
        self.report = report
    }

    /// The host's latest view: true when a usable network is there.
    public func update(_ available: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if available {
            generation &+= 1
            lossPending = false
            if reported != true {
                reported = true
                report(true)
            }
        } else if reported != false && !lossPending {
            lossPending = true
            generation &+= 1
            let mine = generation
            if lossSettle <= 0 {
                reportLoss(mine)
            } else {
                later(lossSettle) { [self] in
                    lock.lock()
                    defer { lock.unlock() }
                    reportLoss(mine)
                }
            }
        }
    }

    // With the lock held. A later update bumped the generation: that loss is over.
    private func reportLoss(_ generationAtLoss: UInt64) {
        guard generation == generationAtLoss else { return }
        lossPending = false
        reported = false
        report(false)
    }
}

// MARK: - NWPathMonitor: NOT COMPILED HERE (no Apple SDK on this machine)

#if canImport(Network)
import Network

/// Tells a tracker when the network comes and goes (`NWPathMonitor`), so stored hits go out as
/// soon as it is back. Keep it as long as the tracker; it stops when released. NOT COMPILED HERE.
///
/// ```swift
/// let networkMonitor = NetworkPathMonitor(tracker: tracker)
/// ```
public final class NetworkPathMonitor: @unchecked Sendable {
    // `@unchecked`: set once in `init`; NWPathMonitor is thread-safe.
    private let monitor = NWPathMonitor()

    public init(tracker: Tracker, lossSettle: TimeInterval = NetworkAvailability.defaultLossSettle) {
        let availability = NetworkAvailability(tracker: tracker, lossSettle: lossSettle)
        monitor.pathUpdateHandler = { path in availability.update(path.status == .satisfied) }
        monitor.start(queue: DispatchQueue(label: "dev.hitkit.network"))
    }

    deinit { monitor.cancel() }
}
#endif
