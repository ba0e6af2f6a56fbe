// The contract's scenarios (docs/contract.md), run from Kotlin against the real engine and a real collector process.
// The same scenarios run from Swift (swift/Tests/HitKitTests/HitKitTests.swift).
package dev.hitkit

import java.nio.file.Path
import java.time.Instant
import java.util.concurrent.ConcurrentHashMap
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotEquals
import org.junit.Assert.assertNotSame
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class HitKitTest : CollectorTest() {
    private fun tracker(storage: OfflineModeKey?, path: Path = dir()) = Tracker(config(path, storage))

    // ---- storage modes ----------------------------------------------------------------

    @Test fun neverDeliversLiveAndStoresNothing() = tracker(null).use { tracker ->
        assertEquals(OfflineModeKey.NEVER, tracker.offlineMode())
        tracker.sendScreen("home")
        tracker.sendTouch("buy")
        runBlocking { tracker.flush() }
        assertEquals(listOf("home", "buy"), Collector.deliveredPages())
        assertEquals("A", Collector.delivered()[1].param("click"))
        assertEquals(0L, tracker.offline.count())

        // A hit that cannot be sent is lost, not stored.
        Collector.setMode("refuse")
        tracker.sendScreen("lost")
        runBlocking { tracker.flush() }
        assertEquals(0L, tracker.offline.count())
        assertTrue(tracker.offline.get().isEmpty())
    }

    @Test fun requiredStoresOnLossOfConnectionAndDispatchDeliversOldestFirst() = tracker(OfflineModeKey.REQUIRED).use { tracker ->
        Collector.setMode("refuse")
        listOf("h1", "h2", "h3").forEach { tracker.sendScreen(it) }
        runBlocking { tracker.flush() }
        assertEquals(3L, tracker.offline.count())
        assertTrue(tracker.offline.get().all { it.isOffline && "cn=offline" in it.url && "olt=" in it.url })

        Collector.setMode("ok")
        val report = runBlocking { tracker.offline.dispatchAndWait() }
        assertEquals(DispatchReport(sent = 3L, failed = 0L, dropped = 0L, remaining = 0L), report)
        assertEquals(listOf("h1", "h2", "h3"), Collector.deliveredPages())
        assertEquals(0L, tracker.offline.count())

        // Fire-and-forget dispatch: the SmartTag SDK's `tracker.offline.dispatch()`.
        Collector.setMode("refuse")
        tracker.sendScreen("h4")
        runBlocking { tracker.flush() }
        assertEquals(1L, tracker.offline.count())
        Collector.setMode("ok")
        tracker.offline.dispatch()
        eventually("h4 delivered and deleted") { tracker.offline.count() == 0L }
        assertEquals(listOf("h1", "h2", "h3", "h4"), Collector.deliveredPages())
    }

    @Test fun alwaysSendsNothingUntilDispatch() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        listOf("a1", "a2", "a3").forEach { tracker.sendScreen(it) }
        runBlocking { tracker.flush() }
        assertEquals(3L, tracker.offline.count())
        Thread.sleep(200)
        assertTrue("always: nothing is sent before dispatch", Collector.requests().isEmpty())

        tracker.offline.dispatch()
        eventually("three hits delivered") { Collector.delivered().size == 3 }
        assertEquals(listOf("a1", "a2", "a3"), Collector.deliveredPages())
        eventually("store emptied") { tracker.offline.count() == 0L }
    }

    // ---- dispatch and retry -------------------------------------------------------------

    @Test fun failingCollectorGetsExactlyThreeAttemptsThenTheHitIsDeletedAndReported() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        val warnings = java.util.concurrent.CopyOnWriteArrayList<String>()
        // The adapter: override one message, inherit no-ops for the rest.
        tracker.setDelegate(object : TrackerDelegateAdapter() {
            override fun warningDidOccur(message: String) { warnings += message }
        })
        tracker.sendScreen("doomed")
        runBlocking { tracker.flush() }
        Collector.setMode("500")

        runBlocking {
            assertEquals(DispatchReport(0L, 1L, 0L, 1L), tracker.offline.dispatchAndWait())
            assertEquals(1, tracker.offline.oldest()?.retryCount)
            assertEquals(1L, tracker.offline.dispatchAndWait().failed)
            assertEquals(2, tracker.offline.oldest()?.retryCount)
            assertEquals(DispatchReport(0L, 0L, 1L, 0L), tracker.offline.dispatchAndWait())
        }
        assertEquals("exactly three attempts", 3, Collector.requests().size)
        assertEquals(listOf(500, 500, 500), Collector.requests().map { it.answered })
        assertEquals(0L, tracker.offline.count())
        eventually("warningDidOccur") { warnings.isNotEmpty() }
        assertTrue(warnings.toString(), warnings.any { "3 attempt" in it })

        // Nothing left to try.
        assertEquals(DispatchReport(0L, 0L, 0L, 0L), runBlocking { tracker.offline.dispatchAndWait() })
        assertEquals(3, Collector.requests().size)
    }

    @Test fun offlineCostsNoAttempt() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        tracker.sendScreen("o1")
        tracker.sendScreen("o2")
        runBlocking { tracker.flush() }
        tracker.setNetworkAvailable(false)
        repeat(4) {
            assertEquals(DispatchReport(0L, 0L, 0L, 2L), runBlocking { tracker.offline.dispatchAndWait() })
        }
        assertTrue(Collector.requests().isEmpty())
        assertEquals(listOf(0, 0), tracker.offline.get().map { it.retryCount })

        // A lost connection (collector down) costs no attempt either.
        tracker.setNetworkAvailable(true)
        Collector.setMode("refuse")
        assertEquals(2L, runBlocking { tracker.offline.dispatchAndWait() }.remaining)
        assertEquals(listOf(0, 0), tracker.offline.get().map { it.retryCount })

        Collector.setMode("ok")
        assertEquals(2L, runBlocking { tracker.offline.dispatchAndWait() }.sent)
        assertEquals(listOf("o1", "o2"), Collector.deliveredPages())
    }

    // ---- durability ---------------------------------------------------------------------

    @Test fun hitsSurviveANewTrackerOnTheSamePath() {
        val path = dir()
        tracker(OfflineModeKey.ALWAYS, path).use { first ->
            first.sendScreen("s1")
            first.sendScreen("s2")
            runBlocking { first.flush() }
            assertEquals(2L, first.offline.count())
        } // close(): the worker finishes and releases the store
        openRetryingWhileLocked(path).use { second ->
            assertEquals(2L, second.offline.count())
            assertEquals(listOf(true, false), second.offline.get().map { "p=s1" in it.url })
            assertEquals(2L, runBlocking { second.offline.dispatchAndWait() }.sent)
            assertEquals(listOf("s1", "s2"), Collector.deliveredPages())
        }
    }

    @Test fun oneLiveTrackerPerNameAndSealedHitsNeedTheirKey() {
        val path = dir()
        val key = "8f3a1c0d2e4b6a7988776655443322110f1e2d3c4b5a69788796a5b4c3d2e1f0"
        val sealed = config(path, OfflineModeKey.ALWAYS).copy(encryptionKey = key)
        Tracker(sealed).use { first ->
            val e = expect<TrackerException.InvalidConfig> { Tracker(config(path, OfflineModeKey.ALWAYS)).close() }
            assertEquals("name", e.key)
            first.sendScreen("secret")
            runBlocking { first.flush() }
        }
        // Without the key the sealed hit is kept, unsent. A new hit cannot be stored in clear
        // in an encrypted store: it waits in memory and flush says so. With the key, both leave.
        openRetryingWhileLocked(path).use { keyless ->
            // The worker applies the tracker's key (none) as it starts; until then the store
            // still reads with the key the last tracker gave it. flush waits for the worker.
            runBlocking { keyless.flush() }
            assertEquals(0, keyless.offline.get().size)
            assertEquals(1L, runBlocking { keyless.offline.dispatchAndWait() }.remaining)
            keyless.sendScreen("held")
            val e = expect<TrackerException.Storage> { runBlocking { keyless.flush() } }
            assertTrue(e.reason, "kept in memory" in e.reason)
            assertTrue(Collector.requests().isEmpty())

            keyless.setConfig("encryptionKey", key, null)
            runBlocking { keyless.flush() }
            assertEquals(DispatchReport(2L, 0L, 0L, 0L), runBlocking { keyless.offline.dispatchAndWait() })
        }
        assertEquals(listOf("secret", "held"), Collector.deliveredPages())
        // The key is never shown: config() holds a placeholder.
        openRetryingWhileLocked(path, sealed).use { keyed ->
            val shown = keyed.config().encryptionKey
            assertTrue("a key is set, and says so", shown != null)
            assertFalse(shown!!, key.substring(0, 16) in shown)
        }
    }

    /** The store is released when the closed tracker's worker finishes: retry briefly. */
    private fun openRetryingWhileLocked(path: Path, given: TrackerConfig = config(path, OfflineModeKey.ALWAYS)): Tracker {
        val end = System.nanoTime() + 5_000_000_000
        while (true) {
            try {
                return Tracker(given)
            } catch (e: TrackerException.StorageLocked) {
                if (System.nanoTime() > end) throw e
                Thread.sleep(50)
            }
        }
    }

    // ---- delegate -----------------------------------------------------------------------

    /** Delegate methods arrive on HitKit's worker thread, never the caller's. */
    @Test fun delegateCallbacksArriveOnHitKitsWorkerThread() = tracker(OfflineModeKey.REQUIRED).use { tracker ->
        val recorder = Recorder()
        tracker.setDelegate(recorder)
        tracker.sendScreen("live")
        runBlocking { tracker.flush() }
        eventually("sendDidEnd(SUCCESS)") { recorder.of("send").isNotEmpty() }
        val sent = recorder.of("send")[0]
        assertEquals(HitStatus.SUCCESS, sent.status)
        assertTrue(sent.message, "p=live" in sent.message)
        assertTrue(recorder.of("build").any { it.status == HitStatus.SUCCESS && "p=live" in it.message })

        Collector.setMode("refuse")
        tracker.sendScreen("kept")
        runBlocking { tracker.flush() }
        eventually("saveDidEnd") { recorder.of("save").isNotEmpty() }
        assertTrue("p=kept" in recorder.of("save")[0].message)

        assertFalse(recorder.events.isEmpty())
        for (event in recorder.events) {
            assertNotSame("${event.kind} arrived on the test's thread", Thread.currentThread(), event.thread)
        }
        tracker.setDelegate(null)
    }

    // ---- typed errors and bad input -----------------------------------------------------

    @Test fun badConfigThrowsTheTypedError() = tracker(null).use { tracker ->
        val e = expect<TrackerException.InvalidConfig> { tracker.setConfig("storage", "sometimes", null) }
        assertEquals("storage", e.key)
        assertTrue(e.reason.isNotEmpty())
        assertEquals("a refused change changes nothing", OfflineModeKey.NEVER, tracker.offlineMode())

        assertEquals("noSuchKey", expect<TrackerException.InvalidConfig> { tracker.setConfig("noSuchKey", "1", null) }.key)
        assertEquals("maxHitSize", expect<TrackerException.InvalidConfig> { tracker.setConfig("maxHitSize", "0", null) }.key)
        assertEquals("endpoint", expect<TrackerException.InvalidConfig> { tracker.setConfig("endpoint", "not a url", null) }.key)
        assertEquals("site", expect<TrackerException.InvalidConfig> { Tracker(TrackerConfig(site = "abc", databasePath = dir().toString())).close() }.key)
        assertEquals("site", expect<TrackerException.InvalidConfig> { Tracker(TrackerConfig(site = "", databasePath = dir().toString())).close() }.key)
        assertEquals("json", expect<TrackerException.InvalidConfig> { Tracker.fromJson("""{"site": "1", """).close() }.key)
        Tracker.fromJson("""{"site": "123", "databasePath": "${dir()}", "storage": "always"}""").use {
            assertEquals(OfflineModeKey.ALWAYS, it.offlineMode())
        }
    }

    @Test fun badParametersThrowInvalidParameter() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        expect<TrackerException.InvalidParameter> { tracker.sendScreen("x", listOf(HitParam("", "v"))) }
        expect<TrackerException.InvalidParameter> { tracker.send(listOf(HitParam("", "v"))) }
        expect<TrackerException.InvalidParameter> { tracker.setParam("", "v") }
        runBlocking { tracker.flush() }
        assertEquals("a refused hit is not stored", 0L, tracker.offline.count())
        // The message reads as a sentence a person can act on.
        assertTrue(expect<TrackerException> { tracker.send(listOf(HitParam("", "v"))) }.message!!.isNotEmpty())
    }

    // ---- Offline.get() and Hit ----------------------------------------------------------

    @Test fun offlineGetReturnsHitsWithInstants() = tracker(OfflineModeKey.ALWAYS).use { tracker ->
        val before = Instant.now()
        tracker.sendScreen("first", listOf(HitParam("x", "1")))
        tracker.sendTouch("second")
        tracker.send(listOf(HitParam("ev", "3")))
        runBlocking { tracker.flush() }
        val after = Instant.now()

        val hits: List<Hit> = tracker.offline.get()
        assertEquals(listOf(HitType.SCREEN, HitType.TOUCH, HitType.CUSTOM), hits.map { it.hitType })
        for (hit in hits) {
            val created: Instant = hit.creationDate
            assertFalse("$created before $before", created.isBefore(before.minusMillis(1)))
            assertFalse("$created after $after", created.isAfter(after.plusMillis(1)))
            assertTrue(hit.isOffline)
            assertEquals(0, hit.retryCount)
        }
        assertTrue(hits[0].url, hits[0].url.startsWith(Collector.endpoint + "?s=123&"))
        assertFalse(hits[0].creationDate.isAfter(hits[2].creationDate))
        assertEquals(hits[0], tracker.offline.oldest())
        assertEquals(hits[2], tracker.offline.latest())
        assertEquals(0L, tracker.offline.deleteOlderThan(1))
        assertEquals(3L, tracker.offline.delete())
        assertEquals(0L, tracker.offline.count())
    }

    // ---- the SmartTag SDK's lines and lambdas ---------------------------------------------------

    @Test fun smartTagLinesCompileVerbatim() = tracker(null).use { tracker ->
        // --- verbatim from the SmartTag SDK's docs (docs/migrating.md) ---
        tracker.setOfflineMode(OfflineModeKey.REQUIRED, null)
        tracker.setConfig("storage", "required", null)
        tracker.offline.dispatch()
        // ---
        runBlocking { tracker.flush() }
        assertEquals(OfflineModeKey.REQUIRED, tracker.offlineMode())
        assertEquals(OfflineModeKey.REQUIRED, tracker.config().storage)
        assertEquals(0L, runBlocking { tracker.offline.dispatchAndWait() }.remaining)
    }

    @Test fun lambdasAsCompletionHandlersHearTrueAndFalse() = tracker(null).use { tracker ->
        val heard = ConcurrentHashMap<String, Boolean>()
        val threads = ConcurrentHashMap<String, Thread>()
        tracker.setOfflineMode(OfflineModeKey.ALWAYS) { isSet ->
            heard["mode"] = isSet
            threads["mode"] = Thread.currentThread()
        }
        tracker.setConfig("maxAttempts", "5") { isSet -> heard["good"] = isSet }
        // A refused value: the lambda hears false, then the call throws the typed error.
        expect<TrackerException.InvalidConfig> { tracker.setConfig("maxAttempts", "many") { heard["bad"] = it } }
        expect<TrackerException.InvalidConfig> { tracker.setConfig("noSuchKey", "1") { heard["unknown"] = it } }
        runBlocking { tracker.flush() }
        eventually("four handlers called") { heard.size == 4 }
        assertEquals(mapOf("mode" to true, "good" to true, "bad" to false, "unknown" to false), heard.toMap())
        assertEquals(OfflineModeKey.ALWAYS, tracker.offlineMode())
        assertEquals(5, tracker.config().maxAttempts)
        assertNotEquals("accepted changes are confirmed on HitKit's worker thread", Thread.currentThread(), threads["mode"])
    }
}

inline fun <reified E : Throwable> expect(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.qualifiedName}, got $e", e)
    }
    fail("expected ${E::class.qualifiedName}, nothing was thrown")
    throw IllegalStateException()
}
