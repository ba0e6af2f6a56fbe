// The log lines from Kotlin: HitKitLog.use / LambdaLogger against the real engine, which lines
// each `logLevel` lets through. The same checks run from Swift (HitKitLoggingTests.swift).
package dev.hitkit

import java.util.UUID
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class HitKitLoggingTest : CollectorTest() {
    @After fun resetLogger() {
        HitKitLog.usePlatformLog()
    }

    // The logger is process-wide and an earlier test's tracker may still be finishing, so each
    // test looks only at the lines naming its own screens and keys (a fresh marker per test).
    private val marker = "m" + UUID.randomUUID().toString().replace("-", "").take(12)
    private val lines = CopyOnWriteArrayList<Pair<LogLevel, String>>()
    private fun linesOf(tag: String) = lines.filter { "$marker$tag" in it.second }
    private fun record(level: LogLevel, message: String) { lines += level to message }

    /** A parameter too long for any part of a 256-byte hit: a warning naming its key. */
    private fun Tracker.sendOversized(tag: String) =
        sendScreen("${marker}screen$tag", listOf(HitParam("$marker$tag", "x".repeat(1000))))

    @Test fun debugShowsBuildLinesWarningDoesNotAndOffShowsNothing() {
        HitKitLog.use(::record)
        Tracker(config(dir()).copy(logLevel = LogLevel.DEBUG, maxHitSize = 256)).use { tracker ->
            tracker.sendScreen("${marker}debug")
            runBlocking { tracker.flush() }
            eventually("the build and send lines") { linesOf("debug").size == 2 }
            val (built, sent) = linesOf("debug")
            assertEquals(LogLevel.DEBUG, built.first)
            assertTrue(built.second, built.second.startsWith("built (Success): ${Collector.endpoint}?"))
            assertEquals(LogLevel.INFO, sent.first)
            assertTrue(sent.second, sent.second.startsWith("sent (Success): "))

            // warning: no line per hit, but warnings.
            tracker.setConfig("logLevel", "warning", null)
            tracker.sendScreen("${marker}quiet")
            tracker.sendOversized("big")
            runBlocking { tracker.flush() }
            eventually("the warning") { linesOf("big").isNotEmpty() }
            assertEquals(listOf(LogLevel.WARNING), linesOf("big").map { it.first })
            assertTrue(linesOf("big")[0].second, "cannot fit" in linesOf("big")[0].second)
            assertEquals(emptyList<Pair<LogLevel, String>>(), linesOf("quiet"))

            // off: nothing, though the delegate still hears the warning.
            val recorder = Recorder()
            tracker.setDelegate(recorder)
            tracker.setConfig("logLevel", "off", null)
            tracker.sendOversized("silent")
            runBlocking { tracker.flush() }
            eventually("the delegate's warning") { recorder.of("warning").any { "${marker}silent" in it.message } }
            runBlocking { tracker.flush() }
            assertEquals(emptyList<Pair<LogLevel, String>>(), linesOf("silent"))
            // The two debug lines and the warning: nothing else named this test's hits.
            assertEquals(3, linesOf("").size)
        }
    }

    @Test fun theDefaultLevelIsWarningAndInfoAddsSendsNotBuilds() {
        setLogger(LambdaLogger(::record)) // the generated call, with the adapter
        Tracker(config(dir()).copy(maxHitSize = 256)).use { tracker ->
            assertEquals(null, tracker.config().logLevel) // unset: the engine's default, warning
            tracker.sendScreen("${marker}default")
            tracker.sendOversized("warned")
            runBlocking { tracker.flush() }
            eventually("the warning") { linesOf("warned").isNotEmpty() }
            assertEquals(emptyList<Pair<LogLevel, String>>(), linesOf("default"))

            tracker.setConfig("logLevel", "info", null)
            tracker.sendScreen("${marker}info")
            runBlocking { tracker.flush() }
            eventually("the send line") { linesOf("info").isNotEmpty() }
            runBlocking { tracker.flush() }
            assertEquals(listOf(LogLevel.INFO), linesOf("info").map { it.first })
            assertTrue(linesOf("info")[0].second.startsWith("sent (Success): "))
        }
    }

    @Test fun usePlatformLogStopsTheLambda() {
        HitKitLog.use(::record)
        HitKitLog.usePlatformLog() // these lines go to stderr now
        Tracker(config(dir()).copy(logLevel = LogLevel.DEBUG)).use { tracker ->
            tracker.sendScreen("${marker}stderr")
            runBlocking { tracker.flush() }
            runBlocking { tracker.flush() }
        }
        assertEquals(emptyList<Pair<LogLevel, String>>(), linesOf("stderr"))
        assertEquals(1, Collector.deliveredPages().count { it == "${marker}stderr" })
    }
}
