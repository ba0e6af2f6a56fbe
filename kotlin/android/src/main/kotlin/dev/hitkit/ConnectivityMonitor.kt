// ConnectivityMonitor.kt — Android's default-network callbacks to a tracker.
//
// NOT COMPILED HERE: this machine has no Android SDK. It is a thin caller of NetworkAvailability
// (../../../../../src/main/kotlin/dev/hitkit/NetworkAvailability.kt), which is compiled and tested
// on the JVM; keep the logic there.
package dev.hitkit

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.os.Build

/**
 * Tells [tracker] when the default network comes and goes, so stored hits go out as soon as
 * it is back. Needs `ACCESS_NETWORK_STATE` (in this library's manifest). Keep the returned
 * monitor as long as the tracker; [stop] unregisters it.
 *
 * ```
 * val monitor = ConnectivityMonitor.start(context, tracker)
 * ```
 */
class ConnectivityMonitor private constructor(
    private val connectivity: ConnectivityManager,
    private val availability: NetworkAvailability,
) {
    // The callbacks come one at a time, on ConnectivityManager's thread.
    private val callback = object : ConnectivityManager.NetworkCallback() {
        private var usable = false
        private var blocked = false

        private fun tell() = availability.update(usable && !blocked)

        // From API 26 a capabilities call follows each onAvailable; before, it may not.
        override fun onAvailable(network: Network) {
            if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O) {
                usable = true
                tell()
            }
        }

        // VALIDATED: the network really reaches the internet (not a captive portal, whose
        // redirects would cost attempts).
        override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
            usable = capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) &&
                capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
            tell()
        }

        // Data Saver or background restrictions: the network is there, not for this app (API 29).
        override fun onBlockedStatusChanged(network: Network, blocked: Boolean) {
            this.blocked = blocked
            tell()
        }

        // The default network only: called when no other network took its place.
        override fun onLost(network: Network) {
            usable = false
            tell()
        }
    }

    /** Stops following the network; the tracker keeps the last state it was told. */
    fun stop() = connectivity.unregisterNetworkCallback(callback)

    companion object {
        @JvmStatic
        @JvmOverloads
        fun start(
            context: Context,
            tracker: Tracker,
            lossSettleMs: Long = NetworkAvailability.DEFAULT_LOSS_SETTLE_MS,
        ): ConnectivityMonitor {
            val connectivity = context.getSystemService(ConnectivityManager::class.java)
            val monitor = ConnectivityMonitor(connectivity, NetworkAvailability(tracker, lossSettleMs))
            // No default network now: no callback would say so.
            if (connectivity.activeNetwork == null) monitor.availability.update(false)
            connectivity.registerDefaultNetworkCallback(monitor.callback)
            return monitor
        }
    }
}
