// A compact JSON (RFC 8259) writer that serializes straight into a caller-provided buffer.
// No allocation, no intermediate tree; commas and colons are placed automatically.

/// Writes compact JSON into a caller-provided buffer.
///
/// Every call is atomic: it either writes its whole token (with the separating comma) and
/// advances `count`, or throws and leaves the writer unchanged. `bufferTooSmall` therefore never
/// leaves a silently truncated document behind (bytes past `count` are unspecified). Structural misuse (a value inside an object
/// without a key, a key inside an array, unbalanced ends, a second top-level value) throws
/// `invalidWriterState`. Text is escaped (`"`, `\`, control characters) and must be UTF-8.
public struct JSONWriter {
    /// The destination; bytes `0..<count` hold the document written so far.
    public let buffer: UnsafeMutableRawBufferPointer
    /// The number of bytes written.
    public private(set) var count: Int = 0
    /// The number of open objects and arrays.
    public private(set) var depth: Int = 0
    /// The deepest nesting the writer tracks.
    public static let maxDepth = 64

    // Two stacks of bits, one bit per open container, the innermost lowest; pushed and popped
    // by shifts of one (no variable 64-bit shifts: library calls on 32-bit boards).
    var objectBits: UInt64 = 0      // 1: the container is an object
    var nonEmptyBits: UInt64 = 0    // 1: the container has a member/element
    var awaitingValue = false       // a key was written; its value comes next
    var rootPlaced = false          // the top-level value has been started
    var watchDepth = -1             // for `content(_:)`: count placements at this depth
    var watchCount = 0

    /// Creates a writer that fills `buffer` from its start.
    public init(buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count])
    }

    /// True when exactly one complete top-level value has been written.
    public var isComplete: Bool { rootPlaced && depth == 0 }

    /// Forgets everything written and starts a new document in the same buffer.
    public mutating func reset() {
        self = JSONWriter(buffer: buffer)
    }

    // MARK: Structure

    // Offsets below `count`, or inside room `reserve` granted, and depths up to `maxDepth` use
    // wrapping arithmetic (`&+`, `&-`): they cannot overflow, and an overflow check per step
    // costs code and time. Sums of caller-supplied lengths stay checked.

    // The innermost container's bits (at depth 0 every bit has been popped: both are false).
    var topIsObject: Bool { objectBits & 1 != 0 }
    var topIsNonEmpty: Bool { nonEmptyBits & 1 != 0 }

    /// Bytes needed before a value here (0 or 1 for a comma); throws when no value may go here.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func valueSeparator() throws(OneM2MError) -> Int {
        if depth == 0 {
            if rootPlaced { throw .invalidWriterState }
            return 0
        }
        if topIsObject {
            guard awaitingValue else { throw .invalidWriterState }
            return 0
        }
        return topIsNonEmpty ? 1 : 0
    }

    /// Records that a value (scalar or container start) was placed at the current depth.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func placeValue() {
        if depth == watchDepth { watchCount &+= 1 }
        if depth == 0 {
            rootPlaced = true
        } else if topIsObject {
            awaitingValue = false
        } else {
            nonEmptyBits |= 1
        }
    }

    /// Reserves `length` bytes after a separator of `separator` bytes; returns where the token starts.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func reserve(_ separator: Int, _ length: Int) throws(OneM2MError) -> Int {
        // `count` <= the buffer's size and `separator` is 0 or 1: the difference cannot overflow.
        guard length >= 0, length <= buffer.count &- count &- separator else { throw .bufferTooSmall }
        return count &+ separator
    }

    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    mutating func emitSeparator(_ separator: Int) {
        if separator == 1 { buffer[count] = UInt8(ascii: ",") }
        count &+= separator
    }

    /// Starts an object (`{`).
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    public mutating func beginObject() throws(OneM2MError) {
        try begin(UInt8(ascii: "{"), object: true)
    }

    /// Ends the innermost object (`}`).
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    public mutating func endObject() throws(OneM2MError) {
        try end(UInt8(ascii: "}"), object: true)
    }

    /// Starts an array (`[`).
    public mutating func beginArray() throws(OneM2MError) {
        try begin(UInt8(ascii: "["), object: false)
    }

    /// Ends the innermost array (`]`).
    public mutating func endArray() throws(OneM2MError) {
        try end(UInt8(ascii: "]"), object: false)
    }

    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func begin(_ byte: UInt8, object: Bool) throws(OneM2MError) {
        let sep = try valueSeparator()
        guard depth < JSONWriter.maxDepth else { throw .nestingTooDeep }
        let at = try reserve(sep, 1)
        emitSeparator(sep)
        buffer[at] = byte
        count = at &+ 1
        placeValue()
        depth &+= 1
        objectBits = objectBits &<< 1 | (object ? 1 : 0)
        nonEmptyBits &<<= 1
    }

    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func end(_ byte: UInt8, object: Bool) throws(OneM2MError) {
        guard depth > 0, topIsObject == object, !awaitingValue, depth != watchDepth else {
            throw .invalidWriterState
        }
        let at = try reserve(0, 1)
        buffer[at] = byte
        count = at &+ 1
        objectBits &>>= 1
        nonEmptyBits &>>= 1
        depth &-= 1
    }

    /// Writes an object member name (`"name":`); the member's value must follow.
    @inline(never)
    public mutating func key(_ name: ByteString) throws(OneM2MError) {
        try key(measured: try measure(name))
    }

    /// `key` for one of the SDK's own names (plain ASCII): no scan.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    @_spi(Templates) public mutating func key(name: StaticString) throws(OneM2MError) {
        try key(measured: MeasuredText(name: name))
    }

    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func key(measured name: MeasuredText) throws(OneM2MError) {
        guard topIsObject, !awaitingValue else { throw .invalidWriterState }
        try quoted(name, separator: topIsNonEmpty ? 1 : 0, colon: true)
        if depth == watchDepth { watchCount &+= 1 }
        nonEmptyBits |= 1
        awaitingValue = true
    }

    // MARK: Values

    /// Writes a string value, escaping `"`, `\` and control characters. Throws
    /// `invalidUTF8Input` if the bytes are not UTF-8. Contents of a string from a validated
    /// JSON document (`JSONValue.text`) are copied in their original escaped form.
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    public mutating func string(_ value: ByteString) throws(OneM2MError) {
        try quoted(try measure(value), separator: try valueSeparator(), colon: false)
        placeValue()
    }

    /// Writes raw bytes as a JSON string value (escaped as needed; must be UTF-8).
    public mutating func string(bytes: UnsafeRawBufferPointer) throws(OneM2MError) {
        try string(ByteString(bytes))
    }

    /// Writes an integer value in decimal (`integerOutOfRange` beyond 64-bit magnitude).
    public mutating func integer<T: FixedWidthInteger>(_ value: T) throws(OneM2MError) {
        let negative = value < 0
        guard let magnitude = UInt64(exactly: value.magnitude) else { throw .integerOutOfRange }
        let sep = try valueSeparator()
        let len = decimalDigitCount(magnitude) &+ (negative ? 1 : 0)
        let at = try reserve(sep, len)
        emitSeparator(sep)
        var p = at
        if negative { buffer[p] = UInt8(ascii: "-"); p &+= 1 }
        _ = writeDecimal(magnitude, buffer, p)
        count = at &+ len
        placeValue()
    }

    /// Writes a non-negative integer as a JSON string of decimal digits (`"5000"`, as in a
    /// relative `rqet`).
    public mutating func decimalString(_ value: UInt64) throws(OneM2MError) {
        let sep = try valueSeparator()
        let len = decimalDigitCount(value)
        let at = try reserve(sep, len &+ 2)
        emitSeparator(sep)
        buffer[at] = UInt8(ascii: "\"")
        _ = writeDecimal(value, buffer, at &+ 1)
        buffer[at &+ 1 &+ len] = UInt8(ascii: "\"")
        count = at &+ len &+ 2
        placeValue()
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) throws(OneM2MError) {
        try literal(value ? "true" : "false")
    }

    /// Writes `null`.
    public mutating func null() throws(OneM2MError) {
        try literal("null")
    }

    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    mutating func literal(_ text: StaticString) throws(OneM2MError) {
        let bytes = staticBytes(text)
        let sep = try valueSeparator()
        let at = try reserve(sep, bytes.count)
        emitSeparator(sep)
        copyBytes(bytes, buffer, at)
        count = at &+ bytes.count
        placeValue()
    }

    /// Writes an already serialized JSON value verbatim (for example a `pc` the application
    /// serialized itself). With `validate` (the default) the fragment must be exactly one valid
    /// JSON value (surrounding whitespace allowed), else `malformedJSON` is thrown.
    public mutating func rawJSON(_ fragment: UnsafeRawBufferPointer, validate: Bool = true) throws(OneM2MError) {
        if validate {
            _ = try JSONDocument(validating: fragment, maxDepth: JSONWriter.maxDepth)
        } else if fragment.isEmpty {
            throw .malformedJSON(.unexpectedEnd, offset: 0)
        }
        let sep = try valueSeparator()
        let at = try reserve(sep, fragment.count)
        emitSeparator(sep)
        copyBytes(fragment, buffer, at)
        count = at &+ fragment.count
        placeValue()
    }

    /// Copies a value from a validated JSON document verbatim (for echoing a received value).
    public mutating func value(_ value: JSONValue) throws(OneM2MError) {
        try rawJSON(value.rawBytes, validate: false)
    }

    /// Writes a oneM2M timestamp string (`"YYYYMMDDThhmmss,ffffff"`, or without the fraction).
    public mutating func timestamp(unixMicroseconds: Int64, includeFraction: Bool = true) throws(OneM2MError) {
        let sep = try valueSeparator()
        let len = includeFraction ? OneM2MTimestamp.maximumLength : OneM2MTimestamp.basicLength
        let at = try reserve(sep, len &+ 2)
        let inner = UnsafeMutableRawBufferPointer(rebasing: buffer[(at &+ 1)..<(at &+ 1 &+ len)])
        _ = try OneM2MTimestamp.format(unixMicroseconds: unixMicroseconds, includeFraction: includeFraction, into: inner)
        emitSeparator(sep)
        buffer[at] = UInt8(ascii: "\"")
        buffer[at &+ 1 &+ len] = UInt8(ascii: "\"")
        count = at &+ len &+ 2
        placeValue()
    }

    /// Runs `body`, which must write exactly one value at the current position (for example
    /// an object `{...}` as a `pc`). The whole call is atomic: on any error, including a body
    /// that wrote no value or more than one, the writer is restored and the error rethrown.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    public mutating func content(_ body: (inout JSONWriter) throws(OneM2MError) -> Void) throws(OneM2MError) {
        _ = try valueSeparator()
        let saved = self
        watchDepth = depth
        watchCount = 0
        do {
            try body(&self)
        } catch {
            self = saved
            throw error
        }
        guard depth == saved.depth, watchCount == 1 else {
            self = saved
            throw .invalidWriterState
        }
        watchDepth = saved.watchDepth
        watchCount = saved.watchCount
        if depth == watchDepth { watchCount &+= 1 }
    }

    #if !hasFeature(Embedded)
    /// `key(name:)` for a name given with its quotes and colon (`"pc":`, plain ASCII; hosts,
    /// speed): the bytes copied as they are, no measured text built.
    @inline(__always)
    mutating func key(quotedWithColon bytes: StaticString) throws(OneM2MError) {
        guard topIsObject, !awaitingValue else { throw .invalidWriterState }
        let raw = staticBytes(bytes)
        let sep = topIsNonEmpty ? 1 : 0
        let at = try reserve(sep, raw.count)
        emitSeparator(sep)
        count = put(raw: raw, at: at)
        if depth == watchDepth { watchCount &+= 1 }
        nonEmptyBits |= 1
        awaitingValue = true
    }

    /// `content(_:)` for a caller that restores the whole writer itself on any error (hosts,
    /// speed: the primitive encoders): the same checks (`body` writes exactly one value at the
    /// current position, else `invalidWriterState`), without a copy of the writer.
    @inline(__always)
    mutating func contentRestoredByCaller(_ body: (inout JSONWriter) throws(OneM2MError) -> Void) throws(OneM2MError) {
        _ = try valueSeparator()
        let savedDepth = depth, savedWatchDepth = watchDepth, savedWatchCount = watchCount
        watchDepth = depth
        watchCount = 0
        try body(&self)
        guard depth == savedDepth, watchCount == 1 else { throw .invalidWriterState }
        watchDepth = savedWatchDepth
        watchCount = savedWatchCount
        if depth == watchDepth { watchCount &+= 1 }
    }
    #endif

    // MARK: Members (key + value, atomic)

    /// Writes `"key":"value"` atomically.
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size: it was inlined into every typed request)
    #endif
    public mutating func member(_ key: ByteString, _ value: ByteString) throws(OneM2MError) {
        let v = try measure(value)
        let at = try beginMember(key, valueLength: v.length + 2)
        count = put(v, at: at)
    }

    /// Writes `"key":<integer>` atomically.
    public mutating func member<T: FixedWidthInteger>(_ key: ByteString, integer value: T) throws(OneM2MError) {
        guard let magnitude = UInt64(exactly: value.magnitude) else { throw .integerOutOfRange }
        try member(key, magnitude: magnitude, negative: value < 0)
    }

    mutating func member(_ key: ByteString, magnitude: UInt64, negative: Bool) throws(OneM2MError) {
        let length = decimalDigitCount(magnitude) &+ (negative ? 1 : 0)
        var at = try beginMember(key, valueLength: length)
        if negative { buffer[at] = UInt8(ascii: "-"); at &+= 1 }
        _ = writeDecimal(magnitude, buffer, at)
        count = at &+ decimalDigitCount(magnitude)
    }

    /// Reserves room for a whole member at once (so nothing needs undoing when it does not
    /// fit), writes the separator, the key and the colon, and notes the member; the caller
    /// writes the `valueLength` bytes of the value at the offset returned and sets `count`.
    mutating func beginMember(_ key: ByteString, valueLength: Int) throws(OneM2MError) -> Int {
        try beginMember(measured: try measure(key), valueLength: valueLength)
    }

    /// `beginMember` for one of the SDK's own names (plain ASCII, nothing to escape): no scan.
    @inline(__always)
    mutating func beginMember(name: StaticString, valueLength: Int) throws(OneM2MError) -> Int {
        try beginMember(measured: MeasuredText(name: name), valueLength: valueLength)
    }

    mutating func beginMember(measured k: MeasuredText, valueLength: Int) throws(OneM2MError) -> Int {
        guard topIsObject, !awaitingValue else { throw .invalidWriterState }
        let sep = topIsNonEmpty ? 1 : 0
        let at = try reserve(sep, k.length + 3 + valueLength)
        emitSeparator(sep)
        let colon = put(k, at: at)
        buffer[colon] = UInt8(ascii: ":")
        if depth == watchDepth { watchCount &+= 2 }  // as `key` and then a value count
        nonEmptyBits |= 1
        return colon &+ 1
    }

    /// `"name":"value"` with one of the SDK's own names.
    @_spi(Templates) @inline(never)
    public mutating func member(name: StaticString, _ value: ByteString) throws(OneM2MError) {
        let v = try measure(value)
        let at = try beginMember(name: name, valueLength: v.length + 2)
        count = put(v, at: at)
    }

    /// `"name":<integer>` with one of the SDK's own names.
    @_spi(Templates) @inline(never)
    public mutating func member(name: StaticString, integer value: Int) throws(OneM2MError) {
        let magnitude = UInt64(value.magnitude)
        let digits = decimalDigitCount(magnitude)
        var at = try beginMember(name: name, valueLength: digits &+ (value < 0 ? 1 : 0))
        if value < 0 { buffer[at] = UInt8(ascii: "-"); at &+= 1 }
        _ = writeDecimal(magnitude, buffer, at)
        count = at &+ digits
    }

    // MARK: Runs of members laid out by the caller

    /// Starts a run of members that takes `length` bytes in all (names, colons, values and the
    /// commas between them, not the comma before the first: that one is added here when
    /// needed), after checking that members may go here and that all of it fits. Returns where
    /// the run starts; the caller writes it with the `put` functions and ends it with
    /// `endMembers(at:members:)`. Nothing can fail in between, so the run is atomic.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func beginMembers(length: Int) throws(OneM2MError) -> Int {
        guard topIsObject, !awaitingValue else { throw .invalidWriterState }
        let sep = topIsNonEmpty ? 1 : 0
        let at = try reserve(sep, length)
        emitSeparator(sep)
        return at
    }

    /// Ends a run of `members` members written up to `end`.
    mutating func endMembers(at end: Int, members: Int) {
        count = end
        if depth == watchDepth { watchCount &+= 2 &* members }
        nonEmptyBits |= 1
    }

    #if hasFeature(Embedded)
    /// Copies bytes into reserved room at `at`; returns the offset after them. (Embedded
    /// builds optimize for size: one shared copy routine.)
    func put(raw bytes: UnsafeRawBufferPointer, at: Int) -> Int {
        copyBytes(bytes, buffer, at)
        return at &+ bytes.count
    }
    #else
    /// Copies bytes into reserved room at `at`; returns the offset after them. (Hosts optimize
    /// for speed: inlined, a static name's copy folds to a move or two.)
    /// The room was reserved before (`reserve`, `beginMember`, `beginMembers`), so the copy
    /// goes over base addresses without a second check.
    @inline(__always)
    func put(raw bytes: UnsafeRawBufferPointer, at: Int) -> Int {
        if let ob = buffer.baseAddress, let src = bytes.baseAddress { copyRaw(ob + at, src, bytes.count) }
        return at &+ bytes.count
    }
    #endif

    /// The decimal length of one of oneM2M's small codes (`op`, `ty`, `rsc`: 0...65535).
    static func codeLength(_ v: Int) -> Int {
        v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5
    }

    /// Writes a small code (0...65535) in decimal into reserved room at `at`, in the native
    /// word (no 64-bit division on 32-bit boards); returns the offset after it. Inlined (a call
    /// copies the writer).
    @inline(__always)
    func put(code value: Int, at: Int) -> Int {
        let end = at &+ JSONWriter.codeLength(value)
        var v = value, k = end
        #if !hasFeature(Embedded)
        // Hosts (speed): into the reserved room over the base address (no check per digit).
        if let ob = buffer.baseAddress {
            repeat {
                k &-= 1
                ob.storeBytes(of: UInt8(truncatingIfNeeded: 0x30 &+ v % 10), toByteOffset: k, as: UInt8.self)
                v /= 10
            } while k > at
            return end
        }
        #endif
        repeat {
            k &-= 1
            buffer[k] = UInt8(truncatingIfNeeded: 0x30 + v % 10)
            v /= 10
        } while k > at
        return end
    }

    /// Writes `"key":true|false` atomically.
    public mutating func member(_ key: ByteString, bool value: Bool) throws(OneM2MError) {
        let saved = self
        do { try self.key(key); try bool(value) } catch { self = saved; throw error }
    }

    /// Writes `"key":<timestamp string>` atomically.
    public mutating func member(_ key: ByteString, timestamp unixMicroseconds: Int64,
                                includeFraction: Bool = true) throws(OneM2MError) {
        let saved = self
        do {
            try self.key(key)
            try timestamp(unixMicroseconds: unixMicroseconds, includeFraction: includeFraction)
        } catch { self = saved; throw error }
    }

    /// Writes `"key":` followed by the single value `body` writes, atomically.
    public mutating func member(_ key: ByteString, content body: (inout JSONWriter) throws(OneM2MError) -> Void) throws(OneM2MError) {
        let saved = self
        do { try self.key(key); try content(body) } catch { self = saved; throw error }
    }

    /// `member(_:content:)` with one of the SDK's own names.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func member(name: StaticString, content body: (inout JSONWriter) throws(OneM2MError) -> Void) throws(OneM2MError) {
        let saved = self
        do { try key(name: name); try content(body) } catch { self = saved; throw error }
    }

    /// Writes `"key":<raw JSON>` atomically (see `rawJSON(_:validate:)`).
    public mutating func member(_ key: ByteString, rawJSON fragment: UnsafeRawBufferPointer,
                                validate: Bool = true) throws(OneM2MError) {
        let saved = self
        do { try self.key(key); try rawJSON(fragment, validate: validate) } catch { self = saved; throw error }
    }

    // MARK: Escaping

    /// Writes the separator, `text` as a JSON string and, for a key, the colon. Plain text
    /// (the usual case) is checked once and copied as it is.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    mutating func quoted(_ m: MeasuredText, separator sep: Int, colon: Bool) throws(OneM2MError) {
        let at = try reserve(sep, m.length + (colon ? 3 : 2))
        emitSeparator(sep)
        var end = put(m, at: at)
        if colon { buffer[end] = UInt8(ascii: ":"); end &+= 1 }
        count = end
    }

    /// A text measured for writing as a JSON string: its escaped length, and its bytes when
    /// they can be copied as they are.
    struct MeasuredText {
        let text: ByteString
        let plain: UnsafeRawBufferPointer?
        let length: Int

        init(text: ByteString, plain: UnsafeRawBufferPointer?, length: Int) {
            self.text = text
            self.plain = plain
            self.length = length
        }

        /// One of the SDK's own names (plain ASCII): nothing to scan or escape.
        @inline(__always)
        init(name: StaticString) {
            let k = staticBytes(name)
            self.init(text: .empty, plain: k, length: k.count)
        }
    }

    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #else
    @inline(__always)  // hosts (speed): a call returns the measured text through memory
    #endif
    mutating func measure(_ text: ByteString) throws(OneM2MError) -> MeasuredText {
        #if hasFeature(Embedded)
        // Embedded builds (size): one scan, the escaped length; plain bytes that need no escape
        // (the same length) are copied as they are, as `writeEscaped` would write them.
        if case .jsonEscaped(let b) = text.storage { return MeasuredText(text: text, plain: b, length: b.count) }
        let length = try escapedLength(text)
        if case .raw(let b) = text.storage, length == b.count { return MeasuredText(text: text, plain: b, length: length) }
        return MeasuredText(text: text, plain: nil, length: length)
        #else
        if let plain = verbatim(text) { return MeasuredText(text: text, plain: plain, length: plain.count) }
        return MeasuredText(text: text, plain: nil, length: try escapedLength(text))
        #endif
    }

    /// Writes `"text"` at `at` (room already reserved); returns the offset after it.
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #else
    @inline(__always)  // hosts (speed)
    #endif
    mutating func put(_ m: MeasuredText, at: Int) -> Int {
        #if !hasFeature(Embedded)
        // Hosts (speed): plain text into the reserved room over base addresses (no checks).
        if let ob = buffer.baseAddress, let plain = m.plain {
            ob.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at, as: UInt8.self)
            if let src = plain.baseAddress { copyRaw(ob + (at &+ 1), src, plain.count) }
            ob.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at &+ 1 &+ m.length, as: UInt8.self)
            return at &+ 2 &+ m.length
        }
        return put(escaped: m, at: at)
        #else
        return put(escaped: m, at: at)
        #endif
    }

    /// `put(_:at:)` for text that needs escaping (and the rest of Embedded builds' `put`): out
    /// of line on hosts, so that the plain copy inlined where it is used stays small.
    #if !hasFeature(Embedded)
    @inline(never)
    #else
    @inline(__always)
    #endif
    mutating func put(escaped m: MeasuredText, at: Int) -> Int {
        buffer[at] = UInt8(ascii: "\"")
        #if hasFeature(Embedded)
        if let plain = m.plain { copyBytes(plain, buffer, at &+ 1) } else { _ = writeEscaped(m.text, at &+ 1) }
        #else
        // Hosts (speed): the copy inlined too (a name, an identifier: two word moves).
        if let plain = m.plain { copyBytesInline(plain, buffer, at &+ 1) } else { _ = writeEscaped(m.text, at &+ 1) }
        #endif
        buffer[at &+ 1 &+ m.length] = UInt8(ascii: "\"")
        return at &+ 2 &+ m.length
    }

    // MARK: Templates

    /// Writes one value from `template`: JSON text in which each `%` stands for the next of
    /// `s0`, `s1`, `s2`, written as a JSON string (quoted, escaped). One call that copies the
    /// literal parts as they are: the fast and compact way to write a fixed shape such as
    /// `{"m2m:cin":{"cnf":"text/plain:0","con":%}}`. The template is not checked: it must be
    /// JSON once filled in (the SDK's own templates are checked by tests), with at most three
    /// `%` (more repeat `s2`).
    @_spi(Templates) @inline(never)
    public mutating func fill(template: StaticString, _ s0: ByteString = .empty, _ s1: ByteString = .empty, _ s2: ByteString = .empty) throws(OneM2MError) {
        let t = staticBytes(template)
        let sep = try valueSeparator()
        #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
        // 64-bit hosts (speed): the same pass over base addresses, with the copies inlined (no call, no
        // second room check) and a plain argument written straight from its bytes.
        if let tb = t.baseAddress, let ob = buffer.baseAddress {
            let room = buffer.count
            var o = count &+ sep
            var run = 0, k = 0
            while true {
                let i = placeholder(in: t, from: run)
                let len = i &- run
                guard len <= room &- o else { throw .bufferTooSmall }
                copyRaw(ob + o, tb + run, len)
                o &+= len
                if i == t.count { break }
                let s = k == 0 ? s0 : k == 1 ? s1 : s2
                if case .raw(let b) = s.storage, let bb = b.baseAddress, isPlain(b) {
                    let n = b.count
                    guard n <= room &- o &- 2 else { throw .bufferTooSmall }
                    ob.storeBytes(of: UInt8(ascii: "\""), toByteOffset: o, as: UInt8.self)
                    copyRaw(ob + (o &+ 1), bb, n)
                    ob.storeBytes(of: UInt8(ascii: "\""), toByteOffset: o &+ 1 &+ n, as: UInt8.self)
                    o &+= n &+ 2
                } else {
                    let m = try measure(s)
                    guard m.length <= room &- o &- 2 else { throw .bufferTooSmall }
                    o = put(m, at: o)
                }
                k &+= 1
                run = i &+ 1
            }
            emitSeparator(sep)
            count = o
            placeValue()
            return
        }
        #endif
        // One pass, each piece checked for room before it is written; `count` moves only at
        // the end, so a template that does not fit leaves the document as it was.
        // `o` stays within the buffer and `run` <= `i` <= the template's size: no overflow.
        var o = count &+ sep
        var run = 0, k = 0
        while true {
            let i = placeholder(in: t, from: run)
            guard i &- run <= buffer.count &- o else { throw .bufferTooSmall }
            copyBytes(UnsafeRawBufferPointer(rebasing: t[run..<i]), buffer, o)
            o &+= i &- run
            if i == t.count { break }
            let m = try measure(k == 0 ? s0 : k == 1 ? s1 : s2)
            guard m.length <= buffer.count &- o &- 2 else { throw .bufferTooSmall }
            o = put(m, at: o)
            k &+= 1
            run = i &+ 1
        }
        emitSeparator(sep)
        count = o
        placeValue()
    }

    #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
    /// `fill(template:_:_:_:)` with one argument, the same bytes and errors (64-bit hosts,
    /// speed): no default arguments to build and pass, and a template with one placeholder and
    /// a plain argument (the usual `pc`) in one reservation and three copies. Anything else goes
    /// to the general form.
    @_spi(Templates) @inline(never)
    public mutating func fill(template: StaticString, _ s0: ByteString) throws(OneM2MError) {
        let t = staticBytes(template)
        let (i, one) = onlyPlaceholder(in: t)
        guard let tb = t.baseAddress, let ob = buffer.baseAddress, one,
              case .raw(let text) = s0.storage, isPlain(text) else {
            try fill(template: template, s0, .empty, .empty)
            return
        }
        let sep = try valueSeparator()
        let o = count &+ sep
        // The template without its `%`, the text and its two quotes: `t.count + 1 + n` bytes
        // (`count` + `sep` <= the buffer's size: the room below is not negative).
        let n = text.count
        guard n <= buffer.count &- o &- t.count &- 1 else { throw .bufferTooSmall }
        copyRaw(ob + o, tb, i)
        var at = o &+ i
        ob.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at, as: UInt8.self)
        if let src = text.baseAddress { copyRaw(ob + (at &+ 1), src, n) }
        at &+= n &+ 1
        ob.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at, as: UInt8.self)
        copyRaw(ob + (at &+ 1), tb + (i &+ 1), t.count &- i &- 1)
        emitSeparator(sep)
        count = at &+ t.count &- i
        placeValue()
    }
    #endif

    #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
    /// The offset of the first `%` in `t` (or `t.count`), and whether it is the only one (64-bit
    /// hosts). x86-64 reads a template of 16 to 64 bytes as one 64-bit mask of its `%` bytes
    /// (overlapping 16-byte loads), other templates are searched twice.
    @inline(__always)
    func onlyPlaceholder(in t: UnsafeRawBufferPointer) -> (first: Int, one: Bool) {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        let n = t.count
        if n >= 16 && n <= 64, let base = t.baseAddress {
            var mask: UInt64 = 0
            var at = 0
            while at &+ 16 <= n {
                mask |= UInt64(percentMask(base.loadUnaligned(fromByteOffset: at, as: SIMD16<Int8>.self))) &<< UInt64(at)
                at &+= 16
            }
            if at < n {
                let last = n &- 16
                mask |= UInt64(percentMask(base.loadUnaligned(fromByteOffset: last, as: SIMD16<Int8>.self))) &<< UInt64(last)
            }
            return (mask == 0 ? n : mask.trailingZeroBitCount, mask != 0 && mask & (mask &- 1) == 0)
        }
        #endif
        let i = placeholder(in: t, from: 0)
        return (i, i < t.count && placeholder(in: t, from: i &+ 1) == t.count)
    }
    #endif

    /// The offset of the next `%` in `t` from `i` (or `t.count`), a word at a time.
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    func placeholder(in t: UnsafeRawBufferPointer, from i: Int) -> Int {
        var j = i
        if let base = t.baseAddress {
            #if arch(x86_64) && !hasFeature(Embedded) && canImport(_Builtin_intrinsics.intel)
            // x86-64 hosts (speed): 16 bytes at a time, one compare and one mask.
            while j &+ 16 <= t.count {
                let bits = percentMask(base.loadUnaligned(fromByteOffset: j, as: SIMD16<Int8>.self))
                if bits != 0 { return j &+ bits.trailingZeroBitCount }
                j &+= 16
            }
            #endif
            #if !hasFeature(Embedded)  // Embedded builds (size): the byte loop below alone
            let ones = UInt(truncatingIfNeeded: 0x0101_0101_0101_0101 as UInt64)
            while j &+ MemoryLayout<UInt>.size <= t.count {
                let x = base.loadUnaligned(fromByteOffset: j, as: UInt.self) ^ (ones &* 0x25)
                let found = (x &- ones) & ~x & (ones &* 0x80)
                #if _endian(little) && !hasFeature(Embedded)
                // Hosts (speed): the lowest flagged byte is a `%` (borrows only run upwards).
                if found != 0 { return j &+ found.trailingZeroBitCount &>> 3 }
                #else
                if found != 0 { break }  // found byte by byte below (size)
                #endif
                j &+= MemoryLayout<UInt>.size
            }
            #endif
        }
        while j < t.count && t[j] != UInt8(ascii: "%") { j &+= 1 }
        return j
    }


    /// The bytes of `text` when they can be copied as they are (plain ASCII, nothing to escape).
    func verbatim(_ text: ByteString) -> UnsafeRawBufferPointer? {
        switch text.storage {
        case .jsonEscaped(let b): return b
        case .raw(let b):
            #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
            return isPlain(b) ? b : nil  // hosts (speed): no offset wanted, only yes or no
            #else
            return plainEnd(b, 0, b.count) == b.count ? b : nil
            #endif
        case .inline: return nil
        }
    }

    mutating func escapedLength(_ text: ByteString) throws(OneM2MError) -> Int {
        switch text.storage {
        case .jsonEscaped(let b):
            return b.count
        case .raw(let b):
            return try escapedLength(b)
        case .inline(let packed, let n):
            // One scalar from a literal (valid UTF-8): only a one-byte one can need escaping.
            return n == 1 ? escapeWidth(UInt8(truncatingIfNeeded: packed)) : n
        }
    }

    func escapedLength(_ p: UnsafeRawBufferPointer) throws(OneM2MError) -> Int {
        var len = 0
        var i = 0
        while i < p.count {
            let b = p[i]
            if b >= 0x80 {
                guard case .valid(let n) = checkUTF8(p, i, p.count) else { throw .invalidUTF8Input }
                len += n  // checked: up to 6 bytes per input byte could pass Int.max on 32 bits
                i &+= n  // within the buffer (a valid sequence)
                continue
            }
            len += escapeWidth(b)
            i &+= 1
        }
        return len
    }

    func escapeWidth(_ b: UInt8) -> Int {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x0C, 0x0A, 0x0D, 0x09: return 2
        case 0..<0x20: return 6
        default: return 1
        }
    }

    /// Writes the escaped `text` at `at` (space was reserved); returns the bytes written.
    mutating func writeEscaped(_ text: ByteString, _ at: Int) -> Int {
        if case .jsonEscaped(let b) = text.storage {
            copyBytes(b, buffer, at)
            return b.count
        }
        var k = at
        for b in text {
            let width = escapeWidth(b)
            if width == 1 {
                buffer[k] = b
            } else {
                buffer[k] = UInt8(ascii: "\\")
                // Inside the room reserved for the escaped length: no overflow.
                if width == 2 {
                    buffer[k &+ 1] = shortEscape(b)
                } else {
                    buffer[k &+ 1] = UInt8(ascii: "u")
                    buffer[k &+ 2] = UInt8(ascii: "0"); buffer[k &+ 3] = UInt8(ascii: "0")
                    buffer[k &+ 4] = hexDigit(b >> 4); buffer[k &+ 5] = hexDigit(b & 0xF)
                }
            }
            k &+= width
        }
        return k &- at
    }

    /// The letter after the backslash for the bytes `escapeWidth` gives 2.
    func shortEscape(_ b: UInt8) -> UInt8 {
        switch b {
        case 0x08: return UInt8(ascii: "b")
        case 0x0C: return UInt8(ascii: "f")
        case 0x0A: return UInt8(ascii: "n")
        case 0x0D: return UInt8(ascii: "r")
        case 0x09: return UInt8(ascii: "t")
        default: return b  // `"` and `\`
        }
    }
}

@inline(__always)
func hexDigit(_ v: UInt8) -> UInt8 {
    v < 10 ? UInt8(ascii: "0") &+ v : UInt8(ascii: "a") &+ (v &- 10)
}
