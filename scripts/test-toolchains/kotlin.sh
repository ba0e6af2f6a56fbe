#!/usr/bin/env bash
# scripts/test-toolchains/kotlin.sh — ensure a Kotlin/JVM toolchain for HitKit's Kotlin bindings.
#
# Usage:   bash scripts/test-toolchains/kotlin.sh          (idempotent; ~0.05 s once installed)
#          . "${HITKIT_TOOLCHAINS:-$HOME/.cache/hitkit-toolchains}/kotlin.env"
#
# Provides (written to $TOOLCHAINS/kotlin.env, a sourceable file of `export NAME=value` lines,
# and printed on stdout at the end; progress goes to stderr):
#   KOTLINC     absolute path of a working `kotlinc` (a native one on PATH if it works and its
#               lib/ has what we need, else the npm package kotlin-compiler@2.4.20 unpacked
#               into $TOOLCHAINS/kotlin-compiler-2.4.20)
#   KOTLIN_HOME the Kotlin distribution root (KOTLINC is $KOTLIN_HOME/bin/kotlinc)
#   KOTLIN_LIB  dir holding kotlin-stdlib.jar, kotlinx-coroutines-core-jvm.jar, kotlin-test.jar,
#               kotlin-test-junit.jar
#   KOTLIN_RUNTIME_CP  colon-separated: kotlin-stdlib.jar + kotlinx-coroutines-core-jvm.jar
#   JNA_JAR     /usr/share/java/jna.jar (Debian libjna-java)
#   JUNIT_JARS  colon-separated: junit4.jar + hamcrest-core jar (Debian junit4), followed by
#               kotlin-test.jar and kotlin-test-junit.jar
#
# Example:
#   . "$TOOLCHAINS/kotlin.env"
#   "$KOTLINC" -cp "$JNA_JAR:$JUNIT_JARS:$KOTLIN_RUNTIME_CP" src/*.kt -d out.jar
#   java -cp "out.jar:$JNA_JAR:$JUNIT_JARS:$KOTLIN_RUNTIME_CP" -Djna.library.path=DIR \
#        org.junit.runner.JUnitCore MyTest
#
# Needs: java (17 is on the machine), npm (only when no native kotlinc), root for apt-get.
# Knobs: HITKIT_TOOLCHAINS (dir), HITKIT_TOOLCHAINS_FORCE=1 (ignore the stamp, re-verify).
set -euo pipefail
LOG_TAG=kotlin
# shellcheck source=_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

KOTLIN_VERSION=2.4.20
ENV_FILE="$TOOLCHAINS/kotlin.env"
STAMP="$TOOLCHAINS/.kotlin.stamp"
# Bump when what this script provides changes, so that old stamps are ignored.
RECIPE="kotlin-recipe-1 kotlin-compiler@$KOTLIN_VERSION libjna-java junit4"

print_env() { cat "$ENV_FILE"; }

# Fast path: a stamp matching this recipe, and every file the env file names still exists.
fast_path_ok() {
    [ "$FORCE" = 1 ] && return 1
    [ -f "$STAMP" ] && [ -f "$ENV_FILE" ] || return 1
    [ "$(cat "$STAMP")" = "$RECIPE" ] || return 1
    (
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        # shellcheck disable=SC2153  # KOTLINC etc. come from the env file
        [ -x "$KOTLINC" ] && [ -f "$JNA_JAR" ] || exit 1
        IFS=: read -ra jars <<<"$JUNIT_JARS:$KOTLIN_RUNTIME_CP"
        for j in "${jars[@]}"; do [ -f "$j" ] || exit 1; done
    )
}

# lib_dir_ok DIR: DIR has the jars the bindings and tests need.
lib_dir_ok() {
    local d="$1" j
    for j in kotlin-stdlib.jar kotlinx-coroutines-core-jvm.jar kotlin-test.jar kotlin-test-junit.jar; do
        [ -f "$d/$j" ] || return 1
    done
}

find_native_kotlinc() {
    local k home
    k="$(command -v kotlinc 2>/dev/null)" || return 1
    home="$(cd "$(dirname "$(readlink -f "$k")")/.." && pwd)"
    case "$home" in "$TOOLCHAINS"/*) return 1 ;; esac   # that one is ours, handled below
    if ! lib_dir_ok "$home/lib"; then
        log "native kotlinc at $k lacks some jars in $home/lib; not using it"
        return 1
    fi
    if ! "$k" -version >/dev/null 2>&1; then
        log "native kotlinc at $k does not run; not using it"
        return 1
    fi
    echo "$home"
}

install_npm_kotlin() {
    local dest="$TOOLCHAINS/kotlin-compiler-$KOTLIN_VERSION"
    if [ -x "$dest/bin/kotlinc" ] && lib_dir_ok "$dest/lib" && [ -f "$dest/.complete" ]; then
        echo "$dest"; return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found (needed for kotlin-compiler@$KOTLIN_VERSION)"
    local tmp t0
    tmp="$(mktemp -d "$TOOLCHAINS/.kotlin-dl.XXXXXX")"
    t0="$(now)"
    log "npm pack kotlin-compiler@$KOTLIN_VERSION (~89 MB) ..."
    (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" </dev/null >/dev/null) \
        || { rm -rf "$tmp"; die "npm pack kotlin-compiler@$KOTLIN_VERSION failed"; }
    log "unpacking ..."
    tar -xzf "$tmp"/kotlin-compiler-*.tgz -C "$tmp" || { rm -rf "$tmp"; die "unpacking failed"; }
    rm -f "$tmp"/kotlin-compiler-*.tgz
    chmod +x "$tmp"/package/bin/* 2>/dev/null || true
    lib_dir_ok "$tmp/package/lib" || { rm -rf "$tmp"; die "kotlin-compiler package lacks jars in lib/"; }
    touch "$tmp/package/.complete"
    rm -rf "$dest"
    mv "$tmp/package" "$dest"
    rm -rf "$tmp"
    log "kotlin-compiler@$KOTLIN_VERSION in $dest ($(elapsed "$t0") s)"
    echo "$dest"
}

find_jar() {   # find_jar NAME...: first existing /usr/share/java/NAME
    local n
    for n in "$@"; do [ -f "/usr/share/java/$n" ] && { echo "/usr/share/java/$n"; return 0; }; done
    return 1
}

install_all() {
    # Another run may have finished while we waited for the lock.
    if fast_path_ok; then return 0; fi
    local t0 home kotlinc jna junit hamcrest
    t0="$(now)"
    mkdir -p "$TOOLCHAINS"

    command -v java >/dev/null 2>&1 || die "java not found on PATH (kotlinc needs a JRE/JDK)"

    apt_ensure libjna-java junit4
    jna="$(find_jar jna.jar)" || die "/usr/share/java/jna.jar missing after installing libjna-java"
    junit="$(find_jar junit4.jar)" || die "/usr/share/java/junit4.jar missing after installing junit4"
    hamcrest="$(find_jar hamcrest-core.jar hamcrest.jar hamcrest-all.jar)" \
        || die "no hamcrest jar in /usr/share/java (junit4 depends on libhamcrest-java)"

    if home="$(find_native_kotlinc)"; then
        log "using native kotlinc: $home/bin/kotlinc"
    else
        home="$(install_npm_kotlin)"
    fi
    kotlinc="$home/bin/kotlinc"

    log "verifying: $kotlinc -version (JVM start, a few seconds) ..."
    local ver
    ver="$("$kotlinc" -version 2>&1 </dev/null)" || die "kotlinc does not run: $ver"
    log "  $ver"

    local lib="$home/lib"
    write_file_atomic "$ENV_FILE" <<EOF
# Written by scripts/test-toolchains/kotlin.sh — source it.
export KOTLINC='$kotlinc'
export KOTLIN_HOME='$home'
export KOTLIN_LIB='$lib'
export KOTLIN_RUNTIME_CP='$lib/kotlin-stdlib.jar:$lib/kotlinx-coroutines-core-jvm.jar'
export JNA_JAR='$jna'
export JUNIT_JARS='$junit:$hamcrest:$lib/kotlin-test.jar:$lib/kotlin-test-junit.jar'
EOF
    printf '%s\n' "$RECIPE" | write_file_atomic "$STAMP"
    log "done in $(elapsed "$t0") s"
}

if fast_path_ok; then
    log "already installed (stamp $STAMP)"
else
    with_lock kotlin install_all
fi
log "provides (also in $ENV_FILE):"
print_env
