// NetworkAvailability: the function Android's ConnectivityMonitor calls on every network
// callback, with a hand-driven clock, then against the real engine and collector process.
package dev.hitkit

import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class NetworkAvailabilityTest : CollectorTest() {
    /** A clock the test moves: actions wait in [waiting] until [fire]. */
    private class Clock {
        val delays = CopyOnWriteArrayList<Long>()
        private val waiting = CopyOnWriteArrayList<() -> Unit>()
        fun later(delayMs: Long, action: () -> Unit) {
            delays += delayMs
            waiting += action
        }
        fun fire() {
            val due = waiting.toList()
            waiting.clear()
            due.forEach { it() }
        }
        val pending get() = waiting.size
    }

    private val clock = Clock()
    private val reports = CopyOnWriteArrayList<Boolean>()
    private val availability = NetworkAvailability(1_500L, clock::later) { reports += it }

    @Test fun reportsOnlyChangesAndAComebackAtOnce() {
        availability.update(true)
        availability.update(true)
        assertEquals("the first update, then nothing new", listOf(true), reports)

        availability.update(false)
        availability.update(false)
        assertEquals("a loss waits", listOf(true), reports)
        assertEquals("one wait for repeated losses", listOf(1_500L), clock.delays)
        clock.fire()
        assertEquals(listOf(true, false), reports)
        availability.update(false)
        assertEquals("already reported", 0, clock.pending)

        availability.update(true)
        assertEquals("coming back is at once", listOf(true, false, true), reports)
    }

    @Test fun aLossShorterThanTheSettleTimeReportsNothing() {
        availability.update(true)
        availability.update(false) // Wi-Fi lost...
        availability.update(true) // ...cellular there
        clock.fire()
        assertEquals(listOf(true), reports)

        // A loss that starts again waits its own full time.
        availability.update(false)
        availability.update(true)
        availability.update(false)
        assertEquals(listOf(1_500L, 1_500L, 1_500L), clock.delays)
        clock.fire()
        assertEquals(listOf(true, false), reports)
    }

    @Test fun theFirstUpdateIsReportedEvenWhenOffline() {
        availability.update(false)
        clock.fire()
        assertEquals(listOf(false), reports)
    }

    @Test fun aClosedTrackerIsIgnored() {
        val tracker = Tracker(config(dir(), OfflineModeKey.REQUIRED))
        val availability = NetworkAvailability(tracker, 0L)
        tracker.close()
        availability.update(false) // would throw IllegalStateException from the generated call
        availability.update(true)
    }

    /** `required` mode: what was stored while offline goes out when the network is back, with no new hit. */
    @Test fun storedHitsGoOutWhenTheNetworkComesBack() =
        Tracker(config(dir(), OfflineModeKey.REQUIRED)).use { tracker ->
            val availability = NetworkAvailability(tracker, lossSettleMs = 0L)
            availability.update(false)
            listOf("n1", "n2").forEach { tracker.sendScreen(it) }
            runBlocking { tracker.flush() }
            assertEquals(2L, tracker.offline.count())
            assertTrue("offline: nothing tried", Collector.requests().isEmpty())
            assertEquals(listOf(0, 0), tracker.offline.get().map { it.retryCount })

            availability.update(true)
            eventually("stored hits delivered") { Collector.delivered().size == 2 }
            assertEquals(listOf("n1", "n2"), Collector.deliveredPages())
            eventually("and deleted") { tracker.offline.count() == 0L }
        }

    /** The real timer: a loss is reported after the settle time, not before. */
    @Test fun aLossIsReportedAfterTheSettleTime() {
        val heard = CopyOnWriteArrayList<Pair<Boolean, Long>>()
        val started = System.nanoTime()
        val availability = NetworkAvailability(300L) { heard += it to (System.nanoTime() - started) / 1_000_000 }
        availability.update(false)
        eventually("the loss reported") { heard.isNotEmpty() }
        assertEquals(false, heard[0].first)
        assertTrue("after ${heard[0].second} ms", heard[0].second >= 300)
    }
}
