#!/usr/bin/env bash
# A throw-away mosquitto broker on 127.0.0.1 for integration tests and examples.
#
#   scripts/mosquitto.sh start RUNDIR [PORT]   install mosquitto if /usr/sbin/mosquitto is missing
#                                             (apt-get, needs root), start it on 127.0.0.1:PORT (a
#                                             free port if not given), write RUNDIR/mosquitto.pid and
#                                             RUNDIR/mosquitto.port, wait until it accepts
#                                             connections, print the port on stdout
#   scripts/mosquitto.sh stop RUNDIR           SIGTERM the PID in RUNDIR/mosquitto.pid (SIGKILL after
#                                             10 s); never signals any other process
#
# Files in RUNDIR: mosquitto.conf, mosquitto.log, mosquitto.pid, mosquitto.port, data/ (persistence).
#
# The config matches the Swift test fixture (Tests/TestSupport/Mosquitto.swift): listener on
# 127.0.0.1 only, anonymous clients allowed, TCP_NODELAY on client sockets (with Nagle on, an MQTT
# request/response round trip through the broker takes ~44 ms instead of ~0.15 ms).
#
# Environment:
#   MOSQUITTO               broker executable (default /usr/sbin/mosquitto)
#   MOSQUITTO_PERSISTENCE   1 = persistence on, database in RUNDIR/data/, saved after every change
#                           (autosave_on_changes true + autosave_interval 1). Note: mosquitto saves
#                           at the end of a main-loop iteration, after it has already sent that
#                           iteration's acks, so a SIGKILL in that sub-millisecond window can still
#                           lose a just-acknowledged message. Default 0.
#   MOSQUITTO_EXTRA_CONFIG  lines appended to the config (e.g. "listener 18884 ::1")
#   MOSQUITTO_START_TIMEOUT seconds to wait until it listens (default 20)
set -euo pipefail

MOSQ="${MOSQUITTO:-/usr/sbin/mosquitto}"
START_TIMEOUT="${MOSQUITTO_START_TIMEOUT:-20}"

die() { echo "mosquitto.sh: $*" >&2; exit 1; }
log() { echo "mosquitto.sh: $*" >&2; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/mosquitto.sh start RUNDIR [PORT]
       scripts/mosquitto.sh stop RUNDIR
EOF
    exit 2
}

# ---------------------------------------------------------------------------------------------

install_if_missing() {
    [[ -x "$MOSQ" ]] && return 0
    [[ -n "${MOSQUITTO:-}" ]] && die "MOSQUITTO=$MOSQ is not executable"
    log "$MOSQ missing; installing Debian package mosquitto"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install mosquitto by hand"
        sudo=(sudo)
    fi
    # Keep the package's postinst from starting a system-wide broker on port 1883 (no init
    # system in containers, and we do not want one anyway): a temporary policy-rc.d that denies
    # service starts, only if none exists.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        created_policy=1
    fi
    local rc=0
    "${sudo[@]}" apt-get update >&2 || rc=$?
    if [[ $rc == 0 ]]; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto >&2 || rc=$?
    fi
    if [[ $created_policy == 1 ]]; then "${sudo[@]}" rm -f "$policy"; fi
    [[ $rc == 0 ]] || die "apt-get failed ($rc)"
    [[ -x "$MOSQ" ]] || die "mosquitto installed but $MOSQ is missing"
}

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# 0 if something accepts TCP connections on 127.0.0.1:$1.
listening() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# 0 if PID $1 is a live (not zombie) process running mosquitto with config $2.
is_our_broker() {
    local pid="$1" conf="$2"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    local state
    state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z && "$state" != X ]] || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *mosquitto* && "$cmdline" == *"$conf"* ]]
}

write_config() {
    local rundir="$1" port="$2"
    {
        echo "# Written by scripts/mosquitto.sh"
        echo "listener $port 127.0.0.1"
        echo "allow_anonymous true"
        echo "set_tcp_nodelay true"
        # As root, mosquitto would switch to the 'mosquitto' user, which may not be able to
        # write RUNDIR. (No effect when not run as root.)
        echo "user root"
        echo "log_dest stderr"
        echo "log_type error"
        echo "log_type warning"
        echo "log_type notice"
        echo "log_type information"
        echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
        if [[ "${MOSQUITTO_PERSISTENCE:-0}" == 1 ]]; then
            mkdir -p "$rundir/data"
            echo "persistence true"
            echo "persistence_location $rundir/data/"
            echo "autosave_on_changes true"
            echo "autosave_interval 1"
        else
            echo "persistence false"
        fi
        if [[ -n "${MOSQUITTO_EXTRA_CONFIG:-}" ]]; then
            printf '%s\n' "$MOSQUITTO_EXTRA_CONFIG"
        fi
    } >"$rundir/mosquitto.conf"
}

# Launches once on $2; 0 when listening (pid file written), 1 if it died or never listened.
launch() {
    local rundir="$1" port="$2"
    if listening "$port"; then
        log "port $port is already in use"
        return 1
    fi
    write_config "$rundir" "$port"
    echo "--- start $(date -u +%Y-%m-%dT%H:%M:%SZ) port $port" >>"$rundir/mosquitto.log"
    local from
    from=$(($(wc -l <"$rundir/mosquitto.log") + 1))
    "$MOSQ" -c "$rundir/mosquitto.conf" </dev/null >>"$rundir/mosquitto.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$rundir/mosquitto.pid"
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            rm -f "$rundir/mosquitto.pid"
            return 1
        fi
        # Ready = this launch logged "running" (all listeners bound) and the port answers. The
        # log check keeps us from mistaking another process that took the port for ours.
        if tail -n "+$from" "$rundir/mosquitto.log" | grep -Eq 'mosquitto version [^ ]+ running' \
            && listening "$port" && kill -0 "$pid" 2>/dev/null; then
            echo "$port" >"$rundir/mosquitto.port"
            return 0
        fi
        sleep 0.05  # poll interval; the condition is the listener
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$rundir/mosquitto.pid"
    return 1
}

do_start() {
    local rundir="$1" port="${2:-}"
    [[ -z "$port" || "$port" =~ ^[0-9]+$ ]] || die "bad port '$port'"
    mkdir -p "$rundir"
    rundir="$(cd "$rundir" && pwd)"
    if [[ -f "$rundir/mosquitto.pid" ]] && is_our_broker "$(cat "$rundir/mosquitto.pid")" "$rundir/mosquitto.conf"; then
        die "already running in $rundir (pid $(cat "$rundir/mosquitto.pid"), port $(cat "$rundir/mosquitto.port" 2>/dev/null))"
    fi
    install_if_missing
    rm -f "$rundir/mosquitto.pid" "$rundir/mosquitto.port"

    local attempts=1
    [[ -z "$port" ]] && attempts=5  # a free port can be taken before mosquitto binds it
    local i p
    for ((i = 0; i < attempts; i++)); do
        p="${port:-$(free_port)}"
        if launch "$rundir" "$p"; then
            log "mosquitto running on 127.0.0.1:$p (pid $(cat "$rundir/mosquitto.pid"))"
            echo "$p"
            return 0
        fi
        log "mosquitto did not come up on port $p"
    done
    tail -n 20 "$rundir/mosquitto.log" >&2 || true
    die "could not start mosquitto (log: $rundir/mosquitto.log)"
}

do_stop() {
    local rundir="$1"
    [[ -d "$rundir" ]] || { log "no $rundir; nothing to stop"; return 0; }
    rundir="$(cd "$rundir" && pwd)"
    local pidfile="$rundir/mosquitto.pid"
    [[ -f "$pidfile" ]] || { log "no $pidfile; nothing to stop"; return 0; }
    local pid
    pid="$(cat "$pidfile")"
    if ! is_our_broker "$pid" "$rundir/mosquitto.conf"; then
        log "pid '$pid' is not our mosquitto (already exited?); removing $pidfile"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while is_our_broker "$pid" "$rundir/mosquitto.conf" && ((SECONDS < deadline)); do
        sleep 0.05
    done
    if is_our_broker "$pid" "$rundir/mosquitto.conf"; then
        log "mosquitto (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while is_our_broker "$pid" "$rundir/mosquitto.conf" && ((SECONDS < deadline)); do
            sleep 0.05
        done
    fi
    rm -f "$pidfile"
    log "mosquitto (pid $pid) stopped"
}

[[ $# -ge 2 ]] || usage
case "$1" in
    start) [[ $# -le 3 ]] || usage; do_start "$2" "${3:-}" ;;
    stop) [[ $# -eq 2 ]] || usage; do_stop "$2" ;;
    *) usage ;;
esac
