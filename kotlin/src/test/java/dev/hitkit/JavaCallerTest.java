// HitKit from Java (8 and later): the builder, the extension functions as static methods of
// HitKitExtensions, CompletableFutures instead of suspend calls, and typed exceptions.
// Compiled by plain javac against the compiled Kotlin classes (scripts/test-kotlin.sh).
package dev.hitkit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

public class JavaCallerTest {
    private Path dir;

    @Before
    public void setUp() throws Exception {
        Collector.INSTANCE.reset();
        dir = SupportKt.tempDir();
    }

    @After
    public void tearDown() {
        SupportKt.deleteTree(dir);
    }

    private TrackerConfig config(OfflineModeKey storage) {
        return new TrackerConfigBuilder("123", dir.toString())
                .secure(false)
                .endpoint(Collector.INSTANCE.getEndpoint())
                .storage(storage)
                .requestTimeoutMs(2000)
                .build();
    }

    @Test
    public void builderTrackerAndFuturesAgainstTheCollector() throws Exception {
        // The generated constructor, as a Java caller may use it (transport: none).
        try (Tracker tracker = new Tracker(config(OfflineModeKey.ALWAYS), null)) {
            assertEquals(OfflineModeKey.ALWAYS, tracker.offlineMode());
            HitKitExtensions.sendScreen(tracker, "java-home");
            HitKitExtensions.sendTouch(tracker, "java-buy", Arrays.asList(new HitParam("x", "1")));
            HitKitExtensions.flushAsync(tracker).get(10, TimeUnit.SECONDS);
            Offline offline = tracker.getOffline();
            assertEquals(2L, offline.count());
            assertTrue("always: nothing sent before dispatch", Collector.INSTANCE.requests().isEmpty());

            DispatchReport report = HitKitExtensions.dispatchAndWaitAsync(offline).get(10, TimeUnit.SECONDS);
            assertEquals(new DispatchReport(2L, 0L, 0L, 0L), report);
            assertEquals(Arrays.asList("java-home", "java-buy"), Collector.INSTANCE.deliveredPages());
            assertEquals("1", Collector.INSTANCE.delivered().get(1).param("x"));

            // With a deadline and the other overloads.
            HitKitExtensions.send(tracker, Arrays.asList(new HitParam("ev", "java")));
            assertEquals(1L, HitKitExtensions.dispatchAndWaitAsync(offline, 5000L).get(10, TimeUnit.SECONDS).getSent());
            assertEquals(0L, HitKitExtensions.dispatchAndWaitAsync(offline, 5000L, true).get(10, TimeUnit.SECONDS).getRemaining());

            HitKitExtensions.sendScreen(tracker, "erased");
            HitKitExtensions.eraseAllAsync(tracker).get(10, TimeUnit.SECONDS);
            assertEquals(0L, offline.count());
        }
    }

    @Test
    public void typedExceptionsReachJava() throws Exception {
        try (Tracker tracker = HitKitExtensions.openTracker(config(OfflineModeKey.ALWAYS))) {
            try {
                HitKitExtensions.sendScreen(tracker, "x", Collections.singletonList(new HitParam("", "v")));
                fail("an empty parameter key is refused");
            } catch (TrackerException.InvalidParameter e) {
                assertFalse(e.getReason().isEmpty());
            }
            try {
                tracker.setConfig("storage", "sometimes", null);
                fail("a bad storage value is refused");
            } catch (TrackerException e) {
                assertTrue(e.toString(), e instanceof TrackerException.InvalidConfig);
                assertEquals("storage", ((TrackerException.InvalidConfig) e).getKey());
                assertFalse(HitkitKt.trackerErrorMessage(e).isEmpty());
            }
            // A future fails with the typed exception as its cause.
            CompletableFuture<DispatchReport> future = HitKitExtensions.dispatchAndWaitAsync(tracker.getOffline(), -1L);
            try {
                future.get(10, TimeUnit.SECONDS);
                fail("a negative deadline is refused");
            } catch (ExecutionException e) {
                assertTrue(String.valueOf(e.getCause()), e.getCause() instanceof TrackerException.InvalidParameter);
                assertEquals("deadlineMs", ((TrackerException.InvalidParameter) e.getCause()).getKey());
            }
        }
        // A second live tracker on the same store and name is refused at construction. (A new
        // store: the closed tracker's worker may still hold the first one for a moment.)
        SupportKt.deleteTree(dir);
        dir = SupportKt.tempDir();
        try (Tracker first = new Tracker(config(OfflineModeKey.ALWAYS), null)) {
            try (Tracker second = HitKitExtensions.openTracker(config(OfflineModeKey.ALWAYS))) {
                assertNotSame(first, second);
                fail("one live tracker per name and database");
            } catch (TrackerException.InvalidConfig e) {
                assertEquals("name", e.getKey());
            }
        }
    }
}
