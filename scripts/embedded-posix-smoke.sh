#!/usr/bin/env bash
# Embedded Swift smoke test for the POSIX transport, with plain swiftc (no SwiftPM):
#   1. MQTTTransport and PosixTransport compile in Embedded mode (-c) against the CPosix headers;
#   2. a tiny Embedded program using TCPTransport links against cposix.c (clang) and libc;
#   3. with a PORT argument, that program connects to an MQTT broker on 127.0.0.1:PORT, sends a
#      CONNECT and expects CONNACK 20 02 00 00 (e.g. PORT from `scripts/mosquitto.sh start DIR`).
#
#   scripts/embedded-posix-smoke.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
EMB=(-enable-experimental-feature Embedded -enable-experimental-feature Lifetimes -wmo -Osize
     -parse-as-library -target x86_64-unknown-linux-gnu -Xfrontend -function-sections)

swiftc "${EMB[@]}" -module-name MQTTTransport Sources/MQTTTransport/*.swift \
    -emit-module -emit-module-path "$out/MQTTTransport.swiftmodule" -c -o "$out/MQTTTransport.o"
swiftc "${EMB[@]}" -I "$out" -I Sources/CPosix/include -module-name PosixTransport Sources/PosixTransport/*.swift \
    -emit-module -emit-module-path "$out/PosixTransport.swiftmodule" -c -o "$out/PosixTransport.o"
echo "embedded: MQTTTransport, PosixTransport compile (-c) ok"

cat > "$out/main.swift" <<'SWIFT'
import MQTTTransport
import PosixTransport

func parsePort(_ arg: UnsafePointer<CChar>?) -> UInt16 {
    guard var p = arg else { return 0 }
    var value = 0
    while p.pointee >= 48 && p.pointee <= 57 && value < 65_536 {
        value = value * 10 + Int(p.pointee - 48)
        p += 1
    }
    return value > 0 && value < 65_536 ? UInt16(value) : 0
}

func run(port: UInt16) -> Int32 {
    let clock = PosixMonotonicClock()
    let wall = PosixWallClock()
    guard let utc = wall.calendarFields(unixSeconds: wall.unixMicroseconds() / 1_000_000), utc.year >= 2024 else {
        print("smoke: wall clock / calendar split failed")
        return 1
    }
    if port == 0 {
        print("smoke: linked ok (no port given, not connecting)")
        return 0
    }
    var t = TCPTransport(host: "127.0.0.1", port: port)
    let connect: [UInt8] = [0x10, 0x0E, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x02, 0x65, 0x31]
    // Raw buffers: Array.withUnsafeBytes is `rethrows` (untyped), which Embedded rejects
    // around typed-throwing calls.
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: connect.count, alignment: 1)
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
    defer { out.deallocate(); input.deallocate() }
    out.copyBytes(from: connect)
    do throws(TransportError) {
        try t.open(timeoutMilliseconds: 5_000)
        var sent = 0
        while sent < out.count {
            sent += try t.send(UnsafeRawBufferPointer(rebasing: out[sent...]))
        }
        var got = 0
        let deadline = clock.nowMilliseconds() + 5_000
        while got < 4 && clock.nowMilliseconds() < deadline {
            let ready = try t.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 100)
            if ready.readable {
                got += try t.receive(into: UnsafeMutableRawBufferPointer(rebasing: input[got...]))
            }
        }
    } catch {
        print("smoke: transport error: \(error.summary)")
        t.close()
        return 1
    }
    let reply = [input[0], input[1], input[2], input[3]]
    t.close()
    if reply == [0x20, 0x02, 0x00, 0x00] {
        print("smoke: CONNACK ok")
        return 0
    }
    print("smoke: unexpected CONNACK")
    return 1
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    run(port: argc > 1 ? parsePort(argv[1]) : 0)
}
SWIFT
swiftc "${EMB[@]}" -I "$out" -I Sources/CPosix/include -module-name Smoke "$out/main.swift" -c -o "$out/main.o"
clang -O2 -I Sources/CPosix/include -c Sources/CPosix/cposix.c -o "$out/cposix.o"
clang "$out/main.o" "$out/PosixTransport.o" "$out/MQTTTransport.o" "$out/cposix.o" -o "$out/smoke" -Wl,--gc-sections
echo "embedded: smoke program links ok ($(stat -c %s "$out/smoke") bytes)"
"$out/smoke" "${1:-}"
