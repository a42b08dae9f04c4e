/// MQTT 3.1.1 control packet types (MQTT 3.1.1 section 2.2.1).
public enum PacketType: UInt8, Sendable {
    case connect = 1, connack, publish, puback, pubrec, pubrel, pubcomp
    case subscribe, suback, unsubscribe, unsuback, pingreq, pingresp, disconnect
}

/// Quality of service of a PUBLISH or a subscription.
public enum QoS: UInt8, Sendable, Comparable {
    case atMostOnce = 0, atLeastOnce = 1, exactlyOnce = 2
    public static func < (a: QoS, b: QoS) -> Bool { a.rawValue < b.rawValue }
}

/// CONNACK return codes (MQTT 3.1.1 section 3.2.2.3).
public enum ConnectReturnCode: UInt8, Sendable {
    case accepted = 0
    case unacceptableProtocolVersion = 1
    case identifierRejected = 2
    case serverUnavailable = 3
    case badUserNameOrPassword = 4
    case notAuthorized = 5
}

/// Why a packet could not be encoded or decoded. Every case names one rule of MQTT 3.1.1.
public enum PacketError: Error, Equatable, Sendable {
    /// The output buffer cannot hold the packet; `needed` is its full size in bytes.
    case bufferTooSmall(needed: Int)
    /// The Remaining Length field is longer than 4 bytes (MQTT 2.2.3).
    case malformedRemainingLength
    /// A length does not fit the field or exceeds 268,435,455 bytes.
    case lengthTooLarge
    /// The fixed-header flag bits are not the ones the packet type requires (MQTT 2.2.2).
    case invalidFlags(type: UInt8, flags: UInt8)
    /// Packet type 0 or 15 (reserved).
    case reservedPacketType(UInt8)
    /// The packet body ends before a field it announces.
    case truncated
    /// The packet body has bytes left over, or its fields disagree with the Remaining Length.
    case lengthMismatch
    /// A string is not well-formed UTF-8 (MQTT 1.5.3).
    case invalidUTF8
    /// A string contains U+0000 (MQTT 1.5.3).
    case nullCharacter
    /// A topic name contains `+` or `#` (MQTT 4.7.1).
    case wildcardInTopicName
    /// A topic filter uses `+` or `#` other than as a whole level (`#` last) (MQTT 4.7.1).
    case invalidTopicFilter
    /// A topic name or filter is empty (MQTT 4.7.3).
    case emptyTopic
    /// A packet identifier is zero (MQTT 2.3.1).
    case zeroPacketIdentifier
    /// QoS bits are 3, or QoS and DUP disagree (DUP set with QoS 0).
    case invalidQoS
    /// Reserved bits in CONNACK/CONNECT flags are set.
    case reservedBitsSet
    /// A CONNACK return code above 5.
    case invalidReturnCode(UInt8)
    /// A SUBACK return code other than 0x00, 0x01, 0x02, 0x80.
    case invalidSubackCode(UInt8)
    /// A SUBSCRIBE or UNSUBSCRIBE with no topic filter (MQTT 3.8.3 / 3.10.3).
    case emptyPayload
    /// CONNECT with a protocol name other than "MQTT" or a level other than 4.
    case unsupportedProtocol

    /// A fixed, human-readable description.
    public var summary: StaticString {
        switch self {
        case .bufferTooSmall: return "buffer too small for the packet"
        case .malformedRemainingLength: return "remaining length longer than 4 bytes"
        case .lengthTooLarge: return "length exceeds the field's maximum"
        case .invalidFlags: return "fixed header flags invalid for the packet type"
        case .reservedPacketType: return "reserved packet type"
        case .truncated: return "packet truncated"
        case .lengthMismatch: return "packet fields disagree with remaining length"
        case .invalidUTF8: return "string is not well-formed UTF-8"
        case .nullCharacter: return "string contains U+0000"
        case .wildcardInTopicName: return "wildcard in topic name"
        case .invalidTopicFilter: return "malformed topic filter"
        case .emptyTopic: return "empty topic"
        case .zeroPacketIdentifier: return "packet identifier is zero"
        case .invalidQoS: return "invalid QoS"
        case .reservedBitsSet: return "reserved bits set"
        case .invalidReturnCode: return "invalid CONNACK return code"
        case .invalidSubackCode: return "invalid SUBACK return code"
        case .emptyPayload: return "no topic filter in (UN)SUBSCRIBE"
        case .unsupportedProtocol: return "protocol name/level not MQTT 3.1.1"
        }
    }
}

/// Largest value the Remaining Length field can carry (MQTT 2.2.3).
public let maximumRemainingLength = 268_435_455
