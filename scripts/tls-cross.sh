#!/usr/bin/env bash
# Cross-builds the TLS shim (CMbedTLS + TLSTransport, with WebSocketTransport and the MQTT and
# oneM2M client modules)
# in Embedded Swift for aarch64 and armv7 (hard-float) Linux, links it statically against
# Debian's mbedTLS 2.28 for that architecture, and runs it under qemu-user against a local
# mosquitto with TLS listeners (certificates made here with openssl):
#   1. TLS (CA-verified, hostname checked) MQTT CONNECT/CONNACK + a QoS 1 round trip;
#   2. the same with TLS-PSK, and a wrong PSK must fail with TLSFailure.pskRejected;
#   3. a wrong CA must fail with TLSFailure.untrustedCertificate;
#   4. MQTT over wss:// (WebSocketTransport over TLSTransport): CONNACK + QoS 1 round trip;
#   5. with ACME (scripts/acme.sh) behind the broker: oneM2M AE registrations over mqtts:// and
#      wss:// (CREATE <AE> -> 2001, DELETE -> 2002). Skip them with TLS_CROSS_ACME=0.
#
#   scripts/tls-cross.sh [aarch64] [armv7] [x86_64]     (default: aarch64 armv7)
#
# Installs what is missing (Debian): mosquitto, openssl, qemu-user, the cross libc/libgcc, and
# libmbedtls-dev for arm64/armhf (dpkg --add-architecture). Only 127.0.0.1 is used. Processes
# started here are stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7)

log() { echo "tls-cross: $*"; }
die() { echo "tls-cross: $*" >&2; exit 1; }
t0=$(date +%s)

# --------------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------------
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    # A partial index (e.g. a mirror mid-sync for one architecture) must not stop the install.
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null 2>&1 || true
    apt-get -o DPkg::Lock::Timeout=600 install -y -q "$@" >/dev/null
}
need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v openssl >/dev/null || need+=(openssl)
[ -f /usr/include/mbedtls/ssl.h ] || need+=(libmbedtls-dev)
for t in "${targets[@]}"; do
    case "$t" in
    aarch64)
        command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
        [ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-dev-arm64-cross)
        [ -d /usr/lib/gcc-cross/aarch64-linux-gnu/12 ] || need+=(libgcc-12-dev-arm64-cross)
        if [ ! -f /usr/lib/aarch64-linux-gnu/libmbedtls.a ]; then
            dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
            need+=(libmbedtls-dev:arm64)
        fi ;;
    armv7)
        command -v qemu-arm >/dev/null || need+=(qemu-user)
        [ -d /usr/arm-linux-gnueabihf/lib ] || need+=(libc6-dev-armhf-cross)
        [ -d /usr/lib/gcc-cross/arm-linux-gnueabihf/12 ] || need+=(libgcc-12-dev-armhf-cross)
        if [ ! -f /usr/lib/arm-linux-gnueabihf/libmbedtls.a ]; then
            dpkg --print-foreign-architectures | grep -qx armhf || dpkg --add-architecture armhf
            need+=(libmbedtls-dev:armhf)
        fi ;;
    x86_64) ;;
    *) die "unknown target $t (aarch64, armv7, x86_64)" ;;
    esac
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt_install $(printf '%s\n' "${need[@]}" | sort -u)
fi
t_deps=$(date +%s)

work="$(mktemp -d /tmp/tls-cross.XXXXXX)"
MOSQ_PID=""
ACME_DIR=""
cleanup() {
    [ -n "$ACME_DIR" ] && bash scripts/acme.sh stop "$ACME_DIR" >/dev/null 2>&1 || true
    if [ -n "$MOSQ_PID" ] && kill -0 "$MOSQ_PID" 2>/dev/null; then
        kill "$MOSQ_PID" 2>/dev/null || true
        wait "$MOSQ_PID" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# mbedTLS headers live only in /usr/include/mbedtls (not in the cross sysroots).
mkdir -p "$work/xinc"
ln -s /usr/include/mbedtls "$work/xinc/mbedtls"

# --------------------------------------------------------------------------------------------
# The smoke program (Embedded Swift)
# --------------------------------------------------------------------------------------------
cat > "$work/main.swift" <<'SWIFT'
import MQTTClient
import MQTTPacket
import OneM2M
import OneM2MClient
import OneM2MSecure
import PosixTransport
import TLSTransport
import WebSocketTransport

func arg(_ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, _ i: Int) -> String {
    String(cString: argv[i]!)
}

func port(_ s: String) -> UInt16 {
    var v = 0
    for b in s.utf8 where b >= 48 && b <= 57 { v = v * 10 + Int(b - 48) }
    return UInt16(truncatingIfNeeded: v)
}

func describe(_ t: TLSTransport) {
    let text = UnsafeMutableRawBufferPointer.allocate(byteCount: 200, alignment: 1)
    defer { text.deallocate() }
    let n = TLSTransport.describe(code: t.lastErrorCode, into: text)
    print("  mbedTLS: \(String(decoding: UnsafeRawBufferPointer(rebasing: text[0..<n]), as: UTF8.self))")
}

/// CONNECT/CONNACK and a QoS 1 publication to ourselves. True if both worked.
func roundTrip<T: Transport>(_ transport: T, id: String, _ inspect: (T) -> Void = { _ in }) -> Bool {
    let session: MQTTSession
    do { session = try MQTTSession(configuration: SessionConfiguration(clientID: id, keepAliveSeconds: 30)) } catch { return false }
    var client = MQTTClient(session: session, transport: transport, clock: PosixMonotonicClock(), reconnectPolicy: ReconnectPolicy(enabled: false))
    let topic: [UInt8] = Array("cross/echo".utf8)
    let payload: [UInt8] = Array("hello from qemu".utf8)
    let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: topic.count + payload.count, alignment: 1)
    defer { buffers.deallocate() }
    buffers.copyBytes(from: topic + payload)
    let t = UnsafeRawBufferPointer(rebasing: buffers[0..<topic.count])
    let p = UnsafeRawBufferPointer(rebasing: buffers[topic.count...])
    do throws(ClientError) {
        try client.connect(cleanSession: true, timeoutMilliseconds: 10_000) { _ in }
        inspect(client.transport)
        _ = try client.subscribeAndWait([TopicSubscription(filter: topic, qos: .atLeastOnce)], timeoutMilliseconds: 10_000) { _ in }
        _ = try client.publish(topic: t, payload: p, qos: .atLeastOnce)
        var acked = false
        var received = false
        let clock = PosixMonotonicClock()
        let deadline = clock.nowMilliseconds() + 10_000
        while !(acked && received) && clock.nowMilliseconds() < deadline {
            try client.poll(timeoutMilliseconds: 100) { e in
                switch e {
                case .session(.published): acked = true
                case .session(.message(let m)): received = m.payload.count == payload.count
                default: break
                }
            }
        }
        client.disconnect()
        print(acked && received ? "  CONNACK + QoS 1 round trip ok" : "  QoS 1 round trip FAILED")
        return acked && received
    } catch {
        print("  failed: \(error.summary)")
        inspect(client.transport)
        return false
    }
}

/// A TLS round trip; nil if it worked, else the classified failure (.connectionFailed if none).
func tlsCase(_ tls: TLSConfiguration, port: UInt16, id: String) -> TLSFailure? {
    var failure: TLSFailure? = nil
    let ok = roundTrip(TLSTransport(host: "localhost", port: port, configuration: tls), id: id) { t in
        if let f = t.failure {
            failure = f
            print("  TLSFailure: \(f.summary)")
            describe(t)
        } else {
            print("  TLS up: \(String(cString: t.cipherSuiteCString))")
        }
    }
    return ok ? nil : (failure ?? .connectionFailed)
}

func register(_ tls: TLSConfiguration, pointOfAccess: String) -> Bool {
    let aeID = "Ccross\(PosixMonotonicClock().nowMilliseconds() % 1_000_000)"
    let configuration = OneM2MConfiguration(originator: aeID)
    do throws(OneM2MClientError) {
        var ae = try PointOfAccessOneM2MClient(configuration: configuration, pointOfAccess: pointOfAccess, tls: tls)
        try ae.connect()
        let reg = try ae.perform { (c: inout PointOfAccessOneM2MClient) throws(OneM2MClientError) in
            try c.registerAE(appID: "Ncross", name: "cross-" + aeID)
        }
        print("  \(pointOfAccess): CREATE <AE> \(aeID): rsc \(reg.statusCode.rawValue)")
        let dereg = try ae.deregister()
        print("  DELETE <AE>: rsc \(dereg.statusCode.rawValue)")
        return reg.statusCode == .created && dereg.statusCode == .deleted
    } catch {
        print("  oneM2M failed: \(error.summary)")
        return false
    }
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    // smoke CA_FILE OTHER_CA_FILE TLS_PORT PSK_PORT PSK_IDENTITY PSK_HEX WSS_PORT [register]
    guard argc >= 8 else {
        print("usage: smoke CA OTHER_CA TLS_PORT PSK_PORT PSK_IDENTITY PSK_HEX WSS_PORT [register]")
        return 2
    }
    let ca = TLSConfiguration(certificateAuthorities: .file(arg(argv, 1)))
    let otherCA = TLSConfiguration(certificateAuthorities: .file(arg(argv, 2)))
    let tlsPort = port(arg(argv, 3))
    let pskPort = port(arg(argv, 4))
    let wssPort = port(arg(argv, 7))
    guard let psk = TLSConfiguration.PreSharedKey(identity: arg(argv, 5), hexKey: arg(argv, 6)) else { return 2 }
    var failures: Int32 = 0
    print("[1] mqtts://localhost:\(tlsPort), CA-verified")
    if tlsCase(ca, port: tlsPort, id: "cross-tls") != nil { failures += 1 }
    print("[2] TLS-PSK localhost:\(pskPort)")
    if tlsCase(TLSConfiguration(preSharedKey: psk), port: pskPort, id: "cross-psk") != nil { failures += 1 }
    var wrong = psk
    wrong.key[0] ^= 0xFF
    print("[2b] wrong PSK (must fail)")
    if tlsCase(TLSConfiguration(preSharedKey: wrong), port: pskPort, id: "cross-badpsk") != .pskRejected { failures += 1 }
    print("[3] wrong CA (must fail)")
    if tlsCase(otherCA, port: tlsPort, id: "cross-badca") != .untrustedCertificate { failures += 1 }
    print("[4] wss://localhost:\(wssPort)/mqtt (WebSocket over TLS)")
    do throws(OneM2MError) {
        let wss = try PointOfAccessTransport(pointOfAccess: "wss://localhost:\(wssPort)/mqtt", tls: ca)
        if !roundTrip(wss, id: "cross-wss") { failures += 1 }
    } catch { failures += 1 }
    if argc >= 9 {
        print("[5] oneM2M registration with ACME behind the broker")
        if !register(ca, pointOfAccess: "mqtts://localhost:\(tlsPort)") { failures += 1 }
        if !register(ca, pointOfAccess: "wss://localhost:\(wssPort)") { failures += 1 }
    }
    print(failures == 0 ? "smoke: all ok" : "smoke: \(failures) FAILED")
    return failures == 0 ? 0 : 1
}
SWIFT

# --------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------
build() {
    local t="$1" out="$work/$1" swift_target gnu gccdir sysroot qemu cflags=() sflags=() libdir
    case "$t" in
    aarch64)
        swift_target=aarch64-none-none-elf; gnu=aarch64-linux-gnu; sysroot=/usr/aarch64-linux-gnu
        gccdir=/usr/lib/gcc-cross/aarch64-linux-gnu/12; libdir=/usr/lib/aarch64-linux-gnu ;;
    armv7)
        swift_target=armv7-none-none-eabi; gnu=arm-linux-gnueabihf; sysroot=/usr/arm-linux-gnueabihf
        gccdir=/usr/lib/gcc-cross/arm-linux-gnueabihf/12; libdir=/usr/lib/arm-linux-gnueabihf
        cflags+=(-mthumb -mfloat-abi=hard -mfpu=vfpv3-d16) ;;
    x86_64)
        swift_target=x86_64-unknown-linux-gnu; gnu=x86_64-linux-gnu; sysroot=""; gccdir=""; libdir=/usr/lib/x86_64-linux-gnu ;;
    esac
    mkdir -p "$out"
    if [ -n "$sysroot" ]; then
        cflags+=(--sysroot="$sysroot" -D__linux__ -D__unix__ -D__gnu_linux__)
    fi
    for f in "${cflags[@]}"; do sflags+=(-Xcc "$f"); done
    # As in Toolchains/armv7-linux-gnueabihf.json: LLVM's ARM load/store optimiser clobbers r10
    # (Swift's self) at -Osize (docs/known-issues.md).
    [ "$t" = armv7 ] && sflags+=(-Xllvm -arm-load-store-opt=false)
    local EMB=(-enable-experimental-feature Embedded -enable-experimental-feature Lifetimes -wmo -Osize
               -parse-as-library -target "$swift_target" -Xfrontend -function-sections
               -I "$out" -I Sources/CPosix/include -I Sources/CMbedTLS/include "${sflags[@]}")
    module() {  # module NAME SOURCES...
        local name="$1"; shift
        swiftc "${EMB[@]}" -module-name "$name" "$@" -emit-module -emit-module-path "$out/$name.swiftmodule" -c -o "$out/$name.o"
    }
    module MQTTTransport Sources/MQTTTransport/*.swift
    module PosixTransport Sources/PosixTransport/*.swift
    module TLSTransport Sources/TLSTransport/*.swift
    module MQTTPacket Sources/MQTTPacket/*.swift
    module MQTTSession Sources/MQTTSession/*.swift
    module MQTTClient Sources/MQTTClient/*.swift
    module OneM2M Sources/OneM2M/*.swift
    module OneM2MClient Sources/OneM2MClient/*.swift
    module WebSocketTransport Sources/WebSocketTransport/*.swift
    module OneM2MSecure Sources/OneM2MSecure/*.swift
    swiftc "${EMB[@]}" -module-name Smoke "$work/main.swift" -c -o "$out/main.o"
    local ctarget=(--target="$gnu")
    clang "${ctarget[@]}" "${cflags[@]}" -Os -ffunction-sections -fdata-sections -I Sources/CPosix/include -c Sources/CPosix/cposix.c -o "$out/cposix.o"
    clang "${ctarget[@]}" "${cflags[@]}" -Os -ffunction-sections -fdata-sections -I "$work/xinc" -I Sources/CMbedTLS/include -c Sources/CMbedTLS/cmbedtls.c -o "$out/cmbedtls.o"
    local link=(clang "${ctarget[@]}")
    [ -n "$gccdir" ] && link+=(--gcc-install-dir="$gccdir" -fuse-ld=lld)
    [ "$t" = armv7 ] && link+=(-mthumb -mfloat-abi=hard)
    "${link[@]}" "$out"/*.o "$libdir/libmbedtls.a" "$libdir/libmbedx509.a" "$libdir/libmbedcrypto.a" \
        -Wl,--gc-sections -o "$out/smoke"
    cp "$out/smoke" "$work/smoke-$t.unstripped"
    if [ "$t" = armv7 ]; then
        python3 scripts/r10-check.py --strict "$out/smoke" >"$out/r10-check.txt" \
            || { cat "$out/r10-check.txt" >&2; die "armv7: a function returns with r10 changed (docs/known-issues.md)"; }
    fi
    llvm-strip -o "$work/smoke-$t" "$out/smoke" 2>/dev/null || strip -o "$work/smoke-$t" "$out/smoke" 2>/dev/null || cp "$out/smoke" "$work/smoke-$t"
    log "$t: built ($(stat -c %s "$work/smoke-$t") bytes stripped, static mbedTLS, dynamic libc): $( (file -b "$work/smoke-$t" 2>/dev/null || echo "file(1) not installed") | cut -d, -f1-2)"
}

declare -A build_seconds
for t in "${targets[@]}"; do
    s=$(date +%s)
    build "$t"
    build_seconds[$t]=$(( $(date +%s) - s ))
done

# --------------------------------------------------------------------------------------------
# Broker (and ACME)
# --------------------------------------------------------------------------------------------
pki="$work/pki"
mkdir -p "$pki"
(
    cd "$pki"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    for ca in ca other-ca; do
        openssl req -x509 "${ec[@]}" -keyout $ca.key -out $ca.crt -days 30 -subj "/CN=$ca" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    done
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
    openssl req -new "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 30 -extfile server.ext -out server.crt 2>/dev/null
    echo "Ccross-psk:000102030405060708090a0b0c0d0e0f" > psk.txt
)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
plain=$(free_port); tls=$(free_port); pskp=$(free_port); wss=$(free_port)
cat > "$work/mosquitto.conf" <<EOF
user root
allow_anonymous true
persistence false
log_dest stderr
psk_file $pki/psk.txt
listener $plain 127.0.0.1
listener $tls 127.0.0.1
cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
listener $pskp 127.0.0.1
psk_hint cross
# websockets: mosquitto 2.0.11 ignores a 127.0.0.1 bind address here; "lo" binds loopback only
listener $wss lo
protocol websockets
cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
EOF
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$MOSQ" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
MOSQ_PID=$!
for _ in $(seq 100); do
    grep -q "running" "$work/mosquitto.log" 2>/dev/null && break
    kill -0 "$MOSQ_PID" 2>/dev/null || { cat "$work/mosquitto.log"; die "mosquitto did not start"; }
    sleep 0.1
done
log "mosquitto pid $MOSQ_PID: plain $plain (ACME), TLS $tls, PSK $pskp, wss $wss on 127.0.0.1"
ss -ltnH "sport = :$wss" | awk '{print $4}' | grep -qvE '^(127\.|\[::ffff:127\.|\[::1\])' && die "websockets listener $wss is not loopback-only"
register=()
if [ "${TLS_CROSS_ACME:-1}" != 0 ]; then
    ACME_DIR="$work/acme"
    s=$(date +%s)
    if bash scripts/acme.sh start "$ACME_DIR" "$plain" >"$work/acme-start.log" 2>&1; then
        register=(register)
        log "ACME up in $(( $(date +%s) - s )) s"
    else
        tail -5 "$work/acme-start.log"
        ACME_DIR=""
        log "ACME did not start: skipping the registration step"
    fi
fi

# --------------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------------
status=0
declare -A run_seconds
for t in "${targets[@]}"; do
    case "$t" in
    aarch64) runner=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
    armv7) runner=(qemu-arm -L /usr/arm-linux-gnueabihf) ;;
    x86_64) runner=() ;;
    esac
    log "$t: running under ${runner[*]:-native}"
    s=$(date +%s)
    if "${runner[@]}" "$work/smoke-$t" "$pki/ca.crt" "$pki/other-ca.crt" "$tls" "$pskp" Ccross-psk 000102030405060708090a0b0c0d0e0f "$wss" "${register[@]}"; then
        log "$t: OK"
    else
        log "$t: FAILED"
        status=1
    fi
    run_seconds[$t]=$(( $(date +%s) - s ))
done
for t in "${targets[@]}"; do
    log "$t: build ${build_seconds[$t]} s, run ${run_seconds[$t]} s"
done
log "total $(( $(date +%s) - t0 )) s (dependency check/install $(( t_deps - t0 )) s)"
exit $status
