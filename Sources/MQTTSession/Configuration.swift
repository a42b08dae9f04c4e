import MQTTPacket

/// What the session does with unacknowledged QoS 1 publications when it reconnects and the
/// broker says it has no session for us (CONNACK session present = 0), for example after the
/// broker lost its state or the session expired.
public enum SessionLossPolicy: Sendable {
    /// Send them again as new publications (DUP = 0, same packet identifiers). The broker has no
    /// record of them, so this may deliver a message twice but never loses one. The default:
    /// an SDK that must never lose a reading prefers a duplicate, which oneM2M receivers can
    /// detect by `rqi`.
    case resend
    /// Drop them and report each with `SessionEvent.publicationLost`.
    case reportLost
}

/// Fixed capacities of a session. All memory is reserved at initialisation; nothing grows later.
public struct SessionCapacities: Sendable, Equatable {
    /// Bytes of encoded packets waiting to be written to the transport.
    public var transmitBytes: Int
    /// Bytes of the receive buffer: the largest inbound packet that can be delivered.
    public var receiveBytes: Int
    /// Bytes kept for copies of unacknowledged QoS 1 PUBLISH packets (replayed on reconnect).
    public var storeBytes: Int
    /// Maximum unacknowledged outgoing QoS 1 publications.
    public var inflight: Int
    /// Inbound QoS 1/2 packet identifiers remembered for duplicate detection.
    public var inboundHistory: Int
    /// Maximum SUBSCRIBE/UNSUBSCRIBE requests awaiting their acknowledgement.
    public var pendingSubscriptions: Int

    public init(
        transmitBytes: Int = 4096, receiveBytes: Int = 4096, storeBytes: Int = 8192,
        inflight: Int = 16, inboundHistory: Int = 32, pendingSubscriptions: Int = 4
    ) {
        self.transmitBytes = transmitBytes
        self.receiveBytes = receiveBytes
        self.storeBytes = storeBytes
        self.inflight = inflight
        self.inboundHistory = inboundHistory
        self.pendingSubscriptions = pendingSubscriptions
    }

    /// Whether every capacity is usable (positive, buffers large enough for the smallest packets).
    public var isValid: Bool {
        transmitBytes >= 16 && receiveBytes >= 16 && storeBytes >= 0 && inflight >= 1 && inflight <= 4096
            && inboundHistory >= 1 && inboundHistory <= 4096 && pendingSubscriptions <= 64
            && pendingSubscriptions >= 1 && transmitBytes <= 1 << 28 && receiveBytes <= 1 << 28 && storeBytes <= 1 << 30
    }

    /// Size in bytes of the single memory arena a session with these capacities needs
    /// (`MQTTSession.init(configuration:capacities:arena:)`). Meaningless for capacities that are
    /// not `isValid` (no arena makes a session of those).
    public var arenaBytes: Int { SessionLayout(self).total }
}

/// Where each table and buffer sits inside the arena.
struct SessionLayout {
    var outbound = 0, subscriptions = 0, history = 0, qos2 = 0, transmit = 0, receive = 0, store = 0, total = 0

    /// Wrapping arithmetic: for valid capacities (`isValid`: buffers of at most 2^28, 2^28 and
    /// 2^30 bytes, at most 4096 records per table) the total stays below 1.6 * 2^30, so nothing
    /// wraps even with a 32-bit `Int`; the layout of invalid capacities is never used.
    /// Inlined: capacities are usually constants (the defaults, or an application's own), and
    /// then the whole layout folds to constants at `arenaBytes` and in `MQTTSession.init`, as
    /// does the `isValid` test there. (f0d173d inlined it first; with LLVM's ARM load/store
    /// optimiser on, armv7 `arenaBytes` then clobbered r10, `self`, and `MQTTSession.init` read
    /// the capacities 24 bytes too far: a compiler miscompile, docs/known-issues.md. The armv7
    /// toolset turns that pass off, and scripts/cross.sh checks every armv7 build for it.)
    @inline(__always)
    init(_ c: SessionCapacities) {
        var offset = 0
        func place(_ bytes: Int, align: Int) -> Int {  // `align` is a power of two
            offset = (offset &+ align &- 1) & (0 &- align)
            defer { offset = offset &+ bytes }
            return offset
        }
        outbound = place(MemoryLayout<OutboundRecord>.stride &* c.inflight, align: MemoryLayout<OutboundRecord>.alignment)
        subscriptions = place(MemoryLayout<PendingAck>.stride &* c.pendingSubscriptions, align: MemoryLayout<PendingAck>.alignment)
        history = place(MemoryLayout<InboundRecord>.stride &* c.inboundHistory, align: MemoryLayout<InboundRecord>.alignment)
        qos2 = place(MemoryLayout<InboundRecord>.stride &* c.inboundHistory, align: MemoryLayout<InboundRecord>.alignment)
        transmit = place(c.transmitBytes, align: 8)
        receive = place(c.receiveBytes, align: 8)
        store = place(c.storeBytes, align: 8)
        total = offset
    }
}

/// How the session connects (TS-0010 6.3 values are the defaults).
public struct SessionConfiguration: Sendable {
    /// MQTT client identifier: `A::<AE-ID>` for an AE, `C::<CSE-ID>` for a CSE (TS-0010 6.3).
    public var clientID: [UInt8]
    /// How long to wait for a PINGRESP before declaring the connection dead (used as at most
    /// 2^40 ms, about 34 years, on 64-bit targets and 2^30 ms, about 12 days, on 32-bit ones;
    /// a negative value as 0).
    public var pingTimeoutMilliseconds: Int
    /// How long to wait for CONNACK after CONNECT (bounded like `pingTimeoutMilliseconds`).
    public var connectTimeoutMilliseconds: Int
    /// Optional credentials (MQTT 3.1.2.8/3.1.2.9).
    public var userName: [UInt8]?
    public var password: [UInt8]?
    // The small fields last, together (no padding between words: a configuration is copied
    // field by field).
    /// Keep-alive in seconds; 0 disables keep-alive.
    public var keepAliveSeconds: UInt16
    /// Clean Session flag for normal connects (TS-0010 6.3: false).
    public var cleanSession: Bool
    /// What to do with unacknowledged publications when the broker has lost our session.
    public var sessionLossPolicy: SessionLossPolicy
}

// The initialisers are in an extension so that the struct keeps its implicit memberwise
// initialiser, which builds the value directly: an initialiser that assigns `self.x = x` one
// field at a time built it in a stack slot and returned a copy of it (its three arrays retained,
// the slot's released), an outlined copy of 116 B on armv7.
extension SessionConfiguration {
    public init(
        clientID: [UInt8], keepAliveSeconds: UInt16 = 60, pingTimeoutMilliseconds: Int = 5000,
        connectTimeoutMilliseconds: Int = 10_000, cleanSession: Bool = false,
        userName: [UInt8]? = nil, password: [UInt8]? = nil, sessionLossPolicy: SessionLossPolicy = .resend
    ) {
        self.init(
            clientID: clientID, pingTimeoutMilliseconds: pingTimeoutMilliseconds,
            connectTimeoutMilliseconds: connectTimeoutMilliseconds, userName: userName, password: password,
            keepAliveSeconds: keepAliveSeconds, cleanSession: cleanSession, sessionLossPolicy: sessionLossPolicy)
    }

    public init(clientID: String, keepAliveSeconds: UInt16 = 60) {
        self.init(clientID: Array(clientID.utf8), keepAliveSeconds: keepAliveSeconds)
    }
}

/// State of one outgoing QoS 1 publication. 16 bytes (the two flags share a byte), so a
/// record's address is its index shifted, not multiplied.
struct OutboundRecord {
    enum State: UInt8 { case free, awaitingAck, lost }
    /// Order of publication; replay preserves it.
    var sequence: UInt32 = 0
    /// Where the packet copy lives in the store, and its length.
    var offset: Int32 = 0
    var length: Int32 = 0
    var packetID: UInt16 = 0
    var state: State = .free
    /// `needsSend` (bit 0) and `sentBefore` (bit 1), nothing else.
    var flags: UInt8 = 0
    static let needsSendFlag: UInt8 = 1, sentBeforeFlag: UInt8 = 2

    /// The packet must be (re)written to the transmit buffer (not yet sent on this connection).
    var needsSend: Bool {
        get { flags & 1 != 0 }
        set { flags = newValue ? flags | 1 : flags & ~1 }
    }
    /// It was written on some earlier connection (so a replay carries DUP = 1).
    var sentBefore: Bool {
        get { flags & 2 != 0 }
        set { flags = newValue ? flags | 2 : flags & ~2 }
    }

    init() {}

    /// A publication awaiting its PUBACK: sent now (`live`) or waiting to be sent.
    init(live: Bool, packetID: UInt16, sequence: UInt32, offset: Int32, length: Int32) {
        self.sequence = sequence
        self.offset = offset
        self.length = length
        self.packetID = packetID
        self.state = .awaitingAck
        self.flags = live ? 2 : 1
    }
}

/// A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement.
struct PendingAck {
    var packetID: UInt16 = 0
    var isSubscribe = false
    var filterCount: UInt16 = 0
    /// Its connection ended; reported as `.subscriptionAbandoned` then freed.
    var abandoned = false
}

/// An inbound packet identifier with a digest of its topic and payload.
struct InboundRecord {
    var packetID: UInt16 = 0
    var digest: UInt = 0
}
