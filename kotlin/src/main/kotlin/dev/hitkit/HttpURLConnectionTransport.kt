// HttpURLConnectionTransport.kt — HitKit's requests through the platform's HTTP stack
// (java.net.HttpURLConnection: the JDK's on the JVM, OkHttp inside on Android).
package dev.hitkit

import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URL
import java.util.concurrent.Executor
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.ScheduledThreadPoolExecutor
import java.util.concurrent.ThreadFactory
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference

/**
 * An [HttpTransport] on `HttpURLConnection`, so hits go through the platform's stack: on
 * Android the system proxy, the user and enterprise CAs, Network Security Config (clear-text
 * rules, `<pin-set>`) and debugging proxies apply, as to the rest of the app.
 *
 * ```
 * val tracker = Tracker(config, HttpURLConnectionTransport())
 * ```
 *
 * Per request: one GET on a thread of [executor]; redirects are not followed (the 3xx status is
 * the answer); at most 64 KiB of the body is read, then the connection is dropped; the status
 * and the `Retry-After` header are passed on. No complete response (DNS, connect error, reset,
 * a body cut short, or `timeoutMs` over, counted from the call) is `noResponse`.
 *
 * The JDK's HttpURLConnection sends a GET a second time, on its own, when the connection breaks
 * after the request went out and before a response (the tests here see it; nothing turns it
 * off), and Android's may retry a GET on another address of the same host. That costs at most a
 * duplicate, which delivery (at least once) allows for anyway and `hitIdParameter` lets a
 * collector drop.
 *
 * Override [openConnection] to set what the app sets on its own connections (an
 * `SSLSocketFactory` on the JVM, a `Proxy`, headers).
 */
open class HttpURLConnectionTransport @JvmOverloads constructor(
    private val executor: Executor = defaultExecutor,
) : HttpTransport {

    /** Opens the connection for [url]; the transport then sets the method, timeouts and no redirects. */
    @Throws(IOException::class)
    protected open fun openConnection(url: URL): HttpURLConnection = url.openConnection() as HttpURLConnection

    override fun get(url: String, timeoutMs: Long, completion: HttpCompletion) {
        // Must return at once: the request runs on the executor's thread.
        try {
            executor.execute { fetch(url, timeoutMs.coerceIn(1, Int.MAX_VALUE.toLong()), completion) }
        } catch (e: RuntimeException) { // a rejected task (executor shut down)
            completion.noResponse("cannot start the request: $e")
        }
    }

    private fun fetch(url: String, timeoutMs: Long, completion: HttpCompletion) {
        val connection = AtomicReference<HttpURLConnection?>()
        // The connect and read timeouts bound each step; this bounds the whole request
        // (DNS included, which no HttpURLConnection timeout covers). Only the first answer
        // counts, so a late one from the request thread is ignored.
        val watchdog = timer.schedule({
            completion.noResponse("timed out after $timeoutMs ms")
            connection.get()?.disconnect()
        }, timeoutMs, TimeUnit.MILLISECONDS)
        try {
            val c = openConnection(URL(url))
            connection.set(c)
            c.requestMethod = "GET"
            c.instanceFollowRedirects = false
            c.useCaches = false
            c.connectTimeout = timeoutMs.toInt()
            c.readTimeout = timeoutMs.toInt()
            val status = c.responseCode
            if (status < 0) {
                completion.noResponse("not an HTTP response")
                c.disconnect()
                return
            }
            val retryAfter = c.getHeaderField("Retry-After")
            val body = if (status >= 400) c.errorStream else c.inputStream
            val whole = body?.let { drain(it, c.contentLengthLong) } ?: true
            // The status counts once the body is read, as with the built-in client.
            completion.response(status, retryAfter)
            // A body past the limit is not read to its end: drop the connection instead.
            if (!whole) c.disconnect()
        } catch (e: IOException) {
            completion.noResponse(e.toString())
            connection.get()?.disconnect()
        } catch (e: RuntimeException) { // e.g. a URL the platform refuses
            completion.noResponse(e.toString())
            connection.get()?.disconnect()
        } finally {
            watchdog.cancel(false)
        }
    }

    private companion object {
        /** The most of a body read: the status decides (the engine's limit too). */
        const val MAX_BODY = 64 * 1024

        /**
         * Reads the body up to [MAX_BODY]: true when it ended there (the connection can then be
         * reused), false when more was left. A body shorter than its Content-Length throws:
         * the response is not complete.
         */
        fun drain(body: InputStream, contentLength: Long): Boolean {
            val buffer = ByteArray(8 * 1024)
            var read = 0L
            while (read <= MAX_BODY) {
                val n = body.read(buffer)
                if (n < 0) {
                    body.close()
                    if (contentLength in (read + 1)..Long.MAX_VALUE) {
                        throw IOException("the body ended after $read of $contentLength bytes")
                    }
                    return true
                }
                read += n
            }
            return false
        }

        fun daemons(name: String) = object : ThreadFactory {
            private val n = AtomicInteger()
            override fun newThread(r: Runnable) = Thread(r, "$name-${n.incrementAndGet()}").apply { isDaemon = true }
        }

        // Requests wait on the network, not the CPU; idle threads go after a minute.
        val defaultExecutor: ExecutorService = Executors.newCachedThreadPool(daemons("hitkit-http"))
        val timer = ScheduledThreadPoolExecutor(1, daemons("hitkit-http-timer")).apply { removeOnCancelPolicy = true }
    }
}
