#!/usr/bin/env bash
# The demo behind `make demo`: a real oneM2M AE (Examples/SensorDaemon) registers with a real
# ACME CSE through a real mosquitto broker, posts 3 readings, gets notified about them, and
# deregisters. Everything runs on 127.0.0.1 on free ports and is stopped again at the end.
#
#   scripts/demo.sh [RUNDIR]      RUNDIR holds the broker's and the CSE's config, PIDs and logs
#                                 (default .run/demo)
#
# Environment:
#   SWIFT               the swift driver (default swift)
#   SWIFT_SCRATCH_PATH  build directory for `swift build --scratch-path` (default: SwiftPM's .build)
#   DEMO_READINGS       readings to post (default 3)
#   DEMO_INTERVAL       seconds between readings (default 1)
#
# Exits non-zero if anything fails, including the daemon (its exit status is passed on).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
rundir="${1:-.run/demo}"
mkdir -p "$rundir"
rundir="$(cd "$rundir" && pwd)"
swift_cmd="${SWIFT:-swift}"
scratch=()
[[ -n "${SWIFT_SCRATCH_PATH:-}" ]] && scratch=(--scratch-path "$SWIFT_SCRATCH_PATH")
readings="${DEMO_READINGS:-3}"
interval="${DEMO_INTERVAL:-1}"
origin="Csensor1"
name="sensor-1"

say() { printf '\n== %s\n' "$*"; }

# 1. What the demo needs: mosquitto (Debian package) and ACME (a venv in .venv), only if missing.
say "dependencies (mosquitto, ACME CSE)"
bash scripts/deps.sh

# 2. The SensorDaemon binary (a no-op when `make demo` has just built it).
say "building SensorDaemon"
if ! build_out="$("$swift_cmd" build "${scratch[@]}" --product SensorDaemon 2>&1)"; then
    echo "$build_out" >&2
    echo "demo.sh: swift build --product SensorDaemon failed" >&2
    exit 1
fi
echo "   $(tail -n 1 <<<"$build_out")"
bin="$("$swift_cmd" build "${scratch[@]}" --show-bin-path)/SensorDaemon"
[[ -x "$bin" ]] || { echo "demo.sh: $bin was not built" >&2; exit 1; }

# 3. Broker and CSE. Left-overs of an interrupted earlier demo in this RUNDIR are stopped first
#    (the scripts only ever signal the PIDs recorded in RUNDIR).
say "starting mosquitto and ACME on 127.0.0.1"
bash scripts/services.sh stop "$rundir" >/dev/null 2>&1 || true
started=0
stop_services() {
    local rc=$?
    if [[ $started == 1 ]]; then
        say "stopping mosquitto and ACME"
        bash scripts/services.sh stop "$rundir" 2>&1 | sed 's/^/   /' || rc=1
    fi
    exit $rc
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
started=1
services_rc=0
services_out="$(bash scripts/services.sh start "$rundir" 2>"$rundir/services.log")" || services_rc=$?
grep -v '^[0-9]*$' "$rundir/services.log" | sed 's/^/   /' || true  # (mosquitto.sh echoes the bare port)
[[ $services_rc == 0 ]] || { echo "demo.sh: scripts/services.sh start failed (exit $services_rc)" >&2; exit 1; }
port="$(sed -n 's/^MQTT_PORT=\([0-9][0-9]*\)$/\1/p' <<<"$services_out")"
[[ -n "$port" ]] || { echo "demo.sh: scripts/services.sh printed no MQTT_PORT: $services_out" >&2; exit 1; }
broker="mqtt://127.0.0.1:$port"

cat <<EOF

== what is running
   mosquitto   MQTT 3.1.1 broker on 127.0.0.1:$port          log: $rundir/mosquitto.log
   ACME        oneM2M IN-CSE, CSE-ID /id-in, CSEBase cse-in, connected to that broker
               as MQTT client C::id-in (no HTTP, in-memory DB)   logs: $rundir/acme/logs/
   SensorDaemon  an ADN-AE ($origin, resource $name) on the same broker, talking TS-0010:
               requests on /oneM2M/req/$origin/id-in/json, answers on /oneM2M/resp/$origin/id-in/json,
               notifications from the CSE on /oneM2M/req/id-in/$origin/json

   It registers, creates cse-in/$name/readings and a subscription to it (nu = $origin),
   posts $readings readings ${interval} s apart, prints each answer and notification, and deregisters.

== $bin --broker $broker --origin $origin --name $name --interval $interval --readings $readings
EOF
rc=0
# `timeout` sends SIGTERM first: the daemon then deregisters cleanly before it exits.
timeout --kill-after=10 120 "$bin" --broker "$broker" --origin "$origin" --name "$name" \
    --interval "$interval" --readings "$readings" 2>&1 | sed 's/^/   /' || rc=${PIPESTATUS[0]}

if [[ $rc != 0 ]]; then
    echo
    echo "demo.sh: SensorDaemon failed (exit $rc); ACME's log is in $rundir/acme/logs/" >&2
    exit "$rc"
fi
say "done: the AE registered, stored $readings readings, was notified of them, and deregistered"
