// HitKitLogging.kt — where HitKit's log lines go, in one line (hand-written).
//
//   HitKitLog.use { level, message -> ... }     a lambda of your own (Timber, a file, a test)
//   HitKitLog.usePlatformLog()                  back to the default: Logcat (tag "HitKit") on
//                                               Android, stderr on a JVM
//   setLogger(LambdaLogger { level, message -> ... })   the same, with the generated call
//
// Logcat needs nothing: the engine writes there itself (liblog) unless a logger is set. How
// much is logged is each tracker's `logLevel` (`TrackerConfig.logLevel` or the `logLevel` key:
// off, error, warning (default), info, debug): `debug` adds a line per hit built, `info` a line
// per hit sent or saved. The destination is process-wide: it applies to every tracker
// (contract §9). Lines arrive on whichever thread logs — HitKit's worker, or the caller's for
// an error found on the spot — so the lambda must be thread-safe.
package dev.hitkit

/** A [Logger] that hands every line to a lambda. */
class LambdaLogger(private val body: (level: LogLevel, message: String) -> Unit) : Logger {
    override fun log(level: LogLevel, message: String) = body(level, message)
}

/** One-line choices of where every tracker's log lines go. */
object HitKitLog {
    /** Every tracker's lines go to [body] instead of the platform log. */
    @JvmStatic
    fun use(body: (level: LogLevel, message: String) -> Unit) = setLogger(LambdaLogger(body))

    /** Back to the platform log: Logcat on Android, stderr on a JVM. */
    @JvmStatic
    fun usePlatformLog() = setLogger(null)
}
