# scripts/collector.sh — sourced by the Kotlin and Swift test scripts: starts
# `hitkit collect` as a process for the tests of another language and makes
# sure it dies with the script.
#
#   start_collector TAG     builds the CLI if needed, starts the collector, sets
#                           RUN (a scratch dir, removed on exit), HIT_ADDR,
#                           CONTROL_ADDR, COLLECTOR_PID and COLLECTOR_FD
#
# Expects ROOT, CARGO, TARGET_DIR, BINDINGS and a `log` function.

start_collector() {
    local tag="$1"
    local cli="${HITKIT_CLI:-$TARGET_DIR/debug/hitkit}"
    if [ -z "${HITKIT_CLI:-}" ] && { [ "$BINDINGS" = 1 ] || [ ! -x "$cli" ]; }; then
        "$CARGO" build -q -p hitkit-cli >&2
    fi
    RUN="$(mktemp -d "${TMPDIR:-/tmp}/hitkit-$tag-run.XXXXXX")"
    COLLECTOR_PID=""
    trap stop_collector EXIT
    trap 'exit 130' INT TERM
    mkfifo "$RUN/collector.in"
    "$cli" collect --port 0 --control-port 0 --exit-on-stdin-close \
        <"$RUN/collector.in" >"$RUN/collector.out" 2>"$RUN/collector.err" &
    COLLECTOR_PID=$!
    # Hold the write end of its stdin: if this script dies, even by SIGKILL,
    # the collector exits.
    exec {COLLECTOR_FD}>"$RUN/collector.in"
    local first=""
    for _ in $(seq 1 200); do
        first="$(head -n1 "$RUN/collector.out" 2>/dev/null || true)"
        case "$first" in listening*control*) break ;; esac
        kill -0 "$COLLECTOR_PID" 2>/dev/null || { log "collector exited: $(cat "$RUN/collector.err")"; exit 1; }
        sleep 0.05
    done
    read -r _ HIT_ADDR _ CONTROL_ADDR <<<"$first"
    [ -n "${CONTROL_ADDR:-}" ] || { log "collector did not start: $(cat "$RUN/collector.err")"; exit 1; }
    log "collector: hits $HIT_ADDR, control $CONTROL_ADDR (pid $COLLECTOR_PID)"
}

stop_collector() {
    if [ -n "${COLLECTOR_FD:-}" ]; then exec {COLLECTOR_FD}>&-; fi   # stdin closes: it exits
    if [ -n "${COLLECTOR_PID:-}" ]; then
        kill "$COLLECTOR_PID" 2>/dev/null || true
        wait "$COLLECTOR_PID" 2>/dev/null || true
    fi
    rm -rf "${RUN:-}"
}
