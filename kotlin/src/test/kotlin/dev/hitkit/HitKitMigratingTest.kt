// The HitKit Kotlin column of docs/migrating.md, call by call, against the real engine and a real
// collector process: each spelling the guide shows compiles and does what the guide says.
// The Swift column runs in HitKitMigratingTests.swift.
package dev.hitkit

import java.time.Instant
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class HitKitMigratingTest : CollectorTest() {
    @Test fun theGuidesHitKitSpellings() {
        val dir = dir().toString()
        // §1: set-up.
        // Through the host's HTTP stack, as the guide suggests for apps that set a proxy.
        val tracker = Tracker(
            TrackerConfig(
                site = "123456", databasePath = dir, secure = false, endpoint = Collector.endpoint,
                storage = OfflineModeKey.REQUIRED, name = "name",
            ),
            HttpURLConnectionTransport(),
        )
        val other = Tracker.fromJson("""{"site":"123456","databasePath":"$dir","name":"other"}""")
        assertEquals("other", other.config().name)
        val twice = assertThrows(TrackerException.InvalidConfig::class.java) {
            Tracker(TrackerConfig(site = "1", databasePath = dir, name = "name"))
        }
        assertEquals("name", twice.key)
        tracker.setConfig("storage", "required", null)
        val inEffect = java.util.concurrent.CompletableFuture<Boolean>()
        tracker.setConfig("storage", "required") { isSet -> inEffect.complete(isSet) }
        tracker.setOfflineMode(OfflineModeKey.REQUIRED, null)
        assertTrue(inEffect.get(10, java.util.concurrent.TimeUnit.SECONDS))
        for ((key, value) in listOf(
            "site" to "123456", "log" to "logp", "logSSL" to "logs", "domain" to "xiti.com",
            "pixelPath" to "/hit.xiti", "identifier" to "uuid", "maxHitSize" to "8000",
        )) {
            tracker.setConfig(key, value, null)
        }
        // A SmartTag key HitKit does not have.
        val unknown = assertThrows(TrackerException.InvalidConfig::class.java) {
            tracker.setConfig("enableBackgroundTask", "true", null)
        }
        assertEquals("enableBackgroundTask", unknown.key)
        val recorder = Recorder()
        tracker.setDelegate(recorder)

        // §3: sending.
        tracker.sendScreen("Shop::Home")
        tracker.sendTouch("Buy")
        tracker.sendScreen("Home", listOf(HitParam("x", "1")))
        tracker.setParam("y", "2")
        tracker.send(listOf(HitParam("p", "custom")))
        tracker.unsetParam("y")
        tracker.sendScreen("after")
        runBlocking { tracker.flush() }
        val delivered = Collector.delivered()
        assertEquals(listOf("Shop::Home", "Buy", "Home", "custom", "after"), delivered.mapNotNull { it.param("p") })
        assertEquals(listOf(null, "A", null, null, null), delivered.map { it.param("click") })
        assertEquals(listOf(null, null, "1", null, null), delivered.map { it.param("x") })
        assertEquals(listOf(null, null, null, "2", null), delivered.map { it.param("y") })
        eventually("five sendDidEnd") { recorder.of("send").size == 5 }

        // §2: the offline feature.
        tracker.setNetworkAvailable(false)
        tracker.sendScreen("stored")
        runBlocking { tracker.flush() }
        tracker.offline.dispatch() // offline: nothing is tried, no attempt spent
        assertEquals(1L, tracker.offline.count())
        val hits: List<Hit> = tracker.offline.get()
        assertEquals(listOf(HitType.SCREEN), hits.map { it.hitType })
        assertEquals(0, hits[0].retryCount)
        assertTrue(hits[0].isOffline)
        assertEquals(tracker.offline.oldest()?.id, tracker.offline.latest()?.id)
        assertTrue(hits[0].creationDate.isAfter(Instant.now().minusSeconds(3600)))
        assertEquals(0L, tracker.offline.deleteOlderThan(7))
        tracker.setNetworkAvailable(true)
        val report = runBlocking { tracker.offline.dispatchAndWait(deadlineMs = 25_000L) }
        assertEquals(0L, report.remaining)
        assertEquals("stored", Collector.deliveredPages().last())
        assertEquals(0L, tracker.offline.delete())

        tracker.setOptOut(true)
        assertTrue(tracker.isOptedOut())
        other.close()
        tracker.close()
    }
}
