#!/usr/bin/env bash
# The integration-test peers: a mosquitto broker on 127.0.0.1 and an ACME CSE connected to it.
#
#   scripts/services.sh start RUNDIR   mosquitto (scripts/mosquitto.sh), then ACME (scripts/acme.sh);
#                                      prints MQTT_PORT=<port> on stdout when both are ready
#   scripts/services.sh stop RUNDIR    ACME, then mosquitto
#
# State in RUNDIR: mosquitto.port, mosquitto.pid, acme.pid, acme/ (ini and logs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
    echo "usage: scripts/services.sh start|stop RUNDIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
cmd="$1"
rundir="$2"

case "$cmd" in
    start)
        mkdir -p "$rundir"
        rundir="$(cd "$rundir" && pwd)"
        "$HERE/mosquitto.sh" start "$rundir" >&2
        port="$(cat "$rundir/mosquitto.port")"
        [[ "$port" =~ ^[0-9]+$ ]] || { echo "services.sh: bad port in $rundir/mosquitto.port: '$port'" >&2; exit 1; }
        if ! { "$HERE/acme.sh" install >&2 && "$HERE/acme.sh" start "$rundir" "$port" >&2; }; then
            echo "services.sh: ACME failed to start; stopping mosquitto" >&2
            "$HERE/mosquitto.sh" stop "$rundir" >&2 || true
            exit 1
        fi
        echo "MQTT_PORT=$port"
        ;;
    stop)
        rc=0
        "$HERE/acme.sh" stop "$rundir" >&2 || rc=1
        "$HERE/mosquitto.sh" stop "$rundir" >&2 || rc=1
        exit $rc
        ;;
    *) usage ;;
esac
