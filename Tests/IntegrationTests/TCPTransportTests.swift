import Foundation
import MQTTTransport
import PosixTransport
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

/// MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s, client id "t1" (encoded by hand).
private let connectPacket: [UInt8] = [
    0x10, 0x0E,  // CONNECT, remaining length 14
    0x00, 0x04, 0x4D, 0x51, 0x54, 0x54,  // "MQTT"
    0x04,  // protocol level 4 (3.1.1)
    0x02,  // flags: clean session
    0x00, 0x3C,  // keep-alive 60
    0x00, 0x02, 0x74, 0x31,  // client id "t1"
]
/// CONNACK, session present 0, return code 0 (accepted).
private let connAckAccepted: [UInt8] = [0x20, 0x02, 0x00, 0x00]

private let clock = PosixMonotonicClock()

/// Sends all of `bytes`, waiting for writability whenever the socket would block.
private func sendAll(_ t: inout TCPTransport, _ bytes: [UInt8], timeoutMs: Int = 5_000) throws {
    let deadline = clock.nowMilliseconds() + timeoutMs
    var offset = 0
    while offset < bytes.count {
        let n = try bytes.withUnsafeBytes { raw in
            try t.send(UnsafeRawBufferPointer(rebasing: raw[offset...]))
        }
        offset += n
        if n == 0 {
            if clock.nowMilliseconds() > deadline { throw TransportError.timedOut }
            _ = try t.wait(for: TransportReadiness(readable: false, writable: true), timeoutMilliseconds: 100)
        }
    }
}

/// Receives exactly `count` bytes (wait + receive), or throws `.timedOut`.
private func receiveExactly(_ t: inout TCPTransport, _ count: Int, timeoutMs: Int = 5_000) throws -> [UInt8] {
    let deadline = clock.nowMilliseconds() + timeoutMs
    var out = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
        let left = deadline - clock.nowMilliseconds()
        if left <= 0 { throw TransportError.timedOut }
        let ready = try t.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: Int(left))
        if !ready.readable { continue }
        let n = try out.withUnsafeMutableBytes { raw in
            try t.receive(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
        }
        filled += n
    }
    return out
}

/// Waits for readability and returns the error the next receive throws (nil if it returned data
/// or nothing arrived in time).
private func errorOnNextReceive(_ t: inout TCPTransport, timeoutMs: Int = 10_000) -> TransportError? {
    var buffer = [UInt8](repeating: 0, count: 64)
    let deadline = clock.nowMilliseconds() + timeoutMs
    while clock.nowMilliseconds() < deadline {
        do {
            let ready = try t.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 200)
            if !ready.readable { continue }
            let n = try buffer.withUnsafeMutableBytes { raw in
                try t.receive(into: raw)
            }
            if n > 0 { return nil }
        } catch let error as TransportError {
            return error
        } catch {
            return .system(code: -1)
        }
    }
    return nil
}

/// Sends `request` and receives `expecting` reply bytes with send/wait/receive only (no
/// allocation on this path). Returns the number of bytes received (less on timeout).
private func exchange(
    _ t: inout TCPTransport, _ request: UnsafeRawBufferPointer, reply: UnsafeMutableRawBufferPointer,
    expecting: Int
) throws(TransportError) -> Int {
    var sent = 0
    var rounds = 0
    while sent < request.count && rounds < 100 {
        rounds += 1
        let n = try t.send(UnsafeRawBufferPointer(rebasing: request[sent...]))
        sent += n
        if n == 0 { _ = try t.wait(for: TransportReadiness(readable: false, writable: true), timeoutMilliseconds: 100) }
    }
    var received = 0
    rounds = 0
    while received < expecting && rounds < 100 {
        rounds += 1
        let ready = try t.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 100)
        if ready.readable {
            received += try t.receive(into: UnsafeMutableRawBufferPointer(rebasing: reply[received..<expecting]))
        }
    }
    return received
}

/// Opens `t` and performs an MQTT CONNECT/CONNACK exchange.
private func connectAndHandshake(_ t: inout TCPTransport) throws {
    try t.open(timeoutMilliseconds: 5_000)
    #expect(t.descriptor >= 0)
    #expect(t.isOpen)
    try sendAll(&t, connectPacket)
    let reply = try receiveExactly(&t, 4)
    #expect(reply == connAckAccepted)
}

/// A free TCP port on ::1, or nil if this host has no IPv6 loopback.
private func freeIPv6LoopbackPort() -> UInt16? {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    if fd < 0 { return nil }
    defer { Glibc.close(fd) }
    var addr = sockaddr_in6()
    addr.sin6_family = sa_family_t(AF_INET6)
    addr.sin6_port = 0
    addr.sin6_addr = in6addr_loopback
    var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
            bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
        }
    }
    return ok ? UInt16(bigEndian: addr.sin6_port) : nil
}

/// A listening socket on 127.0.0.1 with the given backlog (blocking, for `accept`).
private func loopbackListener(backlog: Int32) -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
            bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0 && listen(fd, backlog) == 0
        }
    }
    precondition(ok)
    return (fd, UInt16(bigEndian: addr.sin_port))
}

// MARK: - Tests

@Suite("TCPTransport against mosquitto")
struct TCPTransportTests {
    @Test func connectsOverIPv4AndGetsConnAck() throws {
        let broker = try Mosquitto()
        var t = TCPTransport(host: "127.0.0.1", port: broker.port)
        defer { t.close() }
        try connectAndHandshake(&t)
        #expect(broker.log().contains("New client connected"))

        // The socket is non-blocking, with Nagle off (TCP_NODELAY) and close-on-exec.
        #expect(fcntl(t.descriptor, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(t.descriptor, F_GETFD) & FD_CLOEXEC != 0)
        var nodelay: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(t.descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &nodelay, &size) == 0)
        #expect(nodelay != 0)
    }

    @Test func connectsByHostName() throws {
        // "localhost" may resolve to ::1 first (refused: the broker listens on 127.0.0.1 only);
        // the transport must then go on to the next address.
        let broker = try Mosquitto()
        var t = TCPTransport(host: "localhost", port: broker.port)
        defer { t.close() }
        try connectAndHandshake(&t)
    }

    @Test(.enabled(if: freeIPv6LoopbackPort() != nil, "no IPv6 loopback on this host"))
    func connectsOverIPv6() throws {
        let port6 = try #require(freeIPv6LoopbackPort())
        let broker = try Mosquitto(extraConfig: "listener \(port6) ::1")
        #expect(broker.log().contains("ipv6"))  // "Opening ipv6 listen socket on port ..."
        var t = TCPTransport(host: "::1", port: port6)
        defer { t.close() }
        try connectAndHandshake(&t)
        #expect(broker.log().contains("New connection from ::1"))
    }

    @Test func refusedOnAClosedPort() {
        let port = freeLoopbackPort()  // nothing listens there
        var t = TCPTransport(host: "127.0.0.1", port: port)
        #expect(throws: TransportError.refused) { try t.open(timeoutMilliseconds: 2_000) }
        #expect(t.descriptor == -1)
        #expect(!t.isOpen)
    }

    @Test func resolveFailedForAnUnknownName() {
        var t = TCPTransport(host: "no-such-host.invalid", port: 1883)
        var caught: TransportError?
        do throws(TransportError) {
            try t.open(timeoutMilliseconds: 5_000)
        } catch {
            caught = error
        }
        guard case .resolveFailed(let code)? = caught else {
            Issue.record("expected .resolveFailed, got \(String(describing: caught))")
            return
        }
        #expect(code != 0)
        #expect(t.descriptor == -1)
    }

    @Test func invalidEndpoint() {
        var empty = TCPTransport(host: "", port: 1883)
        #expect(throws: TransportError.invalidEndpoint) { try empty.open(timeoutMilliseconds: 100) }
        var portZero = TCPTransport(host: "127.0.0.1", port: 0)
        #expect(throws: TransportError.invalidEndpoint) { try portZero.open(timeoutMilliseconds: 100) }
        var embeddedNUL = TCPTransport(host: "127.0.0.1\u{0}x", port: 1883)
        #expect(throws: TransportError.invalidEndpoint) { try embeddedNUL.open(timeoutMilliseconds: 100) }
        // The same from bytes (the form for callers without String).
        var emptyBytes = TCPTransport(host: UnsafeRawBufferPointer(start: nil, count: 0), port: 1883)
        #expect(throws: TransportError.invalidEndpoint) { try emptyBytes.open(timeoutMilliseconds: 100) }
        var nulBytes = [UInt8]("127.0.0.1\u{0}x".utf8).withUnsafeBytes { TCPTransport(host: $0, port: 1883) }
        #expect(throws: TransportError.invalidEndpoint) { try nulBytes.open(timeoutMilliseconds: 100) }
    }

    @Test func hostGivenAsBytesConnects() throws {
        let listener = loopbackListener(backlog: 4)
        defer { Glibc.close(listener.fd) }
        var t = [UInt8]("127.0.0.1".utf8).withUnsafeBytes { TCPTransport(host: $0, port: listener.port) }
        try t.open(timeoutMilliseconds: 2_000)
        #expect(t.isOpen)
        t.close()
    }

    @Test func connectTimesOutWhenTheListenQueueIsFull() throws {
        // Backlog 0 lets one connection wait in the accept queue; SYNs beyond that are dropped,
        // so a further connect hangs until our time limit.
        let listener = loopbackListener(backlog: 0)
        defer { Glibc.close(listener.fd) }
        var filler = TCPTransport(host: "127.0.0.1", port: listener.port)
        try filler.open(timeoutMilliseconds: 2_000)
        defer { filler.close() }

        var t = TCPTransport(host: "127.0.0.1", port: listener.port)
        let start = clock.nowMilliseconds()
        #expect(throws: TransportError.timedOut) { try t.open(timeoutMilliseconds: 300) }
        let elapsed = clock.nowMilliseconds() - start
        #expect(elapsed >= 290 && elapsed < 3_000)
        #expect(t.descriptor == -1)
    }

    @Test func closedAfterTheBrokerStops() throws {
        let broker = try Mosquitto()
        var t = TCPTransport(host: "127.0.0.1", port: broker.port)
        defer { t.close() }
        try connectAndHandshake(&t)
        broker.stop()
        #expect(!broker.isRunning)
        #expect(errorOnNextReceive(&t) == .closed)
    }

    @Test func resetWhenThePeerAborts() throws {
        let listener = loopbackListener(backlog: 4)
        defer { Glibc.close(listener.fd) }
        var t = TCPTransport(host: "127.0.0.1", port: listener.port)
        defer { t.close() }
        try t.open(timeoutMilliseconds: 2_000)
        let peer = accept(listener.fd, nil, nil)
        try #require(peer >= 0)
        // SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        #expect(setsockopt(peer, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size)) == 0)
        Glibc.close(peer)
        #expect(errorOnNextReceive(&t) == .reset)
    }

    @Test func nonBlockingSemanticsAndWaitTimeout() throws {
        let broker = try Mosquitto()
        var t = TCPTransport(host: "127.0.0.1", port: broker.port)
        defer { t.close() }
        try connectAndHandshake(&t)

        // Nothing to read: receive returns 0 at once ("would block"), it does not block.
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = try buffer.withUnsafeMutableBytes { raw in try t.receive(into: raw) }
        #expect(n == 0)

        // wait times out with both flags false after about the time asked for.
        let start = clock.nowMilliseconds()
        let idle = try t.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 100)
        let elapsed = clock.nowMilliseconds() - start
        #expect(idle == TransportReadiness(readable: false, writable: false))
        #expect(elapsed >= 95 && elapsed < 2_000)

        // A timeout of 0 polls; an idle connected socket is writable.
        let writable = try t.wait(for: TransportReadiness(readable: true, writable: true), timeoutMilliseconds: 0)
        #expect(writable == TransportReadiness(readable: false, writable: true))

        // PINGREQ -> PINGRESP shows the socket still works after the would-block receive.
        try sendAll(&t, [0xC0, 0x00])
        #expect(try receiveExactly(&t, 2) == [0xD0, 0x00])
    }

    @Test func sendReceiveAndWaitDoNotAllocate() throws {
        let broker = try Mosquitto()
        var t = TCPTransport(host: "127.0.0.1", port: broker.port)
        defer { t.close() }
        try t.open(timeoutMilliseconds: 5_000)

        let connect = UnsafeMutableRawBufferPointer.allocate(byteCount: connectPacket.count, alignment: 1)
        defer { connect.deallocate() }
        connect.copyBytes(from: connectPacket)
        let ping = UnsafeMutableRawBufferPointer.allocate(byteCount: 2, alignment: 1)
        defer { ping.deallocate() }
        ping.copyBytes(from: [0xC0, 0x00] as [UInt8])  // PINGREQ
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { reply.deallocate() }

        // First exchange unmeasured: it also pays one-time costs (lazy symbol binding, generic
        // metadata instantiation in debug builds) that are not per-call allocations.
        #expect(try exchange(&t, UnsafeRawBufferPointer(connect), reply: reply, expecting: 4) == 4)
        #expect(Array(UnsafeRawBufferPointer(reply)) == connAckAccepted)

        var received = 0
        let count = try allocations {
            for _ in 0..<3 {
                received += try exchange(&t, UnsafeRawBufferPointer(ping), reply: reply, expecting: 2)
            }
        }
        #expect(count == 0)
        #expect(received == 6)
        #expect(Array(UnsafeRawBufferPointer(rebasing: reply[0..<2])) == [0xD0, 0x00])  // PINGRESP
    }

    @Test func closeIsIdempotentAndOpenReconnects() throws {
        let broker = try Mosquitto()
        var t = TCPTransport(host: "127.0.0.1", port: broker.port)
        try connectAndHandshake(&t)
        t.close()
        t.close()
        #expect(t.descriptor == -1)

        // Everything but open reports .notConnected while closed.
        #expect(throws: TransportError.notConnected) {
            try connectPacket.withUnsafeBytes { raw in _ = try t.send(raw) }
        }
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(throws: TransportError.notConnected) {
            try buffer.withUnsafeMutableBytes { raw in _ = try t.receive(into: raw) }
        }
        #expect(throws: TransportError.notConnected) {
            _ = try t.wait(for: TransportReadiness(readable: true, writable: true), timeoutMilliseconds: 0)
        }

        // Same transport value, new connection.
        try connectAndHandshake(&t)
        t.close()
    }

    @Test func reconnectsAfterTheBrokerIsKilledAndRestarted() throws {
        let broker = try Mosquitto(persistence: true)
        var t = TCPTransport(host: "127.0.0.1", port: broker.port)
        defer { t.close() }
        try connectAndHandshake(&t)

        broker.kill()
        // The kernel closes a killed process's sockets; we see end of stream (or a reset).
        let error = errorOnNextReceive(&t)
        #expect(error == .closed || error == .reset)
        // Not connected now: a fresh open fails until the broker is back.
        try broker.restart()
        try connectAndHandshake(&t)
    }
}

// Nested so that `--filter TCPTransportTests` runs these too.
extension TCPTransportTests {
    @Suite("Posix clocks")
    struct PosixClockTests {
        @Test func calendarFieldsAreUTC() {
            #expect(PosixWallClock.calendarFields(unixSeconds: 0)
                == .init(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0))
            #expect(PosixWallClock.calendarFields(unixSeconds: 951_782_400)
                == .init(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0))
            #expect(PosixWallClock().calendarFields(unixSeconds: 1_700_000_000)
                == .init(year: 2023, month: 11, day: 14, hour: 22, minute: 13, second: 20))
            #expect(PosixWallClock.calendarFields(unixSeconds: -1)
                == .init(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59))
        }

        @Test func wallClockAgreesWithFoundation() {
            let ours = PosixWallClock().unixMicroseconds()
            let theirs = Int64(Date().timeIntervalSince1970 * 1_000_000)
            #expect(abs(ours - theirs) < 2_000_000)
        }

        @Test func monotonicClockAdvances() {
            let c = PosixMonotonicClock()
            let a = c.nowMilliseconds()
            // Poll the condition (no sleep): the clock must reach a + 5 ms.
            var b = c.nowMilliseconds()
            while b < a + 5 { b = c.nowMilliseconds() }
            #expect(b >= a + 5)
            #expect(b - a < 1_000)
        }
    }
}

// Nested so that `--filter TCPTransportTests` runs these too.
extension TCPTransportTests {
    @Suite("Mosquitto fixture")
    struct MosquittoFixtureTests {
        /// CONNECT with clean session 0, client id "keep".
        static let persistentConnect: [UInt8] = [
            0x10, 0x10, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3C,
            0x00, 0x04, 0x6B, 0x65, 0x65, 0x70,
        ]

        @Test func persistedSessionSurvivesSIGKILL() throws {
            let broker = try Mosquitto(persistence: true)
            var t = TCPTransport(host: "127.0.0.1", port: broker.port)
            defer { t.close() }
            try t.open(timeoutMilliseconds: 5_000)
            try sendAll(&t, Self.persistentConnect)
            #expect(try receiveExactly(&t, 4) == [0x20, 0x02, 0x00, 0x00])  // no session yet
            // SUBSCRIBE id 1 to "a" at QoS 1 -> SUBACK id 1 granted QoS 1.
            try sendAll(&t, [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01])
            #expect(try receiveExactly(&t, 5) == [0x90, 0x03, 0x00, 0x01, 0x01])
            // mosquitto saves at the end of the loop iteration that sent the SUBACK; a PINGREQ
            // round trip (handled in a later iteration) guarantees that save has happened.
            try sendAll(&t, [0xC0, 0x00])
            #expect(try receiveExactly(&t, 2) == [0xD0, 0x00])

            let pidBefore = broker.pid
            broker.kill()
            #expect(!broker.isRunning)
            try broker.restart()
            #expect(broker.pid != nil && broker.pid != pidBefore)

            t.close()
            try t.open(timeoutMilliseconds: 5_000)
            try sendAll(&t, Self.persistentConnect)
            // Session present = 1: the session and its subscription came back from the database.
            #expect(try receiveExactly(&t, 4) == [0x20, 0x02, 0x01, 0x00])
        }

        @Test func stopIsGracefulAndIdempotent() throws {
            let broker = try Mosquitto()
            let port = broker.port
            #expect(broker.isRunning)
            broker.stop()
            broker.stop()
            #expect(!broker.isRunning)
            #expect(broker.log().contains("terminating"))  // SIGTERM reached it: orderly shutdown
            var t = TCPTransport(host: "127.0.0.1", port: port)
            #expect(throws: TransportError.refused) { try t.open(timeoutMilliseconds: 2_000) }
            try broker.restart()
            try connectAndHandshake(&t)
            t.close()
        }
    }
}
