// oneM2M enumerations used in request and response primitives (TS-0004 6.3.4, 6.6).

/// The Operation parameter `op` of a request primitive (TS-0004 m2m:operation).
public enum Operation: UInt8, Sendable, CaseIterable {
    /// Create a resource (`op: 1`).
    case create = 1
    /// Retrieve a resource (`op: 2`).
    case retrieve = 2
    /// Update a resource (`op: 3`).
    case update = 3
    /// Delete a resource (`op: 4`).
    case delete = 4
    /// Notify (`op: 5`).
    case notify = 5
}

/// The Resource Type parameter `ty` (TS-0004 m2m:resourceType). Any number is representable;
/// the named constants are the types an AE meets.
public struct ResourceType: RawRepresentable, Hashable, Sendable {
    /// The numeric resource type.
    public var rawValue: UInt16
    /// Wraps any numeric resource type.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `<accessControlPolicy>` (1).
    public static let acp = ResourceType(rawValue: 1)
    /// `<AE>` (2).
    public static let ae = ResourceType(rawValue: 2)
    /// `<container>` (3).
    public static let container = ResourceType(rawValue: 3)
    /// `<contentInstance>` (4).
    public static let contentInstance = ResourceType(rawValue: 4)
    /// `<CSEBase>` (5).
    public static let cseBase = ResourceType(rawValue: 5)
    /// `<delivery>` (6).
    public static let delivery = ResourceType(rawValue: 6)
    /// `<eventConfig>` (7).
    public static let eventConfig = ResourceType(rawValue: 7)
    /// `<execInstance>` (8).
    public static let execInstance = ResourceType(rawValue: 8)
    /// `<group>` (9).
    public static let group = ResourceType(rawValue: 9)
    /// `<locationPolicy>` (10).
    public static let locationPolicy = ResourceType(rawValue: 10)
    /// `<m2mServiceSubscriptionProfile>` (11).
    public static let m2mServiceSubscriptionProfile = ResourceType(rawValue: 11)
    /// `<mgmtCmd>` (12).
    public static let mgmtCmd = ResourceType(rawValue: 12)
    /// `<mgmtObj>` (13).
    public static let mgmtObj = ResourceType(rawValue: 13)
    /// `<node>` (14).
    public static let node = ResourceType(rawValue: 14)
    /// `<pollingChannel>` (15).
    public static let pollingChannel = ResourceType(rawValue: 15)
    /// `<remoteCSE>` (16).
    public static let remoteCSE = ResourceType(rawValue: 16)
    /// `<request>` (17).
    public static let request = ResourceType(rawValue: 17)
    /// `<schedule>` (18).
    public static let schedule = ResourceType(rawValue: 18)
    /// `<serviceSubscribedAppRule>` (19).
    public static let serviceSubscribedAppRule = ResourceType(rawValue: 19)
    /// `<serviceSubscribedNode>` (20).
    public static let serviceSubscribedNode = ResourceType(rawValue: 20)
    /// `<statsCollect>` (21).
    public static let statsCollect = ResourceType(rawValue: 21)
    /// `<statsConfig>` (22).
    public static let statsConfig = ResourceType(rawValue: 22)
    /// `<subscription>` (23).
    public static let subscription = ResourceType(rawValue: 23)
    /// `<semanticDescriptor>` (24).
    public static let semanticDescriptor = ResourceType(rawValue: 24)
    /// `<flexContainer>` (28).
    public static let flexContainer = ResourceType(rawValue: 28)
    /// `<timeSeries>` (29).
    public static let timeSeries = ResourceType(rawValue: 29)
    /// `<timeSeriesInstance>` (30).
    public static let timeSeriesInstance = ResourceType(rawValue: 30)
    /// `<role>` (31).
    public static let role = ResourceType(rawValue: 31)
    /// `<token>` (32).
    public static let token = ResourceType(rawValue: 32)
}

/// The Response Status Code `rsc` (TS-0004 m2m:responseStatusCode, 6.6.3.9).
public struct ResponseStatusCode: RawRepresentable, Hashable, Sendable {
    /// The numeric code, e.g. 2001.
    public var rawValue: UInt16
    /// Wraps any numeric code.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 1xxx: the request was accepted and will be processed later.
    public var isAcknowledgement: Bool { rawValue >= 1000 && rawValue < 2000 }
    /// 2xxx: the operation succeeded.
    public var isSuccess: Bool { rawValue >= 2000 && rawValue < 3000 }
    /// 4xxx (originator error), 5xxx (receiver error) or 6xxx (network error).
    public var isError: Bool { rawValue >= 4000 && rawValue < 7000 }

    /// 1000 ACCEPTED.
    public static let accepted = ResponseStatusCode(rawValue: 1000)
    /// 1001 ACCEPTED for nonBlockingRequestSynch.
    public static let acceptedNonBlockingSynch = ResponseStatusCode(rawValue: 1001)
    /// 1002 ACCEPTED for nonBlockingRequestAsynch.
    public static let acceptedNonBlockingAsynch = ResponseStatusCode(rawValue: 1002)
    /// 2000 OK.
    public static let ok = ResponseStatusCode(rawValue: 2000)
    /// 2001 CREATED.
    public static let created = ResponseStatusCode(rawValue: 2001)
    /// 2002 DELETED.
    public static let deleted = ResponseStatusCode(rawValue: 2002)
    /// 2004 UPDATED.
    public static let updated = ResponseStatusCode(rawValue: 2004)
    /// 4000 BAD_REQUEST.
    public static let badRequest = ResponseStatusCode(rawValue: 4000)
    /// 4001 RELEASE_VERSION_NOT_SUPPORTED.
    public static let releaseVersionNotSupported = ResponseStatusCode(rawValue: 4001)
    /// 4004 NOT_FOUND.
    public static let notFound = ResponseStatusCode(rawValue: 4004)
    /// 4005 OPERATION_NOT_ALLOWED.
    public static let operationNotAllowed = ResponseStatusCode(rawValue: 4005)
    /// 4008 REQUEST_TIMEOUT (also the answer to an expired `rqet`, TS-0010 6.4.3).
    public static let requestTimeout = ResponseStatusCode(rawValue: 4008)
    /// 4015 UNSUPPORTED_MEDIA_TYPE.
    public static let unsupportedMediaType = ResponseStatusCode(rawValue: 4015)
    /// 4101 SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE.
    public static let subscriptionCreatorHasNoPrivilege = ResponseStatusCode(rawValue: 4101)
    /// 4102 CONTENTS_UNACCEPTABLE.
    public static let contentsUnacceptable = ResponseStatusCode(rawValue: 4102)
    /// 4103 ORIGINATOR_HAS_NO_PRIVILEGE.
    public static let originatorHasNoPrivilege = ResponseStatusCode(rawValue: 4103)
    /// 4105 CONFLICT (e.g. duplicate `rn`).
    public static let conflict = ResponseStatusCode(rawValue: 4105)
    /// 4106 ORIGINATOR_HAS_NOT_REGISTERED.
    public static let originatorHasNotRegistered = ResponseStatusCode(rawValue: 4106)
    /// 4107 SECURITY_ASSOCIATION_REQUIRED.
    public static let securityAssociationRequired = ResponseStatusCode(rawValue: 4107)
    /// 4108 INVALID_CHILD_RESOURCE_TYPE.
    public static let invalidChildResourceType = ResponseStatusCode(rawValue: 4108)
    /// 4117 ORIGINATOR_ALREADY_REGISTERED (ACME: "AE already registered").
    public static let originatorAlreadyRegistered = ResponseStatusCode(rawValue: 4117)
    /// 5000 INTERNAL_SERVER_ERROR.
    public static let internalServerError = ResponseStatusCode(rawValue: 5000)
    /// 5001 NOT_IMPLEMENTED.
    public static let notImplemented = ResponseStatusCode(rawValue: 5001)
    /// 5103 TARGET_NOT_REACHABLE.
    public static let targetNotReachable = ResponseStatusCode(rawValue: 5103)
    /// 5105 RECEIVER_HAS_NO_PRIVILEGES.
    public static let receiverHasNoPrivileges = ResponseStatusCode(rawValue: 5105)
    /// 5106 ALREADY_EXISTS.
    public static let alreadyExists = ResponseStatusCode(rawValue: 5106)
    /// 5203 TARGET_NOT_SUBSCRIBABLE.
    public static let targetNotSubscribable = ResponseStatusCode(rawValue: 5203)
    /// 5204 SUBSCRIPTION_VERIFICATION_INITIATION_FAILED.
    public static let subscriptionVerificationInitiationFailed = ResponseStatusCode(rawValue: 5204)
    /// 5205 SUBSCRIPTION_HOST_HAS_NO_PRIVILEGE.
    public static let subscriptionHostHasNoPrivilege = ResponseStatusCode(rawValue: 5205)
    /// 5207 NOT_ACCEPTABLE (TS-0010 6.5.3: unsupported serialization).
    public static let notAcceptable = ResponseStatusCode(rawValue: 5207)
}

/// The Result Content parameter `rcn` (TS-0004 m2m:resultContent).
public struct ResultContent: RawRepresentable, Hashable, Sendable {
    /// The numeric value.
    public var rawValue: UInt8
    /// Wraps any numeric result content.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0: nothing.
    public static let nothing = ResultContent(rawValue: 0)
    /// 1: attributes.
    public static let attributes = ResultContent(rawValue: 1)
    /// 2: hierarchical address.
    public static let hierarchicalAddress = ResultContent(rawValue: 2)
    /// 3: hierarchical address and attributes.
    public static let hierarchicalAddressAndAttributes = ResultContent(rawValue: 3)
    /// 4: attributes and child resources.
    public static let attributesAndChildResources = ResultContent(rawValue: 4)
    /// 5: attributes and child resource references.
    public static let attributesAndChildResourceReferences = ResultContent(rawValue: 5)
    /// 6: child resource references.
    public static let childResourceReferences = ResultContent(rawValue: 6)
    /// 7: original resource.
    public static let originalResource = ResultContent(rawValue: 7)
    /// 8: child resources.
    public static let childResources = ResultContent(rawValue: 8)
    /// 9: modified attributes.
    public static let modifiedAttributes = ResultContent(rawValue: 9)
}

/// The Release Version Indicator `rvi` (TS-0004 m2m:releaseVersion); sent as a JSON string.
public enum ReleaseVersion: UInt8, Sendable, CaseIterable {
    /// Release 1 ("1"; ACME rejects it with 4001).
    case r1
    /// Release 2 ("2").
    case r2
    /// Release 2a ("2a").
    case r2a
    /// Release 3 ("3").
    case r3
    /// Release 4 ("4").
    case r4
    /// Release 5 ("5").
    case r5

    /// The wire text, e.g. `"3"`.
    public var text: StaticString {
        switch self {
        case .r1: return "1"
        case .r2: return "2"
        case .r2a: return "2a"
        case .r3: return "3"
        case .r4: return "4"
        case .r5: return "5"
        }
    }

    /// Recognises the wire text (exact, case-sensitive); `nil` for anything else. One pass over
    /// at most three logical bytes (escaped text too), not a comparison per version.
    public init?(text: ByteString) {
        var it = text.makeIterator()
        guard let digit = it.next() else { return nil }
        let suffix = it.next()
        guard it.next() == nil else { return nil }
        // Arithmetic on the raw values, not a switch: its lookup table sat in the module's
        // read-only data with every public constant, which all came along with it.
        guard digit >= UInt8(ascii: "1") && digit <= UInt8(ascii: "5") else { return nil }
        var raw = digit &- UInt8(ascii: "1")  // 0...4
        if let suffix {
            guard raw == 1 && suffix == UInt8(ascii: "a") else { return nil }
            raw = 2  // r2a
        } else if raw >= 2 {
            raw &+= 1  // r3...r5 follow r2a
        }
        self.init(rawValue: raw)
    }
}

/// A serialization named by a topic suffix (TS-0010 later revisions; ACME requires it).
public enum Serialization: UInt8, Sendable, CaseIterable {
    /// `json` (application/json).
    case json
    /// `cbor` (application/cbor).
    case cbor
    /// `xml` (application/xml; ACME does not support it over MQTT).
    case xml

    /// The topic level text, e.g. `json`.
    public var topicLevel: StaticString {
        switch self {
        case .json: return "json"
        case .cbor: return "cbor"
        case .xml: return "xml"
        }
    }
}
