#!/usr/bin/env bash
# `make size-check` (run by `make test`): builds the armv7 Thumb-2 Embedded binaries and checks the
# MQTT-layer and whole-core text sizes against Toolchains/size-budget.txt, and that no linked
# binary contains Unicode tables or Foundation. Fails above a budget's ceiling (SIZE_STRICT=1:
# above its goal). Installs the cross toolchain first if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/cross.sh deps
bash scripts/cross.sh build armv7
python3 scripts/size.py check --out .build-cross --targets armv7
