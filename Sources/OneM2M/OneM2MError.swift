// Typed errors of the OneM2M sans-I/O layer. Every failure on input or output is one of these;
// nothing in this module traps on malformed or oversized data.

/// Everything that can go wrong in the OneM2M layer: encoding into a caller buffer, validating
/// JSON, parsing primitives, topics, pointOfAccess URIs and timestamps.
public enum OneM2MError: Error, Equatable, Sendable {
    /// The caller-provided output buffer cannot hold the result. Nothing was written (the
    /// writer's count and state are unchanged); retry with a larger buffer.
    case bufferTooSmall
    /// A `JSONWriter` call does not fit the document's structure (a value without a key inside
    /// an object, a key inside an array, an unbalanced end, a second top-level value, or a
    /// content closure that did not write exactly one value).
    case invalidWriterState
    /// A `JSONWriter` document nests deeper than `JSONWriter.maxDepth` containers.
    case nestingTooDeep
    /// Text handed to the writer (or to a topic/URI builder) is not well-formed UTF-8.
    case invalidUTF8Input
    /// The input is not valid JSON (RFC 8259); `offset` is the byte index where the problem was found.
    case malformedJSON(JSONSyntaxError, offset: Int)
    /// A JSON value has a different kind than the one asked for.
    case typeMismatch(expected: JSONKind)
    /// A JSON number (or numeric string) is not an integer in the required form.
    case notAnInteger
    /// A JSON integer does not fit the requested range.
    case integerOutOfRange
    /// A oneM2M timestamp (`YYYYMMDDThhmmss[,ffffff]`) or a relative expiration is malformed.
    case invalidTimestamp(TimestampIssue)
    /// A TS-0010 MQTT topic or topic segment is malformed.
    case invalidTopic(TopicIssue)
    /// A pointOfAccess URI (TS-0010 6.6) is malformed.
    case invalidPointOfAccess(PointOfAccessIssue)
    /// The payload is not a JSON object (or a `m2m:rqp`/`m2m:rsp` wrapper around one).
    case notAPrimitive
    /// A mandatory primitive parameter is absent.
    case missingParameter(PrimitiveParameter)
    /// A primitive parameter is present but has the wrong JSON type or an unusable value.
    case invalidParameter(PrimitiveParameter)
    /// The content is not a `{"m2m:sgn": {...}}` notification.
    case notANotification
}

/// The RFC 8259 rule a JSON document broke.
public enum JSONSyntaxError: Equatable, Sendable {
    /// The document ended before the value was complete (including an empty document).
    case unexpectedEnd
    /// A byte that cannot start or continue a value at this position.
    case unexpectedCharacter
    /// A string has no closing quote.
    case unterminatedString
    /// A raw control character (U+0000..U+001F) inside a string.
    case controlCharacterInString
    /// A backslash followed by something other than `" \ / b f n r t u`.
    case invalidEscape
    /// `\u` not followed by four hexadecimal digits.
    case invalidUnicodeEscape
    /// A UTF-16 surrogate escape without its partner (`\uD800` alone, or a lone `\uDC00`).
    case loneSurrogate
    /// Bytes that are not well-formed UTF-8.
    case invalidUTF8
    /// A number that breaks the grammar (`-`, `1.`, `1e`, `.5`, `+1`).
    case invalidNumber
    /// A number with a leading zero (`01`, `-00`).
    case leadingZero
    /// A comma directly before `}` or `]`.
    case trailingComma
    /// Containers nest deeper than the configured depth limit.
    case depthLimitExceeded
    /// Something other than whitespace follows the top-level value.
    case trailingData
    /// An object member name is not a string, or the `:` is missing.
    case invalidMemberName
}

/// What is wrong with a oneM2M timestamp.
public enum TimestampIssue: Equatable, Sendable {
    /// Wrong overall length or a missing/misplaced `T`.
    case format
    /// A non-digit where a digit is required.
    case nonDigit
    /// Month outside 1...12.
    case month
    /// Day outside 1...days-in-month.
    case day
    /// Hour outside 0...23.
    case hour
    /// Minute outside 0...59.
    case minute
    /// Second outside 0...59.
    case second
    /// A fraction separator not followed by 1...6 digits.
    case fraction
    /// A date outside the years 0000...9999 (when formatting), or microseconds outside 0...999999.
    case outOfRange
    /// A relative expiration that is not a non-negative integer number of milliseconds.
    case relative
}

/// What is wrong with a TS-0010 topic.
public enum TopicIssue: Equatable, Sendable {
    /// The topic does not start with `/oneM2M/`.
    case notOneM2M
    /// The second level is not `req`, `resp`, `reg_req` or `reg_resp`.
    case unknownKind
    /// The originator or receiver level is missing.
    case missingSegment
    /// A level is empty.
    case emptySegment
    /// A level contains `+` or `#` (wildcards are not allowed in topic names or IDs).
    case wildcardInSegment
    /// A level contains a NUL byte.
    case nulInSegment
    /// The level after the receiver is not a known serialization (`json`, `cbor`, `xml`).
    case unknownSerialization
    /// More levels than `/oneM2M/<kind>/<originator>/<receiver>[/<serialization>]`.
    case tooManyLevels
}

/// What is wrong with a pointOfAccess URI.
public enum PointOfAccessIssue: Equatable, Sendable {
    /// The scheme is missing or not one of `mqtt`, `mqtts`, `ws`, `wss`.
    case unknownScheme
    /// No host between `://` and the port or path.
    case missingHost
    /// The port is empty, not decimal, 0, or above 65535.
    case invalidPort
    /// An IPv6 literal's `[` has no `]` (or a stray `]`).
    case unbalancedBracket
    /// The host contains a byte that is not allowed in a host name or IP literal.
    case invalidHostCharacter
    /// `user@` in the authority (credentials do not belong in a pointOfAccess).
    case userInfoNotAllowed
    /// A path, query or fragment where the scheme does not allow one (`mqtt`, `mqtts`), or
    /// control characters/spaces in a WebSocket path.
    case invalidPath
}

/// A request or response primitive parameter (TS-0004 short names).
public enum PrimitiveParameter: UInt8, Equatable, Sendable {
    /// `op`: Operation.
    case operation
    /// `to`: To (target).
    case to
    /// `fr`: From (originator).
    case from
    /// `rqi`: Request Identifier.
    case requestIdentifier
    /// `rvi`: Release Version Indicator.
    case releaseVersion
    /// `ty`: Resource Type.
    case resourceType
    /// `ot`: Originating Timestamp.
    case originatingTimestamp
    /// `rqet`: Request Expiration Timestamp.
    case requestExpiration
    /// `rcn`: Result Content.
    case resultContent
    /// `pc`: Content.
    case content
    /// `rsc`: Response Status Code.
    case responseStatusCode

    /// The JSON short name of the parameter (TS-0004 8.2).
    public var shortName: StaticString {
        switch self {
        case .operation: return "op"
        case .to: return "to"
        case .from: return "fr"
        case .requestIdentifier: return "rqi"
        case .releaseVersion: return "rvi"
        case .resourceType: return "ty"
        case .originatingTimestamp: return "ot"
        case .requestExpiration: return "rqet"
        case .resultContent: return "rcn"
        case .content: return "pc"
        case .responseStatusCode: return "rsc"
        }
    }
}
