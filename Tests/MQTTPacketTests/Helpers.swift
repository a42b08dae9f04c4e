import MQTTPacket
import Testing
import TestSupport

/// Bytes from hex pairs separated by spaces ("30 07 00 03").
func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    for word in s.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        guard let b = UInt8(word, radix: 16) else { fatalError("bad hex \(word)") }
        out.append(b)
    }
    return out
}

func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

/// An owned, comparable copy of a decoded packet (views copied out).
enum Decoded: Equatable {
    struct Connect: Equatable {
        var clientID: [UInt8]
        var cleanSession: Bool
        var keepAlive: UInt16
        var willTopic: [UInt8]? = nil
        var willMessage: [UInt8]? = nil
        var willQoS: QoS = .atMostOnce
        var willRetain = false
        var userName: [UInt8]? = nil
        var password: [UInt8]? = nil
    }
    struct Publish: Equatable {
        var topic: [UInt8]
        var payload: [UInt8]
        var qos: QoS
        var dup = false
        var retain = false
        var packetID: UInt16 = 0
    }
    struct Filter: Equatable {
        var filter: [UInt8]
        var qos: QoS
    }
    case connect(Connect)
    case connack(sessionPresent: Bool, returnCode: ConnectReturnCode)
    case publish(Publish)
    case puback(UInt16)
    case pubrec(UInt16)
    case pubrel(UInt16)
    case pubcomp(UInt16)
    case subscribe(UInt16, [Filter])
    case suback(UInt16, [UInt8])
    case unsubscribe(UInt16, [[UInt8]])
    case unsuback(UInt16)
    case pingreq, pingresp, disconnect

    init(_ p: Packet) {
        switch p {
        case .connect(let c):
            self = .connect(Connect(
                clientID: Array(c.clientID), cleanSession: c.cleanSession, keepAlive: c.keepAliveSeconds,
                willTopic: c.willTopic.map { Array($0) }, willMessage: c.willMessage.map { Array($0) },
                willQoS: c.willQoS, willRetain: c.willRetain, userName: c.userName.map { Array($0) },
                password: c.password.map { Array($0) }))
        case .connack(let sp, let rc): self = .connack(sessionPresent: sp, returnCode: rc)
        case .publish(let v):
            self = .publish(Publish(topic: Array(v.topic), payload: Array(v.payload), qos: v.qos, dup: v.dup, retain: v.retain, packetID: v.packetID))
        case .puback(let id): self = .puback(id)
        case .pubrec(let id): self = .pubrec(id)
        case .pubrel(let id): self = .pubrel(id)
        case .pubcomp(let id): self = .pubcomp(id)
        case .subscribe(let id, let filters):
            var it = SubscriptionIterator(filters: filters, withQoS: true)
            var fs: [Filter] = []
            while let f = it.next() { fs.append(Filter(filter: Array(f.filter), qos: f.qos)) }
            self = .subscribe(id, fs)
        case .suback(let id, let codes): self = .suback(id, Array(codes))
        case .unsubscribe(let id, let filters):
            var it = SubscriptionIterator(filters: filters, withQoS: false)
            var fs: [[UInt8]] = []
            while let f = it.next() { fs.append(Array(f.filter)) }
            self = .unsubscribe(id, fs)
        case .unsuback(let id): self = .unsuback(id)
        case .pingreq: self = .pingreq
        case .pingresp: self = .pingresp
        case .disconnect: self = .disconnect
        }
    }
}

/// `decodeFirst` over an array, copied out. Nil when incomplete.
func decodeFirst(_ bytes: [UInt8]) throws(PacketError) -> (packet: Decoded, length: Int)? {
    let r: Result<(Decoded, Int)?, PacketError> = bytes.withUnsafeBytes { b in
        do throws(PacketError) {
            guard let (p, n) = try PacketDecoder.decodeFirst(b) else { return .success(nil) }
            return .success((Decoded(p), n))
        } catch { return .failure(error) }
    }
    return try r.get()
}

/// Decodes exactly one whole packet; fails the test if bytes are incomplete or left over.
func decodeOne(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws(PacketError) -> Decoded? {
    guard let (p, n) = try decodeFirst(bytes) else {
        Issue.record("incomplete packet", sourceLocation: sourceLocation)
        return nil
    }
    #expect(n == bytes.count, "decoded length", sourceLocation: sourceLocation)
    return p
}

/// Runs an encoder over a zeroed buffer of `capacity` bytes and returns what it wrote.
func encode(capacity: Int = 1 << 16, _ body: (UnsafeMutableRawBufferPointer) throws(PacketError) -> Int) throws(PacketError) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: capacity)
    let r: Result<Int, PacketError> = buffer.withUnsafeMutableBytes { b in
        do throws(PacketError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    let n = try r.get()
    return Array(buffer[0..<n])
}

func withBytes<R>(_ a: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws(PacketError) -> R) throws(PacketError) -> R {
    guard let a else { return try body(nil) }
    let r: Result<R, PacketError> = a.withUnsafeBytes { b in
        do throws(PacketError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try r.get()
}

func encodePublish(
    _ topic: [UInt8], _ payload: [UInt8], qos: QoS, retain: Bool = false, dup: Bool = false, id: UInt16 = 0,
    capacity: Int = 1 << 16
) throws(PacketError) -> [UInt8] {
    try withBytes(topic) { (t) throws(PacketError) in
        try withBytes(payload) { (p) throws(PacketError) in
            try encode(capacity: capacity) { (b) throws(PacketError) in
                try PacketEncoder.publish(topic: t!, payload: p!, qos: qos, retain: retain, dup: dup, packetID: id, into: b)
            }
        }
    }
}

func encodeConnect(_ c: Decoded.Connect, capacity: Int = 1 << 16) throws(PacketError) -> [UInt8] {
    try withBytes(c.clientID) { (id) throws(PacketError) in
        try withBytes(c.userName) { (user) throws(PacketError) in
            try withBytes(c.password) { (pass) throws(PacketError) in
                try withBytes(c.willTopic) { (wt) throws(PacketError) in
                    try withBytes(c.willMessage) { (wm) throws(PacketError) in
                        var o = ConnectOptions(clientID: id!, cleanSession: c.cleanSession, keepAliveSeconds: c.keepAlive, userName: user, password: pass)
                        o.willTopic = wt
                        o.willMessage = wm
                        o.willQoS = c.willQoS
                        o.willRetain = c.willRetain
                        return try encode(capacity: capacity) { (b) throws(PacketError) in try PacketEncoder.connect(o, into: b) }
                    }
                }
            }
        }
    }
}

/// Re-encodes a decoded packet with PacketEncoder.
func reencode(_ d: Decoded) throws(PacketError) -> [UInt8] {
    switch d {
    case .connect(let c): return try encodeConnect(c)
    case .connack(let sp, let rc):
        return try encode { (b) throws(PacketError) in try PacketEncoder.connack(sessionPresent: sp, returnCode: rc.rawValue, into: b) }
    case .publish(let p):
        return try encodePublish(p.topic, p.payload, qos: p.qos, retain: p.retain, dup: p.dup, id: p.packetID)
    case .puback(let id): return try encode { (b) throws(PacketError) in try PacketEncoder.ack(.puback, packetID: id, into: b) }
    case .pubrec(let id): return try encode { (b) throws(PacketError) in try PacketEncoder.ack(.pubrec, packetID: id, into: b) }
    case .pubrel(let id): return try encode { (b) throws(PacketError) in try PacketEncoder.ack(.pubrel, packetID: id, into: b) }
    case .pubcomp(let id): return try encode { (b) throws(PacketError) in try PacketEncoder.ack(.pubcomp, packetID: id, into: b) }
    case .unsuback(let id): return try encode { (b) throws(PacketError) in try PacketEncoder.ack(.unsuback, packetID: id, into: b) }
    case .subscribe(let id, let fs):
        let subs = fs.map { TopicSubscription(filter: $0.filter, qos: $0.qos) }
        return try encode { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: id, filters: subs, into: b) }
    case .unsubscribe(let id, let fs):
        let subs = fs.map { TopicSubscription(filter: $0) }
        return try encode { (b) throws(PacketError) in try PacketEncoder.unsubscribe(packetID: id, filters: subs, into: b) }
    case .suback(let id, let codes):
        return try withBytes(codes) { (c) throws(PacketError) in
            try encode { (b) throws(PacketError) in try PacketEncoder.suback(packetID: id, codes: c!, into: b) }
        }
    case .pingreq: return try encode { (b) throws(PacketError) in try PacketEncoder.empty(.pingreq, into: b) }
    case .pingresp: return try encode { (b) throws(PacketError) in try PacketEncoder.empty(.pingresp, into: b) }
    case .disconnect: return try encode { (b) throws(PacketError) in try PacketEncoder.empty(.disconnect, into: b) }
    }
}

/// The error `body` throws, or nil if it returns normally.
/// (A non-PacketError error is recorded as an issue.)
func thrownError<R>(_ body: () throws -> R, sourceLocation: SourceLocation = #_sourceLocation) -> PacketError? {
    do {
        _ = try body()
        return nil
    } catch let error as PacketError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

