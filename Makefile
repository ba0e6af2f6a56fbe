# HitKit: the two commands that matter are `make demo` and `make test`.
# Each installs what it needs (Kotlin, JNA, JUnit, Swift) on first use and
# is fast when everything is already there.

CARGO ?= cargo

## This list: every target and the first line of what it does.
help:
	@awk '/^## /{if(!d)d=substr($$0,4);next} /^[a-z-]+:/{if(d)printf "  make %-15s %s\n",substr($$1,1,length($$1)-1),d;d=""} !/^## /{d=""}' $(MAKEFILE_LIST)

.PHONY: help demo test test-rust test-kotlin test-swift bindings bindings-check jar bench bench-bindings crash fuzz size lint clean

## The main job: the offline story end to end against a local collector.
demo:
	$(CARGO) run --quiet -p hitkit-cli -- demo

## Every test: Rust, bindings up to date, Kotlin (JVM) and Swift (XCTest).
## Kotlin and Swift run against the same engine and collector as Rust.
test: test-rust bindings-check test-kotlin test-swift

## Rust only: engine, API, collector, CLI, crash and fault suites.
test-rust:
	$(CARGO) test --workspace

## Regenerate the Swift and Kotlin bindings from the library.
bindings:
	bash scripts/bindings.sh

## Fail if the committed bindings differ from what the library generates.
bindings-check:
	bash scripts/bindings.sh --check

## Kotlin on the JVM (JUnit, JNA) against the real library and collector.
test-kotlin:
	bash scripts/test-kotlin.sh

## Swift (XCTest) against the real library and collector.
test-swift:
	bash scripts/test-swift.sh

## JVM jar with the host's libhitkit.so, and the same jar as a Maven repository.
## build/kotlin/hitkit.jar, and build/maven (dev/hitkit/hitkit/<version>/).
jar:
	bash scripts/test-kotlin.sh --jar

## The benchmark table (figures, not tests; BENCHMARKS.md).
bench:
	$(CARGO) run --release -p hitkit-bench

## Kotlin and Swift sendScreen figures, read by `make bench`.
bench-bindings:
	bash scripts/bench-bindings.sh

## The long crash run: a tracker killed with SIGKILL 250 times (RELIABILITY.md).
## A short run is part of `make test`.
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

## rustfmt and clippy, warnings as errors.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Remove build outputs (the toolchains in ~/.cache stay).
clean:
	$(CARGO) clean
	rm -rf build
