import MQTTPacket
import MQTTSession
import Testing
import TestSupport

// MARK: - Helpers shared by the session and client tests

func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

func hex(_ s: String) -> [UInt8] {
    s.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// An owned copy of a packet decoded with `PacketDecoder`.
enum Pkt: Equatable, CustomStringConvertible {
    case connect(clientID: [UInt8], clean: Bool, keepAlive: UInt16, user: [UInt8]?, password: [UInt8]?)
    case connack(present: Bool, code: UInt8)
    case publish(topic: [UInt8], payload: [UInt8], qos: UInt8, dup: Bool, retain: Bool, id: UInt16)
    case puback(UInt16), pubrec(UInt16), pubrel(UInt16), pubcomp(UInt16), unsuback(UInt16)
    case subscribe(UInt16, [[UInt8]], [UInt8])
    case suback(UInt16, [UInt8])
    case unsubscribe(UInt16, [[UInt8]])
    case pingreq, pingresp, disconnect

    init(_ p: Packet) {
        switch p {
        case .connect(let c):
            self = .connect(clientID: Array(c.clientID), clean: c.cleanSession, keepAlive: c.keepAliveSeconds, user: c.userName.map { Array($0) }, password: c.password.map { Array($0) })
        case .connack(let sp, let rc): self = .connack(present: sp, code: rc.rawValue)
        case .publish(let v): self = .publish(topic: Array(v.topic), payload: Array(v.payload), qos: v.qos.rawValue, dup: v.dup, retain: v.retain, id: v.packetID)
        case .puback(let id): self = .puback(id)
        case .pubrec(let id): self = .pubrec(id)
        case .pubrel(let id): self = .pubrel(id)
        case .pubcomp(let id): self = .pubcomp(id)
        case .unsuback(let id): self = .unsuback(id)
        case .subscribe(let id, let f):
            var it = SubscriptionIterator(filters: f, withQoS: true)
            var fs: [[UInt8]] = [], qs: [UInt8] = []
            while let x = it.next() { fs.append(Array(x.filter)); qs.append(x.qos.rawValue) }
            self = .subscribe(id, fs, qs)
        case .suback(let id, let c): self = .suback(id, Array(c))
        case .unsubscribe(let id, let f):
            var it = SubscriptionIterator(filters: f, withQoS: false)
            var fs: [[UInt8]] = []
            while let x = it.next() { fs.append(Array(x.filter)) }
            self = .unsubscribe(id, fs)
        case .pingreq: self = .pingreq
        case .pingresp: self = .pingresp
        case .disconnect: self = .disconnect
        }
    }

    var description: String {
        switch self {
        case .publish(let t, let p, let q, let d, let r, let id):
            return "PUBLISH(\(String(decoding: t, as: UTF8.self)) q\(q) id\(id)\(d ? " dup" : "")\(r ? " retain" : "") \(p.count)B)"
        case .connect(let c, let clean, let k, _, _): return "CONNECT(\(String(decoding: c, as: UTF8.self)) clean=\(clean) ka=\(k))"
        case .connack(let p, let c): return "CONNACK(sp=\(p) rc=\(c))"
        case .puback(let id): return "PUBACK(\(id))"
        case .pubrec(let id): return "PUBREC(\(id))"
        case .pubrel(let id): return "PUBREL(\(id))"
        case .pubcomp(let id): return "PUBCOMP(\(id))"
        case .unsuback(let id): return "UNSUBACK(\(id))"
        case .subscribe(let id, let f, _): return "SUBSCRIBE(\(id), \(f.count))"
        case .suback(let id, let c): return "SUBACK(\(id), \(c))"
        case .unsubscribe(let id, let f): return "UNSUBSCRIBE(\(id), \(f.count))"
        case .pingreq: return "PINGREQ"
        case .pingresp: return "PINGRESP"
        case .disconnect: return "DISCONNECT"
        }
    }

    var publishID: UInt16? {
        if case .publish(_, _, let q, _, _, let id) = self, q > 0 { return id }
        return nil
    }
    var isDup: Bool {
        if case .publish(_, _, _, let d, _, _) = self { return d }
        return false
    }
}

/// Decodes every complete packet in `bytes` with `PacketDecoder`; a malformed packet or an
/// incomplete tail is recorded as a test issue.
func decodePackets(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> [Pkt] {
    var out: [Pkt] = []
    var offset = 0
    while offset < bytes.count {
        let rest = Array(bytes[offset...])
        let r: Result<(Pkt, Int)?, PacketError> = rest.withUnsafeBytes { b in
            do throws(PacketError) {
                guard let (p, n) = try PacketDecoder.decodeFirst(b) else { return .success(nil) }
                return .success((Pkt(p), n))
            } catch { return .failure(error) }
        }
        switch r {
        case .success(let v?):
            out.append(v.0)
            offset += v.1
        case .success(nil):
            Issue.record("incomplete packet in output: \(rest.prefix(8))", sourceLocation: sourceLocation)
            return out
        case .failure(let e):
            Issue.record("malformed packet in output: \(e) \(rest.prefix(8))", sourceLocation: sourceLocation)
            return out
        }
    }
    return out
}

/// An owned copy of a session event.
enum Ev: Equatable {
    case connected(Bool)
    case message(topic: [UInt8], payload: [UInt8], qos: UInt8, dup: Bool, retain: Bool, id: UInt16)
    case published(UInt16)
    case subscribed(UInt16, [UInt8])
    case unsubscribed(UInt16)
    case oversized(type: UInt8, length: Int, id: UInt16)
    case lost(UInt16)
    case abandoned(UInt16)
    case failed(SessionError)

    init(_ e: SessionEvent) {
        switch e {
        case .connected(let p): self = .connected(p)
        case .message(let v): self = .message(topic: Array(v.topic), payload: Array(v.payload), qos: v.qos.rawValue, dup: v.dup, retain: v.retain, id: v.packetID)
        case .published(let id): self = .published(id)
        case .subscribed(let id, let c): self = .subscribed(id, Array(c))
        case .unsubscribed(let id): self = .unsubscribed(id)
        case .oversizedPacketDropped(let t, let l, let id): self = .oversized(type: t, length: l, id: id)
        case .publicationLost(let id): self = .lost(id)
        case .subscriptionAbandoned(let id): self = .abandoned(id)
        case .connectionFailed(let e): self = .failed(e)
        }
    }

    static func msg(_ topic: String, _ payload: [UInt8], qos: UInt8 = 0, dup: Bool = false, retain: Bool = false, id: UInt16 = 0) -> Ev {
        .message(topic: utf8(topic), payload: payload, qos: qos, dup: dup, retain: retain, id: id)
    }
}

func pub(_ topic: String, _ payload: [UInt8], qos: UInt8 = 1, dup: Bool = false, retain: Bool = false, id: UInt16 = 0) -> Pkt {
    .publish(topic: utf8(topic), payload: payload, qos: qos, dup: dup, retain: retain, id: id)
}

// Server-to-client packets, encoded with PacketEncoder (its bytes are pinned by MQTTPacketTests).
func encoded(_ body: (UnsafeMutableRawBufferPointer) throws(PacketError) -> Int) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 1 << 17)
    let n: Int = b.withUnsafeMutableBytes { p in
        do throws(PacketError) { return try body(p) } catch { fatalError("encode: \(error)") }
    }
    return Array(b[0..<n])
}
func connackBytes(present: Bool = false, code: UInt8 = 0) -> [UInt8] { [0x20, 0x02, present ? 1 : 0, code] }
func pubackBytes(_ id: UInt16) -> [UInt8] { [0x40, 0x02, UInt8(id >> 8), UInt8(id & 0xFF)] }
func pubrelBytes(_ id: UInt16) -> [UInt8] { [0x62, 0x02, UInt8(id >> 8), UInt8(id & 0xFF)] }
func unsubackBytes(_ id: UInt16) -> [UInt8] { [0xB0, 0x02, UInt8(id >> 8), UInt8(id & 0xFF)] }
func subackBytes(_ id: UInt16, _ codes: [UInt8]) -> [UInt8] { [0x90, UInt8(2 + codes.count), UInt8(id >> 8), UInt8(id & 0xFF)] + codes }
func publishBytes(_ topic: String, _ payload: [UInt8], qos: QoS = .atMostOnce, dup: Bool = false, retain: Bool = false, id: UInt16 = 0) -> [UInt8] {
    let t = utf8(topic)
    return t.withUnsafeBytes { tb in
        payload.withUnsafeBytes { pb in
            encoded { (b) throws(PacketError) in try PacketEncoder.publish(topic: tb, payload: pb, qos: qos, retain: retain, dup: dup, packetID: id, into: b) }
        }
    }
}

func config(
    _ id: String = "A::ae1", keepAlive: UInt16 = 10, pingTimeout: Int = 5_000, connectTimeout: Int = 3_000,
    policy: SessionLossPolicy = .resend, user: String? = nil, password: String? = nil
) -> SessionConfiguration {
    SessionConfiguration(
        clientID: utf8(id), keepAliveSeconds: keepAlive, pingTimeoutMilliseconds: pingTimeout,
        connectTimeoutMilliseconds: connectTimeout, cleanSession: false, userName: user.map(utf8),
        password: password.map(utf8), sessionLossPolicy: policy)
}

func makeSession(_ c: SessionConfiguration = config(), _ caps: SessionCapacities = SessionCapacities()) -> MQTTSession {
    do { return try MQTTSession(configuration: c, capacities: caps) } catch { fatalError("session: \(error)") }
}

/// Takes everything the session queued (as if the transport wrote it all) and decodes it.
func sent(_ s: inout MQTTSession, now: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) -> [Pkt] {
    decodePackets(sentBytes(&s, now: now), sourceLocation: sourceLocation)
}

func sentBytes(_ s: inout MQTTSession, now: Int = 0) -> [UInt8] {
    let bytes = Array(s.pendingOutput)
    s.didSend(bytes.count, now: now)
    return bytes
}

/// Every event the session has ready.
func events(_ s: inout MQTTSession, now: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) -> [Ev] {
    var out: [Ev] = []
    while let e = s.nextEvent(now: now) {
        out.append(Ev(e))
        if out.count > 100_000 {
            Issue.record("nextEvent does not stop", sourceLocation: sourceLocation)
            break
        }
    }
    return out
}

/// Feeds `bytes` through `receiveBuffer`/`didReceive` in chunks of at most `chunk`, collecting
/// events after every chunk, as a transport loop would. Stops feeding after a connection failure.
func feed(_ s: inout MQTTSession, _ bytes: [UInt8], now: Int = 0, chunk: Int = .max, sourceLocation: SourceLocation = #_sourceLocation) -> [Ev] {
    var out: [Ev] = []
    var offset = 0
    while offset < bytes.count {
        let space = s.receiveBuffer()
        let n = min(space.count, bytes.count - offset, chunk)
        if n == 0 {
            let more = events(&s, now: now, sourceLocation: sourceLocation)
            out += more
            if more.isEmpty && s.receiveBuffer().isEmpty {
                Issue.record("receive buffer full and no progress", sourceLocation: sourceLocation)
                return out
            }
            continue
        }
        for i in 0..<n { space[i] = bytes[offset + i] }
        s.didReceive(n, now: now)
        offset += n
        let more = events(&s, now: now, sourceLocation: sourceLocation)
        out += more
        if more.contains(where: { if case .failed = $0 { return true } else { return false } }) { return out }
    }
    return out
}

/// Connects and accepts: returns the events of the CONNACK.
@discardableResult
func establish(_ s: inout MQTTSession, present: Bool = false, now: Int = 0, clean: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> [Ev] {
    do { try s.connect(now: now, cleanSession: clean) } catch { Issue.record("connect: \(error)", sourceLocation: sourceLocation) }
    let out = sent(&s, now: now, sourceLocation: sourceLocation)
    #expect(out.count == 1, sourceLocation: sourceLocation)
    if case .connect = out.first {} else { Issue.record("expected CONNECT, got \(out)", sourceLocation: sourceLocation) }
    return feed(&s, connackBytes(present: present), now: now, sourceLocation: sourceLocation)
}

@discardableResult
func publish(_ s: inout MQTTSession, _ topic: String, _ payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false, now: Int = 0) throws(SessionError) -> UInt16 {
    let t = utf8(topic)
    let r: Result<UInt16, SessionError> = t.withUnsafeBytes { tb in
        payload.withUnsafeBytes { pb in
            do throws(SessionError) { return .success(try s.publish(topic: tb, payload: pb, qos: qos, retain: retain, now: now)) } catch { return .failure(error) }
        }
    }
    return try r.get()
}

func sessionError<R>(_ body: () throws -> R) -> SessionError? {
    do {
        _ = try body()
        return nil
    } catch let e as SessionError {
        return e
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

// MARK: - Tests

@Suite("MQTTSession")
struct SessionTests {
    // MARK: Connecting

    @Test func connectWritesExactCONNECT() throws {
        var s = makeSession(config("A::ae1", keepAlive: 60))
        #expect(s.state == .disconnected)
        #expect(s.nextDeadline == nil)
        try s.connect(now: 0)
        #expect(s.state == .connecting)
        // Clean Session 0 (TS-0010 6.3), keep-alive 60, client id "A::ae1"
        #expect(Array(s.pendingOutput) == hex("10 12 00 04 4D 51 54 54 04 00 00 3C 00 06 41 3A 3A 61 65 31"))
        #expect(sessionError { try s.connect(now: 0) } == .alreadyConnected)

        var clean = makeSession(config("c", keepAlive: 5, user: "u", password: "pw"))
        try clean.connect(now: 0, cleanSession: true)
        #expect(Array(clean.pendingOutput) == hex("10 14 00 04 4D 51 54 54 04 C2 00 05 00 01 63 00 01 75 00 02 70 77"))
    }

    @Test func connectRejectsInvalidClientID() {
        var s = makeSession(SessionConfiguration(clientID: [0x61, 0x00]))
        #expect(sessionError { try s.connect(now: 0) } == .invalidArgument(.nullCharacter))
        #expect(s.state == .disconnected)
        var big = makeSession(SessionConfiguration(clientID: [UInt8](repeating: 0x61, count: 100)), SessionCapacities(transmitBytes: 64))
        #expect(sessionError { try big.connect(now: 0) } == .packetTooLarge(needed: 114))
    }

    @Test func invalidCapacitiesAreRejected() {
        #expect(sessionError { try MQTTSession(configuration: config(), capacities: SessionCapacities(transmitBytes: 8)) } == .invalidCapacities)
        #expect(sessionError { try MQTTSession(configuration: config(), capacities: SessionCapacities(inflight: 0)) } == .invalidCapacities)
        let caps = SessionCapacities(transmitBytes: 256, receiveBytes: 256, storeBytes: 512, inflight: 4)
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: caps.arenaBytes, alignment: 16)
        defer { arena.deallocate() }
        #expect(sessionError { _ = try MQTTSession(configuration: config(), capacities: caps, arena: UnsafeMutableRawBufferPointer(rebasing: arena[0..<(caps.arenaBytes - 1)])) } == .invalidCapacities)
        #expect(sessionError { _ = try MQTTSession(configuration: config(), capacities: caps, arena: UnsafeMutableRawBufferPointer(rebasing: arena[1...])) } == .invalidCapacities)
    }

    /// The arena layout uses wrapping sums: at the largest valid capacities it must still be
    /// exact (every piece in order, aligned, nothing wrapped), also with a 32-bit `Int`.
    @Test func arenaLayoutOfLargestValidCapacities() {
        let caps = SessionCapacities(
            transmitBytes: 1 << 28, receiveBytes: 1 << 28, storeBytes: 1 << 30, inflight: 4096,
            inboundHistory: 4096, pendingSubscriptions: 64)
        #expect(caps.isValid)
        // Outbound, pending, history and QoS 2 records (an inbound record holds a word-sized digest).
        let inbound = MemoryLayout<Int>.size == 8 ? 16 : 8
        let tables = 4096 * 16 + 64 * 8 + 2 * 4096 * inbound
        #expect(caps.arenaBytes == tables + (1 << 28) + (1 << 28) + (1 << 30))
        #expect(caps.arenaBytes < Int(Int32.max))
        #expect(SessionCapacities(transmitBytes: 17, receiveBytes: 17, storeBytes: 0, inflight: 1, inboundHistory: 1, pendingSubscriptions: 1).arenaBytes
            == 16 + 8 + 2 * inbound + 24 + 24)  // records, buffers 17 (+7 to align) + 17 (+7) + 0
    }

    @Test func sessionOverCallerArenaWorks() throws {
        let caps = SessionCapacities(transmitBytes: 256, receiveBytes: 256, storeBytes: 512, inflight: 4)
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: caps.arenaBytes, alignment: 16)
        defer { arena.deallocate() }
        // A reused static buffer holds anything: the session must start with empty tables.
        arena.initializeMemory(as: UInt8.self, repeating: 0xFF)
        var s = try MQTTSession(configuration: config(), capacities: caps, arena: arena)
        #expect(s.inflightCount == 0 && !s.isInflight(0xFFFF))
        #expect(establish(&s) == [.connected(false)])
        #expect(events(&s).isEmpty)  // no stale lost-publication or abandoned-subscription reports
        let id = try publish(&s, "t", [1, 2, 3])
        #expect(sent(&s) == [pub("t", [1, 2, 3], id: id)])
        #expect(s.inflightCount == 1)
    }

    @Test func connackAccepted() {
        var s = makeSession()
        #expect(establish(&s) == [.connected(false)])
        #expect(s.state == .connected)
        var p = makeSession()
        #expect(establish(&p, present: true) == [.connected(true)])
    }

    @Test(arguments: [
        (UInt8(1), ConnectReturnCode.unacceptableProtocolVersion), (2, .identifierRejected), (3, .serverUnavailable),
        (4, .badUserNameOrPassword), (5, .notAuthorized),
    ])
    func connackRefused(code: UInt8, expected: ConnectReturnCode) throws {
        var s = makeSession()
        try s.connect(now: 0)
        _ = sent(&s)
        #expect(feed(&s, connackBytes(code: code)) == [.failed(.connectionRefused(expected))])
        #expect(s.state == .disconnected)
        #expect(s.nextDeadline == nil)
        // The session can connect again afterwards.
        #expect(establish(&s, now: 10) == [.connected(false)])
    }

    @Test func connackTimeout() throws {
        var s = makeSession(config(connectTimeout: 3_000))
        try s.connect(now: 1_000)
        _ = sent(&s, now: 1_000)
        #expect(s.nextDeadline == 4_000)
        #expect(events(&s, now: 3_999) == [])
        #expect(events(&s, now: 4_000) == [.failed(.connectTimedOut)])
        #expect(s.state == .disconnected)
        #expect(events(&s, now: 9_000) == [])
    }

    @Test func secondCONNACKIsUnexpected() {
        var s = makeSession()
        establish(&s)
        #expect(feed(&s, connackBytes()) == [.failed(.unexpectedPacket(type: 2))])
    }

    @Test func publishBeforeCONNACKIsUnexpected() throws {
        var s = makeSession()
        try s.connect(now: 0)
        _ = sent(&s)
        #expect(feed(&s, publishBytes("a", [1])) == [.failed(.unexpectedPacket(type: 3))])
        #expect(s.state == .disconnected)
    }

    // MARK: Subscriptions

    @Test func subscribeAndSUBACKMatching() throws {
        var s = makeSession()
        #expect(sessionError { try s.subscribe([TopicSubscription("a/#")], now: 0) } == .notConnected)
        establish(&s)
        let id = try s.subscribe([TopicSubscription("/oneM2M/req/+/ae1/#"), TopicSubscription("x/+/y", qos: .atMostOnce)], now: 0)
        #expect(id != 0)
        #expect(sent(&s) == [.subscribe(id, [utf8("/oneM2M/req/+/ae1/#"), utf8("x/+/y")], [1, 0])])
        // A SUBACK with another id is not ours: ignored, counted.
        #expect(feed(&s, subackBytes(id &+ 1, [1, 0])) == [])
        #expect(s.statistics.unknownAcknowledgements == 1)
        // 0x80 for a refused filter is reported as is.
        #expect(feed(&s, subackBytes(id, [1, 0x80])) == [.subscribed(id, [1, 0x80])])
        // A second SUBACK for the same id is no longer pending.
        #expect(feed(&s, subackBytes(id, [1, 0x80])) == [])
        #expect(s.statistics.unknownAcknowledgements == 2)
        #expect(s.state == .connected)
    }

    @Test func subackWithWrongCodeCountIsAProtocolViolation() throws {
        var s = makeSession()
        establish(&s)
        let id = try s.subscribe([TopicSubscription("a"), TopicSubscription("b")], now: 0)
        _ = sent(&s)
        #expect(feed(&s, subackBytes(id, [1])) == [.failed(.protocolViolation(.lengthMismatch))])
        #expect(s.state == .disconnected)
    }

    @Test func subackWithInvalidCodeIsAProtocolViolation() throws {
        var s = makeSession()
        establish(&s)
        let id = try s.subscribe([TopicSubscription("a")], now: 0)
        _ = sent(&s)
        // The failure ends the connection, which abandons the still-pending SUBSCRIBE.
        #expect(feed(&s, subackBytes(id, [3])) == [.failed(.protocolViolation(.invalidSubackCode(3))), .abandoned(id)])
    }

    @Test func unsubscribeAndUNSUBACKMatching() throws {
        var s = makeSession()
        establish(&s)
        let sub = try s.subscribe([TopicSubscription("a/+")], now: 0)
        let unsub = try s.unsubscribe([TopicSubscription("a/+"), TopicSubscription("b/#")], now: 0)
        #expect(sub != unsub)
        #expect(sent(&s) == [.subscribe(sub, [utf8("a/+")], [1]), .unsubscribe(unsub, [utf8("a/+"), utf8("b/#")])])
        // An UNSUBACK carrying the SUBSCRIBE's id does not complete the unsubscribe or the subscribe.
        #expect(feed(&s, unsubackBytes(sub)) == [])
        #expect(feed(&s, unsubackBytes(0x7777)) == [])
        #expect(s.statistics.unknownAcknowledgements == 2)
        #expect(feed(&s, unsubackBytes(unsub)) == [.unsubscribed(unsub)])
        #expect(feed(&s, subackBytes(sub, [1])) == [.subscribed(sub, [1])])
    }

    @Test func subscribeArgumentsAndCapacity() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 64, pendingSubscriptions: 2))
        establish(&s)
        #expect(sessionError { try s.subscribe([TopicSubscription("a/b#")], now: 0) } == .invalidArgument(.invalidTopicFilter))
        #expect(sessionError { try s.subscribe([], now: 0) } == .invalidArgument(.emptyPayload))
        #expect(sessionError { try s.subscribe([TopicSubscription(String(repeating: "x", count: 100))], now: 0) } == .packetTooLarge(needed: 107))
        let a = try s.subscribe([TopicSubscription("a")], now: 0)
        _ = try s.subscribe([TopicSubscription("b")], now: 0)
        #expect(sessionError { try s.subscribe([TopicSubscription("c")], now: 0) } == .busy)
        _ = sent(&s)
        #expect(feed(&s, subackBytes(a, [0])) == [.subscribed(a, [0])])
        #expect(throws: Never.self) { try s.subscribe([TopicSubscription("c")], now: 0) }
    }

    @Test func pendingSubscriptionsAreAbandonedOnConnectionLoss() throws {
        var s = makeSession()
        establish(&s)
        let a = try s.subscribe([TopicSubscription("a")], now: 0)
        let b = try s.unsubscribe([TopicSubscription("b")], now: 0)
        _ = sent(&s)
        s.connectionLost()
        #expect(sameElements(events(&s), [.abandoned(a), .abandoned(b)]))
        establish(&s, present: true)
        // A late SUBACK for the abandoned request is not reported.
        #expect(feed(&s, subackBytes(a, [1])) == [])
    }

    // MARK: Publishing

    @Test func publishQoS0() throws {
        var s = makeSession()
        #expect(sessionError { try publish(&s, "t", [1], qos: .atMostOnce) } == .notConnected)
        establish(&s)
        #expect(try publish(&s, "a/b", utf8("hi"), qos: .atMostOnce) == 0)
        #expect(try publish(&s, "a/b", [], qos: .atMostOnce, retain: true) == 0)
        #expect(sentBytes(&s) == hex("30 07 00 03 61 2F 62 68 69") + hex("31 05 00 03 61 2F 62"))
        #expect(s.inflightCount == 0)
    }

    @Test func publishArgumentsAreChecked() {
        var s = makeSession()
        establish(&s)
        #expect(sessionError { try publish(&s, "a/+", [1]) } == .invalidArgument(.wildcardInTopicName))
        #expect(sessionError { try publish(&s, "", [1]) } == .invalidArgument(.emptyTopic))
        #expect(sessionError { try publish(&s, "t", [1], qos: .exactlyOnce) } == .invalidArgument(.invalidQoS))
        #expect(Bool(!s.hasPendingOutput))
    }

    @Test func publishQoS1AndPUBACKFreesTheSlot() throws {
        var s = makeSession(config(), SessionCapacities(inflight: 2))
        establish(&s)
        let a = try publish(&s, "a/b", utf8("hi"))
        #expect(a == 1)
        #expect(sentBytes(&s) == hex("32 09 00 03 61 2F 62 00 01 68 69"))
        let b = try publish(&s, "t", [9], retain: true)
        #expect(b == 2)
        #expect(sent(&s) == [pub("t", [9], retain: true, id: 2)])
        #expect(s.inflightCount == 2 && s.isInflight(1) && s.isInflight(2))
        // Table full: busy, nothing queued.
        #expect(sessionError { try publish(&s, "t", [3]) } == .busy)
        #expect(Bool(!s.hasPendingOutput))
        // QoS 0 does not need a slot.
        #expect(try publish(&s, "t", [0], qos: .atMostOnce) == 0)
        _ = sent(&s)
        // PUBACK frees the slot: not sticky.
        #expect(feed(&s, pubackBytes(a)) == [.published(a)])
        #expect(!s.isInflight(a) && s.inflightCount == 1)
        let c = try publish(&s, "t", [3])
        #expect(c == 3)
        #expect(sent(&s) == [pub("t", [3], id: 3)])
        // Unknown and repeated PUBACKs are counted, not reported, and change nothing.
        #expect(feed(&s, pubackBytes(a) + pubackBytes(999)) == [])
        #expect(s.statistics.unknownAcknowledgements == 2)
        #expect(s.inflightCount == 2)
        #expect(feed(&s, pubackBytes(c) + pubackBytes(b)) == [.published(c), .published(b)])
        #expect(s.inflightCount == 0)
        #expect(s.state == .connected)
    }

    @Test func unexpectedPUBRECAndPUBCOMPAreCounted() throws {
        var s = makeSession()
        establish(&s)
        let id = try publish(&s, "t", [1])
        _ = sent(&s)
        #expect(feed(&s, [0x50, 2, 0, UInt8(id), 0x70, 2, 0, 9]) == [])
        #expect(s.statistics.unknownAcknowledgements == 2)
        #expect(Bool(s.isInflight(id)))
    }

    @Test func packetIdentifiersWrapAndSkipIdsInUse() throws {
        var s = makeSession(config(), SessionCapacities(inflight: 2))
        establish(&s)
        let held = try publish(&s, "t", [0])  // id 1 stays in flight throughout
        #expect(held == 1)
        let sub = try s.subscribe([TopicSubscription("x")], now: 0)  // id 2 stays pending
        #expect(sub == 2)
        _ = sent(&s)
        var seen = 0
        var last: UInt16 = 2
        for _ in 0..<70_000 {
            let id = try publish(&s, "t", [1])
            if id == 0 || id == held || id == sub {
                Issue.record("id \(id) reused while in use")
                return
            }
            if id <= last { seen += 1 }  // wrapped
            last = id
            s.didSend(s.pendingOutput.count, now: 0)
            guard case .published(id)? = s.nextEventAfter(pubackBytes(id)) else {
                Issue.record("no PUBACK for \(id)")
                return
            }
        }
        #expect(seen == 1)
        #expect(Bool(s.isInflight(held)))
    }

    // MARK: Inbound publications

    @Test func inboundQoS0IsDeliveredWithoutAnswer() {
        var s = makeSession()
        establish(&s)
        #expect(feed(&s, publishBytes("a/b", utf8("x"), retain: true)) == [.msg("a/b", utf8("x"), retain: true)])
        #expect(Bool(!s.hasPendingOutput))
        #expect(s.statistics.messagesDelivered == 1)
    }

    /// The duplicate digest hashes a machine word per step: a payload that differs from the
    /// remembered one in a single byte, at any position (every byte of the first words and of
    /// the byte-wise tail, lengths around the word size), is a new message; the same one is a
    /// duplicate.
    @Test func inboundQoS1DigestTellsEveryOneByteChange() {
        var s = makeSession()
        establish(&s)
        for length in [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24] {
            let original = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ length) }
            let id = UInt16(length)
            _ = feed(&s, publishBytes("d/t", original, qos: .atLeastOnce, id: id))
            _ = sent(&s)
            for at in 0..<length {
                var changed = original
                changed[at] ^= 0x01
                #expect(feed(&s, publishBytes("d/t", changed, qos: .atLeastOnce, dup: true, id: id)) == [.msg("d/t", changed, qos: 1, dup: true, id: id)])
                // Remembered now: put the original back as the last one seen.
                _ = feed(&s, publishBytes("d/t", original, qos: .atLeastOnce, dup: true, id: id))
                #expect(feed(&s, publishBytes("d/t", original, qos: .atLeastOnce, dup: true, id: id)) == [])
            }
            _ = sent(&s)
        }
    }

    @Test func inboundQoS1GetsPUBACKAndDuplicatesAreDroppedOnce() {
        var s = makeSession()
        establish(&s)
        #expect(feed(&s, publishBytes("req", [1, 2], qos: .atLeastOnce, id: 7)) == [.msg("req", [1, 2], qos: 1, id: 7)])
        #expect(sent(&s) == [.puback(7)])
        // Redelivery (DUP=1, same id, same content): acknowledged again, not delivered twice.
        #expect(feed(&s, publishBytes("req", [1, 2], qos: .atLeastOnce, dup: true, id: 7)) == [])
        #expect(sent(&s) == [.puback(7)])
        #expect(s.statistics.duplicatesDiscarded == 1)
        // DUP=1, same id, different content: a reused id, so a new message.
        #expect(feed(&s, publishBytes("req", [1, 3], qos: .atLeastOnce, dup: true, id: 7)) == [.msg("req", [1, 3], qos: 1, dup: true, id: 7)])
        #expect(sent(&s) == [.puback(7)])
        // Different topic, same payload and id: also new.
        #expect(feed(&s, publishBytes("reqq", [1, 3], qos: .atLeastOnce, dup: true, id: 7)) == [.msg("reqq", [1, 3], qos: 1, dup: true, id: 7)])
        _ = sent(&s)
        // DUP=0 with a previously seen id and content is a new publication (ids are reused).
        #expect(feed(&s, publishBytes("reqq", [1, 3], qos: .atLeastOnce, id: 7)) == [.msg("reqq", [1, 3], qos: 1, id: 7)])
        #expect(sent(&s) == [.puback(7)])
        #expect(s.statistics.messagesDelivered == 4)
    }

    @Test func inboundDuplicateAfterReconnectWithSessionIsDropped() {
        var s = makeSession()
        establish(&s)
        #expect(feed(&s, publishBytes("r", [5], qos: .atLeastOnce, id: 3)) == [.msg("r", [5], qos: 1, id: 3)])
        s.connectionLost()  // our PUBACK never left
        establish(&s, present: true)
        #expect(feed(&s, publishBytes("r", [5], qos: .atLeastOnce, dup: true, id: 3)) == [])
        #expect(sent(&s) == [.puback(3)])
        // Without a session the broker's ids start afresh: history is forgotten.
        s.connectionLost()
        establish(&s, present: false)
        #expect(feed(&s, publishBytes("r", [5], qos: .atLeastOnce, dup: true, id: 3)) == [.msg("r", [5], qos: 1, dup: true, id: 3)])
    }

    @Test func lostBrokerSessionForgetsEveryInboundRecord() throws {
        // Both tables full (the QoS 2 one ends where the transmit buffer starts in the arena),
        // then a reconnect without a broker session: every id is new again, in both tables, and
        // the CONNECT of a clean connect (written before the tables are cleared) is intact.
        let caps = SessionCapacities(inboundHistory: 3)
        var s = makeSession(config(), caps)
        establish(&s)
        for id: UInt16 in 1...3 {
            #expect(feed(&s, publishBytes("a", [UInt8(id)], qos: .atLeastOnce, id: id)) == [.msg("a", [UInt8(id)], qos: 1, id: id)])
            #expect(feed(&s, publishBytes("b", [UInt8(id)], qos: .exactlyOnce, id: 10 + id)) == [.msg("b", [UInt8(id)], qos: 2, id: 10 + id)])
        }
        _ = sent(&s)
        #expect(feed(&s, publishBytes("a", [3], qos: .atLeastOnce, dup: true, id: 3)) == [])
        #expect(feed(&s, publishBytes("b", [3], qos: .exactlyOnce, dup: true, id: 13)) == [])
        _ = sent(&s)
        s.connectionLost()
        establish(&s, present: false)
        for id: UInt16 in 1...3 {
            #expect(feed(&s, publishBytes("a", [UInt8(id)], qos: .atLeastOnce, dup: true, id: id)) == [.msg("a", [UInt8(id)], qos: 1, dup: true, id: id)])
            #expect(feed(&s, publishBytes("b", [UInt8(id)], qos: .exactlyOnce, dup: true, id: 10 + id)) == [.msg("b", [UInt8(id)], qos: 2, dup: true, id: 10 + id)])
        }
        _ = sent(&s)
        s.connectionLost()
        try s.connect(now: 0, cleanSession: true)
        #expect(sent(&s) == [.connect(clientID: utf8("A::ae1"), clean: true, keepAlive: 10, user: nil, password: nil)])
        #expect(feed(&s, connackBytes(present: false)) == [.connected(false)])
        #expect(feed(&s, publishBytes("a", [3], qos: .atLeastOnce, dup: true, id: 3)) == [.msg("a", [3], qos: 1, dup: true, id: 3)])
        #expect(feed(&s, publishBytes("b", [3], qos: .exactlyOnce, dup: true, id: 13)) == [.msg("b", [3], qos: 2, dup: true, id: 13)])
    }

    @Test func inboundQoS2ExactlyOnce() {
        var s = makeSession()
        establish(&s)
        #expect(feed(&s, publishBytes("q2", [1], qos: .exactlyOnce, id: 9)) == [.msg("q2", [1], qos: 2, id: 9)])
        #expect(sent(&s) == [.pubrec(9)])
        // Redelivered before PUBREL: PUBREC again, not delivered.
        #expect(feed(&s, publishBytes("q2", [1], qos: .exactlyOnce, dup: true, id: 9)) == [])
        #expect(sent(&s) == [.pubrec(9)])
        #expect(feed(&s, pubrelBytes(9)) == [])
        #expect(sent(&s) == [.pubcomp(9)])
        // After the release the id is free for a new message.
        #expect(feed(&s, publishBytes("q2", [2], qos: .exactlyOnce, id: 9)) == [.msg("q2", [2], qos: 2, id: 9)])
        #expect(sent(&s) == [.pubrec(9)])
        // PUBREL for an unknown id is still completed (MQTT 4.3.3).
        #expect(feed(&s, pubrelBytes(77)) == [])
        #expect(sent(&s) == [.pubcomp(77)])
        #expect(s.statistics.messagesDelivered == 2)
    }

    @Test func inboundWhileTransmitBufferFullWaitsForRoom() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 64))
        establish(&s)
        // Fill the transmit buffer so no PUBACK fits.
        _ = try publish(&s, "t", [UInt8](repeating: 1, count: 56), qos: .atMostOnce)
        let queued = s.pendingOutput.count
        #expect(queued == 61)
        #expect(feed(&s, publishBytes("r", [1], qos: .atLeastOnce, id: 4)) == [])
        // Once output drains, the packet is processed and acknowledged: nothing lost.
        s.didSend(queued, now: 0)
        #expect(events(&s) == [.msg("r", [1], qos: 1, id: 4)])
        #expect(sent(&s) == [.puback(4)])
    }

    // MARK: Keep-alive

    @Test func keepAliveDeadlinesAndPing() throws {
        var s = makeSession(config(keepAlive: 10, pingTimeout: 5_000))
        establish(&s, now: 0)
        #expect(s.nextDeadline == 10_000)
        _ = try publish(&s, "t", [1], qos: .atMostOnce, now: 3_000)
        _ = sent(&s, now: 3_000)
        _ = feed(&s, publishBytes("r", [1]), now: 4_000)
        #expect(s.nextDeadline == 13_000)  // min(last send 3000, last receive 4000) + 10 s
        #expect(events(&s, now: 12_999) == [])
        #expect(Bool(!s.hasPendingOutput))
        #expect(events(&s, now: 13_000) == [])
        #expect(sent(&s, now: 13_000) == [.pingreq])
        #expect(s.statistics.pingsSent == 1)
        #expect(s.nextDeadline == 18_000)  // PINGRESP due within the ping timeout
        // No second PINGREQ while one is outstanding.
        #expect(events(&s, now: 17_000) == [])
        #expect(Bool(!s.hasPendingOutput))
        #expect(feed(&s, [0xD0, 0x00], now: 17_500) == [])
        #expect(s.nextDeadline == 23_000)
        #expect(events(&s, now: 22_999) == [])
        #expect(Bool(!s.hasPendingOutput))
        #expect(events(&s, now: 23_000) == [])
        #expect(sent(&s, now: 23_000) == [.pingreq])
    }

    /// Timer arithmetic wraps, so a clock that passes Int.max keeps working (it used to trap).
    @Test func timersAcrossTheClockWrap() throws {
        let t0 = Int.max - 12_000
        var s = makeSession(config(keepAlive: 10, pingTimeout: 5_000))
        establish(&s, now: t0)
        #expect(s.nextDeadline == t0 + 10_000)
        #expect(events(&s, now: t0 + 9_999) == [])
        #expect(Bool(!s.hasPendingOutput))
        #expect(events(&s, now: t0 + 10_000) == [])
        #expect(sent(&s, now: t0 + 10_000) == [.pingreq])
        #expect(s.nextDeadline == t0 &+ 15_000)  // past Int.max
        #expect(feed(&s, [0xD0, 0x00], now: t0 &+ 14_000) == [])
        // Keep-alive from the earlier of last send (t0 + 10 s) and last receive (t0 + 14 s, wrapped).
        #expect(s.nextDeadline == t0 &+ 20_000)
        #expect(events(&s, now: t0 &+ 19_999) == [])
        #expect(Bool(!s.hasPendingOutput))
        #expect(events(&s, now: t0 &+ 20_000) == [])
        #expect(sent(&s, now: t0 &+ 20_000) == [.pingreq])
        #expect(events(&s, now: t0 &+ 24_999) == [])
        #expect(events(&s, now: t0 &+ 25_000) == [.failed(.pingTimedOut)])
    }

    /// A huge timeout ("never") is used as 2^40 ms: its deadline lies ahead even next to the
    /// clock's wrap, so the loop is not woken at once over and over, and nothing times out early.
    @Test func hugeTimeoutsAreBounded() throws {
        let t0 = Int.max - 12_000
        var s = makeSession(config(keepAlive: 10, pingTimeout: Int.max))
        establish(&s, now: t0)
        #expect(events(&s, now: t0 + 10_000) == [])
        #expect(sent(&s, now: t0 + 10_000) == [.pingreq])
        let deadline = s.nextDeadline ?? 0
        #expect(deadline &- (t0 + 10_000) == 1 << 40)
        #expect(events(&s, now: t0 &+ 3_600_000) == [])  // an hour later: still waiting
        #expect(s.state == .connected)
        #expect(events(&s, now: (t0 + 10_000) &+ (1 << 40)) == [.failed(.pingTimedOut)])
    }

    @Test func pingTimeout() throws {
        var s = makeSession(config(keepAlive: 10, pingTimeout: 5_000))
        establish(&s)
        #expect(events(&s, now: 10_000) == [])
        #expect(sent(&s, now: 10_000) == [.pingreq])
        // Other traffic does not stand in for the PINGRESP.
        #expect(feed(&s, publishBytes("r", [1]), now: 12_000) == [.msg("r", [1])])
        #expect(events(&s, now: 14_999) == [])
        #expect(events(&s, now: 15_000) == [.failed(.pingTimedOut)])
        #expect(s.state == .disconnected)
    }

    @Test func pingDueOnSilentBrokerEvenWhileSending() throws {
        var s = makeSession(config(keepAlive: 10))
        establish(&s)
        for t in stride(from: Int(2_000), through: 8_000, by: 2_000) {
            _ = try publish(&s, "t", [1], qos: .atMostOnce, now: t)
            _ = sent(&s, now: t)
            #expect(events(&s, now: t) == [])
        }
        #expect(events(&s, now: 9_999) == [])
        #expect(Bool(!s.hasPendingOutput))
        #expect(s.nextDeadline == 10_000)  // last receive 0
        #expect(events(&s, now: 10_000) == [])
        #expect(sent(&s, now: 10_000) == [.pingreq])
    }

    @Test func pingDueOnQuietClientEvenWhileReceiving() {
        var s = makeSession(config(keepAlive: 10))
        establish(&s)
        for t in stride(from: Int(2_000), through: 8_000, by: 2_000) {
            #expect(feed(&s, publishBytes("r", [1]), now: t).count == 1)
        }
        #expect(s.nextDeadline == 10_000)  // last send 0
        #expect(events(&s, now: 10_000) == [])
        #expect(sent(&s, now: 10_000) == [.pingreq])
    }

    @Test func pingSentWhenNextEventIsCalledRarely() {
        var s = makeSession(config(keepAlive: 10, pingTimeout: 5_000))
        establish(&s)
        // Called once, ten keep-alive periods late: exactly one PINGREQ, and the ping timeout
        // counts from now, not from when the ping was first due.
        #expect(events(&s, now: 100_000) == [])
        #expect(sent(&s, now: 100_000) == [.pingreq])
        #expect(s.nextDeadline == 105_000)
        // Called rarely again: the missing PINGRESP is noticed on the very next call.
        #expect(events(&s, now: 1_000_000) == [.failed(.pingTimedOut)])
    }

    @Test func lateNextEventStillSeesAPINGRESPThatArrived() {
        var s = makeSession(config(keepAlive: 10, pingTimeout: 5_000))
        establish(&s)
        #expect(events(&s, now: 10_000) == [])
        _ = sent(&s, now: 10_000)
        // PINGRESP arrived in time, but nextEvent runs only long after the timeout.
        let space = s.receiveBuffer()
        space[0] = 0xD0
        space[1] = 0x00
        s.didReceive(2, now: 11_000)
        #expect(events(&s, now: 30_000) == [])
        #expect(s.state == .connected)
    }

    @Test func keepAliveZeroDisablesPings() {
        var s = makeSession(config(keepAlive: 0))
        establish(&s)
        #expect(s.nextDeadline == nil)
        #expect(events(&s, now: 10_000_000) == [])
        #expect(Bool(!s.hasPendingOutput))
    }

    @Test func disconnectQueuesDISCONNECTAndNeedsNoTimer() throws {
        var s = makeSession(config(keepAlive: 10))
        establish(&s)
        s.disconnect()
        #expect(s.state == .disconnecting)
        #expect(sent(&s, now: 1_000) == [.disconnect])
        // Nothing more is due from a disconnecting session (no PINGREQ, no spinning on a
        // deadline that nextEvent never clears).
        #expect(events(&s, now: 50_000) == [])
        #expect(Bool(!s.hasPendingOutput))
        if let d = s.nextDeadline { #expect(d > 50_000) }
        s.connectionLost()
        #expect(s.state == .disconnected)
        #expect(s.nextDeadline == nil)
    }

    // MARK: Replay

    @Test func replayWithSessionPresentKeepsOrderIdsAndSetsDUP() throws {
        var s = makeSession()
        establish(&s)
        var ids: [UInt16] = []
        for i in 0..<4 { ids.append(try publish(&s, "t/\(i)", [UInt8(i)])) }
        #expect(ids == [1, 2, 3, 4])
        #expect(sent(&s).map(\.isDup) == [false, false, false, false])
        #expect(feed(&s, pubackBytes(2)) == [.published(2)])
        s.connectionLost()
        #expect(s.inflightCount == 3)
        try s.connect(now: 100)
        // Nothing is replayed before the broker has answered.
        #expect(sent(&s).count == 1)
        #expect(feed(&s, connackBytes(present: true)) == [.connected(true)])
        #expect(sent(&s) == [pub("t/0", [0], dup: true, id: 1), pub("t/2", [2], dup: true, id: 3), pub("t/3", [3], dup: true, id: 4)])
        #expect(s.statistics.publicationsReplayed == 3)
        // Lose it again before any PUBACK: the same three again.
        s.connectionLost()
        establish(&s, present: true)
        #expect(sent(&s) == [pub("t/0", [0], dup: true, id: 1), pub("t/2", [2], dup: true, id: 3), pub("t/3", [3], dup: true, id: 4)])
        #expect(feed(&s, pubackBytes(1) + pubackBytes(3) + pubackBytes(4)) == [.published(1), .published(3), .published(4)])
        #expect(s.inflightCount == 0)
    }

    @Test func replayWithSessionAbsentUnderResendUsesDUP0() throws {
        var s = makeSession(config(policy: .resend))
        establish(&s)
        for i in 0..<3 { _ = try publish(&s, "t", [UInt8(i)]) }
        _ = sent(&s)
        s.connectionLost()
        #expect(establish(&s, present: false) == [.connected(false)])
        #expect(sent(&s) == [pub("t", [0], id: 1), pub("t", [1], id: 2), pub("t", [2], id: 3)])
        // Now they were sent in this broker session: a further loss with session replays DUP=1.
        s.connectionLost()
        establish(&s, present: true)
        #expect(sent(&s) == [pub("t", [0], dup: true, id: 1), pub("t", [1], dup: true, id: 2), pub("t", [2], dup: true, id: 3)])
    }

    @Test func sessionAbsentUnderReportLostReportsAndFrees() throws {
        var s = makeSession(config(policy: .reportLost), SessionCapacities(inflight: 3))
        establish(&s)
        for i in 0..<3 { _ = try publish(&s, "t", [UInt8(i)]) }
        _ = sent(&s)
        #expect(sessionError { try publish(&s, "t", [9]) } == .busy)
        s.connectionLost()
        let evs = establish(&s, present: false)
        #expect(evs.first == .connected(false))
        #expect(sameElements(Array(evs.dropFirst()), [.lost(1), .lost(2), .lost(3)]))
        #expect(evs.count == 4)
        #expect(Bool(!s.hasPendingOutput))  // nothing replayed
        #expect(s.inflightCount == 0)
        // Slots are free again.
        for _ in 0..<3 { _ = try publish(&s, "t", [7]) }
        #expect(sent(&s).count == 3)
    }

    @Test func cleanSessionConnectReportsStoredPublicationsLost() throws {
        var s = makeSession()
        establish(&s)
        let a = try publish(&s, "t", [1])
        let b = try publish(&s, "t", [2])
        _ = sent(&s)
        s.connectionLost()
        try s.connect(now: 0, cleanSession: true)
        #expect(sent(&s) == [.connect(clientID: utf8("A::ae1"), clean: true, keepAlive: 10, user: nil, password: nil)])
        #expect(sameElements(events(&s), [.lost(a), .lost(b)]))
        #expect(feed(&s, connackBytes(present: false)) == [.connected(false)])
        #expect(Bool(!s.hasPendingOutput))
        #expect(s.inflightCount == 0)
    }

    @Test func publishWhileDisconnectedIsSentAfterCONNACKInOrder() throws {
        var s = makeSession()
        establish(&s)
        let a = try publish(&s, "t", [1])
        _ = sent(&s)
        s.connectionLost()
        let b = try publish(&s, "t", [2])  // stored while disconnected
        #expect(Bool(!s.hasPendingOutput))
        try s.connect(now: 0)
        let c = try publish(&s, "t", [3])  // stored while connecting
        #expect(sent(&s).count == 1)  // CONNECT only
        #expect(feed(&s, connackBytes(present: true)) == [.connected(true)])
        #expect(sent(&s) == [pub("t", [1], dup: true, id: a), pub("t", [2], id: b), pub("t", [3], id: c)])
        // A publication after CONNACK goes straight out, behind them.
        let d = try publish(&s, "t", [4])
        #expect(sent(&s) == [pub("t", [4], id: d)])
    }

    @Test func publishBeforeFirstConnectIsSentEvenUnderReportLost() throws {
        // Never sent to any broker, so it cannot be a duplicate: the first CONNACK (which has
        // no session) must send it, not report it lost.
        var s = makeSession(config(policy: .reportLost))
        let a = try publish(&s, "t", [1])
        #expect(establish(&s, present: false) == [.connected(false)])
        #expect(sent(&s) == [pub("t", [1], id: a)])
    }

    @Test func replayWaitsForTransmitRoomAndKeepsOrder() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 128, storeBytes: 1024, inflight: 8))
        establish(&s)
        var ids: [UInt16] = []
        for i in 0..<6 {
            ids.append(try publish(&s, "t", [UInt8](repeating: UInt8(i), count: 40)))
            _ = sent(&s)
        }
        s.connectionLost()
        #expect(establish(&s, present: true) == [.connected(true)])
        // Only two 47-byte packets fit the 128-byte transmit buffer at a time.
        var replayed: [Pkt] = []
        for _ in 0..<10 where s.hasPendingOutput {
            let batch = sent(&s)
            #expect(batch.count <= 2)
            replayed += batch
        }
        #expect(replayed.map(\.publishID) == ids.map { $0 })
        #expect(replayed.allSatisfy { $0.isDup })
    }

    @Test func newPublicationWaitsBehindUnsentReplays() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 128, storeBytes: 1024, inflight: 8))
        establish(&s)
        for i in 0..<4 {
            _ = try publish(&s, "t", [UInt8](repeating: UInt8(i), count: 40))
            _ = sent(&s)
        }
        s.connectionLost()
        establish(&s, present: true)
        let late = try publish(&s, "t", [9])
        var order: [UInt16] = []
        for _ in 0..<6 { order += sent(&s).compactMap(\.publishID) }
        #expect(order == [1, 2, 3, 4, late])
    }

    /// The session writes PUBLISH itself (fixed header after the variable header, then slid
    /// into place); its bytes must equal `PacketEncoder.publish`'s for every Remaining Length
    /// size (1 to 4 bytes, each boundary on both sides), QoS 0 and 1, live and from the store.
    @Test func publishBytesMatchTheEncoderAtEveryLengthBoundary() throws {
        let caps = SessionCapacities(transmitBytes: 1 << 22, receiveBytes: 64, storeBytes: 1 << 22, inflight: 2)
        var s = makeSession(config(), caps)
        establish(&s)
        let topic = utf8("a/b")
        // Remaining Length = 2 + 3 + (2 for QoS 1) + payload; boundaries at 128, 16_384, 2_097_152.
        for boundary in [0, 128, 16_384, 2_097_152] {
            for delta in -3...2 {
                for qos in [QoS.atMostOnce, .atLeastOnce] {
                    let overhead = 5 + (qos == .atLeastOnce ? 2 : 0)
                    let size = boundary + delta - overhead
                    if size < 0 { continue }
                    let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: size), count: size)
                    for live in [true, false] {
                        if !live && qos == .atMostOnce { continue }
                        if !live { s.connectionLost() }
                        let id = try publish(&s, "a/b", payload, qos: qos, retain: size % 2 == 0)
                        if !live { establish(&s, present: true) }
                        var expected = [UInt8](repeating: 0, count: size + overhead + 5)
                        let n = try topic.withUnsafeBytes { t in
                            try payload.withUnsafeBytes { p in
                                try expected.withUnsafeMutableBytes { out in
                                    try PacketEncoder.publish(topic: t, payload: p, qos: qos, retain: size % 2 == 0, packetID: id, into: out)
                                }
                            }
                        }
                        #expect(sentBytes(&s) == Array(expected[0..<n]), "payload \(size), qos \(qos.rawValue), live \(live)")
                        if qos == .atLeastOnce { #expect(feed(&s, pubackBytes(id)) == [.published(id)]) }
                    }
                }
            }
        }
    }

    // MARK: Back-pressure

    @Test func storeFullIsBusyAndClears() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 4096, storeBytes: 1024, inflight: 16))
        establish(&s)
        let payload = [UInt8](repeating: 0xAB, count: 300)  // 308-byte packets
        var ids: [UInt16] = []
        for _ in 0..<3 {
            ids.append(try publish(&s, "t", payload))
            _ = sent(&s)
        }
        #expect(sessionError { try publish(&s, "t", payload) } == .busy)
        #expect(s.inflightCount == 3)
        #expect(Bool(!s.hasPendingOutput))
        #expect(feed(&s, pubackBytes(ids[0]) + pubackBytes(ids[1])) == [.published(ids[0]), .published(ids[1])])
        let next = try publish(&s, "t", payload)
        #expect(sent(&s) == [pub("t", payload, id: next)])
        // The ring wraps: replay after a loss still gives the right bytes.
        s.connectionLost()
        establish(&s, present: true)
        #expect(sent(&s) == [pub("t", payload, dup: true, id: ids[2]), pub("t", payload, dup: true, id: next)])
    }

    @Test func transmitBufferFullIsBusyAndClearsAfterDidSend() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 128, storeBytes: 4096))
        establish(&s)
        let payload = [UInt8](repeating: 1, count: 50)  // 55-byte QoS 0 packets
        try publish(&s, "t", payload, qos: .atMostOnce)
        try publish(&s, "t", payload, qos: .atMostOnce)
        #expect(sessionError { try publish(&s, "t", payload, qos: .atMostOnce) } == .busy)
        #expect(sessionError { try publish(&s, "t", payload) } == .busy)
        #expect(s.inflightCount == 0)  // a refused QoS 1 publication takes no slot
        // Partial write: room for one more appears only after enough is sent.
        s.didSend(20, now: 0)
        #expect(sessionError { try publish(&s, "t", payload, qos: .atMostOnce) } == .busy)
        s.didSend(35, now: 0)  // the first packet is out
        try publish(&s, "t", payload, qos: .atMostOnce)
        #expect(sent(&s) == [pub("t", payload, qos: 0), pub("t", payload, qos: 0)])
        let id = try publish(&s, "t", payload)
        #expect(sent(&s) == [pub("t", payload, id: id)])
    }

    @Test func packetLargerThanBuffersIsTooLarge() throws {
        var small = makeSession(config(), SessionCapacities(transmitBytes: 128, storeBytes: 4096))
        establish(&small)
        // 1 + 2 + 3 + 200 = 206 bytes > 128-byte transmit buffer, at either QoS.
        #expect(sessionError { try publish(&small, "t", [UInt8](repeating: 0, count: 200), qos: .atMostOnce) } == .packetTooLarge(needed: 206))
        #expect(sessionError { try publish(&small, "t", [UInt8](repeating: 0, count: 200)) } == .packetTooLarge(needed: 208))
        // Even while the transmit buffer is partly full, an impossible packet is not "busy".
        try publish(&small, "t", [1, 2, 3], qos: .atMostOnce)
        #expect(sessionError { try publish(&small, "t", [UInt8](repeating: 0, count: 200), qos: .atMostOnce) } == .packetTooLarge(needed: 206))
        _ = sent(&small)

        var tinyStore = makeSession(config(), SessionCapacities(transmitBytes: 4096, storeBytes: 64))
        establish(&tinyStore)
        #expect(sessionError { try publish(&tinyStore, "t", [UInt8](repeating: 0, count: 100)) } == .packetTooLarge(needed: 107))
        #expect(tinyStore.inflightCount == 0)
        // QoS 0 does not use the store.
        try publish(&tinyStore, "t", [UInt8](repeating: 0, count: 100), qos: .atMostOnce)
        // Something that fits the store works.
        let id = try publish(&tinyStore, "t", [1])
        #expect(sent(&tinyStore).last == pub("t", [1], id: id))
        // Also while disconnected (stored directly).
        tinyStore.connectionLost()
        #expect(sessionError { try publish(&tinyStore, "t", [UInt8](repeating: 0, count: 100)) } == .packetTooLarge(needed: 107))
    }

    @Test func zeroCopyPublish() throws {
        var s = makeSession(config(), SessionCapacities(transmitBytes: 256, storeBytes: 1024))
        establish(&s)
        let t = utf8("z")
        let id = try t.withUnsafeBytes { tb in
            try s.publish(topic: tb, now: 0) { space in
                for i in 0..<5 { space[i] = UInt8(i) }
                return 5
            }
        }
        #expect(sent(&s) == [pub("z", [0, 1, 2, 3, 4], id: id)])
        // A writer that cannot fit asks for more than the buffer can ever give.
        let e = t.withUnsafeBytes { tb in sessionError { try s.publish(topic: tb, now: 0) { _ in nil } } }
        if case .packetTooLarge = e {} else { Issue.record("expected packetTooLarge, got \(String(describing: e))") }
        #expect(s.inflightCount == 1)  // only the first
        // A writer claiming more than the space it got is refused.
        let lie = t.withUnsafeBytes { tb in sessionError { try s.publish(topic: tb, now: 0) { space in space.count + 1 } } }
        #expect(lie != nil)
        #expect(s.inflightCount == 1)
        #expect(Bool(!s.hasPendingOutput))
    }

    // MARK: Oversized inbound packets

    @Test func oversizedQoS1IsDrainedAcknowledgedAndReported() {
        var s = makeSession(config(), SessionCapacities(receiveBytes: 64))
        establish(&s)
        let big = publishBytes("big", [UInt8](repeating: 0x42, count: 200), qos: .atLeastOnce, id: 0x0102)
        #expect(big.count == 210)
        let next = publishBytes("ok", [1], qos: .atLeastOnce, id: 5)
        let evs = feed(&s, big + next, chunk: 20)
        #expect(evs == [.oversized(type: 3, length: 210, id: 0x0102), .msg("ok", [1], qos: 1, id: 5)])
        #expect(sent(&s) == [.puback(0x0102), .puback(5)])
        #expect(s.statistics.oversizedDropped == 1)
        #expect(s.state == .connected)
    }

    @Test func oversizedQoS1ArrivingByteByByteWaitsForItsIdentifier() {
        // Every stage of the wait: no topic length yet, half of it, part of the topic, half of
        // the identifier.
        var s = makeSession(config(), SessionCapacities(receiveBytes: 32))
        establish(&s)
        let big = publishBytes("a/b/c", [UInt8](repeating: 9, count: 60), qos: .atLeastOnce, id: 0xA1B2)
        let evs = feed(&s, big + publishBytes("ok", [4], qos: .atLeastOnce, id: 6), chunk: 1)
        #expect(evs == [.oversized(type: 3, length: big.count, id: 0xA1B2), .msg("ok", [4], qos: 1, id: 6)])
        #expect(sent(&s) == [.puback(0xA1B2), .puback(6)])
        #expect(s.state == .connected)
    }

    @Test func oversizedQoS0IsDrainedAndReported() {
        var s = makeSession(config(), SessionCapacities(receiveBytes: 32))
        establish(&s)
        let big = publishBytes("big", [UInt8](repeating: 7, count: 1000))
        let evs = feed(&s, big + publishBytes("ok", [2]), chunk: 7)
        #expect(evs == [.oversized(type: 3, length: big.count, id: 0), .msg("ok", [2])])
        #expect(Bool(!s.hasPendingOutput))
    }

    @Test func oversizedQoS1DeliveredInOneGulp() {
        // The whole packet plus the next arrive in reads as big as the buffer allows.
        var s = makeSession(config(), SessionCapacities(receiveBytes: 64))
        establish(&s)
        let big = publishBytes("big", [UInt8](repeating: 1, count: 500), qos: .atLeastOnce, id: 77)
        let evs = feed(&s, big + publishBytes("ok", [3]) + pubackBytes(999))
        #expect(evs == [.oversized(type: 3, length: big.count, id: 77), .msg("ok", [3])])
        #expect(sent(&s) == [.puback(77)])
    }

    @Test func oversizedQoS2GetsPUBREC() {
        var s = makeSession(config(), SessionCapacities(receiveBytes: 32))
        establish(&s)
        let big = publishBytes("big", [UInt8](repeating: 1, count: 100), qos: .exactlyOnce, id: 12)
        #expect(feed(&s, big, chunk: 10) == [.oversized(type: 3, length: big.count, id: 12)])
        #expect(sent(&s) == [.pubrec(12)])
        #expect(feed(&s, pubrelBytes(12)) == [])
        #expect(sent(&s) == [.pubcomp(12)])
    }

    @Test func oversizedQoS1WhoseIdDoesNotFitClosesTheConnection() {
        var s = makeSession(config(), SessionCapacities(receiveBytes: 32))
        establish(&s)
        let big = publishBytes(String(repeating: "t", count: 40), [1], qos: .atLeastOnce, id: 3)
        let evs = feed(&s, big, chunk: 8)
        #expect(evs == [.failed(.packetTooLarge(needed: big.count))])
        #expect(s.state == .disconnected)
    }

    @Test func oversizedFixedSizePacketIsAProtocolViolation() {
        // A PUBACK announcing 5000 bytes is malformed, not a big message to skip.
        var s = makeSession(config(), SessionCapacities(receiveBytes: 32))
        establish(&s)
        #expect(feed(&s, [0x40, 0x88, 0x27, 0x00, 0x01]) == [.failed(.protocolViolation(.lengthMismatch))])
        var p = makeSession(config(), SessionCapacities(receiveBytes: 32))
        establish(&p)
        #expect(feed(&p, [0xD0, 0x40]) == [.failed(.protocolViolation(.lengthMismatch))])
    }

    // MARK: Malformed and unexpected packets

    @Test(arguments: [
        ("30 FF FF FF FF 7F", PacketError.malformedRemainingLength),
        ("41 02 00 01", .invalidFlags(type: 4, flags: 1)),
        ("60 02 00 01", .invalidFlags(type: 6, flags: 0)),
        ("D1 00", .invalidFlags(type: 13, flags: 1)),
        ("36 05 00 01 74 00 01", .invalidQoS),
        ("38 03 00 01 74", .invalidQoS),
        ("30 05 00 03 61 C0 AF", .invalidUTF8),
        ("30 06 00 04 61 ED A0 80", .invalidUTF8),
        ("30 05 00 03 61 00 62", .nullCharacter),
        ("30 05 00 03 61 2F 2B", .wildcardInTopicName),
        ("32 05 00 01 74 00 00", .zeroPacketIdentifier),
        ("40 02 00 00", .zeroPacketIdentifier),
        ("40 03 00 01 00", .lengthMismatch),
        ("D0 01 00", .lengthMismatch),
        ("F0 00", .reservedPacketType(15)),
        ("00 00", .reservedPacketType(0)),
        ("30 03 00 05 61", .truncated),
        // Each type's body is checked before the session looks at its state (a CONNACK while
        // connected, a SUBACK of nothing pending): the malformation is what is reported.
        ("20 02 02 00", .reservedBitsSet),
        ("20 02 01 05", .reservedBitsSet),
        ("20 02 00 06", .invalidReturnCode(6)),
        ("20 03 00 00 00", .lengthMismatch),
        ("90 03 00 09 03", .invalidSubackCode(3)),
        ("90 02 00 09", .emptyPayload),
        ("90 01 00", .truncated),
        ("B0 02 00 00", .zeroPacketIdentifier),
        ("70 01 00", .lengthMismatch),
    ])
    func malformedPacketFromServer(_ h: String, _ expected: PacketError) throws {
        var s = makeSession()
        establish(&s)
        let id = try publish(&s, "t", [1])
        _ = sent(&s)
        #expect(feed(&s, hex(h) + pubackBytes(id)) == [.failed(.protocolViolation(expected))])
        #expect(s.state == .disconnected)
        #expect(Bool(!s.hasPendingOutput))
        // The publication survives for the next connection.
        #expect(Bool(s.isInflight(id)))
    }

    @Test(arguments: [
        ("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63", UInt8(1)),
        ("82 06 00 01 00 01 23 00", 8),
        ("A2 05 00 01 00 01 23", 10),
        ("C0 00", 12),
        ("E0 00", 14),
    ])
    func serverOnlyPacketIsUnexpected(_ h: String, _ type: UInt8) {
        var s = makeSession()
        establish(&s)
        #expect(feed(&s, hex(h)) == [.failed(.unexpectedPacket(type: type))])
        #expect(s.state == .disconnected)
    }

    @Test func randomServerBytesNeverTrap() {
        var rng = SeededRandom(seed: 0xBAD_5EED)
        let seeds: [[UInt8]] = [
            publishBytes("a/b", [1, 2, 3], qos: .atLeastOnce, id: 5), publishBytes("x", [], retain: true),
            publishBytes("q", [9], qos: .exactlyOnce, id: 6), pubackBytes(1), pubrelBytes(6), subackBytes(1, [1, 0x80]),
            unsubackBytes(2), [0xD0, 0], publishBytes("big", [UInt8](repeating: 1, count: 90), qos: .atLeastOnce, id: 8),
        ]
        var failures = 0, delivered = 0
        for round in 0..<3_000 {
            var s = makeSession(config(), SessionCapacities(transmitBytes: 64, receiveBytes: 48, storeBytes: 256, inflight: 4))
            establish(&s)
            _ = try? publish(&s, "t", [1])
            _ = sent(&s)
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                var p = seeds.randomElement(using: &rng)!
                if Int.random(in: 0..<3, using: &rng) == 0, !p.isEmpty {
                    p[Int.random(in: 0..<p.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Int.random(in: 0..<8, using: &rng) == 0 { p = (0..<Int.random(in: 1...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
                stream += p
            }
            let evs = feed(&s, stream, now: Int(round), chunk: Int.random(in: 1...64, using: &rng))
            _ = sent(&s)
            for e in evs {
                if case .failed = e { failures += 1 }
                if case .message = e { delivered += 1 }
            }
        }
        #expect(failures > 100)
        #expect(delivered > 1_000)
    }
}

/// Same elements, any order.
func sameElements(_ a: [Ev], _ b: [Ev]) -> Bool {
    var rest = b
    for x in a {
        guard let i = rest.firstIndex(of: x) else { return false }
        rest.remove(at: i)
    }
    return rest.isEmpty
}

extension MQTTSession {
    /// Feeds one small packet and returns the first event.
    mutating func nextEventAfter(_ bytes: [UInt8]) -> SessionEvent? {
        let space = receiveBuffer()
        for i in 0..<bytes.count { space[i] = bytes[i] }
        didReceive(bytes.count, now: 0)
        return nextEvent(now: 0)
    }
}


// MARK: - Randomized model

/// Random interleavings of publishing, acknowledging, partial writes, dropped connections,
/// reconnects (random session present, sometimes clean), inbound traffic and time, against a
/// model broker. Invariants: every QoS 1 publication is acknowledged exactly once or reported
/// lost exactly once (lost only when the rules allow), never silently dropped; a publication on
/// the wire carries its original id and payload, in publication order per connection, with DUP
/// set when the broker session saw it before; no id is in flight twice.
@Suite("MQTTSession randomized model")
struct SessionModelTests {
    struct Publication {
        var index: Int
        var payload: [UInt8]
        var cleanEpoch: Int
        var absentEpoch: Int
        var sentOnWire = false
    }

    @Test(arguments: [SessionLossPolicy.resend, .reportLost], [UInt64(1), 0xDEAD_BEEF, 20_260_521])
    func model(policy: SessionLossPolicy, seed: UInt64) throws {
        var rng = SeededRandom(seed: seed &+ (policy == .resend ? 0 : 0x5555))
        var s = makeSession(
            config(keepAlive: 10, pingTimeout: 5_000, connectTimeout: 3_000, policy: policy),
            SessionCapacities(transmitBytes: 256, receiveBytes: 128, storeBytes: 700, inflight: 6, inboundHistory: 8, pendingSubscriptions: 2))
        var now: Int = 0

        // Client-side bookkeeping.
        var outstanding: [UInt16: Publication] = [:]
        var acked = Set<Int>(), lost = Set<Int>()
        var total = 0
        var cleanEpoch = 0, absentEpoch = 0

        // Broker-side model.
        var wire: [UInt8] = []  // bytes written on the current connection, not yet parsed
        var toClient: [UInt8] = []
        var brokerPending: [UInt16] = []  // QoS 1 ids received on this connection, not yet acked
        var brokerHasSession = false
        var seenInBrokerSession = Set<Int>()
        var seenOnConnection: [UInt16: Int] = [:]
        var lastIndexOnConnection = -1
        var expectedPresent: Bool? = nil
        var brokerNextID: UInt16 = 1
        var counts = (connects: 0, drops: 0, failures: 0, replays: 0, lostEvents: 0, busy: 0, acks: 0)

        func resetConnection() {
            wire = []
            toClient = []
            brokerPending = []
            seenOnConnection = [:]
            lastIndexOnConnection = -1
            expectedPresent = nil
        }

        func handle(_ evs: [Ev]) {
            for e in evs {
                switch e {
                case .connected(let p):
                    #expect(p == expectedPresent, "CONNACK present \(p)")
                case .published(let id):
                    guard let pub = outstanding.removeValue(forKey: id) else {
                        Issue.record("published(\(id)) for nothing outstanding")
                        continue
                    }
                    #expect(!acked.contains(pub.index) && !lost.contains(pub.index))
                    acked.insert(pub.index)
                case .lost(let id):
                    guard let pub = outstanding.removeValue(forKey: id) else {
                        Issue.record("lost(\(id)) for nothing outstanding")
                        continue
                    }
                    counts.lostEvents += 1
                    // Under .reportLost a publication queued on an earlier broker session may be
                    // dropped (whether its bytes left the transmit buffer is not observable).
                    let allowed = pub.cleanEpoch < cleanEpoch || (policy == .reportLost && pub.absentEpoch < absentEpoch)
                    #expect(allowed, "publication \(pub.index) reported lost without cause")
                    lost.insert(pub.index)
                case .failed(let err):
                    counts.failures += 1
                    #expect(err == .pingTimedOut || err == .connectTimedOut, "failure \(err)")
                    resetConnection()
                case .message, .abandoned, .subscribed, .unsubscribed: break
                case .oversized: Issue.record("unexpected oversized")
                }
            }
            #expect(s.inflightCount == outstanding.count)
        }

        func brokerProcess(_ p: Pkt) {
            switch p {
            case .connect(_, let clean, _, _, _):
                if clean { brokerHasSession = false }
                let present = brokerHasSession && Int.random(in: 0..<4, using: &rng) != 0
                if !present {
                    brokerHasSession = true
                    seenInBrokerSession = []
                    absentEpoch += 1
                }
                expectedPresent = present
                toClient += connackBytes(present: present)
            case .publish(_, let payload, let qos, let dup, _, let id):
                guard qos == 1 else { return }
                guard var pub = outstanding[id] else {
                    Issue.record("PUBLISH id \(id) on the wire is not outstanding")
                    return
                }
                #expect(payload == pub.payload, "payload of id \(id) corrupted")
                #expect(pub.index > lastIndexOnConnection, "publication \(pub.index) out of order")
                lastIndexOnConnection = pub.index
                #expect(seenOnConnection[id] != pub.index, "id \(id) re-sent within one connection")
                seenOnConnection[id] = pub.index
                if seenInBrokerSession.contains(pub.index) {
                    #expect(dup, "re-delivery of \(pub.index) without DUP")
                    counts.replays += 1
                }
                seenInBrokerSession.insert(pub.index)
                pub.sentOnWire = true
                outstanding[id] = pub
                brokerPending.append(id)
            case .pingreq: toClient += [0xD0, 0x00]
            case .puback, .disconnect: break
            default: Issue.record("unexpected packet from client: \(p)")
            }
        }

        for _ in 0..<40_000 {
            let action = Int.random(in: 0..<100, using: &rng)
            switch action {
            case 0..<22:  // publish QoS 1
                let length = Int.random(in: 2...110, using: &rng)
                var payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                payload[0] = UInt8(truncatingIfNeeded: total)
                payload[1] = UInt8(truncatingIfNeeded: total >> 8)
                do {
                    let id = try publish(&s, "m/\(total % 7)", payload, now: now)
                    #expect(id != 0)
                    #expect(outstanding[id] == nil, "id \(id) handed out while in flight")
                    outstanding[id] = Publication(index: total, payload: payload, cleanEpoch: cleanEpoch, absentEpoch: absentEpoch)
                    total += 1
                } catch .busy {
                    counts.busy += 1
                } catch {
                    Issue.record("publish failed: \(error)")
                }
            case 22..<26:  // publish QoS 0
                if s.state == .connected { _ = try? publish(&s, "q0", [1, 2, 3], qos: .atMostOnce, now: now) }
            case 26..<46:  // the transport writes some bytes
                let pending = s.pendingOutput.count
                guard s.state != .disconnected, pending > 0 else { break }
                let n = Int.random(in: 1...pending, using: &rng)
                wire += Array(s.pendingOutput.prefix(n))
                s.didSend(n, now: now)
                while let (length, _) = mqttFrameLength(wire), length <= wire.count {
                    let frame = Array(wire[0..<length])
                    wire.removeFirst(length)
                    for p in decodePackets(frame) { brokerProcess(p) }
                }
            case 46..<60:  // the broker acknowledges one publication (any order)
                guard s.state != .disconnected, !brokerPending.isEmpty else { break }
                let i = Int.random(in: 0..<brokerPending.count, using: &rng)
                toClient += pubackBytes(brokerPending.remove(at: i))
                counts.acks += 1
            case 60..<64:  // the broker publishes to us
                guard s.state == .connected, expectedPresent != nil else { break }
                let qos: QoS = Bool.random(using: &rng) ? .atLeastOnce : .atMostOnce
                toClient += publishBytes("in", [UInt8.random(in: 0...255, using: &rng)], qos: qos, id: qos == .atMostOnce ? 0 : brokerNextID)
                brokerNextID = brokerNextID == 0xFFFF ? 1 : brokerNextID + 1
            case 64..<82:  // the transport reads some bytes
                guard s.state != .disconnected, !toClient.isEmpty else { break }
                let space = s.receiveBuffer()
                let n = min(space.count, toClient.count, Int.random(in: 1...40, using: &rng))
                for i in 0..<n { space[i] = toClient[i] }
                toClient.removeFirst(n)
                s.didReceive(n, now: now)
            case 82..<85:  // the connection drops
                guard s.state != .disconnected else { break }
                s.connectionLost()
                resetConnection()
                counts.drops += 1
                if Int.random(in: 0..<5, using: &rng) == 0 { brokerHasSession = false }
            case 85..<92:  // reconnect
                guard s.state == .disconnected else { break }
                let clean = Int.random(in: 0..<15, using: &rng) == 0
                if clean { cleanEpoch += 1 }
                resetConnection()
                try s.connect(now: now, cleanSession: clean)
                counts.connects += 1
            default:  // time passes
                now += Int.random(in: 0...2_500, using: &rng)
            }
            handle(events(&s, now: now))
        }

        // Wind down: connect, write, deliver and acknowledge until nothing is outstanding.
        for _ in 0..<200 where !outstanding.isEmpty {
            if s.state == .disconnected {
                resetConnection()
                try s.connect(now: now)
            }
            while s.hasPendingOutput {
                let out = Array(s.pendingOutput)
                wire += out
                s.didSend(out.count, now: now)
                while let (length, _) = mqttFrameLength(wire), length <= wire.count {
                    let frame = Array(wire[0..<length])
                    wire.removeFirst(length)
                    for p in decodePackets(frame) { brokerProcess(p) }
                }
            }
            for id in brokerPending { toClient += pubackBytes(id) }
            brokerPending = []
            while !toClient.isEmpty && s.state != .disconnected {
                let space = s.receiveBuffer()
                let n = min(space.count, toClient.count)
                for i in 0..<n { space[i] = toClient[i] }
                toClient.removeFirst(n)
                s.didReceive(n, now: now)
                handle(events(&s, now: now))
            }
            handle(events(&s, now: now))
        }

        #expect(outstanding.isEmpty, "publications neither acknowledged nor reported lost")
        #expect(acked.isDisjoint(with: lost))
        #expect(acked.count + lost.count == total)
        if policy == .resend { #expect(counts.lostEvents == 0 || cleanEpoch > 0) }
        // The run exercised what it claims to.
        #expect(total > 1_000)
        #expect(counts.connects > 100 && counts.drops > 100 && counts.replays > 100 && counts.busy > 100)
        #expect(counts.failures > 0)
    }
}
