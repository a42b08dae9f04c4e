// TS-0010 topics: `/oneM2M/{req,resp,reg_req,reg_resp}/<originator>/<receiver>[/<serialization>]`
// and the ID conversion between oneM2M IDs and topic levels.

/// The second topic level: which kind of primitive the topic carries.
public enum TopicKind: UInt8, Sendable, CaseIterable {
    /// `req` (TS-0010 6.4.2).
    case request
    /// `resp` (TS-0010 6.4.3).
    case response
    /// `reg_req` (TS-0010 6.4.4; the originator is a credential ID).
    case registrationRequest
    /// `reg_resp` (TS-0010 6.4.4).
    case registrationResponse

    /// The topic level text.
    public var level: StaticString {
        switch self {
        case .request: return "req"
        case .response: return "resp"
        case .registrationRequest: return "reg_req"
        case .registrationResponse: return "reg_resp"
        }
    }

    /// True for `req` and `reg_req`.
    public var carriesRequest: Bool { self == .request || self == .registrationRequest }

    /// The kind a response to this request kind is published under (`req`→`resp`,
    /// `reg_req`→`reg_resp`); `nil` for response kinds.
    public var responseKind: TopicKind? {
        switch self {
        case .request: return .response
        case .registrationRequest: return .registrationResponse
        default: return nil
        }
    }
}

/// What follows the receiver level in a subscription filter.
public enum TopicFilterSuffix: Equatable, Sendable {
    /// Nothing: matches only topics without a serialization level (TS-0010 V1.1.0 form).
    case none
    /// `/#`: matches topics with or without any serialization level.
    case anyLevels
    /// `/json`, `/cbor` or `/xml`: matches only that serialization.
    case serialization(Serialization)
}

/// A parsed TS-0010 topic; `originator` and `receiver` are the topic levels (MQTT form, e.g.
/// `id-in:Cae`) as views into the topic bytes.
public struct TopicView {
    /// `req`, `resp`, `reg_req` or `reg_resp`.
    public let kind: TopicKind
    /// The originator level, verbatim.
    public let originator: UnsafeRawBufferPointer
    /// The receiver level, verbatim.
    public let receiver: UnsafeRawBufferPointer
    /// The serialization level if present (`json`, `cbor`, `xml`); `nil` for the V1.1.0 form.
    public let serialization: Serialization?

    /// Writes the topic to answer a request received on this topic: the same originator and
    /// receiver levels copied verbatim (as ACME does), `resp`/`reg_resp`, and the same
    /// serialization level (TS-0010 6.4.3). Throws `invalidTopic(.unknownKind)` for a response topic.
    public func writeResponseTopic(into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        // TS-0010 6.4.3 / 6.4.4: answer on resp (reg_resp) with the request's levels.
        guard let k = kind.responseKind else { throw .invalidTopic(.unknownKind) }
        var sink = ByteSink(buffer)
        try sink.appendTopicStart(k)
        try sink.append(originator)
        try sink.append(UInt8(ascii: "/"))
        try sink.append(receiver)
        if let s = serialization { try sink.appendSerializationLevel(s) }
        return sink.count
    }
}

/// Building and parsing TS-0010 topics and topic filters, and converting IDs to topic levels.
public enum OneM2MTopic {
    /// `/oneM2M/`: every topic starts with it (with the leading slash, as ACME subscribes).
    public static let prefix: StaticString = "/oneM2M/"

    /// Parses a topic name `/oneM2M/<kind>/<originator>/<receiver>[/<json|cbor|xml>]`.
    /// Levels must be non-empty and free of `+`, `#` and NUL; the serialization level is
    /// case-sensitive (ACME rejects `/JSON`).
    public static func parse(_ topic: UnsafeRawBufferPointer) throws(OneM2MError) -> TopicView {
        let pre = staticBytes(prefix)
        guard topic.count >= pre.count, levelEquals(UnsafeRawBufferPointer(rebasing: topic[0..<pre.count]), prefix) else {
            throw .invalidTopic(.notOneM2M)
        }
        guard isValidUTF8(topic) else { throw .invalidUTF8Input }
        var levels = LevelIterator(topic, from: pre.count)
        guard let kindLevel = levels.next() else { throw .invalidTopic(.missingSegment) }
        // The four kind levels have distinct lengths (3, 4, 7, 8): the length names the only
        // candidate, and one comparison decides (not a loop over the kinds).
        let candidate: TopicKind
        switch kindLevel.count {
        case 3: candidate = .request
        case 4: candidate = .response
        case 7: candidate = .registrationRequest
        case 8: candidate = .registrationResponse
        default: throw .invalidTopic(.unknownKind)
        }
        guard levelEquals(kindLevel, candidate.level) else { throw .invalidTopic(.unknownKind) }
        let kind = candidate
        guard let originator = levels.next(), let receiver = levels.next() else {
            throw .invalidTopic(.missingSegment)
        }
        try validateLevel(originator)
        try validateLevel(receiver)
        var serialization: Serialization? = nil
        if let s = levels.next() {
            // `json`, `cbor` and `xml` differ in their first byte: it names the only candidate.
            var candidate: Serialization? = nil
            if !s.isEmpty {
                switch s[0] {
                case UInt8(ascii: "j"): candidate = .json
                case UInt8(ascii: "c"): candidate = .cbor
                case UInt8(ascii: "x"): candidate = .xml
                default: break
                }
            }
            if let c = candidate, levelEquals(s, c.topicLevel) { serialization = c }
            guard serialization != nil else {
                throw s.isEmpty ? .invalidTopic(.emptySegment) : .invalidTopic(.unknownSerialization)
            }
            guard levels.next() == nil else { throw .invalidTopic(.tooManyLevels) }
        }
        return TopicView(kind: kind, originator: originator, receiver: receiver, serialization: serialization)
    }

    /// Writes `/oneM2M/<kind>/<originator>/<receiver>[/<serialization>]`; returns its length.
    /// `originator` and `receiver` are oneM2M IDs (or credential IDs) and are converted with
    /// `writeTopicLevel(id:into:)` rules: one leading `/` dropped, other `/` become `:` (TS-0010 6.4.2).
    public static func write(kind: TopicKind, originator: ByteString, receiver: ByteString,
                             serialization: Serialization?, into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        // A filter without wildcards is this topic: one copy of the writing code.
        let suffix: TopicFilterSuffix
        if let s = serialization { suffix = .serialization(s) } else { suffix = .none }
        return try writeFilter(kind: kind, originator: originator, receiver: receiver, suffix: suffix, into: buffer)
    }

    /// Writes a subscription filter `/oneM2M/<kind>/<originator|+>/<receiver|+><suffix>`; a `nil`
    /// ID becomes the `+` wildcard. TS-0010 6.4.3/6.4.5: an entity `me` subscribes to
    /// `(.request, nil, me)` and `(.response, me, nil)`; ACME publishes to
    /// `/oneM2M/req/id-in/<me>/json` and `/oneM2M/resp/<me>/id-in/json`.
    @inline(never)  // one copy: callers that build several filters would otherwise inline it each time
    public static func writeFilter(kind: TopicKind, originator: ByteString?, receiver: ByteString?,
                                   suffix: TopicFilterSuffix, into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        var sink = ByteSink(buffer)
        try sink.appendTopicStart(kind)
        if let o = originator { try sink.appendLevel(id: o) } else { try sink.append(UInt8(ascii: "+")) }
        try sink.append(UInt8(ascii: "/"))
        if let r = receiver { try sink.appendLevel(id: r) } else { try sink.append(UInt8(ascii: "+")) }
        switch suffix {
        case .none: break
        case .anyLevels:
            try sink.append(UInt8(ascii: "/"))
            try sink.append(UInt8(ascii: "#"))
        case .serialization(let s):
            try sink.appendSerializationLevel(s)
        }
        return sink.count
    }

    /// Converts a oneM2M ID to its topic level (TS-0010 V1.1.0 6.4.2, ACME `idToMQTT`): one
    /// leading `/` is dropped and every other `/` becomes `:` (`/id-in/Cae` → `id-in:Cae`,
    /// `//sp/cse/ae` → `:sp:cse:ae`). Throws `invalidTopic` if the level would be empty or
    /// contain `+`, `#` or NUL.
    public static func writeTopicLevel(id: ByteString, into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        var sink = ByteSink(buffer)
        try sink.appendLevel(id: id)
        return sink.count
    }

    /// Converts a topic level back to a oneM2M ID: a level containing `:` was SP-relative or
    /// absolute, so it gets its leading `/` back and `:` become `/` (`id-in:Cae` → `/id-in/Cae`,
    /// `:sp:cse:ae` → `//sp/cse/ae`); a level without `:` (a CSE-relative AE-ID such as `Cae`,
    /// or a CSE-ID written without its slash) is returned unchanged.
    public static func writeID(topicLevel: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        try validateLevel(topicLevel)
        var hasColon = false
        for b in topicLevel where b == UInt8(ascii: ":") { hasColon = true; break }
        var sink = ByteSink(buffer)
        if hasColon { try sink.append(UInt8(ascii: "/")) }
        for b in topicLevel {
            try sink.append(b == UInt8(ascii: ":") ? UInt8(ascii: "/") : b)
        }
        return sink.count
    }

    /// Checks one topic level: non-empty, no `+`, `#`, `/` or NUL.
    public static func validateLevel(_ level: UnsafeRawBufferPointer) throws(OneM2MError) {
        guard !level.isEmpty else { throw .invalidTopic(.emptySegment) }
        for b in level {
            if b == UInt8(ascii: "+") || b == UInt8(ascii: "#") { throw .invalidTopic(.wildcardInSegment) }
            if b == 0 { throw .invalidTopic(.nulInSegment) }
            if b == UInt8(ascii: "/") { throw .invalidTopic(.tooManyLevels) }
        }
    }
}

/// Compares topic bytes with a static text (at most 8 bytes): one out-of-line function for the
/// comparisons of `OneM2MTopic.parse`. Word-wise (`bytesEqual`) on hosts; a byte loop in Embedded
/// builds, 70 B smaller on Thumb-2.
@inline(never)
func levelEquals(_ level: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    #if hasFeature(Embedded)
    let t = staticBytes(text)
    guard level.count == t.count else { return false }
    var i = 0
    while i < t.count {
        if level[i] != t[i] { return false }
        i &+= 1  // i < t.count
    }
    return true
    #else
    return bytesEqual(level, staticBytes(text))
    #endif
}

/// Splits topic bytes at `/` from an offset.
struct LevelIterator {
    let topic: UnsafeRawBufferPointer
    var position: Int
    var done = false

    init(_ topic: UnsafeRawBufferPointer, from: Int) {
        self.topic = topic
        self.position = from
    }

    mutating func next() -> UnsafeRawBufferPointer? {
        guard !done else { return nil }
        var j = position
        // j stays within the topic: `&+` needs no overflow check.
        while j < topic.count && topic[j] != UInt8(ascii: "/") { j &+= 1 }
        let level = UnsafeRawBufferPointer(rebasing: topic[position..<j])
        if j >= topic.count { done = true } else { position = j &+ 1 }
        return level
    }
}

/// Appends bytes into a caller buffer with bounds checks. `count` never passes the buffer's
/// size, so its sums and differences wrap-free (`&+`, `&-`: no overflow checks).
struct ByteSink {
    let buffer: UnsafeMutableRawBufferPointer
    var count = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size: the topic writers inlined it at each byte)
    #endif
    mutating func append(_ b: UInt8) throws(OneM2MError) {
        guard count < buffer.count else { throw .bufferTooSmall }
        buffer[count] = b
        count &+= 1
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws(OneM2MError) {
        guard bytes.count <= buffer.count &- count else { throw .bufferTooSmall }
        copyBytes(bytes, buffer, count)
        count &+= bytes.count
    }

    mutating func append(_ text: StaticString) throws(OneM2MError) {
        try append(staticBytes(text))
    }

    /// Appends `/oneM2M/<kind>/`, the start of every topic and filter (one copy for the writers).
    @inline(never)
    mutating func appendTopicStart(_ kind: TopicKind) throws(OneM2MError) {
        try append(OneM2MTopic.prefix)
        try append(kind.level)
        try append(UInt8(ascii: "/"))
    }

    /// Appends `/json`, `/cbor` or `/xml`.
    @inline(never)
    mutating func appendSerializationLevel(_ s: Serialization) throws(OneM2MError) {
        try append(UInt8(ascii: "/"))
        try append(s.topicLevel)
    }

    /// Appends an ID converted to a topic level (see `OneM2MTopic.writeTopicLevel`).
    mutating func appendLevel(id: ByteString) throws(OneM2MError) {
        let start = count
        var first = true
        for b in id {
            defer { first = false }
            if b == UInt8(ascii: "/") {
                // TS-0010 6.4.2: omit the leading "/", embedded "/" become ":" (ACME idToMQTT).
                if first { continue }
                try append(UInt8(ascii: ":"))
                continue
            }
            if b == UInt8(ascii: "+") || b == UInt8(ascii: "#") { throw .invalidTopic(.wildcardInSegment) }
            if b == 0 { throw .invalidTopic(.nulInSegment) }
            try append(b)
        }
        // MQTT 3.1.1 4.7: wildcards and NUL cannot appear in a topic name.
        guard count > start else { throw .invalidTopic(.emptySegment) }
        guard isValidUTF8(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[start..<count])) else {
            throw .invalidUTF8Input
        }
    }
}
