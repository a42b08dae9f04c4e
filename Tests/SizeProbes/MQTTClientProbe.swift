// The smallest useful MQTT client, for measuring what the MQTT layers (MQTTPacket, MQTTSession,
// MQTTClient) cost when linked with --gc-sections: connect, subscribe, publish QoS 1, receive,
// keep-alive, disconnect. The transport is a few lines over CPosix (like coreMQTT's
// TransportInterface, it is the application's), so TCPTransport's String host name is not counted. No String is used at all.
//
//   MQTTClientProbe            prints the static RAM figures and exits
//   MQTTClientProbe PORT       talks to a broker on 127.0.0.1:PORT
import CPosix
import MQTTClient
import MQTTPacket

struct FdTransport: Transport {
    var fd: Int32 = -1
    let port: UInt16
    mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        var gai: Int32 = 0
        let host: StaticString = "127.0.0.1"
        fd = host.utf8Start.withMemoryRebound(to: CChar.self, capacity: 10) { cposix_tcp_connect($0, port, Int32(timeoutMilliseconds), &gai) }
        if fd < 0 { throw .refused }
    }
    mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        let n = cposix_send(fd, bytes.baseAddress, bytes.count)
        if n >= 0 { return n }
        if Int32(-n) == CPOSIX_EAGAIN { return 0 }
        throw .reset
    }
    mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        let n = cposix_recv(fd, buffer.baseAddress, buffer.count)
        if n > 0 { return n }
        if n == 0 { throw .closed }
        if Int32(-n) == CPOSIX_EAGAIN { return 0 }
        throw .reset
    }
    mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        let m = cposix_poll(fd, interest.readable ? 1 : 0, interest.writable ? 1 : 0, Int32(timeoutMilliseconds))
        if m < 0 { throw .reset }
        return TransportReadiness(readable: m & 1 != 0, writable: m & 2 != 0)
    }
    mutating func close() {
        if fd >= 0 { _ = cposix_close(fd) }
        fd = -1
    }
}

struct Clock: MonotonicClock {
    func nowMilliseconds() -> Int { Int(truncatingIfNeeded: cposix_monotonic_ms()) }
    func sleep(milliseconds: Int) { cposix_sleep_ms(Int64(milliseconds)) }
}

/// "<n> B" without String (so the stdlib's String and integer formatting are not linked in).
func printBytes(_ n: Int) {
    var divisor = 1
    while n / divisor >= 10 { divisor *= 10 }
    while divisor > 0 {
        switch n / divisor % 10 {
        case 0: print("0", terminator: "")
        case 1: print("1", terminator: "")
        case 2: print("2", terminator: "")
        case 3: print("3", terminator: "")
        case 4: print("4", terminator: "")
        case 5: print("5", terminator: "")
        case 6: print("6", terminator: "")
        case 7: print("7", terminator: "")
        case 8: print("8", terminator: "")
        default: print("9", terminator: "")
        }
        divisor /= 10
    }
    print(" B")
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let caps = SessionCapacities()
    if argc < 2 {
        print("ram: session arena (default capacities) ", terminator: "")
        printBytes(caps.arenaBytes)
        print("ram: MQTTSession struct ", terminator: "")
        printBytes(MemoryLayout<MQTTSession>.size)
        print("ram: MQTTClient struct ", terminator: "")
        printBytes(MemoryLayout<MQTTClient<FdTransport, Clock>>.size)
        return 0
    }
    var port: UInt16 = 0
    if let p = argv?[1] { var i = 0; while p[i] >= 48 && p[i] <= 57 { port = port &* 10 &+ UInt16(p[i] - 48); i += 1 } }
    // The arena: a static-style buffer the application owns.
    let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: caps.arenaBytes, alignment: 16)
    let session: MQTTSession
    do throws(SessionError) {
        session = try MQTTSession(configuration: SessionConfiguration(clientID: [0x70, 0x72, 0x6F, 0x62, 0x65]), capacities: caps, arena: arena)
    } catch { return 2 }
    var client = MQTTClient(session: session, transport: FdTransport(port: port), clock: Clock())
    var received: Int32 = 0
    do throws(ClientError) {
        try client.connect { _ in }
        _ = try client.subscribeAndWait([TopicSubscription(filter: [0x70, 0x2F, 0x23], qos: .atLeastOnce)]) { _ in }
        let topic: StaticString = "p/t"
        let payload: StaticString = "21.5"
        try client.publish(topic: UnsafeRawBufferPointer(start: topic.utf8Start, count: topic.utf8CodeUnitCount),
                           payload: UnsafeRawBufferPointer(start: payload.utf8Start, count: payload.utf8CodeUnitCount))
        var polls = 0
        while received == 0 && polls < 50 {
            try client.poll(timeoutMilliseconds: 100) { e in
                if case .session(.message(let m)) = e { received = Int32(m.payload.count) }
            }
            polls += 1
        }
        client.disconnect()
    } catch { return 1 }
    print(received == 4 ? "probe: message received" : "probe: no message")
    return received == 4 ? 0 : 1
}
