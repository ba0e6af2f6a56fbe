// The cost of one `sendScreen` call from Kotlin (a benchmark, not a test): run by
// scripts/bench-bindings.sh. Tracker in `always` mode on a temp dir: no network.
// Prints lines of `<KIND> kotlin <median> <min> <max> <cpu median> <batches> <calls>` (ns per
// call): wall-clock time, and the calling thread's CPU time (robust to a busy machine), for
//   RESULT     sendScreen("screen"): the package's call, one C call (hitkit_quick_send)
//   GENERATED  sendScreenGenerated("screen"): UniFFI's generated call, four FFI calls
//   FLOOR      offlineMode(): a generated call that does next to nothing in Rust
package dev.hitkit

import java.lang.management.ManagementFactory
import java.nio.file.Files
import kotlinx.coroutines.runBlocking

fun main(args: Array<String>) {
    val batches = args.getOrNull(0)?.toInt() ?: 20
    val calls = args.getOrNull(1)?.toInt() ?: 2000
    val dir = Files.createTempDirectory("hitkit-bench-kotlin-")
    try {
        Tracker(
            TrackerConfig(
                site = "123",
                databasePath = dir.toString(),
                endpoint = "http://127.0.0.1:9/hit.xiti", // never contacted in `always` mode
                storage = OfflineModeKey.ALWAYS,
                maxStoredHits = 0L,
            ),
        ).use { tracker ->
            check(QuickSend.available) { "hitkit_quick_send is not in the library" }
            measure("RESULT", tracker, batches, calls, flush = true) { tracker.sendScreen("screen") }
            measure("GENERATED", tracker, batches, calls, flush = true) { tracker.sendScreenGenerated("screen") }
            measure("FLOOR", tracker, batches, calls, flush = false) { tracker.offlineMode() }
        }
    } finally {
        // The closed tracker's worker finishes in the background, writing its clean-close
        // record last: a delete racing it is tried again.
        for (attempt in 1..100) {
            try {
                Files.walk(dir).sorted(Comparator.reverseOrder()).forEach { Files.deleteIfExists(it) }
                break
            } catch (e: java.io.IOException) {
                Thread.sleep(20)
            }
        }
    }
}

private val threads = ManagementFactory.getThreadMXBean()

private fun median(sorted: List<Double>) = (sorted[(sorted.size - 1) / 2] + sorted[sorted.size / 2]) / 2

/**
 * 5 warm-up batches (the JIT: C2 needs a few thousand calls; JNA; the engine's first
 * allocations), then [batches] timed batches of [calls] calls: (wall ns, CPU ns) per call.
 * With [flush], the worker catches up after each batch (untimed), so every batch starts from
 * an empty queue.
 */
private inline fun measure(kind: String, tracker: Tracker, batches: Int, calls: Int, flush: Boolean, call: () -> Unit) {
    val results = List(5 + batches) {
        val cpu0 = threads.currentThreadCpuTime
        val start = System.nanoTime()
        for (i in 0 until calls) call()
        val wall = (System.nanoTime() - start).toDouble() / calls
        val cpu = (threads.currentThreadCpuTime - cpu0).toDouble() / calls
        if (flush) runBlocking { tracker.flush() }
        wall to cpu
    }.drop(5)
    val wall = results.map { it.first }.sorted()
    val cpu = results.map { it.second }.sorted()
    println("%s kotlin %.0f %.0f %.0f %.0f %d %d".format(kind, median(wall), wall.first(), wall.last(), median(cpu), batches, calls))
}
