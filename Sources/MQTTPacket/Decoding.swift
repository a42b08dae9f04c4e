/// The fixed header of a packet (MQTT 2.2): type, flags, and where the body starts.
public struct FixedHeader: Equatable, Sendable {
    /// First byte's high nibble.
    public var typeCode: UInt8
    /// First byte's low nibble.
    public var flags: UInt8
    /// Length of the variable header plus payload.
    public var remainingLength: Int
    /// Bytes taken by the fixed header itself (2 to 5).
    public var headerLength: Int
    /// The whole packet's length.
    public var packetLength: Int { headerLength &+ remainingLength }  // at most 5 + 2^28: no overflow
    public var type: PacketType? { PacketType(rawValue: typeCode) }
}

/// A byte-reading cursor that never reads past the end; every read is checked.
@usableFromInline
struct ByteReader {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var offset = 0
    @inlinable init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    @inlinable var remaining: Int { bytes.count - offset }
    @inlinable mutating func byte() throws(PacketError) -> UInt8 {
        if offset >= bytes.count { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }
    @inlinable mutating func uint16() throws(PacketError) -> UInt16 {
        if remaining < 2 { throw .truncated }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
    @inlinable mutating func take(_ n: Int) throws(PacketError) -> UnsafeRawBufferPointer {
        if n < 0 || remaining < n { throw .truncated }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }
    @inlinable mutating func lengthPrefixed() throws(PacketError) -> UnsafeRawBufferPointer {
        let n = Int(try uint16())
        return try take(n)
    }
    @inlinable mutating func rest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<bytes.count])
    }
}

/// A PUBLISH as received: views into the receive buffer, valid until the buffer is reused.
public struct PublishView {
    public var topic: UnsafeRawBufferPointer
    public var payload: UnsafeRawBufferPointer
    public var qos: QoS
    public var dup: Bool
    public var retain: Bool
    /// Zero for QoS 0.
    public var packetID: UInt16
}

/// A packet from a server (every type but CONNECT, SUBSCRIBE and UNSUBSCRIBE) as one flat value,
/// from `PacketDecoder.decodeFromServer`. Views point into the decoded bytes.
public struct ServerPacket {
    /// The packet type (2 to 7, 9, 11 to 14).
    public var typeCode: UInt8
    /// CONNACK: session present flag and return code.
    public var sessionPresent = false
    public var returnCode = ConnectReturnCode.accepted
    /// PUBLISH: the message. Its `packetID` is also that of PUBACK, PUBREC, PUBREL, PUBCOMP,
    /// SUBACK and UNSUBACK, and for SUBACK its `payload` holds the return codes.
    public var message = PublishView(
        topic: UnsafeRawBufferPointer(start: nil, count: 0), payload: UnsafeRawBufferPointer(start: nil, count: 0),
        qos: .atMostOnce, dup: false, retain: false, packetID: 0)
    /// The packet identifier (0 for types without one and QoS 0 PUBLISH).
    public var packetID: UInt16 { message.packetID }

    public init(typeCode: UInt8) { self.typeCode = typeCode }
}

/// The fields of a CONNECT as received (for test peers and brokers).
public struct ConnectView {
    public var clientID: UnsafeRawBufferPointer
    public var cleanSession: Bool
    public var keepAliveSeconds: UInt16
    public var willTopic: UnsafeRawBufferPointer?
    public var willMessage: UnsafeRawBufferPointer?
    public var willQoS: QoS
    public var willRetain: Bool
    public var userName: UnsafeRawBufferPointer?
    public var password: UnsafeRawBufferPointer?
}

/// A decoded packet. Views point into the bytes given to `PacketDecoder.decode`.
public enum Packet {
    case connect(ConnectView)
    case connack(sessionPresent: Bool, returnCode: ConnectReturnCode)
    case publish(PublishView)
    case puback(packetID: UInt16)
    case pubrec(packetID: UInt16)
    case pubrel(packetID: UInt16)
    case pubcomp(packetID: UInt16)
    /// `filters` holds (length-prefixed filter, QoS byte) pairs, already validated; iterate
    /// with `SubscriptionIterator`.
    case subscribe(packetID: UInt16, filters: UnsafeRawBufferPointer)
    /// `returnCodes` holds one byte per filter: 0, 1, 2 or 0x80 (failure).
    case suback(packetID: UInt16, returnCodes: UnsafeRawBufferPointer)
    /// `filters` holds length-prefixed filters, already validated.
    case unsubscribe(packetID: UInt16, filters: UnsafeRawBufferPointer)
    case unsuback(packetID: UInt16)
    case pingreq
    case pingresp
    case disconnect
}

/// Walks the filters of a decoded SUBSCRIBE or UNSUBSCRIBE payload.
public struct SubscriptionIterator: IteratorProtocol {
    var reader: ByteReader
    let withQoS: Bool
    public init(filters: UnsafeRawBufferPointer, withQoS: Bool) {
        reader = ByteReader(filters)
        self.withQoS = withQoS
    }
    public mutating func next() -> (filter: UnsafeRawBufferPointer, qos: QoS)? {
        guard reader.remaining > 0, let f = try? reader.lengthPrefixed() else { return nil }
        var q = QoS.atMostOnce
        if withQoS { q = (try? reader.byte()).flatMap { QoS(rawValue: $0) } ?? .atMostOnce }
        return (f, q)
    }
}

/// Decoders with strict MQTT 3.1.1 validation.
public enum PacketDecoder {
    /// Parses a fixed header from the start of `bytes`. Returns nil when more bytes are needed;
    /// throws when the header is malformed (reserved type, bad flags, a 5th length byte).
    public static func fixedHeader(_ bytes: UnsafeRawBufferPointer) throws(PacketError) -> FixedHeader? {
        // Plain indexing, not the generic `first`: unspecialised (debug) builds allocate there.
        if bytes.isEmpty { return nil }
        let first = bytes[0]
        let type = first >> 4
        let flags = first & 0x0F
        if type == 0 || type == 15 { throw .reservedPacketType(type) }
        try checkFlags(type: type, flags: flags)
        // At most four 7-bit digits: 28 bits, so the shifts and sums cannot overflow.
        var value = 0
        var shift = 0
        var i = 1
        while true {
            if i > 4 { throw .malformedRemainingLength }
            if i >= bytes.count { return nil }
            let digit = bytes[i]
            value |= Int(digit & 0x7F) &<< shift
            shift &+= 7
            i &+= 1
            if digit & 0x80 == 0 { break }
        }
        return FixedHeader(typeCode: type, flags: flags, remainingLength: value, headerLength: i)
    }

    @inlinable
    static func checkFlags(type: UInt8, flags: UInt8) throws(PacketError) {
        switch type {
        case 3:  // PUBLISH: DUP, QoS, RETAIN; QoS 3 is malformed (MQTT 3.3.1.2)
            if flags & 0x06 == 0x06 { throw .invalidQoS }
        case 6, 8, 10:  // PUBREL, SUBSCRIBE, UNSUBSCRIBE: 0010 (MQTT 2.2.2)
            if flags != 0x02 { throw .invalidFlags(type: type, flags: flags) }
        default:
            if flags != 0 { throw .invalidFlags(type: type, flags: flags) }
        }
    }

    /// Decodes a whole packet: `header` from `fixedHeader`, `body` exactly its remaining length.
    public static func decode(header: FixedHeader, body: UnsafeRawBufferPointer) throws(PacketError) -> Packet {
        if let packet = try decodeServerPacket(header: header, body: body) { return packet }
        // CONNECT, SUBSCRIBE, UNSUBSCRIBE: the packets only a client sends.
        var r = ByteReader(body)
        let packet: Packet
        if header.typeCode == 1 {
            packet = .connect(try decodeConnect(&r))
        } else {
            let id = try r.uint16()
            if id == 0 { throw .zeroPacketIdentifier }
            let filters = UnsafeRawBufferPointer(rebasing: body[2...])
            if filters.isEmpty { throw .emptyPayload }
            let withQoS = header.typeCode == 8
            while r.remaining > 0 {
                let f = try r.lengthPrefixed()
                try validateTopicFilter(f)
                if withQoS {
                    let q = try r.byte()
                    if q > 2 { throw .invalidQoS }  // MQTT 3.8.3-4: reserved bits must be 0
                }
            }
            packet = withQoS ? .subscribe(packetID: id, filters: filters) : .unsubscribe(packetID: id, filters: filters)
        }
        if r.remaining != 0 { throw .lengthMismatch }
        return packet
    }

    /// Decodes every packet type except CONNECT, SUBSCRIBE and UNSUBSCRIBE, for which it returns
    /// nil without looking at the body: a client rejects those by their type, and leaving their
    /// decoders out keeps them out of a client's binary.
    public static func decodeServerPacket(header: FixedHeader, body: UnsafeRawBufferPointer) throws(PacketError) -> Packet? {
        guard let p = try decodeFromServer(header: header, body: body) else { return nil }
        let id = p.packetID
        switch p.typeCode {
        case 2: return .connack(sessionPresent: p.sessionPresent, returnCode: p.returnCode)
        case 3: return .publish(p.message)
        case 4: return .puback(packetID: id)
        case 5: return .pubrec(packetID: id)
        case 6: return .pubrel(packetID: id)
        case 7: return .pubcomp(packetID: id)
        case 9: return .suback(packetID: id, returnCodes: p.message.payload)
        case 11: return .unsuback(packetID: id)
        case 12: return .pingreq
        case 13: return .pingresp
        default: return .disconnect
        }
    }

    /// `decodeServerPacket` into the flat `ServerPacket` instead of `Packet`, with the same
    /// validation: nil for CONNECT, SUBSCRIBE and UNSUBSCRIBE, a `PacketError` for a malformed
    /// packet. For clients on small targets (a `Packet` is as large as its CONNECT case).
    public static func decodeFromServer(header: FixedHeader, body: UnsafeRawBufferPointer) throws(PacketError) -> ServerPacket? {
        // Plain offsets into the body, each checked against its length before it is read, with
        // the errors ByteReader gives (`truncated` for a field cut off): every case reads its
        // body to the end, so nothing can be left over.
        if body.count != header.remainingLength { throw .lengthMismatch }
        let type = header.typeCode
        var p = ServerPacket(typeCode: type)
        switch type {
        case 1, 8, 10: return nil
        case 2:
            let (present, code) = try connackFields(body)
            p.sessionPresent = present
            p.returnCode = code
        case 3: p.message = try publishFields(flags: header.flags, body)
        case 4, 5, 6, 7, 11: p.message.packetID = try acknowledgedID(body)
        case 9:
            let (id, codes) = try subackFields(body)
            p.message.packetID = id
            p.message.payload = codes
        case 12, 13, 14: try emptyBody(body)
        default:
            throw .reservedPacketType(type)
        }
        return p
    }

    // The body of each server packet, checked as `decodeFromServer` checks it. SPI: the session
    // decodes and handles each type in one switch (no `ServerPacket` record in between); every
    // one is inlined into both.

    /// CONNACK: session present and return code.
    @_spi(Session) @inline(__always)
    public static func connackFields(_ body: UnsafeRawBufferPointer) throws(PacketError) -> (Bool, ConnectReturnCode) {
        if body.count != 2 { throw .lengthMismatch }
        let ack = body[0]
        if ack & 0xFE != 0 { throw .reservedBitsSet }
        let code = body[1]
        guard let rc = ConnectReturnCode(rawValue: code) else { throw .invalidReturnCode(code) }
        // MQTT 3.2.2.2: a refused connection must have session present 0.
        if rc != .accepted && ack != 0 { throw .reservedBitsSet }
        return (ack == 1, rc)
    }

    /// PUBLISH with these fixed-header flags. `flagsChecked`: they come from `fixedHeader`,
    /// which already refused QoS 3 (`checkFlags`), so the QoS bits are not tested again.
    @_spi(Session) @inline(__always)
    public static func publishFields(flags: UInt8, _ body: UnsafeRawBufferPointer, flagsChecked: Bool = false) throws(PacketError) -> PublishView {
        let n = body.count
        let qosBits = (flags >> 1) & 0x03
        let qos: QoS
        if flagsChecked {
            qos = QoS(rawValue: qosBits).unsafelyUnwrapped
        } else {
            guard let q = QoS(rawValue: qosBits) else { throw .invalidQoS }
            qos = q
        }
        let dup = flags & 0x08 != 0
        if qos == .atMostOnce && dup { throw .invalidQoS }  // MQTT 3.3.1-2
        if n < 2 { throw .truncated }
        // The topic's end: at most 2 + 0xFFFF, so it cannot overflow (`&+`).
        var at = 2 &+ (Int(body[0]) << 8 | Int(body[1]))
        if at > n { throw .truncated }
        let topic = UnsafeRawBufferPointer(rebasing: body[2..<at])
        try validateTopicName(topic)
        var id: UInt16 = 0
        if qos != .atMostOnce {
            if n &- at < 2 { throw .truncated }
            id = try packetIdentifier(body, at: at)
            at &+= 2
        }
        // `at <= n` (checked above) and `n >= 2`, so the base is not nil: a plain pointer sum, not
        // a range (whose `lower <= upper` test could trap).
        return PublishView(
            topic: topic, payload: UnsafeRawBufferPointer(start: body.baseAddress.unsafelyUnwrapped + at, count: n &- at), qos: qos, dup: dup,
            retain: flags & 1 != 0, packetID: id)
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: the packet identifier.
    @_spi(Session) @inline(__always)
    public static func acknowledgedID(_ body: UnsafeRawBufferPointer) throws(PacketError) -> UInt16 {
        if body.count != 2 { throw .lengthMismatch }
        return try packetIdentifier(body, at: 0)
    }

    /// SUBACK: the packet identifier and the return codes.
    @_spi(Session) @inline(__always)
    public static func subackFields(_ body: UnsafeRawBufferPointer) throws(PacketError) -> (UInt16, UnsafeRawBufferPointer) {
        let n = body.count
        if n < 2 { throw .truncated }
        let id = try packetIdentifier(body, at: 0)
        let codes = UnsafeRawBufferPointer(rebasing: body[2..<n])
        if codes.isEmpty { throw .emptyPayload }
        for c in codes where !(c <= 2 || c == 0x80) { throw .invalidSubackCode(c) }
        return (id, codes)
    }

    /// PINGREQ, PINGRESP, DISCONNECT: nothing.
    @_spi(Session) @inline(__always)
    public static func emptyBody(_ body: UnsafeRawBufferPointer) throws(PacketError) {
        if body.count != 0 { throw .lengthMismatch }
    }

    /// The non-zero packet identifier at `at` (two bytes there, checked by the caller).
    @inline(__always)
    static func packetIdentifier(_ body: UnsafeRawBufferPointer, at: Int) throws(PacketError) -> UInt16 {
        let id = UInt16(body[at]) << 8 | UInt16(body[at &+ 1])
        if id == 0 { throw .zeroPacketIdentifier }
        return id
    }

    /// Decodes the first whole packet in `bytes`; returns nil when it is not complete yet.
    /// The packet's length is `header.packetLength`.
    public static func decodeFirst(_ bytes: UnsafeRawBufferPointer) throws(PacketError) -> (packet: Packet, length: Int)? {
        guard let h = try fixedHeader(bytes), bytes.count >= h.packetLength else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[h.headerLength..<h.packetLength])
        return (try decode(header: h, body: body), h.packetLength)
    }

    static func decodeConnect(_ r: inout ByteReader) throws(PacketError) -> ConnectView {
        let name = try r.lengthPrefixed()
        let level = try r.byte()
        if name.count != 4 || name[0] != 0x4D || name[1] != 0x51 || name[2] != 0x54 || name[3] != 0x54 || level != 4 {
            throw .unsupportedProtocol
        }
        let flags = try r.byte()
        if flags & 0x01 != 0 { throw .reservedBitsSet }  // MQTT 3.1.2-3
        let keepAlive = try r.uint16()
        let clientID = try r.lengthPrefixed()
        try validateMQTTString(clientID)
        var v = ConnectView(
            clientID: clientID, cleanSession: flags & 0x02 != 0, keepAliveSeconds: keepAlive, willTopic: nil,
            willMessage: nil, willQoS: .atMostOnce, willRetain: false, userName: nil, password: nil)
        let willFlag = flags & 0x04 != 0
        guard let wq = QoS(rawValue: (flags >> 3) & 0x03) else { throw .invalidQoS }
        if !willFlag && (wq != .atMostOnce || flags & 0x20 != 0) { throw .reservedBitsSet }  // MQTT 3.1.2-13/15
        if willFlag {
            let t = try r.lengthPrefixed()
            try validateTopicName(t)
            v.willTopic = t
            v.willMessage = try r.lengthPrefixed()
            v.willQoS = wq
            v.willRetain = flags & 0x20 != 0
        }
        if flags & 0x80 != 0 {
            let u = try r.lengthPrefixed()
            try validateMQTTString(u)
            v.userName = u
        } else if flags & 0x40 != 0 {
            throw .reservedBitsSet  // MQTT 3.1.2-22: password without user name
        }
        if flags & 0x40 != 0 { v.password = try r.lengthPrefixed() }
        return v
    }
}
