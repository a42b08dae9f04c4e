import MQTTClient
import MQTTPacket

/// A broker in memory: answers CONNECT, SUBSCRIBE, PINGREQ, acknowledges QoS 1 PUBLISH and
/// echoes every PUBLISH back at QoS 0 (as if the client had subscribed to it).
final class MemoryBroker {
    var toClient: [UInt8] = []
    var fromClient: [UInt8] = []
    var connects = 0
    var publishes = 0
    var open = false

    func absorb() {
        while true {
            let consumed: Int = fromClient.withUnsafeBytes { raw in
                guard let (packet, length) = try? PacketDecoder.decodeFirst(raw) else { return 0 }
                switch packet {
                case .connect:
                    connects += 1
                    toClient.append(contentsOf: [0x20, 0x02, 0x00, 0x00])
                case .subscribe(let id, let filters):
                    var it = SubscriptionIterator(filters: filters, withQoS: true)
                    var codes: [UInt8] = []
                    while let f = it.next() { codes.append(f.qos.rawValue) }
                    toClient.append(contentsOf: [0x90, UInt8(2 + codes.count), UInt8(id >> 8), UInt8(id & 0xFF)])
                    toClient.append(contentsOf: codes)
                case .publish(let p):
                    publishes += 1
                    if p.qos == .atLeastOnce { toClient.append(contentsOf: [0x40, 0x02, UInt8(p.packetID >> 8), UInt8(p.packetID & 0xFF)]) }
                    var echo = [UInt8](repeating: 0, count: p.topic.count + p.payload.count + 8)
                    let n: Int = echo.withUnsafeMutableBytes { out in
                        (try? PacketEncoder.publish(topic: p.topic, payload: p.payload, qos: .atMostOnce, into: out)) ?? 0
                    }
                    toClient.append(contentsOf: echo[0..<n])
                case .pingreq:
                    toClient.append(contentsOf: [0xD0, 0x00])
                default: break
                }
                return length
            }
            if consumed == 0 { return }
            fromClient.removeFirst(consumed)
        }
    }
}

struct MemoryTransport: Transport {
    let broker: MemoryBroker
    mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        broker.open = true
        broker.toClient = []
        broker.fromClient = []
    }
    mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        guard broker.open else { throw .notConnected }
        broker.fromClient.append(contentsOf: bytes)
        broker.absorb()
        return bytes.count
    }
    mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard broker.open else { throw .notConnected }
        let n = min(buffer.count, broker.toClient.count)
        if n == 0 { return 0 }
        broker.toClient.withUnsafeBytes { src in buffer.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: n) }
        broker.toClient.removeFirst(n)
        return n
    }
    mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        TransportReadiness(readable: !broker.toClient.isEmpty, writable: interest.writable)
    }
    mutating func close() { broker.open = false }
}

/// A clock that moves 1 ms per reading (so loops with deadlines always end) and on `sleep`.
final class Ticks { var now: Int = 1_000 }
struct TickClock: MonotonicClock {
    let ticks: Ticks
    func nowMilliseconds() -> Int { ticks.now += 1; return ticks.now }
    func sleep(milliseconds: Int) { ticks.now += milliseconds }
}

/// The client loop over an in-memory transport: connect, subscribe-and-wait, publish, poll.
func clientChecks(_ c: inout Checks) {
    c.group = "client"
    let broker = MemoryBroker()
    let session: MQTTSession
    do throws(SessionError) {
        session = try MQTTSession(configuration: SessionConfiguration(clientID: bytes("mem1")), capacities: smallCaps)
    } catch { c.expect(false, "session"); return }
    var client = MQTTClient(session: session, transport: MemoryTransport(broker: broker), clock: TickClock(ticks: Ticks()))

    var present: Bool? = nil
    do throws(ClientError) { present = try client.connect(timeoutMilliseconds: 1_000) { _ in } } catch {}
    c.expect(present == false && client.isConnected && broker.connects == 1, "connect returns after CONNACK")

    var granted: [UInt8] = []
    do throws(ClientError) {
        granted = try client.subscribeAndWait([TopicSubscription(filter: bytes("a/#"), qos: .atLeastOnce)], timeoutMilliseconds: 1_000) { _ in }
    } catch {}
    c.expect(granted == [1], "subscribeAndWait returns the granted QoS")

    var id: UInt16 = 0
    do throws(ClientError) { id = try client.publish(topic: bytesView("a/b"), payload: bytesView("42")) } catch {}
    var echoed = 0
    var acked: UInt16 = 0
    for _ in 0..<5 {
        do throws(ClientError) {
            try client.poll(timeoutMilliseconds: 10) { e in
                switch e {
                case .session(.message(let m)): if same(m.payload, bytes("42")) { echoed += 1 }
                case .session(.published(let pid)): acked = pid
                default: break
                }
            }
        } catch {}
    }
    c.expect(id == 2 && acked == id && broker.publishes == 1, "publish (id 2, after SUBSCRIBE's 1) reaches the broker; its PUBACK is reported")
    c.expect(echoed == 1, "the echoed message arrives through poll")
    client.disconnect()
    c.expect(!client.isConnected && !broker.open, "disconnect closes the transport")
}

/// A back-off near Int.max saturates when its jitter is added instead of overflowing: 32 client
/// IDs, so 32 jitter seeds; on 32-bit targets about half of them trapped before (a 64-bit `Int`
/// leaves room: the jitter is at most a UInt32).
func backoffChecks(_ c: inout Checks) {
    c.group = "client back-off"
    var all = true
    for k in 0..<32 {
        let broker = MemoryBroker()
        let session: MQTTSession
        do throws(SessionError) {
            session = try MQTTSession(configuration: SessionConfiguration(clientID: [0x62, 0x41 + UInt8(k)]), capacities: smallCaps)
        } catch { c.expect(false, "session"); return }
        var client = MQTTClient(
            session: session, transport: MemoryTransport(broker: broker), clock: TickClock(ticks: Ticks()),
            reconnectPolicy: ReconnectPolicy(initialDelayMilliseconds: Int.max, maximumDelayMilliseconds: Int.max))
        do throws(ClientError) { _ = try client.connect(timeoutMilliseconds: 1_000) { _ in } } catch { all = false }
        // The next read fails: the connection is lost and a retry delay computed.
        broker.open = false
        broker.toClient = [0]
        var retry = 0
        do throws(ClientError) {
            if case .disconnected(_, let r)? = try client.nextEvent(timeoutMilliseconds: 10) { retry = r }
        } catch {}
        if retry < Int.max - Int.max / 8 { all = false }
    }
    c.expect(all, "a retry delay near Int.max saturates (32 seeds)")
}

/// A literal's bytes as a raw view (literals live for the whole run).
func bytesView(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}
