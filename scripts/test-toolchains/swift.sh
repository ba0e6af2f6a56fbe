#!/usr/bin/env bash
# scripts/test-toolchains/swift.sh — ensure a Swift 6 toolchain (SwiftPM + XCTest) for HitKit's
# Swift bindings.
#
# Usage:   bash scripts/test-toolchains/swift.sh [--self-test]     (idempotent; ~0.05 s once installed)
#          . "${HITKIT_TOOLCHAINS:-$HOME/.cache/hitkit-toolchains}/swift.env"
#          $SWIFT_RUN /abs/path/to/package -- swift test --disable-swift-testing
#
# Provides (written to $TOOLCHAINS/swift.env, a sourceable file of `export NAME=value` lines,
# and printed on stdout at the end; progress goes to stderr):
#   SWIFT_RUN   the command prefix: $TOOLCHAINS/bin/hitkit-swift-run (see its header for the interface:
#               `hitkit-swift-run [--bind DIR]... [--env N=V]... [WORKDIR] -- CMD [ARG...]`)
#   SWIFT_MODE  `native` (a working `swift` on the host PATH) or `chroot`
#   SWIFT_ROOT  the chroot's root dir (empty in native mode)
#
# How: a native `swift` on PATH is used if `swift --version` and `swift build --version` work.
# Otherwise (Debian 12 has no Swift) a Debian trixie chroot is made at
# $TOOLCHAINS/swift-trixie/root with `debootstrap --variant=minbase trixie`, and trixie's
# swiftlang 6.0.3 (+ libc6-dev, which `swift build` needs to link) is apt-installed inside it
# (~1 min, ~3.3 GB). Each step has a stamp; an interrupted debootstrap (no stamp) is wiped and
# redone, an interrupted apt-get install is resumed (`dpkg --configure -a`, then install again).
#
# --self-test   afterwards, build and test a throwaway SwiftPM package with an XCTest test in a
#               temp dir under /tmp (run through hitkit-swift-run), then remove it.
# Knobs: HITKIT_TOOLCHAINS (dir), HITKIT_TOOLCHAINS_FORCE=1 (ignore stamps, re-check),
#        HITKIT_SWIFT_NATIVE=0 (never use a host swift), HITKIT_DEBIAN_MIRROR (debootstrap mirror).
# Needs root (apt-get, debootstrap, chroot, mounts) and util-linux `unshare`.
set -euo pipefail
LOG_TAG=swift
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=_lib.sh
. "$HERE/_lib.sh"

SELF_TEST=0
for a in "$@"; do
    case "$a" in
        --self-test) SELF_TEST=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
        *) die "unknown argument $a" ;;
    esac
done

SW="$TOOLCHAINS/swift-trixie"
ROOT="$SW/root"
BIN="$TOOLCHAINS/bin"
ENV_FILE="$TOOLCHAINS/swift.env"
STAMP="$TOOLCHAINS/.swift.stamp"
DEBOOTSTRAP_STAMP="$SW/.debootstrap.ok"
PACKAGES_STAMP="$SW/.packages.ok"
SUITE=trixie
MIRROR="${HITKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What `swift build` / `swift test` with XCTest need in the chroot (swiftlang pulls in
# clang, binutils, libstdc++ etc. itself; libc6-dev is only a Recommends of it).
CHROOT_PACKAGES="swiftlang libc6-dev"
RECIPE="swift-recipe-1 $SUITE $CHROOT_PACKAGES"

print_env() { cat "$ENV_FILE"; }

fast_path_ok() {
    [ "$FORCE" = 1 ] && return 1
    [ -f "$STAMP" ] && [ -f "$ENV_FILE" ] && [ "$(cat "$STAMP")" = "$RECIPE" ] || return 1
    cmp -s "$HERE/hitkit-swift-run" "$BIN/hitkit-swift-run" && [ -f "$BIN/hitkit-swift-run.conf" ] || return 1
    (
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        [ -x "$SWIFT_RUN" ] || exit 1
        if [ "$SWIFT_MODE" = chroot ]; then
            [ -f "$DEBOOTSTRAP_STAMP" ] && [ -f "$PACKAGES_STAMP" ] && [ -x "$SWIFT_ROOT/usr/bin/swift-build" ]   # usr/bin/swift: an absolute symlink
        else
            command -v swift >/dev/null
        fi
    )
}

native_swift_ok() {
    [ "${HITKIT_SWIFT_NATIVE:-1}" != 0 ] || return 1
    command -v swift >/dev/null 2>&1 || return 1
    swift --version >/dev/null 2>&1 && swift build --version >/dev/null 2>&1
}

# safe_rm DIR: remove a (possibly half-made) chroot. A leftover mount under it (a debootstrap
# killed outside our private namespace, a hand-made bind of /dev) is unmounted first: `rm -rf`
# through a bind mount of /dev or of a project would delete the host's files.
safe_rm() {
    local dir="$1" m
    [ -e "$dir" ] || return 0
    dir="$(cd "$dir" && pwd -P)"
    for _ in 1 2 3; do
        m="$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)"
        [ -z "$m" ] && break
        log "unmounting leftovers under $dir: $(echo "$m" | tr '\n' ' ')"
        echo "$m" | while read -r p; do umount -R "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true; done
    done
    if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        die "mounts remain under $dir; not deleting it"
    fi
    rm -rf --one-file-system "$dir"
}

# in_chroot CMD...: run CMD in the chroot (as root, with /proc,/dev,/sys; no project dir).
in_chroot() {
    HITKIT_SWIFT_ROOT="$ROOT" "$HERE/hitkit-swift-run" --env DEBIAN_FRONTEND=noninteractive / -- "$@"
}

make_chroot() {
    local t0
    if [ ! -f "$DEBOOTSTRAP_STAMP" ] || [ ! -x "$ROOT/usr/bin/apt-get" ]; then
        apt_ensure debootstrap
        rm -f "$DEBOOTSTRAP_STAMP" "$PACKAGES_STAMP"
        safe_rm "$ROOT.partial"
        safe_rm "$ROOT"
        mkdir -p "$SW"
        t0="$(now)"
        log "debootstrap --variant=minbase $SUITE $ROOT.partial $MIRROR (~30 s) ..."
        # In a private mount namespace: the /proc, /sys debootstrap mounts in the target vanish
        # with it, even when it is killed half-way.
        unshare --mount --propagation private -- \
            debootstrap --variant=minbase "$SUITE" "$ROOT.partial" "$MIRROR" </dev/null >&2 \
            || die "debootstrap failed (log: $ROOT.partial/debootstrap/debootstrap.log)"
        mv "$ROOT.partial" "$ROOT"
        touch "$DEBOOTSTRAP_STAMP"
        log "debootstrap done ($(elapsed "$t0") s)"
    fi

    if [ ! -f "$PACKAGES_STAMP" ] || [ "$(cat "$PACKAGES_STAMP")" != "$RECIPE" ]; then
        rm -f "$PACKAGES_STAMP"
        t0="$(now)"
        log "in the chroot: apt-get install $CHROOT_PACKAGES (~1 min, ~3 GB) ..."
        # No daemons may start inside the chroot.
        printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
        chmod 755 "$ROOT/usr/sbin/policy-rc.d"
        cp -fL /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true   # apt needs DNS
        in_chroot dpkg --configure -a >&2 || true
        in_chroot apt-get update -qq >&2 || die "apt-get update in the chroot failed"
        # shellcheck disable=SC2086
        in_chroot apt-get install -y -qq --no-install-recommends $CHROOT_PACKAGES </dev/null >&2 \
            || die "apt-get install $CHROOT_PACKAGES in the chroot failed"
        in_chroot apt-get clean >&2 || true
        log "packages installed ($(elapsed "$t0") s)"
        in_chroot swift --version >&2 || die "swift does not run in the chroot"
        printf '%s\n' "$RECIPE" | write_file_atomic "$PACKAGES_STAMP"
    fi
}

install_all() {
    if fast_path_ok; then return 0; fi
    local t0 mode root=""
    t0="$(now)"
    mkdir -p "$BIN"
    if native_swift_ok; then
        mode=native
        log "using native swift: $(command -v swift) ($(swift --version 2>&1 | head -1))"
    else
        mode=chroot root="$ROOT"
        [ "$(id -u)" -eq 0 ] || die "the Swift chroot needs root"
        command -v unshare >/dev/null 2>&1 || apt_ensure util-linux
        make_chroot
        log "verifying: swift --version in the chroot"
        in_chroot swift --version >&2 || die "swift does not run in the chroot"
    fi
    install -m 755 "$HERE/hitkit-swift-run" "$BIN/hitkit-swift-run.tmp" && mv -f "$BIN/hitkit-swift-run.tmp" "$BIN/hitkit-swift-run"
    printf "# Written by scripts/test-toolchains/swift.sh. Empty SWIFT_ROOT: native swift.\nSWIFT_ROOT='%s'\n" "$root" \
        | write_file_atomic "$BIN/hitkit-swift-run.conf"
    write_file_atomic "$ENV_FILE" <<EOF
# Written by scripts/test-toolchains/swift.sh — source it. Usage: \$SWIFT_RUN WORKDIR -- swift test ...
export SWIFT_RUN='$BIN/hitkit-swift-run'
export SWIFT_MODE='$mode'
export SWIFT_ROOT='$root'
EOF
    printf '%s\n' "$RECIPE" | write_file_atomic "$STAMP"
    log "done in $(elapsed "$t0") s"
}

self_test() {
    local d t0
    t0="$(now)"
    d="$(mktemp -d /tmp/hitkit-swift-selftest.XXXXXX)"
    log "self-test: SwiftPM package with an XCTest test in $d"
    mkdir -p "$d/Sources/Hello" "$d/Tests/HelloTests"
    cat >"$d/Package.swift" <<'EOF'
// swift-tools-version:5.9
import PackageDescription
let package = Package(
    name: "Hello",
    targets: [
        .target(name: "Hello"),
        .testTarget(name: "HelloTests", dependencies: ["Hello"]),
    ]
)
EOF
    echo 'public func greet(_ n: String) -> String { "hello \(n)" }' >"$d/Sources/Hello/Hello.swift"
    cat >"$d/Tests/HelloTests/HelloTests.swift" <<'EOF'
import XCTest
@testable import Hello
final class HelloTests: XCTestCase {
    func testGreet() { XCTAssertEqual(greet("swift"), "hello swift") }
}
EOF
    local rc=0
    "$BIN/hitkit-swift-run" "$d" -- swift test --disable-swift-testing >&2 || rc=$?
    rm -rf "$d"
    [ "$rc" -eq 0 ] || die "self-test failed (exit $rc)"
    log "self-test passed ($(elapsed "$t0") s)"
}

if fast_path_ok; then
    log "already installed (stamp $STAMP)"
else
    with_lock swift install_all
fi
[ "$SELF_TEST" = 1 ] && self_test
log "provides (also in $ENV_FILE):"
print_env
