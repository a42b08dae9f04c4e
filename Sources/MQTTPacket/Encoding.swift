/// Writes bytes into a caller-provided buffer, never past its end.
///
/// Every encoder checks the whole packet's size against the buffer first (`check`); when it does
/// not fit nothing is written and the encoder reports `bufferTooSmall` with the packet's full
/// size. So `count` stays within the buffer and its sums cannot overflow: they wrap, without an
/// overflow check per byte.
@usableFromInline
struct ByteWriter {
    /// The buffer's start, a plain pointer: every encoder makes a writer only after `check`
    /// found the packet fits, so the buffer is not empty and its base address not nil (a buffer
    /// pointer's subscript tested it for nil at every byte).
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline var count = 0

    @inlinable init(_ buffer: UnsafeMutableRawBufferPointer) { base = buffer.baseAddress.unsafelyUnwrapped }

    @inlinable mutating func byte(_ b: UInt8) {
        base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count &+= 1
    }
    @inlinable mutating func uint16(_ v: UInt16) {
        byte(UInt8(truncatingIfNeeded: v >> 8))
        byte(UInt8(truncatingIfNeeded: v))
    }
    @inlinable mutating func bytes(_ b: UnsafeRawBufferPointer) {
        if b.isEmpty { return }
        (base + count).copyMemory(from: b.baseAddress.unsafelyUnwrapped, byteCount: b.count)
        count &+= b.count
    }
    /// A 2-byte length prefix then the bytes (MQTT 1.5.3).
    @inlinable mutating func lengthPrefixed(_ b: UnsafeRawBufferPointer) {
        uint16(UInt16(truncatingIfNeeded: b.count))
        bytes(b)
    }
    @inlinable mutating func remainingLength(_ value: Int) {
        var v = value
        repeat {
            var digit = UInt8(truncatingIfNeeded: v & 0x7F)
            v >>= 7
            if v > 0 { digit |= 0x80 }
            byte(digit)
        } while v > 0
    }
}

/// Number of bytes the Remaining Length encoding of `value` takes (1 to 4).
@inlinable
public func remainingLengthSize(_ value: Int) -> Int {
    value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4
}

/// Options of a CONNECT packet (MQTT 3.1.1 section 3.1). Strings are UTF-8 byte views that
/// must stay valid for the duration of the encode call.
public struct ConnectOptions {
    /// Client identifier; TS-0010 6.3 uses `A::<AE-ID>` for an AE.
    public var clientID: UnsafeRawBufferPointer
    /// Clean Session flag; TS-0010 6.3 requires false except during the clean-up sequence.
    public var cleanSession: Bool
    /// Keep-alive in seconds (0 disables it).
    public var keepAliveSeconds: UInt16
    /// Optional user name and password (MQTT 3.1.2.8/3.1.2.9).
    public var userName: UnsafeRawBufferPointer?
    public var password: UnsafeRawBufferPointer?
    /// Optional Will (TS-0010 6.3 says an AE sets none; kept for general use).
    public var willTopic: UnsafeRawBufferPointer?
    public var willMessage: UnsafeRawBufferPointer?
    public var willQoS: QoS
    public var willRetain: Bool

    public init(
        clientID: UnsafeRawBufferPointer, cleanSession: Bool, keepAliveSeconds: UInt16,
        userName: UnsafeRawBufferPointer? = nil, password: UnsafeRawBufferPointer? = nil
    ) {
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepAliveSeconds = keepAliveSeconds
        self.userName = userName
        self.password = password
        self.willTopic = nil
        self.willMessage = nil
        self.willQoS = .atMostOnce
        self.willRetain = false
    }
}

/// A CONNECT field's bytes in either form the encoder takes: a view (`ConnectOptions`) or a byte
/// array (the session's configuration, read in place).
protocol ConnectField {
    var count: Int { get }
    func withFieldBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
}

extension UnsafeRawBufferPointer: ConnectField {
    @inline(__always)
    func withFieldBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R { try body(self) }
}

extension Array: ConnectField where Element == UInt8 {
    /// Through the array's span: its `withUnsafeBytes` throws the closure's error type (the
    /// array's own rethrows an untyped one).
    @inline(__always)
    func withFieldBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try span.withUnsafeBytes(body)
    }
}

/// Encoders for every MQTT 3.1.1 packet. Each writes one whole packet at the start of `buffer`
/// and returns its length, or throws without promising anything about the buffer's contents.
public enum PacketEncoder {
    @inlinable
    static func check(_ remaining: Int, _ capacity: Int) throws(PacketError) -> Int {
        if remaining > maximumRemainingLength { throw .lengthTooLarge }
        let total = 1 + remainingLengthSize(remaining) + remaining
        if total > capacity { throw .bufferTooSmall(needed: total) }
        return total
    }

    @inlinable
    static func checkString(_ s: UnsafeRawBufferPointer) throws(PacketError) {
        if s.count > 0xFFFF { throw .lengthTooLarge }
        try validateMQTTString(s)
    }

    /// CONNECT (MQTT 3.1).
    public static func connect(_ o: ConnectOptions, into buffer: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
        try connect(
            clientID: o.clientID, cleanSession: o.cleanSession, keepAliveSeconds: o.keepAliveSeconds, userName: o.userName,
            password: o.password, willTopic: o.willTopic, willMessage: o.willMessage, willQoS: o.willQoS,
            willRetain: o.willRetain, into: buffer)
    }

    /// CONNECT without a Will, as a session sends it (SPI: `MQTTSession.connect`), from the
    /// configuration's byte arrays: the encoder reads each in place, where the session wrapped
    /// the call in a closure per array and passed views. The Will's code is left out of the
    /// session's copy of the encoder.
    @_spi(Session)
    public static func connect(
        clientID: [UInt8], cleanSession: Bool, keepAliveSeconds: UInt16, userName: [UInt8]?,
        password: [UInt8]?, into buffer: UnsafeMutableRawBufferPointer
    ) throws(PacketError) -> Int {
        try connect(
            clientID: clientID, cleanSession: cleanSession, keepAliveSeconds: keepAliveSeconds, userName: userName,
            password: password, willTopic: nil, willMessage: nil, willQoS: .atMostOnce, willRetain: false, into: buffer)
    }

    /// Both forms of CONNECT: inlined into each, so the one without a Will drops its code.
    /// Generic over the fields' form (views or arrays), specialised for each.
    @inline(__always)
    static func connect<F: ConnectField>(
        clientID: F, cleanSession: Bool, keepAliveSeconds: UInt16, userName: F?,
        password: F?, willTopic: UnsafeRawBufferPointer?, willMessage: UnsafeRawBufferPointer?,
        willQoS: QoS, willRetain: Bool, into buffer: UnsafeMutableRawBufferPointer
    ) throws(PacketError) -> Int {
        try clientID.withFieldBytes { (b) throws(PacketError) in try checkString(b) }
        // Every field is checked to be at most 0xFFFF bytes before it is counted, so the sum
        // stays below 2^19 and wraps-free (`&+`: no overflow checks).
        var remaining = 12 &+ clientID.count
        var flags: UInt8 = cleanSession ? 0x02 : 0
        if let t = willTopic {
            try validateTopicName(t)
            if t.count > 0xFFFF { throw .lengthTooLarge }
            let m = willMessage ?? UnsafeRawBufferPointer(start: nil, count: 0)
            if m.count > 0xFFFF { throw .lengthTooLarge }
            remaining &+= 4 &+ t.count &+ m.count
            flags |= 0x04 | (willQoS.rawValue << 3) | (willRetain ? 0x20 : 0)
        }
        if let u = userName {
            try u.withFieldBytes { (b) throws(PacketError) in try checkString(b) }
            remaining &+= 2 &+ u.count
            flags |= 0x80
        }
        if let p = password {
            // MQTT 3.1.2.9: a password requires a user name.
            if userName == nil { throw .reservedBitsSet }
            if p.count > 0xFFFF { throw .lengthTooLarge }
            remaining &+= 2 &+ p.count
            flags |= 0x40
        }
        _ = try check(remaining, buffer.count)
        var w = ByteWriter(buffer)
        w.byte(0x10)
        w.remainingLength(remaining)
        w.uint16(4)
        w.byte(UInt8(ascii: "M")); w.byte(UInt8(ascii: "Q")); w.byte(UInt8(ascii: "T")); w.byte(UInt8(ascii: "T"))
        w.byte(4)  // protocol level 4 = MQTT 3.1.1
        w.byte(flags)
        w.uint16(keepAliveSeconds)
        clientID.withFieldBytes { w.lengthPrefixed($0) }
        if let t = willTopic {
            w.lengthPrefixed(t)
            w.lengthPrefixed(willMessage ?? UnsafeRawBufferPointer(start: nil, count: 0))
        }
        if let u = userName { u.withFieldBytes { w.lengthPrefixed($0) } }
        if let p = password { p.withFieldBytes { w.lengthPrefixed($0) } }
        return w.count
    }

    /// Size of a PUBLISH packet with these field lengths.
    @inlinable
    public static func publishSize(topicLength: Int, payloadLength: Int, qos: QoS) -> Int {
        let remaining = 2 + topicLength + (qos == .atMostOnce ? 0 : 2) + payloadLength
        return 1 + remainingLengthSize(remaining) + remaining
    }

    /// PUBLISH (MQTT 3.3). `packetID` is required (non-zero) for QoS 1 and 2 and ignored for QoS 0.
    public static func publish(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: QoS,
        retain: Bool = false, dup: Bool = false, packetID: UInt16 = 0,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(PacketError) -> Int {
        try validateTopicName(topic)
        if topic.count > 0xFFFF { throw .lengthTooLarge }
        if qos != .atMostOnce && packetID == 0 { throw .zeroPacketIdentifier }
        if qos == .atMostOnce && dup { throw .invalidQoS }  // MQTT 3.3.1.1
        let remaining = 2 + topic.count + (qos == .atMostOnce ? 0 : 2) + payload.count
        _ = try check(remaining, buffer.count)
        var w = ByteWriter(buffer)
        w.byte(0x30 | (dup ? 0x08 : 0) | (qos.rawValue << 1) | (retain ? 1 : 0))
        w.remainingLength(remaining)
        w.lengthPrefixed(topic)
        if qos != .atMostOnce { w.uint16(packetID) }
        w.bytes(payload)
        return w.count
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK: a packet identifier only (MQTT 3.4-3.7, 3.11).
    public static func ack(_ type: PacketType, packetID: UInt16, into buffer: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
        if packetID == 0 { throw .zeroPacketIdentifier }
        let first: UInt8
        switch type {
        case .puback: first = 0x40
        case .pubrec: first = 0x50
        case .pubrel: first = 0x62  // MQTT 3.6.1: flags 0010
        case .pubcomp: first = 0x70
        case .unsuback: first = 0xB0
        default: throw .invalidFlags(type: type.rawValue, flags: 0)
        }
        if buffer.count < 4 { throw .bufferTooSmall(needed: 4) }
        buffer[0] = first
        buffer[1] = 2
        buffer[2] = UInt8(truncatingIfNeeded: packetID >> 8)
        buffer[3] = UInt8(truncatingIfNeeded: packetID)
        return 4
    }

    /// PINGREQ, PINGRESP or DISCONNECT: a two-byte packet (MQTT 3.12-3.14).
    public static func empty(_ type: PacketType, into buffer: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
        let first: UInt8
        switch type {
        case .pingreq: first = 0xC0
        case .pingresp: first = 0xD0
        case .disconnect: first = 0xE0
        default: throw .invalidFlags(type: type.rawValue, flags: 0)
        }
        if buffer.count < 2 { throw .bufferTooSmall(needed: 2) }
        buffer[0] = first
        buffer[1] = 0
        return 2
    }

    /// CONNACK (MQTT 3.2), for brokers and test peers.
    public static func connack(sessionPresent: Bool, returnCode: UInt8, into buffer: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
        if buffer.count < 4 { throw .bufferTooSmall(needed: 4) }
        buffer[0] = 0x20
        buffer[1] = 2
        buffer[2] = sessionPresent ? 1 : 0
        buffer[3] = returnCode
        return 4
    }

    /// SUBSCRIBE (MQTT 3.8) with one or more filters, each with its requested QoS.
    public static func subscribe(
        packetID: UInt16, filters: [TopicSubscription], into buffer: UnsafeMutableRawBufferPointer
    ) throws(PacketError) -> Int {
        try subscription(0x82, packetID: packetID, filters: filters, into: buffer)  // MQTT 3.8.1: flags 0010
    }

    /// UNSUBSCRIBE (MQTT 3.10).
    public static func unsubscribe(
        packetID: UInt16, filters: [TopicSubscription], into buffer: UnsafeMutableRawBufferPointer
    ) throws(PacketError) -> Int {
        try subscription(0xA2, packetID: packetID, filters: filters, into: buffer)  // MQTT 3.10.1: flags 0010
    }

    /// SUBSCRIBE (with a QoS byte per filter) or UNSUBSCRIBE (without).
    static func subscription(
        _ first: UInt8, packetID: UInt16, filters: [TopicSubscription], into buffer: UnsafeMutableRawBufferPointer
    ) throws(PacketError) -> Int {
        if packetID == 0 { throw .zeroPacketIdentifier }
        if filters.isEmpty { throw .emptyPayload }
        let withQoS = first == 0x82
        var remaining = 2
        for f in filters {
            try f.withBytes { (b) throws(PacketError) in
                try validateTopicFilter(b)
                if b.count > 0xFFFF { throw .lengthTooLarge }
            }
            remaining += 2 + f.filter.count + (withQoS ? 1 : 0)
        }
        _ = try check(remaining, buffer.count)
        var w = ByteWriter(buffer)
        w.byte(first)
        w.remainingLength(remaining)
        w.uint16(packetID)
        for f in filters {
            f.withBytes { w.lengthPrefixed($0) }
            if withQoS { w.byte(f.qos.rawValue) }
        }
        return w.count
    }

    /// SUBACK (MQTT 3.9), for brokers and test peers. `codes` are 0x00-0x02 or 0x80.
    public static func suback(packetID: UInt16, codes: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws(PacketError) -> Int {
        if packetID == 0 { throw .zeroPacketIdentifier }
        let remaining = 2 + codes.count
        _ = try check(remaining, buffer.count)
        var w = ByteWriter(buffer)
        w.byte(0x90)
        w.remainingLength(remaining)
        w.uint16(packetID)
        w.bytes(codes)
        return w.count
    }
}

/// One topic filter with its requested QoS, for SUBSCRIBE and UNSUBSCRIBE. Subscribing is not
/// on the hot path, so the filter is an owned byte array.
public struct TopicSubscription: Sendable, Equatable {
    /// The filter's UTF-8 bytes.
    public var filter: [UInt8]
    /// The maximum QoS requested.
    public var qos: QoS

    public init(filter: [UInt8], qos: QoS = .atLeastOnce) {
        self.filter = filter
        self.qos = qos
    }

    public init(_ filter: String, qos: QoS = .atLeastOnce) {
        self.filter = Array(filter.utf8)
        self.qos = qos
    }

    @inlinable
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // Through the array's span, whose `withUnsafeBytes` throws the closure's error type (the
        // array's own rethrows an untyped one: the error went through a `Result`).
        try filter.span.withUnsafeBytes(body)
    }
}
