#!/usr/bin/env bash
# `make size`: builds the Embedded core for every target (scripts/cross.sh) and writes the size
# table, static RAM figures and the Unicode-table check to docs/size.md (scripts/size.py).
#   scripts/size.sh [TARGET...]     default: host aarch64 armv7
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${*:-host aarch64 armv7}
if [ "$targets" != host ]; then bash scripts/cross.sh deps; fi
bash scripts/cross.sh build $targets
python3 scripts/size.py report --out .build-cross --targets "$targets" --markdown docs/size.md \
    --invoked-as "make size  (scripts/size.sh $targets)"
