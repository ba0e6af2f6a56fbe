// The contract's scenarios (docs/contract.md) through the shipped HttpURLConnectionTransport, against the real engine
// and a real collector process: every request goes through the platform's HTTP stack. The same
// scenarios run from Swift through URLSessionTransport (swift/Tests/HitKitTests/HostTransportTests.swift).
package dev.hitkit

import java.net.HttpURLConnection
import java.net.URL
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class HostTransportTest : CollectorTest() {
    /** The shipped transport, counting the connections it opens (so a test sees it was used). */
    class CountingTransport : HttpURLConnectionTransport() {
        val urls = CopyOnWriteArrayList<String>()
        override fun openConnection(url: URL): HttpURLConnection {
            urls += url.toString()
            return super.openConnection(url)
        }
    }

    private val transport = CountingTransport()

    private fun tracker(storage: OfflineModeKey, timeoutMs: Long = 2000L) =
        Tracker(config(dir(), storage).copy(requestTimeoutMs = timeoutMs), transport)

    private fun Tracker.dispatchAndWait(ignoreServerPacing: Boolean = false) =
        runBlocking { offline.dispatchAndWait(null, ignoreServerPacing) }

    private fun Tracker.flushNow() = runBlocking { flush() }

    @Test fun storedOnLossOfConnectionThenDispatchedOldestFirst() = tracker(OfflineModeKey.REQUIRED).use { tracker ->
        Collector.setMode("refuse")
        listOf("h1", "h2", "h3").forEach { tracker.sendScreen(it) }
        tracker.flushNow()
        assertEquals(3L, tracker.offline.count())
        assertEquals(listOf(0, 0, 0), tracker.offline.get().map { it.retryCount })

        Collector.setMode("ok")
        assertEquals(DispatchReport(3L, 0L, 0L, 0L), tracker.dispatchAndWait())
        assertEquals(listOf("h1", "h2", "h3"), Collector.deliveredPages())
        assertEquals(0L, tracker.offline.count())
        // The live attempts (lost), then the dispatch: all through the transport.
        val dispatched = transport.urls.takeLast(3)
        assertTrue(transport.urls.toString(), transport.urls.size > 3)
        assertEquals(listOf("h1", "h2", "h3"), dispatched.map { Regex("[?&]p=([^&]*)").find(it)?.groupValues?.get(1) })
    }

    @Test fun a500GetsExactlyThreeAttemptsThenTheHitIsDropped() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        tracker.sendScreen("doomed")
        tracker.flushNow()
        Collector.setMode("500")
        assertEquals(DispatchReport(0L, 1L, 0L, 1L), tracker.dispatchAndWait())
        assertEquals(1, tracker.offline.oldest()?.retryCount)
        assertEquals(DispatchReport(0L, 1L, 0L, 1L), tracker.dispatchAndWait())
        assertEquals(DispatchReport(0L, 0L, 1L, 0L), tracker.dispatchAndWait())
        assertEquals(listOf(500, 500, 500), Collector.requests().map { it.answered })
        assertEquals(0L, tracker.offline.count())
        assertEquals(3, transport.urls.size)
    }

    /** Refused, reset, cut mid-response, hung, or a name that does not resolve: no attempt spent. */
    @Test fun noCompleteResponseCostsNoAttempt() = tracker(OfflineModeKey.ALWAYS, timeoutMs = 500L).use { tracker ->
        tracker.sendScreen("o1")
        tracker.sendScreen("o2")
        tracker.flushNow()
        // Requests the collector sees in one pass (a loss stops the pass). The JDK resends a GET
        // once on its own when the connection breaks before a response (see the transport).
        val seen = mapOf("refuse" to 0..0, "reset" to 1..2, "reset-mid" to 1..2, "hang" to 1..1)
        for ((mode, expected) in seen) {
            Collector.setMode(mode)
            val before = Collector.requests().size
            val started = System.nanoTime()
            assertEquals(mode, DispatchReport(0L, 0L, 0L, 2L), tracker.dispatchAndWait())
            val tookMs = (System.nanoTime() - started) / 1_000_000
            // The transport's own timeout answers; the engine would give up only 2 s later.
            assertTrue("$mode took $tookMs ms", tookMs < 1_800)
            val requests = Collector.requests().drop(before)
            assertTrue("$mode: ${requests.size} requests", requests.size in expected)
            assertTrue("$mode: never answered", requests.all { it.answered == null })
            assertEquals(mode, listOf(0, 0), tracker.offline.get().map { it.retryCount })
        }
        Collector.setMode("ok")
        tracker.setConfig("endpoint", "http://hitkit-test.invalid/hit.xiti", null)
        assertEquals("DNS", DispatchReport(0L, 0L, 0L, 2L), tracker.dispatchAndWait())
        assertEquals(listOf(0, 0), tracker.offline.get().map { it.retryCount })

        tracker.setConfig("endpoint", Collector.endpoint, null)
        assertEquals(2L, tracker.dispatchAndWait().sent)
        assertEquals(listOf("o1", "o2"), Collector.deliveredPages())
    }

    /** The collector answers 302 to /redirected (where it answers 200): the 302 is the answer. */
    @Test fun aRedirectIsAnsweredWithItsStatusNotFollowed() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        tracker.sendScreen("moved")
        tracker.flushNow()
        Collector.setMode("redirect")
        assertEquals(DispatchReport(0L, 1L, 0L, 1L), tracker.dispatchAndWait())
        assertEquals("a refusal costs one attempt", 1, tracker.offline.oldest()?.retryCount)
        assertEquals(listOf(302), Collector.requests().map { it.answered })
        assertTrue("nothing delivered at the redirect's target", Collector.delivered().isEmpty())
    }

    /** A gigabytes-long body: the status decides, at most 64 KiB is read. */
    @Test fun aHugeBodyIsNotRead() = tracker(OfflineModeKey.NEVER).use { tracker ->
        val recorder = Recorder()
        tracker.setDelegate(recorder)
        Collector.setMode("body-${16L shl 30}")
        val started = System.nanoTime()
        tracker.sendScreen("big")
        tracker.flushNow()
        val tookMs = (System.nanoTime() - started) / 1_000_000
        assertEquals(listOf(HitStatus.SUCCESS), recorder.of("send").map { it.status })
        assertTrue("took $tookMs ms: reading 16 GiB takes far longer", tookMs < 5_000)
    }

    /** Retry-After on a 503, passed on by the host's stack, pauses dispatch unless the app insists. */
    @Test fun retryAfterFromTheHostStackPausesDispatch() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        listOf("p1", "p2", "p3").forEach { tracker.sendScreen(it) }
        tracker.flushNow()
        Collector.setMode("503,retry-after=2")
        assertEquals("stops at the first 503", DispatchReport(0L, 1L, 0L, 3L), tracker.dispatchAndWait())

        Collector.setMode("ok")
        // Without the header this would send: an explicit dispatch ignores the backoff.
        assertEquals("paused", DispatchReport(0L, 0L, 0L, 3L), tracker.dispatchAndWait())
        assertEquals(1, Collector.requests().size)
        assertEquals(3L, tracker.dispatchAndWait(ignoreServerPacing = true).sent)
        assertEquals(listOf("p1", "p2", "p3"), Collector.deliveredPages())

        // The pause ends when its time is over.
        tracker.sendScreen("p4")
        tracker.flushNow()
        Collector.setMode("503,retry-after=1")
        assertEquals(1L, tracker.dispatchAndWait().failed)
        Collector.setMode("ok")
        assertEquals(0L, tracker.dispatchAndWait().sent)
        Thread.sleep(1_100)
        assertEquals(1L, tracker.dispatchAndWait().sent)
    }
}
