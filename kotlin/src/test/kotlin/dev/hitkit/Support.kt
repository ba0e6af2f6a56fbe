// Test support: the collector process (started by scripts/test-kotlin.sh, which passes its
// addresses as HITKIT_COLLECTOR / HITKIT_CONTROL), trackers on temp dirs, a recording delegate.
package dev.hitkit

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import org.junit.After
import org.junit.Assert.fail
import org.junit.Before

/** The `hitkit collect` process, driven through its control port. */
object Collector {
    val hitAddress: String get() = address("HITKIT_COLLECTOR")
    val controlAddress: String get() = address("HITKIT_CONTROL")
    val endpoint: String get() = "http://$hitAddress/hit.xiti"

    private fun address(name: String): String =
        System.getenv(name)?.takeIf { it.isNotEmpty() }
            ?: error("$name is not set: run the Kotlin tests through scripts/test-kotlin.sh")

    private val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()

    /** `GET http://CONTROL/path`: the control API's reads (`/hits`, `/delivered`, `/count`, `/mode`). */
    fun get(path: String): String = control("GET", path)

    /** `POST http://CONTROL/path`: the control API changes state only on POST (`/mode?set=`, `/clear`). */
    fun post(path: String): String = control("POST", path)

    private fun control(method: String, path: String): String {
        val request = HttpRequest.newBuilder(URI("http://$controlAddress$path"))
            .timeout(Duration.ofSeconds(10))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() == 200) { "control $method $path: HTTP ${response.statusCode()}: ${response.body()}" }
        return response.body()
    }

    fun setMode(mode: String) { post("/mode?set=$mode") }
    fun reset() { setMode("ok"); post("/clear") }

    /** One request the collector received: its parameters and the status it answered (or null). */
    data class Request(val params: List<Pair<String, String>>, val answered: Int?) {
        fun param(key: String): String? = params.firstOrNull { it.first == key }?.second
    }

    /** Every request the hit port received (answered or not), in arrival order. */
    fun requests(): List<Request> = parse(get("/hits"))
    /** The requests answered 2xx, in arrival order. */
    fun delivered(): List<Request> = parse(get("/delivered"))
    /** The `p` (page) of each delivered hit. */
    fun deliveredPages(): List<String> = delivered().mapNotNull { it.param("p") }

    // The JVM has no JSON parser built in, and the shape is fixed: objects with
    // "params":[["k","v"],...] and "answered":200|null, in that order within each object.
    private val requestRe = Regex(""""params":\[((?:\["(?:[^"\\]|\\.)*","(?:[^"\\]|\\.)*"\],?)*)\],"answered":(null|\d+)""")
    private val pairRe = Regex("""\["((?:[^"\\]|\\.)*)","((?:[^"\\]|\\.)*)"\]""")

    private fun parse(json: String): List<Request> {
        val requests = requestRe.findAll(json).map { m ->
            val params = pairRe.findAll(m.groupValues[1]).map { unescape(it.groupValues[1]) to unescape(it.groupValues[2]) }.toList()
            Request(params, m.groupValues[2].toIntOrNull())
        }.toList()
        check(requests.size == Regex("\"params\":").findAll(json).count()) { "cannot parse the collector's JSON: $json" }
        return requests
    }

    private fun unescape(s: String) = s.replace("\\\"", "\"").replace("\\\\", "\\")
}

/** Records every delegate message with the thread it arrived on (implements every method). */
class Recorder : TrackerDelegate {
    data class Event(val kind: String, val status: HitStatus?, val message: String, val thread: Thread)
    val events = CopyOnWriteArrayList<Event>()

    override fun buildDidEnd(status: HitStatus, message: String) { events += Event("build", status, message, Thread.currentThread()) }
    override fun sendDidEnd(status: HitStatus, message: String) { events += Event("send", status, message, Thread.currentThread()) }
    override fun saveDidEnd(message: String) { events += Event("save", null, message, Thread.currentThread()) }
    override fun warningDidOccur(message: String) { events += Event("warning", null, message, Thread.currentThread()) }
    override fun errorDidOccur(message: String) { events += Event("error", null, message, Thread.currentThread()) }

    fun of(kind: String) = events.filter { it.kind == kind }
}

fun tempDir(): Path = Files.createTempDirectory("hitkit-kotlin-")

/** What every suite here starts from: the collector reset before each test, and the temporary
 *  directories a test made removed after it. */
abstract class CollectorTest {
    private val dirs = mutableListOf<Path>()

    @Before fun resetCollector() = Collector.reset()

    @After fun removeDirs() {
        dirs.forEach(::deleteTree)
        dirs.clear()
    }

    /** A fresh directory, removed after the test. */
    protected fun dir(): Path = tempDir().also { dirs.add(it) }
}

// A closed tracker's worker finishes in the background and writes its clean-close
// record last, so a delete racing it is simply tried again.
fun deleteTree(path: Path) {
    repeat(100) {
        try {
            if (Files.exists(path)) Files.walk(path).sorted(Comparator.reverseOrder()).forEach { Files.deleteIfExists(it) }
            return
        } catch (e: Exception) {
            Thread.sleep(20)
        }
    }
}

fun config(path: Path, storage: OfflineModeKey? = null) = TrackerConfig(
    site = "123",
    databasePath = path.toString(),
    secure = false,
    endpoint = Collector.endpoint,
    storage = storage,
    requestTimeoutMs = 2000L,
)

/** Polls until [condition] holds, or fails after [timeoutMs]. */
fun eventually(what: String, timeoutMs: Long = 10_000, condition: () -> Boolean) {
    val end = System.nanoTime() + timeoutMs * 1_000_000
    while (!condition()) {
        if (System.nanoTime() > end) fail("timed out after $timeoutMs ms waiting for: $what")
        Thread.sleep(20)
    }
}
