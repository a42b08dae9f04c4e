import MQTTPacket

/// Why the session failed an operation or gave up on a connection.
public enum SessionError: Error, Equatable, Sendable {
    /// The in-flight table, store or transmit buffer is full right now. It clears as
    /// acknowledgements arrive and output is written: retry after `poll`. Never sticky.
    case busy
    /// The packet can never fit the configured buffers (larger than the transmit buffer or the
    /// store); `needed` is its size in bytes.
    case packetTooLarge(needed: Int)
    /// The operation needs a connection (QoS 0 publish, subscribe) and there is none.
    case notConnected
    /// `connect` was called while connecting or connected.
    case alreadyConnected
    /// An argument broke an MQTT rule (topic with wildcards, bad UTF-8, ...).
    case invalidArgument(PacketError)
    /// The server sent a malformed packet or broke the protocol; the connection must be closed.
    case protocolViolation(PacketError)
    /// The server sent a packet a client never receives (CONNECT, SUBSCRIBE, ...) or one out
    /// of order (PUBLISH before CONNACK).
    case unexpectedPacket(type: UInt8)
    /// The server refused the connection with this CONNACK return code.
    case connectionRefused(ConnectReturnCode)
    /// No CONNACK within the connect timeout.
    case connectTimedOut
    /// No PINGRESP within the ping timeout: the connection is dead.
    case pingTimedOut
    /// The capacities are unusable or the arena is too small/misaligned.
    case invalidCapacities

    public var summary: StaticString {
        switch self {
        case .busy: return "busy: in-flight table, store or transmit buffer full; retry after poll"
        case .packetTooLarge: return "packet larger than the configured buffers"
        case .notConnected: return "not connected"
        case .alreadyConnected: return "already connected or connecting"
        case .invalidArgument: return "invalid argument"
        case .protocolViolation: return "server broke the MQTT protocol"
        case .unexpectedPacket: return "unexpected packet from server"
        case .connectionRefused(let code):
            switch code {
            case .accepted: return "connection accepted"
            case .unacceptableProtocolVersion: return "connection refused: unacceptable protocol version"
            case .identifierRejected: return "connection refused: client identifier rejected"
            case .serverUnavailable: return "connection refused: server unavailable"
            case .badUserNameOrPassword: return "connection refused: bad user name or password"
            case .notAuthorized: return "connection refused: not authorized"
            }
        case .connectTimedOut: return "no CONNACK within the connect timeout"
        case .pingTimedOut: return "no PINGRESP within the ping timeout"
        case .invalidCapacities: return "invalid capacities or arena"
        }
    }
}

/// Something the application should know about. Views (`topic`, `payload`, `returnCodes`)
/// point into the session's receive buffer and stay valid until the next call that mutates
/// the session's receive side (`receiveBuffer`, `nextEvent`, `connectionLost`).
public enum SessionEvent {
    /// CONNACK accepted. With `sessionPresent`, broker-side subscriptions survive and
    /// unacknowledged publications were replayed with DUP = 1.
    case connected(sessionPresent: Bool)
    /// A PUBLISH for the application (already acknowledged in the transmit buffer for QoS 1).
    case message(PublishView)
    /// The broker acknowledged our QoS 1 publication `packetID`.
    case published(packetID: UInt16)
    /// SUBACK: one return code per filter (0x80 = that filter was refused).
    case subscribed(packetID: UInt16, returnCodes: UnsafeRawBufferPointer)
    /// UNSUBACK.
    case unsubscribed(packetID: UInt16)
    /// An inbound packet larger than the receive buffer was read and thrown away (a QoS 1/2
    /// PUBLISH is acknowledged so the broker does not resend it forever). The session goes on.
    case oversizedPacketDropped(type: UInt8, length: Int, packetID: UInt16)
    /// A QoS 1 publication that will not be delivered: the broker lost our session under
    /// `.reportLost`, or a clean-session connect discarded it.
    case publicationLost(packetID: UInt16)
    /// A SUBSCRIBE/UNSUBSCRIBE whose connection ended before its acknowledgement.
    case subscriptionAbandoned(packetID: UInt16)
    /// The connection failed (refused, timed out, protocol violation). The caller closes the
    /// transport and may reconnect; stored publications are kept.
    case connectionFailed(SessionError)
}

/// Counters for monitoring. They wrap around rather than trap (`Int` is 32 bits on armv7, so a
/// long-running device can pass 2^31 packets); read them as differences.
public struct SessionStatistics: Sendable, Equatable {
    public var packetsReceived = 0
    public var packetsSent = 0
    public var messagesDelivered = 0
    public var duplicatesDiscarded = 0
    public var oversizedDropped = 0
    public var publicationsReplayed = 0
    public var unknownAcknowledgements = 0
    public var pingsSent = 0
    public init() {}
}
