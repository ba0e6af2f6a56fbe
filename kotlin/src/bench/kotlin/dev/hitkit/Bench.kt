// The cost of one `sendScreen` call from Kotlin (a benchmark, not a test): run by
// scripts/bench-bindings.sh. Tracker in `always` mode on a temp dir: no network.
// Prints `RESULT kotlin <median> <min> <max> <cpu median> <batches> <calls>` (ns per call):
// wall-clock time, and the calling thread's CPU time (robust to a busy machine); then
// `FLOOR kotlin ...`, the same for `offlineMode()`, a call that does next to nothing in Rust.
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
                maxStoredHits = 0uL,
            ),
        ).use { tracker ->
            // Warm-up: the JIT (C2 needs a few thousand calls), JNA, the engine's first allocations.
            repeat(5) { oneBatch(tracker, calls) }
            val results = List(batches) { oneBatch(tracker, calls) }
            val wall = results.map { it.first }.sorted()
            val cpu = results.map { it.second }.sorted()
            println("RESULT kotlin %.0f %.0f %.0f %.0f %d %d".format(median(wall), wall.first(), wall.last(), median(cpu), batches, calls))
            // The floor: a call that does almost nothing in Rust (reads the storage mode).
            repeat(5) { floorBatch(tracker, calls) }
            val floor = List(batches) { floorBatch(tracker, calls) }
            val fw = floor.map { it.first }.sorted()
            val fc = floor.map { it.second }.sorted()
            println("FLOOR kotlin %.0f %.0f %.0f %.0f %d %d".format(median(fw), fw.first(), fw.last(), median(fc), batches, calls))
        }
    } finally {
        Files.walk(dir).sorted(Comparator.reverseOrder()).forEach { Files.deleteIfExists(it) }
    }
}

private val threads = ManagementFactory.getThreadMXBean()

private fun median(sorted: List<Double>) = (sorted[(sorted.size - 1) / 2] + sorted[sorted.size / 2]) / 2

/**
 * Times `calls` sendScreen calls: (wall ns, CPU ns) per call. Then lets the worker catch up
 * (untimed), so that every batch starts from an empty queue.
 */
private fun oneBatch(tracker: Tracker, calls: Int): Pair<Double, Double> {
    val cpu0 = threads.currentThreadCpuTime
    val start = System.nanoTime()
    for (i in 0 until calls) tracker.sendScreen("screen")
    val wall = (System.nanoTime() - start).toDouble() / calls
    val cpu = (threads.currentThreadCpuTime - cpu0).toDouble() / calls
    runBlocking { tracker.flush() }
    return wall to cpu
}

private fun floorBatch(tracker: Tracker, calls: Int): Pair<Double, Double> {
    val cpu0 = threads.currentThreadCpuTime
    val start = System.nanoTime()
    for (i in 0 until calls) tracker.offlineMode()
    return (System.nanoTime() - start).toDouble() / calls to (threads.currentThreadCpuTime - cpu0).toDouble() / calls
}
