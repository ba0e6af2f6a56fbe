#!/usr/bin/env bash
# scripts/check-swiftpm-url.sh — HitKit installed by URL, as an app would: a throwaway app package
# depends on this repository by `file://` URL at the committed HEAD; SwiftPM clones it, reads the
# root Package.swift, builds the HitKit product and runs the app against libhitkit (Linux: the
# system-library target, so the app links target/debug/libhitkit.so). Not part of `make test`:
# it checks what is committed, not the working tree.
#
# Usage: scripts/check-swiftpm-url.sh        (prints `swiftpm-url: OK ...` last; non-zero on failure)
# Outputs: build/swiftpm-url/ (a bare clone of the repository, the app package and its build).
# Needs: the Swift toolchain (scripts/test-toolchains/swift.sh); git in its chroot, which SwiftPM uses
# to clone URL dependencies and which this script installs there once (make test does not need it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/build/swiftpm-url"
log() { printf '[swiftpm-url] %s\n' "$*" >&2; }
cd "$ROOT"

bash "$ROOT/scripts/test-toolchains/swift.sh" >/dev/null </dev/null
TC="${HITKIT_TOOLCHAINS:-${HOME:-/root}/.cache/hitkit-toolchains}"
# shellcheck disable=SC1091
. "$TC/swift.env"

if [ "$SWIFT_MODE" = chroot ] && [ ! -x "$SWIFT_ROOT/usr/bin/git" ]; then
    log "installing git in the Swift chroot (SwiftPM clones URL dependencies with it)"
    # The toolchain's own lock: no apt-get while its installer runs.
    mkdir -p "$OUT"
    (
        flock -w 3600 9
        apt() { "$SWIFT_RUN" --env DEBIAN_FRONTEND=noninteractive / -- apt-get "$@" </dev/null >>"$OUT/apt.log" 2>&1; }
        apt install -y -qq --no-install-recommends git || { apt update -qq && apt install -y -qq --no-install-recommends git; }
    ) 9>"$TC/.swift.lock" || { cat "$OUT/apt.log" >&2; log "apt-get install git in the chroot failed"; exit 1; }
fi

[ -f "$TARGET_DIR/debug/libhitkit.so" ] || "$CARGO" build -q -p hitkit
LIBDIR="$(cd "$TARGET_DIR/debug" && pwd -P)"

rev="$(git rev-parse HEAD)"
rm -rf "$OUT/hitkit.git" "$OUT/app"
mkdir -p "$OUT/app/Sources/App"
git clone -q --bare --no-local "$ROOT" "$OUT/hitkit.git"
log "app package depending on file://$OUT/hitkit.git at $rev"
cat >"$OUT/app/Package.swift" <<SWIFT
// swift-tools-version:5.9
import PackageDescription
let package = Package(
    name: "App",
    dependencies: [.package(url: "file://$OUT/hitkit.git", revision: "$rev")],
    targets: [.executableTarget(name: "App", dependencies: [.product(name: "HitKit", package: "hitkit")])]
)
SWIFT
cat >"$OUT/app/Sources/App/main.swift" <<'SWIFT'
import Foundation
import HitKit

// `always`: the hit is stored, nothing goes to the network.
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hitkit-url-\(UUID().uuidString)").path
let tracker = try Tracker(config: TrackerConfig(site: "123", databasePath: dir, storage: .always))
try tracker.sendScreen(name: "installed-by-url")
try await tracker.flush()
let stored = try tracker.offline.get().map(\.url)
print("stored \(stored.count): \(stored.first.map { $0.contains("p=installed-by-url") } ?? false)")
try? FileManager.default.removeItem(atPath: dir)
SWIFT

# The chroot sees $OUT (the clone and the app) and the library's dir.
line="$("$SWIFT_RUN" --bind "$OUT" --bind "$LIBDIR" "$OUT/app" -- /bin/sh -c '
    swift build --scratch-path "$1/.build" -Xlinker -L"$2" -Xlinker -rpath -Xlinker "$2" >&2 &&
    "$1/.build/debug/App"' sh "$OUT/app" "$LIBDIR" </dev/null | tail -1)"
[ "$line" = "stored 1: true" ] || { log "the app printed: $line"; exit 1; }
echo "swiftpm-url: OK (HitKit by URL at ${rev:0:12}: built, and the app stored its hit)"
