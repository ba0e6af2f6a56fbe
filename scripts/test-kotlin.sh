#!/usr/bin/env bash
# scripts/test-kotlin.sh — build HitKit's Kotlin bindings and run their JUnit 4 tests on the JVM
# against a real collector process; or build the JVM jar.
#
# Usage:
#   scripts/test-kotlin.sh                 install the toolchain (scripts/test-toolchains/kotlin.sh),
#                                          regenerate the bindings (scripts/bindings.sh), compile
#                                          kotlin/src/{main,test} with kotlinc and the Java
#                                          caller's test (kotlin/src/test/java) with javac, start
#                                          `hitkit collect`, run the tests with JUnitCore and
#                                          -Djna.library.path=target/debug
#   scripts/test-kotlin.sh --jar           build build/kotlin/hitkit.jar from the release library
#                                          (classes + linux-x86-64/libhitkit.so, where JNA looks),
#                                          then run the same tests with only the jar on the class
#                                          path (no jna.library.path): this is `make jar`; also
#                                          writes and checks build/maven, the jar as a Maven-layout
#                                          repository (scripts/maven-repo.sh)
#   --no-test                              with --jar: build the jar only
#   --no-bindings                          use the committed bindings, the built library and the
#                                          built `hitkit` CLI as they are (no cargo, no regeneration)
# Env: HITKIT_CLI (a `hitkit` binary for the collector), CARGO, CARGO_TARGET_DIR, HITKIT_TOOLCHAINS.
#
# The last line is `kotlin: N passed, M failed`; the exit code is non-zero on any failure.
# Outputs: build/kotlin/ (classes, jar, logs). The collector is killed on exit, whatever happens.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/build/kotlin"
JAR=0 TEST=1 BINDINGS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --jar) JAR=1 ;;
        --no-test) TEST=0 ;;
        --no-bindings) BINDINGS=0 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "test-kotlin.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
log() { printf '[kotlin] %s\n' "$*" >&2; }
t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
cd "$ROOT"
mkdir -p "$OUT"

# ---- toolchain -------------------------------------------------------------------------
bash "$ROOT/scripts/test-toolchains/kotlin.sh" >/dev/null </dev/null
# shellcheck disable=SC1091
. "${HITKIT_TOOLCHAINS:-${HOME:-/root}/.cache/hitkit-toolchains}/kotlin.env"

# ---- native library + bindings ---------------------------------------------------------
PROFILE=debug; [ "$JAR" = 1 ] && PROFILE=release
if [ "$BINDINGS" = 1 ]; then
    if [ "$PROFILE" = release ]; then
        "$ROOT/scripts/bindings.sh" --release >&2
    else
        "$ROOT/scripts/bindings.sh" >&2
    fi
fi
LIBDIR="$TARGET_DIR/$PROFILE"
[ -f "$LIBDIR/libhitkit.so" ] || { log "missing $LIBDIR/libhitkit.so"; exit 1; }

# ---- compile (skipped when the inputs are unchanged) -----------------------------------
# compile NAME DEP CLASSPATH SRC_DIR...: kotlinc the .kt files under SRC_DIRs into $OUT/NAME.
# Skipped when its stamp (compiler, class path, sources, and the stamp of the output DEP it
# compiles against, "-" for none) is unchanged. Test classes must be recompiled when the main
# classes change: calls with default arguments bind to synthetic constructor signatures.
# JVM 1.8 bytecode (kotlinc's default, pinned): the jar then works on any JVM >= 8 and on
# Android, and callers compiled for any target can inline the generated `use {}`.
KOTLINC_FLAGS=(-jvm-target 1.8)
compile() {
    local name="$1" dep="$2" cp="$3"; shift 3
    local srcs stamp_want
    mapfile -t srcs < <(find "$@" -name '*.kt' | LC_ALL=C sort)
    # -nowarn: the generated bindings trip a few compiler warnings (unused parameters,
    # deprecated JNA calls); the hand-written sources are kept warning-free without it.
    local flags=("${KOTLINC_FLAGS[@]}"); [ "$name" = main ] && flags+=(-nowarn)
    # The tests reach the package's `internal` parts (QuickSend), as Gradle's test tasks do.
    [ "$dep" = - ] || flags+=("-Xfriend-paths=$OUT/$dep")
    stamp_want="$({ "$KOTLINC" -version 2>&1 </dev/null | head -1; echo "${flags[*]} $cp"; [ "$dep" = - ] || cat "$OUT/$dep.stamp"; cat "${srcs[@]}"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$OUT/$name.stamp" ] && [ "$(cat "$OUT/$name.stamp")" = "$stamp_want" ] && [ -d "$OUT/$name" ]; then
        log "$name: up to date"
        return 0
    fi
    log "kotlinc $name (${#srcs[@]} files) ..."
    rm -rf "${OUT:?}/$name" "$OUT/$name.stamp"
    local t0; t0=$(date +%s)
    "$KOTLINC" -cp "$cp" "${flags[@]}" -d "$OUT/$name" "${srcs[@]}" </dev/null 2>&1 \
        | grep -v '^warning: unable to find kotlin-stdlib.jar' >&2 || true
    [ -d "$OUT/$name/dev/hitkit" ] || { log "kotlinc $name failed"; exit 1; }
    echo "$stamp_want" >"$OUT/$name.stamp"
    log "$name compiled in $(( $(date +%s) - t0 )) s"
}
compile main - "$JNA_JAR:$KOTLIN_RUNTIME_CP" kotlin/src/main/kotlin
if [ "$TEST" = 1 ]; then
    compile test main "$OUT/main:$JNA_JAR:$JUNIT_JARS:$KOTLIN_RUNTIME_CP" kotlin/src/test/kotlin
fi

# compile_java: the Java caller's tests, by plain javac for Java 8 (what a Java app sees of the
# Kotlin API), every lint warning an error. Skipped when unchanged, like compile.
compile_java() {
    local srcs stamp_want cp="$OUT/main:$OUT/test:$JNA_JAR:$JUNIT_JARS:$KOTLIN_RUNTIME_CP"
    mapfile -t srcs < <(find kotlin/src/test/java -name '*.java' | LC_ALL=C sort)
    stamp_want="$({ javac -version 2>&1; echo "$cp"; cat "$OUT/test.stamp" "${srcs[@]}"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$OUT/test-java.stamp" ] && [ "$(cat "$OUT/test-java.stamp")" = "$stamp_want" ] && [ -d "$OUT/test-java" ]; then
        log "test-java: up to date"
        return 0
    fi
    log "javac test-java (${#srcs[@]} files) ..."
    rm -rf "${OUT:?}/test-java" "$OUT/test-java.stamp"
    # -Xlint:-options: javac 17 notes that --release 8 is old; that is the point here.
    javac --release 8 -Xlint:all -Xlint:-options -Werror -cp "$cp" -d "$OUT/test-java" "${srcs[@]}" </dev/null >&2 \
        || { log "javac test-java failed"; exit 1; }
    echo "$stamp_want" >"$OUT/test-java.stamp"
}
if [ "$TEST" = 1 ]; then compile_java; fi

# ---- the jar ---------------------------------------------------------------------------
if [ "$JAR" = 1 ]; then
    case "$(uname -m)" in
        x86_64|amd64) jna_prefix=linux-x86-64 ;;
        aarch64|arm64) jna_prefix=linux-aarch64 ;;
        *) log "no JNA resource prefix known for $(uname -m)"; exit 1 ;;
    esac
    stage="$OUT/jar-stage"
    rm -rf "$stage"; mkdir -p "$stage/$jna_prefix" "$stage/META-INF"
    cp -r "$OUT/main/." "$stage/"
    cp "$LIBDIR/libhitkit.so" "$stage/$jna_prefix/libhitkit.so"
    printf 'Manifest-Version: 1.0\nImplementation-Title: HitKit\nImplementation-Version: %s\nCreated-By: scripts/test-kotlin.sh\n' \
        "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" >"$stage/META-INF/MANIFEST.MF"
    # Sorted entries and a fixed --date keep the jar byte-for-byte reproducible for a library.
    rm -f "$OUT/hitkit.jar"
    (cd "$stage" && mapfile -t entries < <(find . -type f ! -path ./META-INF/MANIFEST.MF | LC_ALL=C sort) &&
        jar --create --date 2000-01-01T00:00:02Z --file "$OUT/hitkit.jar" --manifest META-INF/MANIFEST.MF "${entries[@]}")
    log "built $OUT/hitkit.jar ($(du -h "$OUT/hitkit.jar" | cut -f1); $jna_prefix/libhitkit.so from $PROFILE)"
    # The same jar as a local Maven repository (build/maven), checked.
    "$ROOT/scripts/maven-repo.sh" "$OUT/hitkit.jar"
    [ "$TEST" = 1 ] || { echo "kotlin: jar built: build/kotlin/hitkit.jar"; exit 0; }
fi

# ---- the collector process -------------------------------------------------------------
# HITKIT_CLI: a `hitkit` binary to use as it is; with --no-bindings an existing one is reused.
# shellcheck source=collector.sh
. "$ROOT/scripts/collector.sh"
start_collector kotlin

# ---- run -------------------------------------------------------------------------------
if [ "$JAR" = 1 ]; then
    # Only the jar: JNA must find linux-x86-64/libhitkit.so inside it.
    cp_run="$OUT/hitkit.jar:$OUT/test:$OUT/test-java:$JNA_JAR:$JUNIT_JARS:$KOTLIN_RUNTIME_CP"
    jvm_lib=()
else
    cp_run="$OUT/main:$OUT/test:$OUT/test-java:$JNA_JAR:$JUNIT_JARS:$KOTLIN_RUNTIME_CP"
    jvm_lib=("-Djna.library.path=$LIBDIR")
fi
classes=(dev.hitkit.HitKitTest dev.hitkit.HitKitApiTest dev.hitkit.JavaCallerTest
    dev.hitkit.HostTransportTest dev.hitkit.NetworkAvailabilityTest)
set +e
# Logging (HitKitLog, logLevel), the events Flow, docs/migrating.md's Kotlin spellings.
classes+=(dev.hitkit.HitKitLoggingTest dev.hitkit.HitKitEventsTest dev.hitkit.HitKitMigratingTest)
HITKIT_COLLECTOR="$HIT_ADDR" HITKIT_CONTROL="$CONTROL_ADDR" \
    java -cp "$cp_run" "${jvm_lib[@]}" org.junit.runner.JUnitCore "${classes[@]}" \
    {COLLECTOR_FD}>&- </dev/null 2>&1 | tee "$OUT/junit.log"
rc=${PIPESTATUS[0]}
set -e

total="$(sed -n 's/^OK (\([0-9]*\) tests\{0,1\})$/\1/p; s/^Tests run: \([0-9]*\),.*/\1/p' "$OUT/junit.log" | tail -1)"
failed="$(sed -n 's/^Tests run: [0-9]*, *Failures: \([0-9]*\).*/\1/p' "$OUT/junit.log" | tail -1)"
total="${total:-0}" failed="${failed:-0}"
[ "$rc" -ne 0 ] && [ "$failed" = 0 ] && failed=1   # the JVM died before JUnit's summary
log "took $(elapsed) s"
echo "kotlin: $((total - failed)) passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" = 0 ] && [ "$total" -gt 0 ]
