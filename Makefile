# HitKit: the two commands that matter are `make demo` and `make test`.
# Each installs what it needs (Kotlin, JNA, JUnit, Swift) on first use and
# is fast when everything is already there.

CARGO ?= cargo

.PHONY: demo test test-rust test-kotlin test-swift bindings bindings-check jar bench bench-bindings size lint clean

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

## JVM jar bundling the host's libhitkit.so, in build/kotlin/hitkit.jar.
jar:
	bash scripts/test-kotlin.sh --jar

## Benchmarks print figures; they are not tests.
bench-bindings:
	bash scripts/bench-bindings.sh

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
