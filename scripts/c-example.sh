#!/usr/bin/env bash
# The C example daemon (Examples/c-daemon/main.c) on the host: builds libonem2m.a (the C API over
# the Embedded Swift core) and the daemon with scripts/cross.sh, starts mosquitto + ACME on
# loopback (scripts/services.sh), runs the daemon against them (register, container, subscription,
# contentInstance, notification, deregister) and stops them. Exit code = the daemon's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/cross.sh build host
E2E_PROGRAMS=c-daemon bash scripts/cross.sh e2e host
