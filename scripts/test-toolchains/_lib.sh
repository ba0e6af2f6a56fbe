# shellcheck shell=bash
# Shared helpers for scripts/test-toolchains/*.sh. Sourced, never run.
#
# Environment knobs honoured by every installer:
#   HITKIT_TOOLCHAINS        toolchain dir (default: $HOME/.cache/hitkit-toolchains). Lives
#                            outside the work tree so that a fresh clone reuses it.
#   HITKIT_TOOLCHAINS_FORCE  =1: ignore the stamp files and re-check / re-install everything.

# debootstrap, chroot, mount live in sbin dirs, which a minimal PATH (env -i, CI) may lack.
PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOOLCHAINS="${HITKIT_TOOLCHAINS:-${HOME:-/root}/.cache/hitkit-toolchains}"
# shellcheck disable=SC2034  # used by the scripts that source this file
FORCE="${HITKIT_TOOLCHAINS_FORCE:-0}"

log() { printf '[toolchains:%s] %s\n' "${LOG_TAG:-?}" "$*" >&2; }
die() { printf '[toolchains:%s] ERROR: %s\n' "${LOG_TAG:-?}" "$*" >&2; exit 1; }

# Seconds since the epoch with sub-second precision, for "took N s" messages.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# apt_ensure PKG...: installs the Debian packages that are not installed yet.
# Runs `apt-get update` once per process before the first install (the image's lists may be old).
_APT_UPDATED=0
apt_ensure() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
    if [ "$_APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=600 >&2 || die "apt-get update failed"
        _APT_UPDATED=1
    fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" \
        </dev/null >&2 || die "apt-get install ${missing[*]} failed"
}

# with_lock NAME CMD...: runs CMD holding an exclusive lock, so that two concurrent runs
# (parallel CI jobs, two shells) do not install into the same dir at once.
with_lock() {
    local name="$1"; shift
    mkdir -p "$TOOLCHAINS"
    if command -v flock >/dev/null 2>&1; then
        (
            flock -w 3600 9 || die "could not lock $TOOLCHAINS/.$name.lock"
            "$@"
        ) 9>"$TOOLCHAINS/.$name.lock"
    else
        "$@"
    fi
}

# write_file_atomic PATH: stdin -> PATH via a temp file + rename (never a half-written file).
write_file_atomic() {
    local dest="$1" tmp
    tmp="$(mktemp "$dest.XXXXXX")"
    cat >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$dest"
}
