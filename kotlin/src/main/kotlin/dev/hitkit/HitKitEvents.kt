// HitKitEvents.kt — the delegate's messages as a Flow (hand-written).
//
//   scope.launch {
//       tracker.events().collect { event ->
//           when (event) {
//               is TrackerEvent.SendDidEnd -> ...
//               is TrackerEvent.WarningDidOccur -> ...
//               else -> {}
//           }
//       }
//   }
//
// Built on the delegate: `events()` sets a delegate that feeds the flow. A tracker has one
// delegate and HitKit cannot hand back the one set before, so `events()` REPLACES it; to keep
// a delegate, pass it as `forwardingTo` — it hears every message first, then the flow does.
// The flow never completes by itself (the JVM gives no signal when HitKit lets a delegate go):
// cancel the coroutine that collects it (a ViewModel's or a lifecycle's scope).
@file:JvmName("HitKitEvents")

package dev.hitkit

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.consumeAsFlow

/** One message of [TrackerDelegate], as a value. */
sealed class TrackerEvent {
    /** The hit's URL for build, send and save; the sentence for a warning or an error. */
    abstract val message: String

    /** A hit (or a part of a split hit) was built. */
    data class BuildDidEnd(val status: HitStatus, override val message: String) : TrackerEvent()

    /** A send ended: [HitStatus.SUCCESS] on a 2xx answer, [HitStatus.FAILED] otherwise. */
    data class SendDidEnd(val status: HitStatus, override val message: String) : TrackerEvent()

    /** A hit was stored and synced to disk. */
    data class SaveDidEnd(override val message: String) : TrackerEvent()

    /** Something was dropped or adjusted. */
    data class WarningDidOccur(override val message: String) : TrackerEvent()

    /** Something failed. */
    data class ErrorDidOccur(override val message: String) : TrackerEvent()
}

/**
 * The tracker's delegate messages as a [Flow], in the order HitKit emits them (on its worker
 * thread). Replaces the tracker's delegate; [forwardingTo] keeps one in the loop. Events are
 * buffered from this call on (unbounded), so nothing is missed before collection starts. One
 * collector: a second `collect` throws [IllegalStateException]. Once the collector is
 * cancelled, later events are dropped (but [forwardingTo] still hears every message).
 */
@JvmOverloads
fun Tracker.events(forwardingTo: TrackerDelegate? = null): Flow<TrackerEvent> {
    val channel = Channel<TrackerEvent>(Channel.UNLIMITED)
    setDelegate(ChannelDelegate(channel, forwardingTo))
    return channel.consumeAsFlow()
}

/** Sends every message into [channel] after handing it to [forward]. */
private class ChannelDelegate(
    private val channel: Channel<TrackerEvent>,
    private val forward: TrackerDelegate?,
) : TrackerDelegate {
    override fun buildDidEnd(status: HitStatus, message: String) =
        deliver(TrackerEvent.BuildDidEnd(status, message)) { buildDidEnd(status, message) }

    override fun sendDidEnd(status: HitStatus, message: String) =
        deliver(TrackerEvent.SendDidEnd(status, message)) { sendDidEnd(status, message) }

    override fun saveDidEnd(message: String) =
        deliver(TrackerEvent.SaveDidEnd(message)) { saveDidEnd(message) }

    override fun warningDidOccur(message: String) =
        deliver(TrackerEvent.WarningDidOccur(message)) { warningDidOccur(message) }

    override fun errorDidOccur(message: String) =
        deliver(TrackerEvent.ErrorDidOccur(message)) { errorDidOccur(message) }

    // The flow gets the event even when the forwarded delegate throws (HitKit contains that).
    // trySend on an unlimited channel fails only once the collector has cancelled it.
    private inline fun deliver(event: TrackerEvent, call: TrackerDelegate.() -> Unit) {
        try {
            forward?.call()
        } finally {
            channel.trySend(event)
        }
    }
}
