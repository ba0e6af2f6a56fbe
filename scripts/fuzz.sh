#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints, per
# target, the executions and the crashes (which must be zero).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
#
# fuzz/seeds/<target>/ (committed; made by `cargo run --example seeds` in
# fuzz/) holds real records; they are copied into the corpus first, which
# libFuzzer then grows (fuzz/corpus is not committed).
#
# cargo-fuzz needs nightly flags (-Z sanitizer...). This machine has stable
# only, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them.
set -euo pipefail

per_target="${1:-60}"
cd "$(dirname "$0")/../fuzz"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

cargo fuzz build 2>&1 | tail -n 1
failed=0
total_execs=0
total_crashes=0
printf '%-15s %12s %8s %s\n' target executions crashes seconds
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target" "artifacts/$target"
    for seed in "seeds/$target"/*; do
        # Copied once; what libFuzzer made of it stays beside it.
        if [ -f "$seed" ] && [ ! -e "corpus/$target/${seed##*/}" ]; then
            cp "$seed" "corpus/$target/"
        fi
    done
    before=$(find "artifacts/$target" -type f | wc -l)
    log=$(mktemp)
    status=0
    cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$per_target" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -n 1)
    after=$(find "artifacts/$target" -type f | wc -l)
    crashes=$((after - before))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1
    fi
    printf '%-15s %12s %8s %s\n' "$target" "${execs:-?}" "$crashes" "$per_target"
    if [ "$crashes" -ne 0 ]; then
        failed=1
        echo "--- $target: last lines of the libFuzzer log ($log)"
        tail -n 30 "$log"
    else
        rm -f "$log"
    fi
    total_execs=$((total_execs + ${execs:-0}))
    total_crashes=$((total_crashes + crashes))
done
printf '%-15s %12s %8s\n' total "$total_execs" "$total_crashes"
exit "$failed"
