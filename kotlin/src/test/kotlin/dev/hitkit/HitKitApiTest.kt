// The rest of the API from Kotlin, against the real engine and a real collector process: the
// one-call send path, opt-out, eraseAll, the host's HTTP transport, the logger, per-hit ids,
// the collector chosen at send time, deadlines, and the Java-facing builder.
package dev.hitkit

import java.io.IOException
import java.net.HttpURLConnection
import java.net.URL
import java.nio.charset.CharacterCodingException
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNotSame
import org.junit.Assert.assertTrue
import org.junit.Test

class HitKitApiTest : CollectorTest() {
    @After fun resetLogger() {
        setLogger(null)
    }

    // ---- the one-call send path ------------------------------------------------------

    /** Unusual strings go through the length-prefixed UTF-8 payload exactly as through UniFFI. */
    @Test fun quickPathSendsTheSameHitsAsTheGeneratedCalls() = Tracker(config(dir(), OfflineModeKey.ALWAYS)).use { tracker ->
        assertTrue("hitkit_quick_send is found in the library", QuickSend.available)
        val names = listOf("Accueil é", "日本語", "📱 phone", "", "a=b&c?d#e", "x".repeat(300))
        val params = listOf(HitParam("k1", "vé"), HitParam("k2", ""), HitParam("k3", "🚀/+"))
        for (name in names) tracker.sendScreen(name, params)
        tracker.sendTouch("touché", params)
        tracker.send(params)
        for (name in names) tracker.sendScreenGenerated(name, params)
        tracker.sendTouchGenerated("touché", params)
        tracker.sendGenerated(params)
        runBlocking { tracker.flush() }
        val n = names.size + 2
        assertEquals(2L * n, runBlocking { tracker.offline.dispatchAndWait() }.sent)

        val keys = setOf("p", "click", "k1", "k2", "k3")
        val seen = Collector.delivered().map { r -> r.params.filter { it.first in keys } }
        assertEquals(seen.take(n), seen.drop(n))
        assertEquals(names + "touché", seen.take(names.size + 1).map { r -> r.first { it.first == "p" }.second })
        assertEquals(listOf("k1" to "vé", "k2" to "", "k3" to "🚀/+"), seen[n - 1])
        assertEquals("A", Collector.delivered()[names.size].param("click"))
    }

    @Test fun quickSendAnswersQueuedOrNotHere() = Tracker(config(dir(), OfflineModeKey.ALWAYS)).use { tracker ->
        val id = tracker.quickSendId()
        val payload = QuickSend.encode("direct", listOf(HitParam("k", "v")))!!
        assertEquals(0, QuickSend.hitkit_quick_send(id, QuickSend.SCREEN, payload, payload.size))
        assertEquals("an unknown tracker", 1, QuickSend.hitkit_quick_send(-1, QuickSend.SCREEN, payload, payload.size))
        assertEquals("an unknown hit type", 1, QuickSend.hitkit_quick_send(id, 7, payload, payload.size))
        assertEquals("a cut payload", 1, QuickSend.hitkit_quick_send(id, QuickSend.SCREEN, payload, payload.size - 1))
        val badKey = QuickSend.encode("x", listOf(HitParam("", "v")))!!
        assertEquals("a bad key", 1, QuickSend.hitkit_quick_send(id, QuickSend.SCREEN, badKey, badKey.size))
        runBlocking { tracker.flush() }
        assertEquals(1L, tracker.offline.count())
        assertTrue(tracker.offline.get()[0].url, "p=direct" in tracker.offline.get()[0].url)
    }

    /** "Not here" makes the generated call, so the error is the one UniFFI would give. */
    @Test fun quickPathFallsBackToTheGeneratedCallsErrors() {
        val tracker = Tracker(config(dir(), OfflineModeKey.ALWAYS))
        expect<TrackerException.InvalidParameter> { tracker.sendScreen("x", listOf(HitParam("", "v"))) }
        expect<TrackerException.InvalidParameter> { tracker.sendTouch("x", listOf(HitParam("", "v"))) }
        expect<TrackerException.InvalidParameter> { tracker.send(listOf(HitParam("", "v"))) }
        // A lone surrogate is not UTF-8: refused by the generated call's encoder, either way.
        expect<CharacterCodingException> { tracker.sendScreenGenerated("\uD800") }
        expect<CharacterCodingException> { tracker.sendScreen("\uD800") }
        expect<CharacterCodingException> { tracker.send(listOf(HitParam("k", "a\uDC00"))) }
        runBlocking { tracker.flush() }
        assertEquals("nothing refused was queued", 0L, tracker.offline.count())
        tracker.close()
        expect<IllegalStateException> { tracker.sendScreenGenerated("closed") }
        expect<IllegalStateException> { tracker.sendScreen("closed") }
    }

    /** The id cache never sends one tracker's hit to another. */
    @Test fun eachTrackersHitsGoToItsOwnStore() {
        val a = Tracker(config(dir(), OfflineModeKey.ALWAYS))
        val b = Tracker(config(dir(), OfflineModeKey.ALWAYS))
        try {
            repeat(3) { i ->
                a.sendScreen("a$i")
                b.sendScreen("b$i")
                b.sendTouch("b$i")
            }
            runBlocking { a.flush(); b.flush() }
            assertEquals(3L, a.offline.count())
            assertEquals(6L, b.offline.count())
            assertTrue(a.offline.get().all { "p=a" in it.url })
            assertTrue(b.offline.get().all { "p=b" in it.url })
        } finally {
            a.close()
            b.close()
        }
    }

    // ---- deadlines, opt-out, forgetting ----------------------------------------------

    @Test fun aNegativeDeadlineIsInvalidParameter() = Tracker(config(dir(), OfflineModeKey.ALWAYS)).use { tracker ->
        val e = expect<TrackerException.InvalidParameter> { runBlocking { tracker.offline.dispatchAndWait(deadlineMs = -1) } }
        assertEquals("deadlineMs", e.key)
        val failed = expect<ExecutionException> { tracker.offline.dispatchAndWaitAsync(-1).get(10, TimeUnit.SECONDS) }
        assertTrue("$failed", failed.cause is TrackerException.InvalidParameter)
        tracker.sendScreen("d")
        assertEquals(DispatchReport(1L, 0L, 0L, 0L), runBlocking { tracker.offline.dispatchAndWait(deadlineMs = 5_000) })
    }

    @Test fun optOutDeletesStoresNothingAndIsKeptAcrossRestarts() {
        val path = dir()
        Tracker(config(path, OfflineModeKey.ALWAYS)).use { tracker ->
            assertFalse(tracker.isOptedOut())
            tracker.sendScreen("before")
            runBlocking { tracker.flush() }
            assertEquals(1L, tracker.offline.count())
            tracker.setOptOut(true)
            assertTrue(tracker.isOptedOut())
            tracker.sendScreen("ignored")
            runBlocking { tracker.flush() }
            assertEquals("what was stored is deleted; nothing new is stored", 0L, tracker.offline.count())
        }
        openRetrying(config(path, OfflineModeKey.ALWAYS)).use { tracker ->
            assertTrue("the choice is kept", tracker.isOptedOut())
            tracker.setOptOut(false)
            tracker.sendScreen("after")
            runBlocking { tracker.flush() }
            assertEquals(DispatchReport(1L, 0L, 0L, 0L), runBlocking { tracker.offline.dispatchAndWait() })
        }
        assertEquals(listOf("after"), Collector.deliveredPages())
    }

    @Test fun eraseAllForgetsStoredHitsAndTheVisitor() = Tracker(config(dir(), OfflineModeKey.REQUIRED)).use { tracker ->
        tracker.sendScreen("first")
        runBlocking { tracker.flush() }
        val visitor = Collector.delivered().single().param("idclient")
        assertNotNull(visitor)
        Collector.setMode("refuse")
        tracker.sendScreen("stored")
        runBlocking { tracker.flush() }
        assertEquals(1L, tracker.offline.count())

        runBlocking { tracker.eraseAll() }
        assertEquals(0L, tracker.offline.count())
        Collector.setMode("ok")
        tracker.sendScreen("after")
        runBlocking { tracker.flush() }
        assertEquals(listOf("first", "after"), Collector.deliveredPages())
        assertNotEquals("a new visitor id", visitor, Collector.delivered()[1].param("idclient"))
    }

    // ---- where hits go, and how ------------------------------------------------------

    /** A stored hit goes to the collector configured when it is sent, not when it was made. */
    @Test fun storedHitsGoToTheCollectorConfiguredAtSendTime() {
        val before = config(dir(), OfflineModeKey.ALWAYS).copy(endpoint = "http://127.0.0.1:9/hit.xiti")
        Tracker(before).use { tracker ->
            tracker.sendScreen("moved")
            runBlocking { tracker.flush() }
            tracker.setConfig("endpoint", Collector.endpoint, null)
            assertEquals(DispatchReport(1L, 0L, 0L, 0L), runBlocking { tracker.offline.dispatchAndWait() })
        }
        assertEquals(listOf("moved"), Collector.deliveredPages())
    }

    /** The host's HTTP stack (here HttpURLConnection): every request goes through it. */
    class UrlConnectionTransport : HttpTransport {
        val urls = CopyOnWriteArrayList<String>()
        val threads = CopyOnWriteArrayList<Thread>()
        val offline = AtomicBoolean(false)

        override fun get(url: String, timeoutMs: Long, completion: HttpCompletion) {
            urls += url
            threads += Thread.currentThread()
            // Must return at once: the request runs on a thread of its own.
            thread(isDaemon = true) {
                if (offline.get()) return@thread completion.noResponse("offline")
                try {
                    val connection = URL(url).openConnection() as HttpURLConnection
                    connection.instanceFollowRedirects = false
                    connection.connectTimeout = timeoutMs.toInt()
                    connection.readTimeout = timeoutMs.toInt()
                    val status = connection.responseCode
                    completion.response(status, connection.getHeaderField("Retry-After"))
                    connection.disconnect()
                } catch (e: IOException) {
                    completion.noResponse(e.toString())
                }
            }
        }
    }

    @Test fun aHostTransportCarriesEveryRequest() {
        val transport = UrlConnectionTransport()
        Tracker(config(dir(), OfflineModeKey.REQUIRED), transport).use { tracker ->
            tracker.sendScreen("via-host")
            runBlocking { tracker.flush() }
            assertEquals(listOf("via-host"), Collector.deliveredPages())
            assertEquals(1, transport.urls.size)
            assertTrue(transport.urls[0], "p=via-host" in transport.urls[0])
            assertNotSame("called on HitKit's thread", Thread.currentThread(), transport.threads[0])

            // No response: a loss of connection, kept in required mode, no attempt spent.
            transport.offline.set(true)
            tracker.sendScreen("kept")
            runBlocking { tracker.flush() }
            assertEquals(1L, tracker.offline.count())
            assertEquals(0, tracker.offline.oldest()?.retryCount)
            transport.offline.set(false)
            assertEquals(1L, runBlocking { tracker.offline.dispatchAndWait() }.sent)
            assertEquals(listOf("via-host", "kept"), Collector.deliveredPages())
            assertEquals(3, transport.urls.size)
        }
    }

    class LogRecorder : Logger {
        val lines = CopyOnWriteArrayList<Pair<LogLevel, String>>()
        override fun log(level: LogLevel, message: String) { lines += level to message }
    }

    /**
     * http:// to another machine: one warning per tracker. (Logged as the worker starts, so a
     * delegate set after the constructor may miss it: the logger is global.)
     */
    @Test fun theLoggerHearsTheClearTextWarningOncePerTracker() {
        val logger = LogRecorder()
        setLogger(logger)
        val remote = "http://collector.example/hit.xiti" // never contacted: `always`, no dispatch
        fun cleartext() = logger.lines.filter { it.first == LogLevel.WARNING && "in clear" in it.second }
        Tracker(config(dir(), OfflineModeKey.ALWAYS).copy(endpoint = remote, logLevel = LogLevel.WARNING)).use { tracker ->
            eventually("the clear-text warning") { cleartext().size == 1 }
            tracker.sendScreen("a")
            tracker.setConfig("maxAttempts", "4", null)
            tracker.sendScreen("b")
            runBlocking { tracker.flush() }
            Tracker(config(dir(), OfflineModeKey.ALWAYS).copy(endpoint = remote, logLevel = LogLevel.WARNING)).use { other ->
                eventually("the second tracker's warning") { cleartext().size == 2 }
                runBlocking { other.flush() }
            }
        }
        assertEquals(2, cleartext().size)
        assertTrue(Collector.requests().isEmpty())
        assertTrue(logger.lines.none { it.first == LogLevel.DEBUG || it.first == LogLevel.INFO })
    }

    @Test fun hitIdsAndMessagesWithoutTheQuery() = Tracker(
        config(dir(), OfflineModeKey.REQUIRED).copy(hitIdParameter = "hid", queryInMessages = false),
    ).use { tracker ->
        val recorder = Recorder()
        tracker.setDelegate(recorder)
        tracker.sendScreen("one")
        tracker.sendScreen("two")
        runBlocking { tracker.flush() }
        val ids = Collector.delivered().map { it.param("hid") }
        assertEquals(2, ids.toSet().size)
        assertTrue("$ids", ids.all { !it.isNullOrEmpty() })
        eventually("two sendDidEnd") { recorder.of("send").size == 2 }
        // The collector's URL only: no parameter (no visitor id, no screen name).
        for (event in recorder.events) {
            assertTrue(event.message, event.message.startsWith(Collector.endpoint))
            assertFalse(event.message, "=" in event.message || "one" in event.message)
        }
    }

    // ---- Java callers ----------------------------------------------------------------

    /** Every TrackerConfig field has its builder setter, and the builder keeps the defaults. */
    @Test fun theBuilderCoversEveryConfigField() {
        val fields = TrackerConfig::class.java.declaredFields.filter { !java.lang.reflect.Modifier.isStatic(it.modifiers) }
        assertEquals(21, fields.size)
        for (field in fields) {
            assertNotNull(
                "TrackerConfigBuilder.${field.name}(${field.type.simpleName})",
                TrackerConfigBuilder::class.java.methods.firstOrNull { it.name == field.name && it.parameterTypes.contentEquals(arrayOf(field.type)) },
            )
        }
        assertEquals(TrackerConfig(site = "1", databasePath = "/d"), TrackerConfigBuilder("1", "/d").build())
        val full = TrackerConfig(
            site = "2", databasePath = "/e", log = "l", logSsl = "ls", domain = "d.example", pixelPath = "/p",
            secure = false, endpoint = "http://127.0.0.1:1/h", identifier = "idfv", storage = OfflineModeKey.ALWAYS,
            maxHitSize = 1, maxAttempts = 2, maxStoredHits = 3L, maxStorageAgeDays = 4, requestTimeoutMs = 5L,
            dispatchConcurrency = 6, name = "n", encryptionKey = "k", logLevel = LogLevel.DEBUG,
            hitIdParameter = "h", queryInMessages = false,
        )
        val built = TrackerConfigBuilder("x", "/x").site("2").databasePath("/e").log("l").logSsl("ls")
            .domain("d.example").pixelPath("/p").secure(false).endpoint("http://127.0.0.1:1/h").identifier("idfv")
            .storage(OfflineModeKey.ALWAYS).maxHitSize(1).maxAttempts(2).maxStoredHits(3L).maxStorageAgeDays(4)
            .requestTimeoutMs(5L).dispatchConcurrency(6).name("n").encryptionKey("k").logLevel(LogLevel.DEBUG)
            .hitIdParameter("h").queryInMessages(false)
        assertEquals(full, built.build())
        assertNotSame("each build is a new config", built.build(), built.build())
    }

    private fun openRetrying(given: TrackerConfig): Tracker {
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
}
