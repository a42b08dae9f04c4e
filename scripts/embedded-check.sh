#!/usr/bin/env bash
# Builds each core module with `-enable-experimental-feature Embedded` (the package's
# "Embedded" trait) for the host. Fails on the first module that does not compile.
set -euo pipefail
cd "$(dirname "$0")/.."
modules=${*:-MQTTPacket MQTTTransport MQTTSession MQTTClient PosixTransport OneM2M OneM2MClient}
log=$(mktemp)
for m in $modules; do
  if swift build --scratch-path .build-embedded --traits Embedded --target "$m" >"$log" 2>&1; then
    echo "embedded: $m ok"
  else
    grep -E "error" "$log" | head -20
    echo "embedded: $m FAILED"
    rm -f "$log"
    exit 1
  fi
done
rm -f "$log"
