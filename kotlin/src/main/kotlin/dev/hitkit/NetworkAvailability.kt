// NetworkAvailability.kt — the host's connectivity updates, turned into the few calls to
// `tracker.setNetworkAvailable` that matter. Android's ConnectivityMonitor (kotlin/android/)
// is a thin caller of it.
package dev.hitkit

import java.util.concurrent.ScheduledThreadPoolExecutor
import java.util.concurrent.TimeUnit

/**
 * Takes every connectivity update ([update]) and reports only changes, in order:
 *
 * - coming back is reported at once, so stored hits (`required` mode) go out without waiting
 *   for the next hit;
 * - a loss is reported only once it has lasted [lossSettleMs]: a Wi-Fi to cellular handover
 *   (lost, then available a moment later) reports nothing. Reporting a loss late costs little,
 *   as a failed connection costs no attempt anyway;
 * - repeated updates with the same value report nothing.
 *
 * `NetworkAvailability(tracker)` reports to `tracker.setNetworkAvailable`; a closed tracker is
 * ignored, so a monitor may outlive its tracker. Thread-safe: call [update] from any thread.
 */
class NetworkAvailability internal constructor(
    private val lossSettleMs: Long,
    private val later: (delayMs: Long, action: () -> Unit) -> Unit,
    private val report: (available: Boolean) -> Unit,
) {
    /** Reports changes to [report] (on the caller's thread, or HitKit's timer thread for a loss). */
    @JvmOverloads
    constructor(lossSettleMs: Long = DEFAULT_LOSS_SETTLE_MS, report: (available: Boolean) -> Unit) :
        this(lossSettleMs, ::schedule, report)

    /** Reports changes to [tracker]'s `setNetworkAvailable`. */
    @JvmOverloads
    constructor(tracker: Tracker, lossSettleMs: Long = DEFAULT_LOSS_SETTLE_MS) :
        this(lossSettleMs, ::schedule, reporterFor(tracker))

    private val lock = Any()
    private var reported: Boolean? = null // nothing reported yet: the first update is
    private var generation = 0L // bumped to cancel a loss waiting to be reported
    private var lossPending = false

    /** The host's latest view: true when a usable network is there. */
    fun update(available: Boolean) {
        synchronized(lock) {
            if (available) {
                generation++
                lossPending = false
                if (reported != true) {
                    reported = true
                    report(true)
                }
            } else if (reported != false && !lossPending) {
                lossPending = true
                val mine = ++generation
                if (lossSettleMs <= 0) {
                    reportLoss(mine)
                } else {
                    later(lossSettleMs) { synchronized(lock) { reportLoss(mine) } }
                }
            }
        }
    }

    // With the lock held. A later update bumped the generation: that loss is over.
    private fun reportLoss(generationAtLoss: Long) {
        if (generation != generationAtLoss) return
        lossPending = false
        reported = false
        report(false)
    }

    companion object {
        /** Long enough for a handover between networks. */
        const val DEFAULT_LOSS_SETTLE_MS = 2_000L

        private val timer = ScheduledThreadPoolExecutor(1) { r ->
            Thread(r, "hitkit-network").apply { isDaemon = true }
        }.apply { removeOnCancelPolicy = true }

        private fun schedule(delayMs: Long, action: () -> Unit) {
            timer.schedule(action, delayMs, TimeUnit.MILLISECONDS)
        }

        private fun reporterFor(tracker: Tracker): (Boolean) -> Unit = { available ->
            try {
                tracker.setNetworkAvailable(available)
            } catch (e: IllegalStateException) {
                // The tracker was closed: nothing to tell.
            }
        }
    }
}
