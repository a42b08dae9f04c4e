import MQTTClient
import OneM2M

/// A wall clock in Unix microseconds, for `ot` and for checking `rqet` (TS-0010 6.4.3).
public protocol WallClock {
    func unixMicroseconds() -> Int64
}

/// How an AE talks to its CSE (TS-0010 V1.1.0; ACME's expectations in brackets).
public struct OneM2MConfiguration: Sendable {
    /// The CSE-ID of the Registrar CSE, with or without the leading `/` (`id-in`).
    public var cseID: [UInt8]
    /// The CSE's resource name, the `to` of a registration (`cse-in`).
    public var cseName: [UInt8]
    /// This AE's originator: its AE-ID once known (`Csensor1`), else the credential ID it
    /// registers with (`C` lets the CSE assign one).
    public var originator: [UInt8]
    /// Register on `reg_req`/`reg_resp` (TS-0010 6.4.4: the AE-ID is not known yet) instead of
    /// `req`/`resp`.
    public var registerOnRegistrationTopic: Bool
    /// The topic serialization suffix: `.json` (TS-0010 v2+, ACME requires it) or nil (V1.1.0).
    public var serialization: Serialization?
    /// `rvi` sent with every request.
    public var releaseVersion: ReleaseVersion
    /// How long a request waits for its response before it is reported as timed out.
    public var requestTimeoutMilliseconds: Int
    /// Requests that may await responses at once.
    public var maximumPendingRequests: Int
    /// MQTT keep-alive in seconds.
    public var keepAliveSeconds: UInt16
    /// MQTT session buffers (the receive buffer bounds the largest response or notification).
    public var capacities: SessionCapacities
    /// Optional MQTT credentials (TS-0010 7: the broker authenticates clients).
    public var userName: [UInt8]?
    public var password: [UInt8]?

    /// The MQTT client identifier TS-0010 6.3 asks for: `A::<AE-ID>` for an AE (the prefix
    /// separates the AE-ID and CSE-ID spaces); before registration the credential ID serves.
    public var mqttClientID: [UInt8] {
        var id: [UInt8] = [UInt8(ascii: "A"), UInt8(ascii: ":"), UInt8(ascii: ":")]
        id.append(contentsOf: originator)
        return id
    }
}

// The initialisers are in an extension so that the struct keeps its implicit memberwise
// initialiser, which the byte form calls: it builds the value directly, where assigning
// `self.x = x` one field at a time built it in a stack slot and returned a copy of it (the
// arrays retained, the slot's released; an outlined copy of 218 B on armv7).
extension OneM2MConfiguration {
    public init(
        cseID: String = "id-in", cseName: String = "cse-in", originator: String,
        registerOnRegistrationTopic: Bool = false, serialization: Serialization? = .json,
        releaseVersion: ReleaseVersion = .r3, requestTimeoutMilliseconds: Int = 10_000,
        maximumPendingRequests: Int = 16, keepAliveSeconds: UInt16 = 60,
        capacities: SessionCapacities = SessionCapacities()
    ) {
        // Everything but the identifiers through the byte form, then the identifiers' UTF-8.
        self.init(
            cseID: ByteString.empty, cseName: ByteString.empty, originator: ByteString.empty,
            registerOnRegistrationTopic: registerOnRegistrationTopic, serialization: serialization,
            releaseVersion: releaseVersion, requestTimeoutMilliseconds: requestTimeoutMilliseconds,
            maximumPendingRequests: maximumPendingRequests, keepAliveSeconds: keepAliveSeconds, capacities: capacities)
        self.cseID = Array(cseID.utf8)
        self.cseName = Array(cseName.utf8)
        self.originator = Array(originator.utf8)
    }

    /// `init` with the identifiers as bytes (copied; no `String`, for Embedded programs).
    public init(
        cseID: ByteString = "id-in", cseName: ByteString = "cse-in", originator: ByteString,
        registerOnRegistrationTopic: Bool = false, serialization: Serialization? = .json,
        releaseVersion: ReleaseVersion = .r3, requestTimeoutMilliseconds: Int = 10_000,
        maximumPendingRequests: Int = 16, keepAliveSeconds: UInt16 = 60,
        capacities: SessionCapacities = SessionCapacities()
    ) {
        self.init(
            cseID: Array(cseID), cseName: Array(cseName), originator: Array(originator),
            registerOnRegistrationTopic: registerOnRegistrationTopic, serialization: serialization,
            releaseVersion: releaseVersion, requestTimeoutMilliseconds: requestTimeoutMilliseconds,
            maximumPendingRequests: maximumPendingRequests, keepAliveSeconds: keepAliveSeconds,
            capacities: capacities, userName: nil, password: nil)
    }
}

/// Why a oneM2M client operation failed.
public enum OneM2MClientError: Error, Equatable, Sendable {
    /// The MQTT layer failed (transport, session, timeout).
    case mqtt(ClientError)
    /// A primitive could not be encoded (too large for the buffer, bad text).
    case encoding(OneM2MError)
    /// `maximumPendingRequests` requests already await responses; poll and retry.
    case tooManyPendingRequests
    /// No response arrived within the request timeout.
    case timedOut
    /// The CSE answered with an error status (for the blocking helpers).
    case rejected(ResponseStatusCode)
    /// A response could not be understood.
    case malformedResponse(OneM2MError)

    public var summary: StaticString {
        switch self {
        case .mqtt(let e): return e.summary
        case .encoding: return "request could not be encoded"
        case .tooManyPendingRequests: return "too many requests awaiting responses"
        case .timedOut: return "no response within the request timeout"
        case .rejected: return "the CSE answered with an error status"
        case .malformedResponse: return "malformed response"
        }
    }
}

/// Identifies one request sent by this client (its `rqi` is derived from it).
public struct RequestID: Equatable, Hashable, Sendable {
    public let value: UInt32
}
