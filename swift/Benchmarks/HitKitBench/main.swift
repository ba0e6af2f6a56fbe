// The cost of one `sendScreen` call from Swift (a benchmark, not a test): run by
// scripts/bench-bindings.sh, which builds it in release mode as a small package that depends on
// the package at the repository root (this file is not part of the HitKit package). Tracker in `always` mode on a temp
// dir: no network. Prints `RESULT swift <median> <min> <max> <cpu median> <batches> <calls>`
// (ns per call): wall-clock time, and the calling thread's CPU time (robust to a busy machine);
// then `GENERATED swift ...` for UniFFI's generated call (`sendScreenGenerated`), and
// `FLOOR swift ...` for `offlineMode()`, a call that does next to nothing in Rust.
import Foundation
import HitKit

let args = CommandLine.arguments
let batches = args.count > 1 ? Int(args[1])! : 20
let calls = args.count > 2 ? Int(args[2])! : 2000

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hitkit-bench-swift-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: dir) }

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func threadCPU() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
func median(_ sorted: [Double]) -> Double { (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2 }

/// 5 warm-up batches, then `batches` timed batches of `calls` calls: (wall ns, CPU ns) per call,
/// printed as `KIND swift <median> <min> <max> <cpu median> <batches> <calls>`. With `flush`, the
/// worker catches up after each batch (untimed), so every batch starts from an empty queue.
/// Synchronous, so the timed loop stays on one thread.
func measure(_ kind: String, _ tracker: Tracker, flush: Bool, _ call: () throws -> Void) rethrows {
    var results: [(Double, Double)] = []
    for batch in 0..<(5 + batches) {
        let cpu0 = threadCPU()
        let start = now()
        for _ in 0..<calls { try call() }
        let wall = Double(now() - start) / Double(calls)
        let cpu = Double(threadCPU() - cpu0) / Double(calls)
        if flush {
            let done = DispatchSemaphore(value: 0)
            Task.detached { try? await tracker.flush(); done.signal() }
            done.wait()
        }
        if batch >= 5 { results.append((wall, cpu)) }
    }
    let wall = results.map(\.0).sorted(), cpu = results.map(\.1).sorted()
    print(kind + String(format: " swift %.0f %.0f %.0f %.0f %d %d", median(wall), wall.first!, wall.last!, median(cpu), batches, calls))
}

let tracker = try Tracker(config: TrackerConfig(
    site: "123", databasePath: dir,
    endpoint: "http://127.0.0.1:9/hit.xiti",   // never contacted in `always` mode
    storage: .always, maxStoredHits: 0))
try measure("RESULT", tracker, flush: true) { try tracker.sendScreen(name: "screen") }
try measure("GENERATED", tracker, flush: true) { try tracker.sendScreenGenerated(name: "screen") }
measure("FLOOR", tracker, flush: false) { _ = tracker.offlineMode() }
