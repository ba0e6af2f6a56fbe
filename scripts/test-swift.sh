#!/usr/bin/env bash
# scripts/test-swift.sh — build HitKit's Swift package and run its XCTest tests against a real
# collector process.
#
# Usage:
#   scripts/test-swift.sh              install the toolchain (scripts/test-toolchains/swift.sh: a native
#                                      swift, or Swift 6.0.3 in a Debian trixie chroot), regenerate
#                                      the bindings (scripts/bindings.sh, which builds
#                                      target/debug/libhitkit.so), start `hitkit collect` on the
#                                      host, then `swift test --disable-swift-testing` on the
#                                      package at the repository root (Package.swift; sources
#                                      under swift/)
#   --no-bindings                      use the committed bindings, the built library and the built
#                                      `hitkit` CLI as they are (no cargo, no regeneration)
#   --filter REGEX                     passed to `swift test --filter`
#
# The chroot shares the host's network, so the tests reach the collector through the addresses
# passed as HITKIT_COLLECTOR / HITKIT_CONTROL. The chroot sees the repository (the work dir) and
# the library's dir; SwiftPM's build dirs are build/swift and build/swift6 (never .build).
# The output ends with `swift test`'s own summary; the exit code is non-zero on any failure.
# The collector is killed on exit, whatever happens.
# Env: HITKIT_CLI (a `hitkit` binary for the collector), CARGO, CARGO_TARGET_DIR, HITKIT_TOOLCHAINS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BINDINGS=1 FILTER=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-bindings) BINDINGS=0 ;;
        --filter) FILTER=(--filter "${2:?--filter needs a REGEX}"); shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "test-swift.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
log() { printf '[swift] %s\n' "$*" >&2; }
t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
cd "$ROOT"

# ---- toolchain -------------------------------------------------------------------------
bash "$ROOT/scripts/test-toolchains/swift.sh" >/dev/null </dev/null
# shellcheck disable=SC1091
. "${HITKIT_TOOLCHAINS:-${HOME:-/root}/.cache/hitkit-toolchains}/swift.env"

# ---- native library + bindings ---------------------------------------------------------
[ "$BINDINGS" = 1 ] && "$ROOT/scripts/bindings.sh" >&2
LIBDIR="$(cd "$TARGET_DIR/debug" && pwd -P)"
[ -f "$LIBDIR/libhitkit.so" ] || { log "missing $LIBDIR/libhitkit.so"; exit 1; }
SCRATCH="$ROOT/build/swift"
mkdir -p "$SCRATCH"

# ---- the collector process (on the host) -----------------------------------------------
# shellcheck source=collector.sh
. "$ROOT/scripts/collector.sh"
start_collector swift

# ---- Swift 6 language mode -------------------------------------------------------------
# The package is tools 5.9 (Swift 5 mode, for Xcode 15 users); the whole package — the HitKit
# module (the generated bindings + HitKit+Idiom.swift) and the tests — must also compile in
# Swift 6 language mode, which means complete concurrency checking, with warnings as errors.
# (UniFFI issue #2929, async foreign traits crashing the compiler, does not apply: HitKit's
# foreign traits are synchronous.) Its own scratch dir: the flags differ from `swift test`'s.
log "swift build --build-tests in Swift 6 language mode, warnings as errors"
mkdir -p "$ROOT/build/swift6"
"$SWIFT_RUN" --bind "$LIBDIR" "$ROOT" -- swift build --build-tests \
    --scratch-path "$ROOT/build/swift6" -Xswiftc -swift-version -Xswiftc 6 -Xswiftc -warnings-as-errors \
    -Xlinker -L"$LIBDIR" -Xlinker -rpath -Xlinker "$LIBDIR" \
    {COLLECTOR_FD}>&- </dev/null >"$RUN/swift6.log" 2>&1 \
    || { cat "$RUN/swift6.log" >&2; log "the package does not compile in Swift 6 mode without warnings"; exit 1; }

# The privacy manifest ships with the package, as a well-formed property list.
manifest="$(find "$ROOT/build/swift6" -path '*HitKit_HitKit.resources/PrivacyInfo.xcprivacy' | head -1)"
[ -n "$manifest" ] || { log "PrivacyInfo.xcprivacy is not in the built package's resources"; exit 1; }
python3 -c 'import plistlib, sys; d = plistlib.load(open(sys.argv[1], "rb")); assert d["NSPrivacyTracking"] is False and d["NSPrivacyCollectedDataTypes"], d' "$manifest" \
    || { log "PrivacyInfo.xcprivacy is not a valid privacy manifest"; exit 1; }

# ---- swift test ------------------------------------------------------------------------
log "swift test in $ROOT ($SWIFT_MODE mode)"
set +e
"$SWIFT_RUN" --bind "$LIBDIR" \
    -e HITKIT_COLLECTOR="$HIT_ADDR" -e HITKIT_CONTROL="$CONTROL_ADDR" \
    "$ROOT" -- swift test --disable-swift-testing --scratch-path "$SCRATCH" "${FILTER[@]}" \
    -Xlinker -L"$LIBDIR" -Xlinker -rpath -Xlinker "$LIBDIR" \
    {COLLECTOR_FD}>&- </dev/null
rc=$?
set -e
[ "$rc" -eq 0 ] || log "swift test failed (exit $rc) after $(elapsed) s"
exit "$rc"
