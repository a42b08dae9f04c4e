// TS-0010 6.5: decoding received request and response primitives (unwrapped, or wrapped in
// `m2m:rqp` / `m2m:rsp`) as zero-copy views into the payload.

/// Where the parameters of a primitive object start, by slot: `PrimitiveParameter` raw values,
/// then the wrapper members `m2m:rqp` and `m2m:rsp`. Filled while a document is validated (its
/// top-level members) or in one pass over an object's members; the first of duplicate members
/// counts, as with `member(named:)`.
struct PrimitiveSlots {
    static let requestWrapperSlot = 11, responseWrapperSlot = 12
    /// Per slot: the value's start + 1 (0: absent). 32 bits: an MQTT payload is below 256 MiB.
    var starts: InlineArray<13, UInt32> = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    /// Added to every offset: where the validated bytes start in the document.
    var base = 0

    init() {}

    /// Collects the members of `object` (of a validated document) by validating it again on
    /// its own: the rare wrapped primitive costs a second pass, the usual one none.
    init(members object: JSONValue) {
        let range = UnsafeRawBufferPointer(rebasing: object.document[object.start..<object.end])
        _ = try? validateJSON(range, maxDepth: JSONDocument.maxSupportedDepth, slots: &self)
        base = object.start
    }

    /// Notes the member whose name starts (with its quote) at `key` and whose value starts at
    /// `value`, if its name is one we look for. Hosts inline it in the validator (speed; a call
    /// cost about 30 instructions a top-level member), `@_transparent` because the inliner
    /// ignores `@inline(__always)` in a function as large as the validator.
    #if !hasFeature(Embedded)
    @_transparent
    #endif
    mutating func record(_ p: UnsafeRawBufferPointer, key: Int, keyEnd: Int, value: Int) {
        #if !hasFeature(Embedded)
        #if _endian(little)
        // Hosts (speed): a plain name of up to 7 bytes and its closing quote in one load, looked
        // up in `bucketTable` (two loads, no jump table). The names in it have no backslash, so
        // a name that does not match needs the check for escapes only then.
        let length = keyEnd &- key &- 2
        if length <= 7 && key &+ 9 <= p.count, let b = p.baseAddress {
            let word = b.loadUnaligned(fromByteOffset: key &+ 1, as: UInt64.self)
                & (~0 &>> UInt64(truncatingIfNeeded: 56 &- 8 &* length))
            if let slot = Self.slot(word: word) {
                // Unchecked (speed): `bucketTable`'s slots are 0...12 by construction.
                if unsafe starts[unchecked: slot] == 0 { unsafe starts[unchecked: slot] = UInt32(truncatingIfNeeded: value &+ 1) }
                return
            }
            if !hasBackslash(word) { return }
        }
        #endif
        // Escaped, longer, or too near the buffer's end for the load (rare): compared decoded,
        // out of line.
        record(decodedNameAt: key, end: keyEnd, in: p, value: value)
        #else
        guard let slot = slot(forKeyAt: key, end: keyEnd, in: p), starts[slot] == 0 else { return }
        starts[slot] = UInt32(truncatingIfNeeded: value &+ 1)
        #endif
    }

    #if !hasFeature(Embedded)
    @inline(never)
    mutating func record(decodedNameAt key: Int, end: Int, in p: UnsafeRawBufferPointer, value: Int) {
        guard let slot = Self.slot(decodedNameAt: key, end: end, in: p), starts[slot] == 0 else { return }
        starts[slot] = UInt32(truncatingIfNeeded: value &+ 1)
    }
    #endif

    func start(_ slot: Int) -> Int { Int(starts[slot]) }

    /// The value in `slot` of `document`, or nil.
    func value(_ slot: Int, in document: UnsafeRawBufferPointer) -> JSONValue? {
        let v = start(slot)
        guard v != 0 else { return nil }
        return JSONValue(document: document, at: base &+ v &- 1)  // wrapping: as in presentAt
    }

    #if hasFeature(Embedded)
    /// The slot of the (validated) member name from the quote at `k` to `end` (after the
    /// closing quote), compared on unescaped bytes (Embedded builds; hosts look names up in
    /// `record`).
    func slot(forKeyAt k: Int, end: Int, in p: UnsafeRawBufferPointer) -> Int? {
        // Every name compared decoded (size: the word load's path cost more code than it saved
        // time; hosts look names up in `record`).
        Self.slot(decodedNameAt: k, end: end, in: p)
    }
    #endif

    /// The slot of the member name from the quote at `k` to `end`, compared on its unescaped
    /// bytes (rare: escapes, a longer name, or the end of the buffer).
    static func slot(decodedNameAt k: Int, end: Int, in p: UnsafeRawBufferPointer) -> Int? {
        // The name's bytes and closing quote in 8 bytes, read as a little-endian word.
        var name: UInt64 = 0
        let contents = ByteString(jsonStringContents: UnsafeRawBufferPointer(rebasing: p[(k + 1)..<(end - 1)]))
        let count = withUnsafeMutableBytes(of: &name) { b -> Int in
            guard let count = try? contents.copy(into: b), count < 8 else { return 8 }
            b[count] = UInt8(ascii: "\"")
            return count
        }
        return count < 8 ? slot(word: UInt64(littleEndian: name)) : nil
    }

    /// The slot of a name given as its bytes and closing quote, little-endian (first byte
    /// lowest), by a perfect hash of the 13 names we look for into 16 buckets; one compare.
    #if !hasFeature(Embedded)
    @inline(__always)
    #endif
    static func slot(word: UInt64) -> Int? {
        let h = hash(word)
        let table = UnsafeRawPointer(bucketTable.utf8Start)
        guard UInt64(littleEndian: table.loadUnaligned(fromByteOffset: h &<< 3, as: UInt64.self)) == word else { return nil }
        return Int(table.load(fromByteOffset: 128 &+ h, as: UInt8.self))
    }

    /// The bucket (0...15) of a name given as in `slot(word:)`.
    @inline(__always)
    static func hash(_ word: UInt64) -> Int { Int(truncatingIfNeeded: (word &* 0x498A_FB13_8387_A1E7) >> 60) }

    /// The buckets of `slot(word:)` as data (two loads, no jump table): per bucket, 8 bytes: the
    /// name with its quote (zeros for an empty bucket, which no name matches); then per bucket,
    /// 1 byte: its slot (`PrimitiveParameter` raw value, 11 `m2m:rqp`, 12 `m2m:rsp`).
    static let bucketTable: StaticString = """
        op"\0\0\0\0\0\
        \0\0\0\0\0\0\0\0\
        \0\0\0\0\0\0\0\0\
        ot"\0\0\0\0\0\
        pc"\0\0\0\0\0\
        ty"\0\0\0\0\0\
        rvi"\0\0\0\0\
        rqet"\0\0\0\
        fr"\0\0\0\0\0\
        \0\0\0\0\0\0\0\0\
        rqi"\0\0\0\0\
        m2m:rqp"\
        m2m:rsp"\
        rsc"\0\0\0\0\
        to"\0\0\0\0\0\
        rcn"\0\0\0\0\
        \0\0\0\u{6}\u{9}\u{5}\u{4}\u{7}\u{2}\0\u{3}\u{b}\u{c}\u{a}\u{1}\u{8}
        """
}

/// The parameters of a primitive object.
struct PrimitiveFields {
    /// The primitive object.
    let object: JSONValue
    let slots: PrimitiveSlots

    /// The primitive in a validated document: the top-level object, or the object inside the
    /// wrapper member in `wrapperSlot`. Inlined on hosts (speed): the fields are built in place.
    #if !hasFeature(Embedded)
    @inline(__always)
    #endif
    init(document: JSONDocument, wrapperSlot: Int) throws(OneM2MError) {
        let root = document.root
        guard root.kind == .object else { throw .notAPrimitive }
        guard let inner = document.slots.value(wrapperSlot, in: root.document) else {
            object = root
            slots = document.slots
            return
        }
        guard inner.kind == .object else { throw .notAPrimitive }
        object = inner
        slots = PrimitiveSlots(members: inner)
    }
}

/// Where a present, non-null member's value starts in the document; -1 if absent or null.
/// The helpers here take the fields `inout` only so that a slot is read in place (an element
/// of a borrowed `InlineArray` is read from a copy of the whole array).
func presentAt(_ object: inout PrimitiveFields, _ p: PrimitiveParameter) -> Int {
    let v = object.slots.start(Int(p.rawValue))
    guard v != 0 else { return -1 }
    // Wrapping: `v - 1` is an offset the validator saw, and `base` where it started.
    let at = object.slots.base &+ v &- 1
    return object.object.document[at] == UInt8(ascii: "n") ? -1 : at
}

/// A present, non-null member.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#endif
func present(_ object: inout PrimitiveFields, _ p: PrimitiveParameter) -> JSONValue? {
    let at = presentAt(&object, p)
    return at < 0 ? nil : JSONValue(document: object.object.document, at: at)
}

/// A mandatory string parameter.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#endif
func requiredText(_ object: inout PrimitiveFields, _ p: PrimitiveParameter) throws(OneM2MError) -> ByteString {
    guard let v = present(&object, p) else { throw .missingParameter(p) }
    guard let t = v.text else { throw .invalidParameter(p) }
    return t
}

/// An optional string parameter.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#else
@inline(__always)  // hosts (speed)
#endif
func optionalText(_ object: inout PrimitiveFields, _ p: PrimitiveParameter) throws(OneM2MError) -> ByteString? {
    guard let v = present(&object, p) else { return nil }
    guard let t = v.text else { throw .invalidParameter(p) }
    return t
}

/// Where an optional string parameter's value starts (-1: absent); its text is read later.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#endif
func stringAt(_ object: inout PrimitiveFields, _ p: PrimitiveParameter) throws(OneM2MError) -> Int {
    let at = presentAt(&object, p)
    guard at < 0 || object.object.document[at] == UInt8(ascii: "\"") else { throw .invalidParameter(p) }
    return at
}

/// A number or numeric string converted to `T`, any failure reported as `invalidParameter(p)`.
func integerParameter<T: FixedWidthInteger>(_ v: JSONValue, _ p: PrimitiveParameter, _ type: T.Type) throws(OneM2MError) -> T {
    do {
        return try v.integer(as: T.self, allowNumericString: true)
    } catch {
        throw .invalidParameter(p)
    }
}

/// A number or numeric string in `0...limit`, any failure reported as `invalidParameter(p)`:
/// one copy for `op`, `ty`, `rcn` and `rsc` instead of a specialisation per integer type.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#else
@inline(__always)  // hosts (speed)
#endif
func unsignedParameter(_ v: JSONValue, _ p: PrimitiveParameter, upTo limit: Int64) throws(OneM2MError) -> Int64 {
    let n: Int64
    do { n = try v.integerOrNumericString() } catch { throw .invalidParameter(p) }
    guard n >= 0 && n <= limit else { throw .invalidParameter(p) }
    return n
}

/// A present number or numeric string in `0...limit` (`op`, `ty`, `rcn`, `rsc`); -1 when the
/// parameter is absent or null.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#else
@inline(__always)  // hosts (speed)
#endif
func codeParameter(_ object: inout PrimitiveFields, _ p: PrimitiveParameter, upTo limit: Int64) throws(OneM2MError) -> Int64 {
    guard let v = present(&object, p) else { return -1 }
    return try unsignedParameter(v, p, upTo: limit)
}

/// `rvi` as text: a string, or (leniently) a bare number such as `3`.
func releaseVersionParameter(_ v: JSONValue) throws(OneM2MError) -> ByteString {
    if let t = v.text { return t }
    guard v.kind == .number else { throw .invalidParameter(.releaseVersion) }
    return ByteString(v.rawBytes)
}

/// `rqet`, if present: relative milliseconds (a non-negative number) or a string (absolute, or
/// relative as digits).
#if hasFeature(Embedded)
@inline(never)  // (size: kept out of the request view's long initializer)
#endif
func requestExpirationParameter(_ object: inout PrimitiveFields) throws(OneM2MError) -> RequestExpiration? {
    guard let rqet = present(&object, .requestExpiration) else { return nil }
    if rqet.kind == .number {
        let ms = try integerParameter(rqet, .requestExpiration, Int64.self)
        guard ms >= 0 else { throw .invalidParameter(.requestExpiration) }
        return .relative(milliseconds: ms)
    }
    guard let t = rqet.text else { throw .invalidParameter(.requestExpiration) }
    do { return try RequestExpiration.parse(t) } catch { throw .invalidParameter(.requestExpiration) }
}

/// `ot` parsed to Unix microseconds.
func timestampParameter(_ object: inout PrimitiveFields, _ p: PrimitiveParameter) throws(OneM2MError) -> Int64? {
    guard let t = try optionalText(&object, p) else { return nil }
    do { return try OneM2MTimestamp.parse(t) } catch { throw .invalidParameter(p) }
}

/// A received request primitive (TS-0010 6.5.1): views into the payload, which must outlive it.
///
/// Mandatory (per ACME): `op`, `to`, `rqi`, `rvi`. Optional: `fr` (absent on an AE CREATE),
/// `ty`, `ot`, `rqet`, `rcn`, `pc`. `op`, `ty` and `rcn` may be numbers or numeric strings.
/// A `null` parameter counts as absent. Unknown parameters are ignored.
public struct RequestPrimitiveView {
    /// The validated payload.
    public let document: JSONDocument
    /// The primitive object (inside `m2m:rqp` when wrapped).
    public let primitive: JSONValue
    /// `op`.
    public let operation: Operation
    /// `to`.
    public let to: ByteString
    /// `fr`, if present.
    public let from: ByteString?
    /// `rqi`.
    public let requestIdentifier: ByteString
    /// `rvi` as sent (may be a version this SDK does not know; see `releaseVersion`).
    public let releaseVersionText: ByteString
    /// `ty`, if present.
    public let resourceType: ResourceType?
    /// `ot` in Unix microseconds, if present.
    public let originatingTimestamp: Int64?
    /// `rqet`, if present: absolute, or relative milliseconds (a number or a digit string).
    public let requestExpiration: RequestExpiration?
    /// `rcn`, if present.
    public let resultContent: ResultContent?
    /// `pc`, if present.
    public let content: JSONValue?

    /// `rvi` as a known release version, or `nil` (answer such a request with 4001).
    public var releaseVersion: ReleaseVersion? { ReleaseVersion(text: releaseVersionText) }

    /// Validates `payload` (JSON, at most `maxDepth` nested containers) and decodes the request.
    /// Throws `malformedJSON`, `notAPrimitive`, `missingParameter(_)` or `invalidParameter(_)`.
    public init(decoding payload: UnsafeRawBufferPointer, maxDepth: Int = JSONDocument.defaultMaxDepth) throws(OneM2MError) {
        try self.init(document: try JSONDocument(validating: payload, maxDepth: maxDepth))
    }

    /// Decodes the request from an already validated document.
    public init(document: JSONDocument) throws(OneM2MError) {
        var o = try PrimitiveFields(document: document, wrapperSlot: PrimitiveSlots.requestWrapperSlot)
        self.document = document
        self.primitive = o.object
        // TS-0010 6.5.1 (TS-0004 7.1.1.1): op, to, rqi mandatory; ACME also requires rvi.
        let op = try codeParameter(&o, .operation, upTo: 0xFF)
        guard op >= 0 else { throw .missingParameter(.operation) }
        guard let operation = Operation(rawValue: UInt8(truncatingIfNeeded: op)) else { throw .invalidParameter(.operation) }
        self.operation = operation
        self.to = try requiredText(&o, .to)
        guard !to.isEmpty else { throw .invalidParameter(.to) }
        self.requestIdentifier = try requiredText(&o, .requestIdentifier)
        guard let rvi = present(&o, .releaseVersion) else { throw .missingParameter(.releaseVersion) }
        self.releaseVersionText = try releaseVersionParameter(rvi)
        self.from = try optionalText(&o, .from)
        let ty = try codeParameter(&o, .resourceType, upTo: 0xFFFF)
        self.resourceType = ty < 0 ? nil : ResourceType(rawValue: UInt16(truncatingIfNeeded: ty))
        self.originatingTimestamp = try timestampParameter(&o, .originatingTimestamp)
        self.requestExpiration = try requestExpirationParameter(&o)
        let rcn = try codeParameter(&o, .resultContent, upTo: 0xFF)
        self.resultContent = rcn < 0 ? nil : ResultContent(rawValue: UInt8(truncatingIfNeeded: rcn))
        self.content = present(&o, .content)
    }

    /// TS-0010 6.4.3: true when `rqet` has passed at `now` (Unix microseconds); a relative
    /// `rqet` counts from `receivedAt`. Answer such a request 4008 and do not process it.
    public func hasExpired(now: Int64, receivedAt: Int64) -> Bool {
        requestExpiration?.hasExpired(now: now, receivedAt: receivedAt) ?? false
    }

    /// The notification in `pc` (`m2m:sgn`) of a NOTIFY request; `nil` for other operations or contents.
    public var notification: NotificationView? {
        guard operation == .notify, let pc = content else { return nil }
        do { return try NotificationView(content: pc) } catch { return nil }
    }

    /// Best effort for answering a request that failed to decode: the `rqi` string of a payload
    /// that is valid JSON (wrapped or not), or `nil`. (ACME's own error responses omit `rqi`
    /// when it cannot be read.)
    public static func salvageRequestIdentifier(from payload: UnsafeRawBufferPointer,
                                                maxDepth: Int = JSONDocument.defaultMaxDepth) -> ByteString? {
        do {
            let doc = try JSONDocument(validating: payload, maxDepth: maxDepth)
            var o = try PrimitiveFields(document: doc, wrapperSlot: PrimitiveSlots.requestWrapperSlot)
            return present(&o, .requestIdentifier)?.text
        } catch {
            return nil
        }
    }
}

/// A received response primitive (TS-0010 6.5.2): views into the payload, which must outlive it.
///
/// Mandatory: `rsc` (number or numeric string). `rqi` is optional here because ACME answers a
/// malformed request with a 4000 that has no `rqi` (and no `rvi`); such a response cannot be
/// matched to a request. `fr`, `to`, `ot`, `rvi`, `pc` are optional.
public struct ResponsePrimitiveView {
    /// The validated payload.
    public let document: JSONDocument
    /// The primitive object (inside `m2m:rsp` when wrapped).
    public let primitive: JSONValue
    /// `rsc`.
    public let statusCode: ResponseStatusCode
    /// `rqi`, if present.
    public let requestIdentifier: ByteString?
    /// `pc`, if present.
    public let content: JSONValue?

    // Where the values of rvi, fr, to and ot start in the document (-1: absent). Their kinds
    // are checked when the response is decoded; their text is found when read.
    let releaseVersionAt: Int, fromAt: Int, toAt: Int, originatingTimestampAt: Int

    /// `rvi` as sent, if present (a string, or leniently a bare number such as `3`).
    public var releaseVersionText: ByteString? {
        guard releaseVersionAt >= 0 else { return nil }
        return try? releaseVersionParameter(JSONValue(document: document.bytes, at: releaseVersionAt))
    }
    /// `fr`, if present.
    public var from: ByteString? { text(at: fromAt) }
    /// `to`, if present.
    public var to: ByteString? { text(at: toAt) }
    /// `ot` as sent (a string), if present; `originatingTimestamp` parses it.
    public var originatingTimestampText: ByteString? { text(at: originatingTimestampAt) }

    func text(at offset: Int) -> ByteString? {
        offset < 0 ? nil : JSONValue(document: document.bytes, at: offset).text
    }

    /// `ot` in Unix microseconds, if present. Parsed when read, not when the response is
    /// decoded: a response whose `ot` is malformed still reaches (and completes) its request,
    /// and reading this reports `invalidParameter(.originatingTimestamp)`.
    public var originatingTimestamp: Int64? {
        get throws(OneM2MError) {
            guard let t = originatingTimestampText else { return nil }
            do { return try OneM2MTimestamp.parse(t) } catch { throw .invalidParameter(.originatingTimestamp) }
        }
    }

    /// `rvi` as a known release version, if present and known.
    public var releaseVersion: ReleaseVersion? {
        guard let t = releaseVersionText else { return nil }
        return ReleaseVersion(text: t)
    }

    /// The `m2m:dbg` text an error response carries in `pc`, if any.
    public var debugMessage: ByteString? { content?.member(named: "m2m:dbg")?.text }

    /// Validates `payload` and decodes the response.
    public init(decoding payload: UnsafeRawBufferPointer, maxDepth: Int = JSONDocument.defaultMaxDepth) throws(OneM2MError) {
        try self.init(document: try JSONDocument(validating: payload, maxDepth: maxDepth))
    }

    /// Decodes the response from an already validated document.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed): in `init(decoding:)` the view is built in place, not copied
    #endif
    public init(document: JSONDocument) throws(OneM2MError) {
        var o = try PrimitiveFields(document: document, wrapperSlot: PrimitiveSlots.responseWrapperSlot)
        self.document = document
        self.primitive = o.object
        // TS-0010 6.5.2: every response carries the Response Status Code.
        let rsc = try codeParameter(&o, .responseStatusCode, upTo: 0xFFFF)
        guard rsc >= 0 else { throw .missingParameter(.responseStatusCode) }
        self.statusCode = ResponseStatusCode(rawValue: UInt16(truncatingIfNeeded: rsc))
        self.requestIdentifier = try optionalText(&o, .requestIdentifier)
        if let rvi = present(&o, .releaseVersion) {
            guard rvi.kind == .string || rvi.kind == .number else { throw .invalidParameter(.releaseVersion) }
            self.releaseVersionAt = rvi.start
        } else {
            self.releaseVersionAt = -1
        }
        self.fromAt = try stringAt(&o, .from)
        self.toAt = try stringAt(&o, .to)
        self.originatingTimestampAt = try stringAt(&o, .originatingTimestamp)
        self.content = present(&o, .content)
    }
}

/// A notification `m2m:sgn` (TS-0004 7.4.1.2.2) carried in the `pc` of a NOTIFY request.
public struct NotificationView {
    /// The `m2m:sgn` object.
    public let notification: JSONValue

    /// Reads `{"m2m:sgn": {...}}` from a `pc` value; throws `notANotification` otherwise.
    public init(content: JSONValue) throws(OneM2MError) {
        guard let sgn = content.member(named: "m2m:sgn"), sgn.kind == .object else { throw .notANotification }
        notification = sgn
    }

    /// `vrq: true`: a verification request sent when a subscription is created; answer 2000.
    public var isVerificationRequest: Bool {
        (try? notification.member(named: "vrq")?.bool()) == true
    }

    /// `sud: true`: the subscription was deleted.
    public var isSubscriptionDeletion: Bool {
        (try? notification.member(named: "sud")?.bool()) == true
    }

    /// `sur`: the subscription resource that triggered the notification.
    public var subscriptionReference: ByteString? { notification.member(named: "sur")?.text }

    /// `cr`: the subscription creator (in a verification request).
    public var creator: ByteString? { notification.member(named: "cr")?.text }

    /// `nev`: the notification event.
    public var event: JSONValue? { notification.member(named: "nev") }

    /// `nev.rep`: the representation of the changed resource, e.g. `{"m2m:cin": {...}}`.
    public var eventRepresentation: JSONValue? { event?.member(named: "rep") }

    /// `nev.net`: the notification event type (1 update, 2 delete, 3 create child, 4 delete child, ...).
    public var eventType: Int64? {
        guard let net = event?.member(named: "net") else { return nil }
        return try? net.integerOrNumericString()
    }
}
