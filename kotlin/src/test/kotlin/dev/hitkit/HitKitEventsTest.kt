// The delegate's messages as a Flow (Tracker.events), against the real engine and a real
// collector process. The same checks run from Swift (HitKitEventsTests.swift).
package dev.hitkit

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class HitKitEventsTest : CollectorTest() {
    /** The first [n] events, or a failure after 10 s. */
    private fun Flow<TrackerEvent>.firstEvents(n: Int): List<TrackerEvent> =
        runBlocking { withTimeout(10_000) { take(n).toList() } }

    private fun kinds(events: List<TrackerEvent>) = events.map { it::class.simpleName }

    @Test fun aStoredThenDispatchedHitArrivesInOrder() = Tracker(config(dir(), OfflineModeKey.REQUIRED)).use { tracker ->
        val events = tracker.events()
        Collector.setMode("refuse") // no connection: the hit is stored
        tracker.sendScreen("stored")
        runBlocking { tracker.flush() }
        Collector.setMode("ok")
        assertEquals(1L, runBlocking { tracker.offline.dispatchAndWait() }.sent)

        val got = events.firstEvents(3)
        assertEquals(listOf("BuildDidEnd", "SaveDidEnd", "SendDidEnd"), kinds(got))
        val (built, saved, sent) = got
        assertEquals(HitStatus.SUCCESS, (built as TrackerEvent.BuildDidEnd).status)
        assertEquals(HitStatus.SUCCESS, (sent as TrackerEvent.SendDidEnd).status)
        for (event in got) assertTrue("$event", "p=stored" in event.message)
        assertTrue("$saved", "cn=offline" in saved.message)
        assertEquals(listOf("stored"), Collector.deliveredPages())
    }

    @Test fun eventsReplacesTheDelegateSetBefore() = Tracker(config(dir())).use { tracker ->
        val before = Recorder()
        tracker.setDelegate(before)
        val events = tracker.events()
        tracker.sendScreen("live")
        runBlocking { tracker.flush() }
        val got = events.firstEvents(2)
        assertEquals(listOf(TrackerEvent.BuildDidEnd::class, TrackerEvent.SendDidEnd::class), got.map { it::class })
        assertEquals(HitStatus.SUCCESS, (got[1] as TrackerEvent.SendDidEnd).status)
        assertTrue(before.events.isEmpty())
    }

    @Test fun forwardingToKeepsADelegateInTheLoop() = Tracker(config(dir())).use { tracker ->
        val kept = Recorder()
        val events = tracker.events(forwardingTo = kept)
        tracker.sendScreen("both")
        runBlocking { tracker.flush() }
        val got = events.firstEvents(2)
        assertEquals(listOf("BuildDidEnd", "SendDidEnd"), kinds(got))
        eventually("the kept delegate's two messages") { kept.events.size == 2 }
        assertEquals(listOf("build", "send"), kept.events.map { it.kind })
        assertEquals(got.map { it.message }, kept.events.map { it.message })
    }

    /**
     * A delegate that throws still lets the flow have the event. HitKit contains the throw (the
     * panic UniFFI makes of it is printed on stderr, with a backtrace under RUST_BACKTRACE).
     */
    @Test fun aThrowingForwardedDelegateCostsTheFlowNothing() = Tracker(config(dir())).use { tracker ->
        val throwing = object : TrackerDelegateAdapter() {
            override fun buildDidEnd(status: HitStatus, message: String) = throw IllegalStateException("app bug")
        }
        val events = tracker.events(forwardingTo = throwing)
        tracker.sendScreen("after-a-throw")
        runBlocking { tracker.flush() }
        assertEquals(listOf("BuildDidEnd", "SendDidEnd"), kinds(events.firstEvents(2)))
    }

    @Test fun warningsArriveAsWarningDidOccur() = Tracker(config(dir()).copy(maxHitSize = 256)).use { tracker ->
        val events = tracker.events()
        tracker.sendScreen("big", listOf(HitParam("huge", "x".repeat(1000))))
        val warning = runBlocking { withTimeout(10_000) { events.first { it is TrackerEvent.WarningDidOccur } } }
        assertTrue("$warning", "`huge` cannot fit" in warning.message)
    }

    @Test fun theFlowHasOneCollector() {
        Tracker(config(dir())).use { tracker ->
            val events = tracker.events()
            tracker.sendScreen("once")
            runBlocking { tracker.flush() }
            assertEquals(2, events.firstEvents(2).size)
            assertThrows(IllegalStateException::class.java) { events.firstEvents(1) }
        }
    }
}
