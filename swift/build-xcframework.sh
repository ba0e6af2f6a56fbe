#!/usr/bin/env bash
# swift/build-xcframework.sh — build HitKitFFI.xcframework (static libhitkit + the C header and
# module map) for the Swift package's Apple platforms: iOS, iOS Simulator, macOS, tvOS, watchOS.
#
#   *** NOT RUN HERE. HitKit is developed on Linux, where there is no Xcode, no Apple SDK and
#   *** no `xcodebuild`; this script was written against Apple's and rustup's documentation
#   *** and has never been executed. Expect to fix small things on the first run on a Mac.
#
# Usage (on macOS with Xcode and rustup):   swift/build-xcframework.sh [--no-tier3]
#   --no-tier3   skip tvOS and watchOS (Rust tier 3 targets: they need a nightly toolchain and
#                `-Zbuild-std`, see below); the xcframework then holds iOS and macOS only
#
# Steps:
#   1. scripts/bindings.sh — regenerate HitKit.swift and hitkitFFI.h (the committed ones must
#      match the library you ship; `scripts/bindings.sh --check` says whether they do).
#   2. cargo build --release --lib for each target. Tier 2 (rustup target add works):
#        aarch64-apple-ios, aarch64-apple-ios-sim, x86_64-apple-ios,
#        aarch64-apple-darwin, x86_64-apple-darwin
#      Tier 3 (no prebuilt std; nightly + `cargo +nightly build -Zbuild-std=std,panic_unwind`):
#        aarch64-apple-tvos, aarch64-apple-tvos-sim, x86_64-apple-tvos,
#        arm64_32-apple-watchos, aarch64-apple-watchos, aarch64-apple-watchos-sim,
#        x86_64-apple-watchos-sim
#   3. lipo the architectures of one platform into one fat static library (simulator:
#      arm64 + x86_64; macOS: arm64 + x86_64; watchOS device: arm64_32 + arm64).
#   4. xcodebuild -create-xcframework -library LIB -headers HEADERS ... — HEADERS holds
#      hitkitFFI.h and a module.modulemap declaring `module hitkitFFI` (no `link`: the static
#      library is linked by the binary target itself).
# Output: swift/HitKitFFI.xcframework, the path the root Package.swift's `.binaryTarget` expects.
# For distribution, zip it, attach it to a release and set `releasedFFI` in the root
# Package.swift to its URL and checksum (`swift package compute-checksum HitKitFFI.xcframework.zip`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TIER3=1
for a in "$@"; do
    case "$a" in
        --no-tier3) TIER3=0 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown argument $a" >&2; exit 2 ;;
    esac
done
[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh needs macOS with Xcode (this is $(uname -s))" >&2; exit 1; }
command -v xcodebuild >/dev/null || { echo "xcodebuild not found: install Xcode" >&2; exit 1; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/build/xcframework"
XCF="$HERE/HitKitFFI.xcframework"
LIBNAME=libhitkit.a

cd "$ROOT"
"$ROOT/scripts/bindings.sh"

TIER2_TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
TIER3_TARGETS=(aarch64-apple-tvos aarch64-apple-tvos-sim x86_64-apple-tvos
               arm64_32-apple-watchos aarch64-apple-watchos aarch64-apple-watchos-sim x86_64-apple-watchos-sim)

rustup target add "${TIER2_TARGETS[@]}"
for t in "${TIER2_TARGETS[@]}"; do
    echo "== cargo build --release --target $t"
    cargo build --release --lib -p hitkit --features quiet-dependencies --target "$t"
done
if [ "$TIER3" = 1 ]; then
    rustup toolchain install nightly --component rust-src
    for t in "${TIER3_TARGETS[@]}"; do
        echo "== cargo +nightly build -Zbuild-std --release --target $t (tier 3)"
        cargo +nightly build -Zbuild-std=std,panic_unwind --release --lib -p hitkit --features quiet-dependencies --target "$t"
    done
fi

lib() { echo "$TARGET_DIR/$1/release/$LIBNAME"; }

# fat NAME TARGET...: one static library holding every architecture of one platform.
fat() {
    local name="$1"; shift
    local libs=() t
    for t in "$@"; do libs+=("$(lib "$t")"); done
    mkdir -p "$OUT/$name"
    lipo -create "${libs[@]}" -output "$OUT/$name/$LIBNAME"
    echo "$OUT/$name/$LIBNAME"
}

# The headers every slice carries: the generated header, the hand-written one of
# hitkit_quick_send, and a module map without `link`.
HEADERS="$OUT/Headers"
rm -rf "$OUT" "$XCF"
mkdir -p "$HEADERS"
cp "$HERE/Sources/hitkitFFI/include/hitkitFFI.h" "$HERE/Sources/hitkitFFI/include/hitkitQuick.h" "$HEADERS/"
cat >"$HEADERS/module.modulemap" <<'EOF'
module hitkitFFI {
    header "hitkitFFI.h"
    header "hitkitQuick.h"
    export *
}
EOF

args=(
    -library "$(lib aarch64-apple-ios)" -headers "$HEADERS"
    -library "$(fat ios-simulator aarch64-apple-ios-sim x86_64-apple-ios)" -headers "$HEADERS"
    -library "$(fat macos aarch64-apple-darwin x86_64-apple-darwin)" -headers "$HEADERS"
)
if [ "$TIER3" = 1 ]; then
    args+=(
        -library "$(lib aarch64-apple-tvos)" -headers "$HEADERS"
        -library "$(fat tvos-simulator aarch64-apple-tvos-sim x86_64-apple-tvos)" -headers "$HEADERS"
        -library "$(fat watchos arm64_32-apple-watchos aarch64-apple-watchos)" -headers "$HEADERS"
        -library "$(fat watchos-simulator aarch64-apple-watchos-sim x86_64-apple-watchos-sim)" -headers "$HEADERS"
    )
fi
xcodebuild -create-xcframework "${args[@]}" -output "$XCF"
echo "built $XCF"
echo "check: swift build at the repository root   (on macOS, Package.swift then uses the binary target)"
