#!/usr/bin/env bash
# The C example daemon (Examples/c-daemon/main.c) over mqtt:// and mqtts://: builds libonem2m.a (the
# C API over the Embedded Swift core and the mbedTLS transport) and the daemon with scripts/cross.sh,
# makes a throw-away PKI with openssl, starts one mosquitto on 127.0.0.1 with these listeners
#
#   plain     ACME (scripts/services.sh) and the mqtt:// run
#   tls       server certificate from "ca" naming only IP 127.0.0.1 (no DNS name)
#   mtls      the same, plus require_certificate (client certificate from "ca")
#   psk       TLS-PSK (psk_file)
#   expired   a "ca"-signed server certificate that expired in 2021
#
# and runs the daemon against them. Full runs (register, container, subscription, contentInstance,
# notification through the callback, deregister; exit 0):
#   1. mqtt://127.0.0.1:plain
#   2. mqtts://127.0.0.1:tls  --ca ca.crt
#   3. mqtts://127.0.0.1:psk  --psk-identity/--psk-hex
#   4. mqtts://127.0.0.1:mtls --ca ca.crt --cert client.crt --key client.key
#   5. mqtts://127.0.0.1:tls  --insecure-dev-only (no CA: tls_insecure, development only)
#   (2-5 register --poa mqtt://127.0.0.1:plain: ACME reaches the broker on the plain listener, the
#   broker forwards its notifications to the daemon's TLS connection)
# Failing connects (exit 3 with the expected ONEM2M_* code and its onem2m_strerror text):
#   wrong CA -> ONEM2M_ETLSUNTRUSTED, mqtts://localhost (not in the certificate) -> ONEM2M_ETLSHOSTNAME,
#   expired certificate -> ONEM2M_ETLSEXPIRED, wrong PSK -> ONEM2M_ETLSPSK, mtls without a client
#   certificate -> ONEM2M_ETLSCLIENTCERT, mqtts:// with neither CA nor PSK -> ONEM2M_ETLSNOAUTH,
#   a CA file that does not exist -> ONEM2M_ETLSCONFIG.
#
#   scripts/c-example.sh [TARGET...]     host (default), aarch64, armv7 (under qemu-user)
#
# Build output in ${CROSS_OUT:-.build-cross}/<target>/ (as scripts/cross.sh). Everything listens on
# 127.0.0.1 only; the broker and ACME are stopped by PID (scripts/services.sh) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT_ROOT=${CROSS_OUT:-$ROOT/.build-cross}
HEADER=Sources/COneM2M/include/onem2m.h
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(host)
log() { echo "c-example: $*" >&2; }
ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }  # monotonic enough for timings
die() { echo "c-example: $*" >&2; exit 1; }
t0=$(ms)

for t in "${targets[@]}"; do
    case "$t" in host) ;; aarch64|armv7) need_cross=1 ;; *) die "unknown target $t (host, aarch64, armv7)" ;; esac
done
command -v openssl >/dev/null || die "openssl missing (make deps)"
if [ -n "${need_cross:-}" ]; then bash scripts/cross.sh deps; fi
s=$(ms)
bash scripts/cross.sh build "${targets[@]}"
t_build=$(($(ms) - s))

rundir="$OUT_ROOT/c-example-$$"
rm -rf "$rundir"
mkdir -p "$rundir/pki"
stop() { bash scripts/services.sh stop "$rundir" >/dev/null 2>&1 || true; }
trap stop EXIT

# --- PKI (EC P-256, as Tests/TestSupport/Certificates.swift) -------------------------------------
s=$(ms)
(
    cd "$rundir/pki"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    ossl() { openssl "$@" 2>openssl.err || { cat openssl.err >&2; exit 1; }; }
    for ca in ca other-ca; do
        ossl req -x509 "${ec[@]}" -keyout $ca.key -out $ca.crt -days 30 -subj "/CN=c-example $ca" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    done
    # The broker's certificate names only IP 127.0.0.1: mqtts://localhost must fail the host check.
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' > server.ext
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.ext
    leaf() { # name CN ext serial
        ossl req -new "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
        ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "$4" -days 30 -sha256 -extfile "$3" -out "$1.crt"
    }
    leaf server "c-example broker" server.ext 2
    leaf client Cdaemon client.ext 3
    # Expired: `openssl ca` sets past dates (OpenSSL 3.0's `x509 -req` cannot).
    printf '[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n' > ca.cnf
    : > index.txt
    echo 1000 > serial
    ossl req -new "${ec[@]}" -keyout expired.key -out expired.csr -subj "/CN=c-example expired"
    ossl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr -out expired.crt \
        -startdate 20200101000000Z -enddate 20210101000000Z -extfile server.ext -notext
    echo "Cdaemon-psk:00112233445566778899aabbccddeeff" > psk.txt
)
t_pki=$(($(ms) - s))
pki="$rundir/pki"
PSK_ID=Cdaemon-psk
PSK_HEX=00112233445566778899aabbccddeeff
WRONG_PSK_HEX=ff112233445566778899aabbccddeeff

# --- mosquitto (plain + TLS listeners) and ACME on the plain one -------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
TLS_PORT=$(free_port); MTLS_PORT=$(free_port); PSK_PORT=$(free_port); EXPIRED_PORT=$(free_port)
export MOSQUITTO_EXTRA_CONFIG="psk_file $pki/psk.txt
listener $TLS_PORT 127.0.0.1
cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
listener $MTLS_PORT 127.0.0.1
cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
require_certificate true
listener $PSK_PORT 127.0.0.1
psk_hint c-example
listener $EXPIRED_PORT 127.0.0.1
cafile $pki/ca.crt
certfile $pki/expired.crt
keyfile $pki/expired.key"
s=$(ms)
line=$(bash scripts/services.sh start "$rundir") || die "mosquitto/ACME did not start (logs: $rundir)"
PLAIN_PORT=${line#MQTT_PORT=}
unset MOSQUITTO_EXTRA_CONFIG
t_services=$(($(ms) - s))
log "mosquitto on 127.0.0.1: plain $PLAIN_PORT (ACME), tls $TLS_PORT, mtls $MTLS_PORT, psk $PSK_PORT, expired $EXPIRED_PORT"

# --- runs -----------------------------------------------------------------------------------------
failures=0
declare -A timing
code_of() { # ONEM2M_* constant -> its number, from the header
    local v
    v=$(sed -n "s/^ *$1 = \(-[0-9][0-9]*\).*/\1/p" "$HEADER")
    [ -n "$v" ] || die "$1 not found in $HEADER"
    echo "$v"
}
daemon() { # target args... (runs natively or under qemu)
    local t=$1; shift
    case "$t" in
        host) "$OUT_ROOT/host/bin/c-daemon" "$@" ;;
        aarch64) qemu-aarch64 -L /usr/aarch64-linux-gnu "$OUT_ROOT/aarch64/bin/c-daemon" "$@" ;;
        armv7) qemu-arm -L /usr/arm-linux-gnueabihf "$OUT_ROOT/armv7/bin/c-daemon" "$@" ;;
    esac
}
full() { # target label args...: a full run must exit 0
    local t=$1 label=$2 rc=0 s; shift 2
    s=$(ms)
    log "[$t] $label"
    daemon "$t" "$@" >"$rundir/$t-$label.log" 2>&1 || rc=$?
    sed "s/^/  [$t] /" "$rundir/$t-$label.log"
    timing["$t $label"]=$(($(ms) - s))
    if [ $rc -ne 0 ]; then log "[$t] $label FAILED (exit $rc)"; failures=$((failures + 1)); fi
}
refused() { # target label ONEM2M_CONSTANT args...: connect must fail with that code and its text
    local t=$1 label=$2 name=$3 rc=0 code text s; shift 3
    log "[$t] $label"
    code=$(code_of "$name")
    text=$(daemon "$t" --strerror "$code")
    s=$(ms)
    daemon "$t" "$@" >"$rundir/$t-$label.log" 2>&1 || rc=$?
    timing["$t $label"]=$(($(ms) - s))
    sed -n 's/^c-daemon: \(connect mqtt\|TLS detail\)/  ['"$t"'] &/p; s/^! /  ['"$t"']   ! /p' "$rundir/$t-$label.log"
    if [ $rc -eq 3 ] && grep -qF ": $text (code $code)" "$rundir/$t-$label.log"; then
        log "[$t] $label: $name ($code, \"$text\") as expected"
    else
        log "[$t] $label FAILED: wanted exit 3 with $name ($code, \"$text\"), got exit $rc"
        failures=$((failures + 1))
    fi
}

plain="mqtt://127.0.0.1:$PLAIN_PORT"
for t in "${targets[@]}"; do
    id="${t}$$"
    full "$t" mqtt "$plain" "${id}p"
    full "$t" mqtts-ca --ca "$pki/ca.crt" --poa "$plain" "mqtts://127.0.0.1:$TLS_PORT" "${id}t"
    full "$t" mqtts-psk --psk-identity "$PSK_ID" --psk-hex "$PSK_HEX" --poa "$plain" "mqtts://127.0.0.1:$PSK_PORT" "${id}k"
    full "$t" mqtts-mtls --ca "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" --poa "$plain" \
        "mqtts://127.0.0.1:$MTLS_PORT" "${id}m"
    full "$t" mqtts-insecure --insecure-dev-only --poa "$plain" "mqtts://127.0.0.1:$TLS_PORT" "${id}i"
    refused "$t" wrong-ca ONEM2M_ETLSUNTRUSTED --ca "$pki/other-ca.crt" "mqtts://127.0.0.1:$TLS_PORT" "${id}x"
    refused "$t" hostname ONEM2M_ETLSHOSTNAME --ca "$pki/ca.crt" "mqtts://localhost:$TLS_PORT" "${id}x"
    refused "$t" expired ONEM2M_ETLSEXPIRED --ca "$pki/ca.crt" "mqtts://127.0.0.1:$EXPIRED_PORT" "${id}x"
    refused "$t" wrong-psk ONEM2M_ETLSPSK --psk-identity "$PSK_ID" --psk-hex "$WRONG_PSK_HEX" "mqtts://127.0.0.1:$PSK_PORT" "${id}x"
    refused "$t" no-client-cert ONEM2M_ETLSCLIENTCERT --ca "$pki/ca.crt" "mqtts://127.0.0.1:$MTLS_PORT" "${id}x"
    refused "$t" no-ca ONEM2M_ETLSNOAUTH "mqtts://127.0.0.1:$TLS_PORT" "${id}x"
    refused "$t" missing-ca-file ONEM2M_ETLSCONFIG --ca "$pki/does-not-exist.crt" "mqtts://127.0.0.1:$TLS_PORT" "${id}x"
done

s=$(ms)
stop
trap - EXIT
t_stop=$(($(ms) - s))
for k in "${!timing[@]}"; do echo "$k ${timing[$k]}"; done | sort | awk '{printf "c-example: [%s] %-15s %6d ms\n", $1, $2, $3}' >&2
log "build ${t_build} ms, PKI ${t_pki} ms, mosquitto + ACME start ${t_services} ms, stop ${t_stop} ms, total $(($(ms) - t0)) ms"
[ $failures -eq 0 ] || die "$failures run(s) failed (logs: $rundir)"
rm -rf "$rundir"
log "all runs OK"
