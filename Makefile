# oneM2M-over-MQTT device SDK. `make demo` and `make test` are the whole set-up.
SWIFT ?= swift
CORE_MODULES = MQTTPacket MQTTTransport MQTTSession MQTTClient PosixTransport OneM2M OneM2MClient TLSTransport WebSocketTransport OneM2MSecure
RUN_DIR ?= .run/demo

.PHONY: all build test unit embedded demo deps clean cross size size-check c-example tls-cross bench bench-smoke

all: build

build:
	$(SWIFT) build

deps:
	bash scripts/deps.sh libmbedtls-dev openssl

## The core modules compile in Embedded Swift mode (no Foundation, no existentials, typed throws).
embedded:
	bash scripts/embedded-check.sh $(CORE_MODULES)

## Everything: Embedded build check, unit tests, integration tests against real mosquitto + ACME.
test: deps embedded size-check c-example cross tls-cross bench-smoke
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## Embedded Swift for ARM Linux boards and the host: core + C API built per target (Toolchains/),
## the embedded test runner natively and under qemu, a minimal AE and the C daemon under qemu
## against mosquitto + ACME. Installs the cross compilers and qemu-user if missing.
cross: deps
	bash scripts/cross.sh all

## The TLS shim (mbedTLS, Embedded Swift) for aarch64 and armv7: TLS, PSK and wss:// CONNECTs
## and oneM2M registrations over mqtts:// and wss:// under qemu against mosquitto + ACME.
tls-cross: deps
	bash scripts/tls-cross.sh aarch64 armv7

## Code size per module per target, static RAM, Unicode-table check, written to docs/size.md.
size:
	bash scripts/size.sh

## Size budgets (Toolchains/size-budget.txt) on armv7 Thumb-2; no Unicode tables, no Foundation.
size-check:
	bash scripts/size-check.sh

## The C API example daemon (Examples/c-daemon) on the host against mosquitto + ACME.
c-example: deps
	bash scripts/c-example.sh

## Unit tests only (no network).
unit:
	$(SWIFT) test --filter 'MQTTPacketTests|MQTTSessionTests|OneM2MTests'

## A real AE (the sensor example) against a real ACME CSE and mosquitto on loopback.
demo: deps
	$(SWIFT) build --product SensorDaemon
	bash scripts/demo.sh "$(RUN_DIR)"

## Benchmarks that compare in one run: our AE vs a libmosquitto C AE (W=1, W=16), our JSON vs
## Foundation, allocations and CPU per request, memory; writes docs/performance.md (~5-10 min).
## BENCH_SHORT=1: a few requests, one repetition (checks that it works; asserts nothing about speed).
BENCH_SHORT ?= 0
bench:
	BENCH_SHORT=$(BENCH_SHORT) SWIFT=$(SWIFT) bash scripts/bench.sh

## The short benchmark run, for CI: report in .run/bench/performance.md, docs/ untouched.
bench-smoke:
	BENCH_SHORT=1 SWIFT=$(SWIFT) bash scripts/bench.sh

clean:
	rm -rf .build .build-* .run
