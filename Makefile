# HitKit: the two commands that matter are `make demo` and `make test`.
# Each installs what it needs (Kotlin, JNA, JUnit, Swift) on first use and
# is fast when everything is already there.

CARGO ?= cargo

.PHONY: demo test test-rust test-kotlin test-swift bindings bindings-check jar bench bench-bindings crash fuzz size lint clean

## The main job: the offline story end to end against a local collector.
demo:
	$(CARGO) run --quiet -p hitkit-cli -- demo

## Every test: Rust (engine, collector, CLI), generated bindings up to date,
## Kotlin on the JVM and Swift (XCTest) against the same engine and collector.
test: test-rust bindings-check test-kotlin test-swift

test-rust:
	$(CARGO) test --workspace

bindings:
	bash scripts/bindings.sh

bindings-check:
	bash scripts/bindings.sh --check

test-kotlin:
	bash scripts/test-kotlin.sh

test-swift:
	bash scripts/test-swift.sh

## JVM jar bundling the host's libhitkit.so, in build/kotlin/hitkit.jar, and the same jar as a
## Maven-layout repository in build/maven (dev/hitkit/hitkit/<version>/).
jar:
	bash scripts/test-kotlin.sh --jar

## Benchmarks print figures; they are not tests (BENCHMARKS.md).
bench:
	$(CARGO) run --release -p hitkit-bench

bench-bindings:
	bash scripts/bench-bindings.sh

## The long crash run: a tracker in a child process killed with SIGKILL at
## least 250 times (RELIABILITY.md); a short run is part of `make test`.
crash:
	$(CARGO) build -p hitkit-reliability --bins
	$(CARGO) run -q -p hitkit-reliability --bin hitkit-crash -- --kills 250 --max-seconds 900

## Each fuzz target for a bounded time (cargo-fuzz on stable via RUSTC_BOOTSTRAP).
fuzz:
	bash scripts/fuzz.sh 60

## Size of the shipped library (release profile, stripped).
size:
	$(CARGO) build --release -p hitkit
	@ls -l target/release/libhitkit.so | awk '{printf "libhitkit.so: %d bytes (%.2f MB)\n", $$5, $$5/1048576}'

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf build
