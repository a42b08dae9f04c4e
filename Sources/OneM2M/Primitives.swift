// TS-0010 6.5: request and response primitives serialized as compact JSON with short names.

/// The parameters of a request primitive to send (TS-0010 6.5.1, TS-0004 7.1.1.1). Text fields
/// are zero-copy `ByteString`s; the bytes must stay alive while encoding.
public struct RequestPrimitive: PrimitiveEncoding {
    /// `op`.
    public var operation: Operation
    /// `to`: the target resource (structured, unstructured, SP-relative or absolute).
    public var to: ByteString
    /// `fr`: the originator; `nil` omits it (ACME allows that only on an AE CREATE).
    public var from: ByteString?
    /// `rqi`: the request identifier.
    public var requestIdentifier: ByteString
    /// `rvi`: always sent (ACME answers 4001 without it).
    public var releaseVersion: ReleaseVersion
    /// `ty`: mandatory for CREATE, forbidden on other operations (ACME answers 4000).
    public var resourceType: ResourceType?
    /// `ot` in Unix microseconds.
    public var originatingTimestamp: Int64?
    /// `rqet`: absolute, or relative milliseconds (written as a digit string).
    public var requestExpiration: RequestExpiration?
    /// `rcn`.
    public var resultContent: ResultContent?

    /// Creates a request primitive; optional parameters default to absent.
    #if !hasFeature(Embedded)
    @inlinable  // hosts (speed): built in place in the caller, not by a call that copies it out
    #endif
    public init(operation: Operation, to: ByteString, from: ByteString?, requestIdentifier: ByteString,
                releaseVersion: ReleaseVersion = .r3, resourceType: ResourceType? = nil,
                originatingTimestamp: Int64? = nil, requestExpiration: RequestExpiration? = nil,
                resultContent: ResultContent? = nil) {
        self.operation = operation
        self.to = to
        self.from = from
        self.requestIdentifier = requestIdentifier
        self.releaseVersion = releaseVersion
        self.resourceType = resourceType
        self.originatingTimestamp = originatingTimestamp
        self.requestExpiration = requestExpiration
        self.resultContent = resultContent
    }

    /// Writes the parameters as object members (`"op":1,"to":...`) into an open object, in the
    /// order op, to, fr, rqi, rvi, ty, ot, rqet, rcn. Use it to add members of your own
    /// (`fc`, `drt`, ...) between `beginObject()` and `endObject()`. Not atomic by itself (the
    /// `encode` methods are): on error, restore a copy of the writer taken before the call.
    ///
    /// Throws `missingParameter(.resourceType)` for a CREATE without `ty` and
    /// `invalidParameter(.resourceType)` for `ty` on any other operation (ACME answers both 4000).
    public func writeParameters(into w: inout JSONWriter) throws(OneM2MError) {
        try writeFixedParameters(into: &w)
        try writeOptionalParameters(into: &w)
    }

    /// `writeParameters` up to `ty`: op, to, fr, rqi, rvi, ty. For writers whose primitives never
    /// carry `ot`, `rqet` or `rcn` (the C API): a call of this links none of the timestamp and
    /// digit-string code those need (about 1 KB of armv7 code in a C daemon).
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed): `writeParameters` stays one body
    #endif
    @_spi(Templates) public func writeFixedParameters(into w: inout JSONWriter) throws(OneM2MError) {
        // TS-0004 7.1.1.1: ty is mandatory for CREATE and not applicable otherwise.
        if operation == .create && resourceType == nil { throw .missingParameter(.resourceType) }
        if operation != .create && resourceType != nil { throw .invalidParameter(.resourceType) }
        // FINDINGS: ACME answers 4001 to a request without rvi.
        #if hasFeature(Embedded)
        // Embedded builds (size): one member at a time, the same bytes as the run below.
        try w.member(name: "op", integer: Int(operation.rawValue))
        try w.member(name: "to", to)
        if let from { try w.member(name: "fr", from) }
        try w.member(name: "rqi", requestIdentifier)
        try w.member(name: "rvi", ByteString(releaseVersion.text))
        if let resourceType { try w.member(name: "ty", integer: Int(resourceType.rawValue)) }
        #else
        // Hosts (speed): op, to, fr, rqi, rvi and ty in one reservation: the names are ours and
        // need no escaping, so only the three texts are measured.
        let toText = try w.measure(to), rqiText = try w.measure(requestIdentifier)
        let frText = try w.measure(from ?? .empty)
        let rvi = staticBytes(releaseVersion.text)
        let op = Int(operation.rawValue)
        let ty = resourceType.map { Int($0.rawValue) } ?? -1
        // The fixed parts (names, codes of at most 5 digits, `rvi`) are small: `&+`, no overflow
        // checks. Only the sum of the measured texts (the caller's, `fr` measured empty when
        // absent) stays checked.
        var fixed = 31 &+ JSONWriter.codeLength(op) &+ rvi.count
        if from != nil { fixed &+= 8 }
        if ty >= 0 { fixed &+= 6 &+ JSONWriter.codeLength(ty) }
        let length = fixed + toText.length + rqiText.length + frText.length
        var at = try w.beginMembers(length: length)
        at = w.put(raw: staticBytes("\"op\":"), at: at)
        at = w.put(code: op, at: at)
        at = w.put(raw: staticBytes(",\"to\":"), at: at)
        at = w.put(toText, at: at)
        if from != nil {
            at = w.put(raw: staticBytes(",\"fr\":"), at: at)
            at = w.put(frText, at: at)
        }
        at = w.put(raw: staticBytes(",\"rqi\":"), at: at)
        at = w.put(rqiText, at: at)
        at = w.put(raw: staticBytes(",\"rvi\":\""), at: at)
        at = w.put(raw: rvi, at: at)
        at = w.put(raw: staticBytes("\""), at: at)
        if ty >= 0 {
            at = w.put(raw: staticBytes(",\"ty\":"), at: at)
            at = w.put(code: ty, at: at)
        }
        w.endMembers(at: at, members: 4 &+ (from == nil ? 0 : 1) &+ (ty < 0 ? 0 : 1))
        #endif
    }

    /// `writeParameters` after `ty`: ot, rqet, rcn.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    func writeOptionalParameters(into w: inout JSONWriter) throws(OneM2MError) {
        // Key then value, not the atomic `member` forms (each saves and restores the writer):
        // this method is not atomic by itself, its callers restore or abandon the writer.
        if let ot = originatingTimestamp {
            try w.key("ot")
            try w.timestamp(unixMicroseconds: ot, includeFraction: ot % 1_000_000 != 0)
        }
        if let rqet = requestExpiration {
            if case .relative(let ms) = rqet, ms < 0 { throw .invalidTimestamp(.relative) }
            try w.key("rqet")
            switch rqet {
            case .absolute(let t): try w.timestamp(unixMicroseconds: t, includeFraction: t % 1_000_000 != 0)
            case .relative(let ms): try w.decimalString(UInt64(ms))
            }
        }
        if let rcn = resultContent { try w.member(name: "rcn", integer: Int(rcn.rawValue)) }
    }


}

/// The parameters of a response primitive to send, e.g. the answer to a NOTIFY
/// (TS-0010 6.5.2: `rsc` and `rqi` are mandatory; ACME also drops responses without `rvi`).
public struct ResponsePrimitive: PrimitiveEncoding {
    /// `rsc`.
    public var statusCode: ResponseStatusCode
    /// `rqi` of the request being answered; `nil` only if the request had none.
    public var requestIdentifier: ByteString?
    /// `rvi`: always sent.
    public var releaseVersion: ReleaseVersion
    /// `fr`: the responder (optional for ACME).
    public var from: ByteString?
    /// `to`: the original originator (optional for ACME).
    public var to: ByteString?
    /// `ot` in Unix microseconds.
    public var originatingTimestamp: Int64?

    /// Creates a response primitive.
    public init(statusCode: ResponseStatusCode, requestIdentifier: ByteString?, releaseVersion: ReleaseVersion = .r3,
                from: ByteString? = nil, to: ByteString? = nil, originatingTimestamp: Int64? = nil) {
        self.statusCode = statusCode
        self.requestIdentifier = requestIdentifier
        self.releaseVersion = releaseVersion
        self.from = from
        self.to = to
        self.originatingTimestamp = originatingTimestamp
    }

    /// Writes the parameters as members in the order rsc, rqi, rvi, fr, to, ot.
    public func writeParameters(into w: inout JSONWriter) throws(OneM2MError) {
        try writeFixedParameters(into: &w)
        if let ot = originatingTimestamp {
            try w.member("ot", timestamp: ot, includeFraction: ot % 1_000_000 != 0)
        }
    }

    /// `writeParameters` without `ot`: rsc, rqi, rvi, fr, to. For writers whose responses never
    /// carry `ot` (the C API, `OneM2MClient`'s answers): no timestamp code linked.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    @_spi(Templates) public func writeFixedParameters(into w: inout JSONWriter) throws(OneM2MError) {
        try w.member(name: "rsc", integer: Int(statusCode.rawValue))
        // TS-0010 6.5.2: rsc and rqi; FINDINGS: ACME drops a response without rvi.
        if let rqi = requestIdentifier { try w.member(name: "rqi", rqi) }
        try w.member(name: "rvi", ByteString(releaseVersion.text))
        if let fr = from { try w.member(name: "fr", fr) }
        if let to = to { try w.member(name: "to", to) }
    }


}

/// A primitive that writes its parameters as object members; the encoders below wrap them in
/// one JSON object, with or without `pc`. Used only as a generic constraint.
public protocol PrimitiveEncoding {
    /// Writes the parameters as members of an open object.
    func writeParameters(into w: inout JSONWriter) throws(OneM2MError)
}

extension PrimitiveEncoding {
    /// Writes the primitive as one JSON object without `pc` (e.g. RETRIEVE, DELETE, most
    /// responses). Atomic: on error the writer is unchanged.
    public func encode(into w: inout JSONWriter) throws(OneM2MError) {
        try wrap(&w) { (_: inout JSONWriter) throws(OneM2MError) in }
    }

    /// Writes the primitive with `pc` set to an already serialized JSON value (validated unless
    /// `validateContent` is false). Atomic: on error the writer is unchanged.
    public func encode(into w: inout JSONWriter, content: UnsafeRawBufferPointer, validateContent: Bool = true) throws(OneM2MError) {
        try wrap(&w) { (w: inout JSONWriter) throws(OneM2MError) in try w.member("pc", rawJSON: content, validate: validateContent) }
    }

    /// Writes the primitive with `pc` produced by `content`, which must write exactly one value
    /// (e.g. `{"m2m:cin":{...}}`) into the same writer. Atomic: on error the writer is unchanged.
    public func encode(into w: inout JSONWriter, content: (inout JSONWriter) throws(OneM2MError) -> Void) throws(OneM2MError) {
        #if hasFeature(Embedded)
        try wrap(&w) { (w: inout JSONWriter) throws(OneM2MError) in try w.member(name: "pc", content: content) }
        #else
        // Hosts (speed): one copy of the writer to restore on error, here, instead of one more in
        // the `pc` member and one in `content` (each a copy of the whole writer).
        let saved = w
        do {
            try w.beginObject()
            try writeParameters(into: &w)
            try w.key(quotedWithColon: #""pc":"#)
            try w.contentRestoredByCaller(content)
            try w.endObject()
        } catch { w = saved; throw error }
        #endif
    }

    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    func wrap(_ w: inout JSONWriter, _ extra: (inout JSONWriter) throws(OneM2MError) -> Void) throws(OneM2MError) {
        let saved = w
        do {
            try w.beginObject()
            try writeParameters(into: &w)
            try extra(&w)
            try w.endObject()
        } catch { w = saved; throw error }
    }
}
