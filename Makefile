# oneM2M-over-MQTT device SDK. `make demo` and `make test` are the whole set-up.
SWIFT ?= swift
CORE_MODULES = MQTTPacket MQTTTransport MQTTSession MQTTClient PosixTransport OneM2M OneM2MClient TLSTransport WebSocketTransport OneM2MSecure
RUN_DIR ?= .run/demo

.PHONY: all build test unit embedded demo deps clean

all: build

build:
	$(SWIFT) build

deps:
	bash scripts/deps.sh libmbedtls-dev openssl

## The core modules compile in Embedded Swift mode (no Foundation, no existentials, typed throws).
embedded:
	bash scripts/embedded-check.sh $(CORE_MODULES)

## Everything: Embedded build check, unit tests, integration tests against real mosquitto + ACME.
test: deps embedded
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## Unit tests only (no network).
unit:
	$(SWIFT) test --filter 'MQTTPacketTests|MQTTSessionTests|OneM2MTests'

## A real AE (the sensor example) against a real ACME CSE and mosquitto on loopback.
demo: deps
	$(SWIFT) build --product SensorDaemon
	bash scripts/demo.sh "$(RUN_DIR)"

clean:
	rm -rf .build .build-* .run
