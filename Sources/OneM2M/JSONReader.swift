#if arch(x86_64) && !hasFeature(Embedded) && canImport(_Builtin_intrinsics.intel)
// x86-64 hosts (speed): SSE2's byte mask (`pmovmskb`) for the 16-byte scans: one test per
// 16 bytes and the first flagged byte by one count of trailing zeros (see `specialMask`).
internal import _Builtin_intrinsics.intel
#endif

// A zero-copy validating JSON (RFC 8259) reader. The whole document is validated once, without
// recursion and without allocating; afterwards values are (start, end, kind) views into the
// caller's buffer and fields are found by scanning, never by building a tree.

/// The kind of a JSON value.
public enum JSONKind: UInt8, Sendable {
    /// `{...}`
    case object
    /// `[...]`
    case array
    /// `"..."`
    case string
    /// A number.
    case number
    /// `true` or `false`.
    case bool
    /// `null`.
    case null
}

/// A validated JSON document over a caller-owned buffer (which must outlive it and its values).
public struct JSONDocument {
    /// The default nesting limit: 16 containers.
    public static let defaultMaxDepth = 16
    /// The highest nesting limit the validator supports.
    public static let maxSupportedDepth = 64

    /// The whole document.
    public let bytes: UnsafeRawBufferPointer
    /// The top-level value.
    public let root: JSONValue

    /// Validates `bytes` as exactly one JSON value (RFC 8259) with optional surrounding
    /// whitespace: well-formed UTF-8, all escapes (paired surrogates only), the number grammar,
    /// literals, and at most `maxDepth` nested containers (clamped to 1...64). Throws
    /// `malformedJSON` with the offending byte offset. Never allocates, never recurses.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    public init(validating bytes: UnsafeRawBufferPointer, maxDepth: Int = JSONDocument.defaultMaxDepth) throws(OneM2MError) {
        var slots = PrimitiveSlots()
        let start = try validateJSON(bytes, maxDepth: JSONDocument.clamp(maxDepth), slots: &slots)
        self.bytes = bytes
        self.root = JSONValue(document: bytes, at: start)
        self.slots = slots
    }

    /// Where the top-level members named like primitive parameters start, noted while
    /// validating, so reading a primitive needs no second pass over it.
    let slots: PrimitiveSlots

    static func clamp(_ maxDepth: Int) -> Int {
        maxDepth < 1 ? 1 : (maxDepth > JSONDocument.maxSupportedDepth ? JSONDocument.maxSupportedDepth : maxDepth)
    }
}

/// A view of one value inside a validated `JSONDocument`: its byte range and kind.
/// Navigation never fails on structure (the document is valid); reads that ask for the wrong
/// kind throw `typeMismatch`.
public struct JSONValue {
    /// The whole document this value lives in.
    public let document: UnsafeRawBufferPointer
    /// Offset of the value's first byte in `document`.
    public let start: Int
    /// The end offset if already known, else -1 (found by scanning when first asked for).
    let knownEnd: Int
    /// The value's kind.
    public let kind: JSONKind

    /// Offset one past the value's last byte (found by scanning the value unless known).
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    public var end: Int { knownEnd >= 0 ? knownEnd : skipValue(document, start) }

    /// A value starting at `i` in a validated document; its end is found only when needed, so
    /// looking up a member does not scan the member's value.
    init(document: UnsafeRawBufferPointer, at i: Int) {
        self.document = document
        self.start = i
        self.knownEnd = -1
        self.kind = kindOf(document[i])
    }

    /// A value whose end is already known.
    init(document: UnsafeRawBufferPointer, start: Int, end: Int) {
        self.document = document
        self.start = start
        self.knownEnd = end
        self.kind = kindOf(document[start])
    }

    /// The value's bytes exactly as they appear in the document (quotes included for strings).
    public var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: document[start..<end])
    }

    /// For a string: its contents as a zero-copy `ByteString` (escapes decoded when read);
    /// `nil` for other kinds.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    public var text: ByteString? {
        guard kind == .string else { return nil }
        // One scan finds the end and, usually, that there is nothing to unescape.
        #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
        // 64-bit hosts (speed): the validator's inlined vector scan (there is a document after
        // the string, so it seldom falls back to its tail), and the plain text without the
        // slice's checks (`start` < `close` <= count: the string's quote and a byte found after it).
        if let b = document.baseAddress {
            let n = document.count
            let close = scanPlain(b, start &+ 1, knownEnd >= 0 ? knownEnd : n)
            if close < n && b.load(fromByteOffset: close, as: UInt8.self) == UInt8(ascii: "\"") {
                return ByteString(UnsafeRawBufferPointer(start: b + (start &+ 1), count: close &- start &- 1))
            }
        }
        #elseif !hasFeature(Embedded)
        let close = plainEnd(document, start + 1, knownEnd >= 0 ? knownEnd : document.count)
        if close < document.count && document[close] == UInt8(ascii: "\"") {
            return ByteString(UnsafeRawBufferPointer(rebasing: document[(start + 1)..<close]))
        }
        #endif
        // Embedded builds (size): always here; `init(jsonStringContents:)` stores plain text as
        // plain bytes, as the scan above would have.
        return ByteString(jsonStringContents: UnsafeRawBufferPointer(rebasing: document[(start + 1)..<(end - 1)]))
    }

    /// For a string: the raw bytes between the quotes, still escaped; `nil` for other kinds.
    public var rawStringContents: UnsafeRawBufferPointer? {
        guard kind == .string else { return nil }
        return UnsafeRawBufferPointer(rebasing: document[(start + 1)..<(end - 1)])
    }

    /// True for `null`.
    public var isNull: Bool { kind == .null }

    /// The members of an object (empty for other kinds), in document order.
    public var members: JSONMembers { JSONMembers(kind == .object ? self : nil) }

    /// The elements of an array (empty for other kinds), in document order.
    public var elements: JSONElements { JSONElements(kind == .array ? self : nil) }

    /// The number of members (object) or elements (array); 0 for scalars.
    public var count: Int {
        var n = 0
        if kind == .object { for _ in members { n += 1 } } else if kind == .array { for _ in elements { n += 1 } }
        return n
    }

    /// The value of the first member called `name` (compared on unescaped bytes), or `nil` if
    /// this is not an object or has no such member.
    public func member(named name: ByteString) -> JSONValue? {
        guard kind == .object else { return nil }
        // A plain name (the usual case) is compared byte for byte with each member name that
        // has no escapes; other names, and member names with escapes, are compared decoded.
        var want = UnsafeRawBufferPointer(start: nil, count: 0)
        var plain = false
        if case .raw(let b) = name.storage { want = b; plain = true }
        let p = document, n = p.count
        #if hasFeature(Embedded)
        // Embedded builds scan every name (size; the quick check costs 0.6 KB of armv7 code).
        let (key, keyMask): (UInt64, UInt64) = (0, 0)
        #else
        // A plain name of at most 7 bytes, with its closing quote, as one little-endian word:
        // a member name is then checked with one load, and scanned only when it differs.
        let (key, keyMask) = plain ? quickKey(want) : (0, 0)
        #endif
        var i = spaces(p, start + 1)
        #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
        // 64-bit hosts (speed), when the quick check applies: a member name whose first 16
        // bytes hold its closing quote and no escape before it is compared and measured in one
        // vector register, without the general loop's bookkeeping; other names go there.
        if keyMask != 0, let b = p.baseAddress {
            #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            // x86-64 hosts: the usual `": "` and a string value's opening quote after a name in
            // one 4-byte compare, and the value's closing quote from one more mask when it lies
            // in the next 16 bytes; anything else goes on as below. `i + 20 <= n`: the name's
            // closing quote lies within i + 16, so the 4-byte load after it stays in the buffer.
            while i &+ 20 <= n && b.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "\"") {
                let v = b.loadUnaligned(fromByteOffset: i &+ 1, as: SIMD16<Int8>.self)
                if unsafeBitCast(v, to: SIMD2<UInt64>.self)[0] & keyMask == key {
                    return JSONValue(document: p, at: valueStart(p, i &+ want.count &+ 2))
                }
                let bits = specialMask(v)
                guard bits != 0 else { break }
                let k = i &+ 1 &+ bits.trailingZeroBitCount
                let after = b.loadUnaligned(fromByteOffset: k, as: UInt32.self)
                guard after == UInt32(littleEndian: 0x2220_3A22) else {
                    // A plain name (the quick check compared it whole, so it is another name).
                    guard b.load(fromByteOffset: k, as: UInt8.self) == UInt8(ascii: "\"") else { break }
                    i = nextName(p, after: valueStart(p, k &+ 1))
                    continue
                }
                // A string value from k + 3; its text from k + 4.
                let t = k &+ 4
                var e = -1
                if t &+ 16 <= n {
                    let vb = specialMask(b.loadUnaligned(fromByteOffset: t, as: SIMD16<Int8>.self))
                    let q = t &+ vb.trailingZeroBitCount
                    if vb != 0 && b.load(fromByteOffset: q, as: UInt8.self) == UInt8(ascii: "\"") { e = q &+ 1 }
                }
                if e < 0 { e = skipString(p, k &+ 3) }
                if commaSpaceQuote(b, e, n) {
                    i = e &+ 2
                } else {
                    let j = spaces(p, e)
                    i = j < n && b.load(fromByteOffset: j, as: UInt8.self) == UInt8(ascii: ",") ? spaces(p, j &+ 1) : j
                }
            }
            #else
            while i &+ 17 <= n && b.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "\"") {
                let v = b.loadUnaligned(fromByteOffset: i &+ 1, as: SIMD16<Int8>.self)
                if unsafeBitCast(v, to: SIMD2<UInt64>.self)[0] & keyMask == key {
                    return JSONValue(document: p, at: valueStart(p, i &+ want.count &+ 2))
                }
                #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
                let bits = specialMask(v)
                let k = bits != 0 ? i &+ 1 &+ bits.trailingZeroBitCount : i
                #else
                let flags = specialLanes(v)
                let k = flags.low != 0 ? i &+ 1 &+ flags.low.trailingZeroBitCount &>> 3
                    : flags.high != 0 ? i &+ 9 &+ flags.high.trailingZeroBitCount &>> 3 : i
                #endif
                // A plain name (the quick check compared it whole, so it is another name).
                guard k > i && b.load(fromByteOffset: k, as: UInt8.self) == UInt8(ascii: "\"") else { break }
                i = nextName(p, after: valueStart(p, k &+ 1))
            }
            #endif
        }
        #endif
        while i < n && p[i] == UInt8(ascii: "\"") {
            var escaped = false
            var nameEnd = -1
            #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
            // 64-bit hosts: the name's first 16 bytes in a vector register, the first 8 of them
            // for the quick check; a name of up to 15 bytes is measured at once.
            let probe = 17
            if i &+ probe <= n, let b = p.baseAddress {
                let v = b.loadUnaligned(fromByteOffset: i &+ 1, as: SIMD16<Int8>.self)
                if keyMask != 0 && unsafeBitCast(v, to: SIMD2<UInt64>.self)[0] & keyMask == key {
                    return JSONValue(document: p, at: valueStart(p, i + want.count + 2))
                }
                #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
                let bits = specialMask(v)
                let k = bits != 0 ? i &+ 1 &+ bits.trailingZeroBitCount : i
                #else
                let flags = specialLanes(v)
                let k = flags.low != 0 ? i &+ 1 &+ flags.low.trailingZeroBitCount &>> 3
                    : flags.high != 0 ? i &+ 9 &+ flags.high.trailingZeroBitCount &>> 3 : i
                #endif
                if b.load(fromByteOffset: k, as: UInt8.self) == UInt8(ascii: "\"") && k > i { nameEnd = k &+ 1 }
            }
            #elseif _endian(little) && !hasFeature(Embedded)
            let probe = 9
            if i + probe <= n {
                // The name's first 8 bytes: the whole of a short name, compared and measured at once.
                let word = p.loadUnaligned(fromByteOffset: i + 1, as: UInt64.self)
                if keyMask != 0 && word & keyMask == key {
                    return JSONValue(document: p, at: valueStart(p, i + want.count + 2))
                }
                let flags = specialBytes(UInt(truncatingIfNeeded: word))
                if flags != 0 {
                    let k = i + 1 + flags.trailingZeroBitCount / 8
                    if p[k] == UInt8(ascii: "\"") { nameEnd = k + 1 }
                }
            }
            #else
            let probe = 0
            #endif
            if nameEnd < 0 { nameEnd = stringEnd(p, i, &escaped) }
            let matched: Bool
            #if hasFeature(Embedded)
            // Embedded builds (size): one comparison by `==` for every case (plain bytes are
            // compared as they are there); the same matches as the cases below.
            matched = ByteString(jsonStringContents: UnsafeRawBufferPointer(rebasing: p[(i + 1)..<(nameEnd - 1)])) == name
            #else
            if !escaped && plain {
                // Without escapes a plain name matches on its bytes; the quick check above already
                // compared them when it applies (`&+`: i < n and probe <= 17, no overflow).
                matched = (keyMask == 0 || i &+ probe > n)
                    && bytesEqual(UnsafeRawBufferPointer(rebasing: p[(i + 1)..<(nameEnd - 1)]), want)
            } else {
                // A member name with escapes, or a name that is not plain bytes (escaped JSON
                // text, or a one-scalar literal stored inline): compared on the logical bytes.
                matched = ByteString(jsonStringContents: UnsafeRawBufferPointer(rebasing: p[(i + 1)..<(nameEnd - 1)])) == name
            }
            #endif
            let v = valueStart(p, nameEnd)
            if matched { return JSONValue(document: p, at: v) }
            #if hasFeature(Embedded)
            // Past the value (size: one call for every kind).
            i = spaces(p, skipValue(p, v))
            if i < n && p[i] == UInt8(ascii: ",") { i = spaces(p, i + 1) }
            #else
            i = nextName(p, after: v)
            #endif
        }
        return nil
    }

    /// Shorthand for `member(named:)`, for chaining: `pc["m2m:sgn"]?["sur"]`.
    public subscript(name: ByteString) -> JSONValue? { member(named: name) }

    /// The array element at `index`, or `nil` if out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        guard index >= 0 else { return nil }
        var k = 0
        for e in elements {
            if k == index { return e }
            k += 1
        }
        return nil
    }

    /// `true`/`false`; throws `typeMismatch(expected: .bool)` for other kinds.
    public func bool() throws(OneM2MError) -> Bool {
        guard kind == .bool else { throw .typeMismatch(expected: .bool) }
        return document[start] == UInt8(ascii: "t")
    }

    /// An integer number (`-?[0-9]+`, no fraction or exponent) as `Int64`.
    /// Throws `typeMismatch` for non-numbers, `notAnInteger`, or `integerOutOfRange`.
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed)
    #endif
    public func integer() throws(OneM2MError) -> Int64 {
        guard kind == .number else { throw .typeMismatch(expected: .number) }
        #if !hasFeature(Embedded)
        // The usual case in place (hosts: speed): at most 18 digits (no overflow possible),
        // nothing after them. Embedded builds parse every number below (size).
        let p = document, n = p.count
        let negative = p[start] == UInt8(ascii: "-")
        let first = negative ? start + 1 : start
        #if _endian(little)
        // Up to 7 digits from one load (status codes, types, sizes): the digits counted and
        // combined in the word. A byte is a digit when it is at most 9 after subtracting "0"
        // (below "0" it borrows, above "9" adding 0x76 sets its top bit); borrows and carries
        // run only upwards, so the lowest flagged byte ends the digits.
        if first &+ 8 <= n, let b = p.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let word = b.loadUnaligned(fromByteOffset: first, as: UInt64.self)
            let d = word &- ones &* 0x30
            let flags = (d | (d &+ ones &* 0x76)) & (ones &* 0x80)
            let digits = flags.trailingZeroBitCount &>> 3
            let next = UInt8(truncatingIfNeeded: word &>> UInt64(truncatingIfNeeded: digits &* 8))
            if digits > 0 && digits < 8 && next != UInt8(ascii: ".") && next | 0x20 != UInt8(ascii: "e") {
                // The digits in the top bytes (the first one lowest), then pairs, fours, eight.
                var v = d &<< UInt64(truncatingIfNeeded: 64 &- digits &* 8)
                v = (v &* 10 &+ (v &>> 8)) & 0x00FF_00FF_00FF_00FF
                v = (v &* 100 &+ (v &>> 16)) & 0x0000_FFFF_0000_FFFF
                v = v &* 10000 &+ (v &>> 32)
                let acc = Int64(truncatingIfNeeded: v & 0xFFFF_FFFF)
                return negative ? -acc : acc
            }
        }
        #endif
        var j = first
        var acc: Int64 = 0
        while j < n && j - first < 18 && isDigit(p[j]) {
            acc = acc &* 10 &+ Int64(p[j] &- UInt8(ascii: "0"))
            j += 1
        }
        if j > first && (j == n || !(isDigit(p[j]) || p[j] == UInt8(ascii: ".") || p[j] | 0x20 == UInt8(ascii: "e"))) {
            return negative ? -acc : acc
        }
        #endif
        var it = ByteString(rawBytes).makeIterator()
        return try parseInteger(&it)
    }

    /// Like `integer()`, also accepting a string of decimal digits (`"2"`; ACME accepts `op: "2"`).
    #if !hasFeature(Embedded)
    @inline(__always)  // hosts (speed): a kind check where it is used, not a call around `integer()`
    #endif
    public func integerOrNumericString() throws(OneM2MError) -> Int64 {
        if kind == .string, let t = text {
            var it = t.makeIterator()
            return try parseInteger(&it)
        }
        return try integer()
    }

    /// An integer converted to `T`; throws `integerOutOfRange` if it does not fit.
    public func integer<T: FixedWidthInteger>(as type: T.Type, allowNumericString: Bool = false) throws(OneM2MError) -> T {
        let v = allowNumericString ? try integerOrNumericString() : try integer()
        guard let r = T(exactly: v) else { throw .integerOutOfRange }
        return r
    }

    /// Unescapes a string value into `buffer`; returns the number of bytes written.
    /// Throws `typeMismatch` for non-strings and `bufferTooSmall` if it does not fit.
    public func unescapeString(into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        guard let t = text else { throw .typeMismatch(expected: .string) }
        return try t.copy(into: buffer)
    }
}

/// One object member: its name (a string value) and its value.
public struct JSONMember {
    /// The member name as a string value.
    public let key: JSONValue
    /// The member value.
    public let value: JSONValue
    /// The member name as text (escapes decoded when read).
    public var name: ByteString {
        ByteString(jsonStringContents: UnsafeRawBufferPointer(rebasing: key.document[(key.start + 1)..<(key.end - 1)]))
    }
}

/// The members of an object, in document order.
public struct JSONMembers: Sequence {
    let object: JSONValue?
    init(_ object: JSONValue?) { self.object = object }

    /// An iterator over the members.
    public func makeIterator() -> Iterator {
        if let o = object { return Iterator(document: o.document, position: o.start + 1) }
        return Iterator(document: UnsafeRawBufferPointer(start: nil, count: 0), position: 0)
    }

    /// Iterates object members by scanning the validated bytes. A member's value is stepped
    /// over only when the next member is asked for.
    public struct Iterator: IteratorProtocol {
        let document: UnsafeRawBufferPointer
        /// Where to look for the first member, or where the value handed out last starts.
        var position: Int
        var afterValue = false

        init(document: UnsafeRawBufferPointer, position: Int) {
            self.document = document
            self.position = position
        }

        /// The next member, or `nil` after the last.
        public mutating func next() -> JSONMember? {
            let n = document.count
            let i = afterValue ? nextItem(document, after: position) : skipWhitespace(document, position)
            // In a validated document, anything but a name here is the object's `}`.
            guard i < n, document[i] == UInt8(ascii: "\"") else { position = n; afterValue = false; return nil }
            let keyEnd = skipString(document, i)
            let key = JSONValue(document: document, start: i, end: keyEnd)
            let v = valueStart(document, keyEnd)
            guard v < n else { position = n; afterValue = false; return nil }
            position = v
            afterValue = true
            return JSONMember(key: key, value: JSONValue(document: document, at: v))
        }
    }
}

/// The elements of an array, in document order.
public struct JSONElements: Sequence {
    let array: JSONValue?
    init(_ array: JSONValue?) { self.array = array }

    /// An iterator over the elements.
    public func makeIterator() -> Iterator {
        if let a = array { return Iterator(document: a.document, position: a.start + 1) }
        return Iterator(document: UnsafeRawBufferPointer(start: nil, count: 0), position: 0)
    }

    /// Iterates array elements by scanning the validated bytes; an element is stepped over
    /// only when the next one is asked for.
    public struct Iterator: IteratorProtocol {
        let document: UnsafeRawBufferPointer
        /// Where to look for the first element, or where the element handed out last starts.
        var position: Int
        var afterValue = false

        init(document: UnsafeRawBufferPointer, position: Int) {
            self.document = document
            self.position = position
        }

        /// The next element, or `nil` after the last.
        public mutating func next() -> JSONValue? {
            let n = document.count
            let i = afterValue ? nextItem(document, after: position) : skipWhitespace(document, position)
            // In a validated document, `]` is the only thing here that is not a value.
            guard i < n, document[i] != UInt8(ascii: "]") else { position = n; afterValue = false; return nil }
            position = i
            afterValue = true
            return JSONValue(document: document, at: i)
        }
    }
}

#if !hasFeature(Embedded)
/// Where the next member name starts after the value at `v` in an object of a validated
/// document (past the value, whitespace and a comma), or the object's `}`: for the member
/// lookup on hosts, inlined there (speed; `@_transparent`: the inliner left it out of line,
/// about 25 instructions a member more).
@_transparent
func nextName(_ p: UnsafeRawBufferPointer, after v: Int) -> Int {
    let n = p.count
    // Past the value: strings and numbers here (speed), containers by `skipValue`.
    var e = v
    if v < n && p[v] == UInt8(ascii: "\"") {
        var escaped = false
        e = stringEnd(p, v, &escaped)
    } else if v < n && (isDigit(p[v]) || p[v] == UInt8(ascii: "-")) {
        e += 1
        while e < n && (isDigit(p[e]) || p[e] == UInt8(ascii: ".") || p[e] == UInt8(ascii: "e")
            || p[e] == UInt8(ascii: "E") || p[e] == UInt8(ascii: "+") || p[e] == UInt8(ascii: "-")) { e += 1 }
    } else {
        e = skipValue(p, v)
    }
    // The usual `, "` after the value goes straight to the next name.
    if let b = p.baseAddress, commaSpaceQuote(b, e, n) { return e &+ 2 }
    let i = spaces(p, e)
    return i < n && p[i] == UInt8(ascii: ",") ? spaces(p, i + 1) : i
}
#endif

/// Where the next member or element starts after the value starting at `value` in a validated
/// container (past whitespace and a comma), or the container's closing bracket.
func nextItem(_ p: UnsafeRawBufferPointer, after value: Int) -> Int {
    var i = skipWhitespace(p, skipValue(p, value))
    if i < p.count && p[i] == UInt8(ascii: ",") { i += 1 }
    return skipWhitespace(p, i)
}

// MARK: - Integer parsing

/// Parses `-?[0-9]+` from logical bytes into Int64 (negative accumulation covers Int64.min).
func parseInteger(_ it: inout ByteString.Iterator) throws(OneM2MError) -> Int64 {
    var first = it.next()
    var negative = false
    if first == UInt8(ascii: "-") { negative = true; first = it.next() }
    guard var b = first else { throw .notAnInteger }
    var acc: Int64 = 0
    while true {
        guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { throw .notAnInteger }
        let d = Int64(b - UInt8(ascii: "0"))
        let (m, o1) = acc.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.subtractingReportingOverflow(d)
        guard !o1 && !o2 else {
            // Keep scanning so "12x" with overflow still reports the grammar first? Range wins.
            throw .integerOutOfRange
        }
        acc = s
        guard let next = it.next() else { break }
        b = next
    }
    if negative { return acc }
    guard acc != Int64.min else { throw .integerOutOfRange }
    return -acc
}

// MARK: - Scanning a validated document

@inline(__always)
func isJSONWhitespace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
}

func skipWhitespace(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int {
    spaces(p, i)
}

/// Where the value starts after a member name that ends at `i`, in a validated document.
@inline(__always)
func valueStart(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int {
    #if !hasFeature(Embedded)
    // Hosts (speed): the usual `: ` without the whitespace loop before the colon.
    if i &+ 2 < p.count, let b = p.baseAddress,
       b.loadUnaligned(fromByteOffset: i, as: UInt16.self) == UInt16(littleEndian: 0x203A) {
        return spaces(p, i &+ 2)
    }
    #endif
    return spaces(p, spaces(p, i) + 1)
}

/// Skips whitespace in a validated document. Inlined in the member lookup on hosts (speed), one
/// copy in Embedded builds (size).
#if hasFeature(Embedded)
@inline(never)
#else
@inline(__always)
#endif
func spaces(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int {
    guard let b = p.baseAddress else { return i }
    // Outside strings, a validated document's bytes up to 0x20 are all whitespace, so one
    // comparison a byte tells them apart (hosts: speed; Embedded builds: size).
    var j = i
    while j < p.count && b.load(fromByteOffset: j, as: UInt8.self) <= 0x20 { j &+= 1 }
    return j
}

#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#else
@inline(__always)
#endif
func kindOf(_ b: UInt8) -> JSONKind {
    #if !hasFeature(Embedded)
    // Hosts (speed): one load from `kindTable` instead of the switch's jump table (about 8
    // instructions, several times a decode).
    let raw = UnsafeRawPointer(kindTable.utf8Start).load(fromByteOffset: Int(b), as: UInt8.self) &- UInt8(ascii: "0")
    return unsafeBitCast(raw, to: JSONKind.self)  // 0...5, a raw value of `JSONKind` by construction
    #else
    switch b {
    case UInt8(ascii: "{"): return .object
    case UInt8(ascii: "["): return .array
    case UInt8(ascii: "\""): return .string
    case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
    case UInt8(ascii: "n"): return .null
    default: return .number
    }
    #endif
}

#if !hasFeature(Embedded)
/// `kindOf` as data for hosts: per byte value (256 bytes, 64 a line), the raw value of the
/// kind a value starting with that byte has, as an ASCII digit: `{` 0, `[` 1, `"` 2, `t` and
/// `f` 4, `n` 5, every other byte 3 (a number).
let kindTable: StaticString = """
    3333333333333333333333333333333333233333333333333333333333333333\
    3333333333333333333333333331333333333343333333533333433333303333\
    3333333333333333333333333333333333333333333333333333333333333333\
    3333333333333333333333333333333333333333333333333333333333333333
    """
#endif

/// The offset of the first byte in `p[i..<n]` that a string scan must look at: `"`, `\`, a
/// control character or a non-ASCII byte; `n` if there is none. Reads a machine word at a time
/// (SWAR), so plain text costs a few instructions per word rather than per byte; the last few
/// bytes are read as a word that overlaps bytes already seen, not one by one. 64-bit hosts
/// read vectors instead: 16 bytes at a time, the last ones as a vector that overlaps bytes
/// already seen, and 8 to 15 bytes as two overlapping words in one vector.
func plainEnd(_ p: UnsafeRawBufferPointer, _ i: Int, _ n: Int) -> Int {
    var j = i
    #if _endian(little)
    if let base = p.baseAddress {
        #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
        // 64-bit hosts (speed): vectors down to 8 bytes, like the words below. Wrapping
        // arithmetic: offsets stay within `i...n`; `n - j` is negative only when `i` > `n`.
        if n &- j >= 16 {
            while true {
                let k = specialIndex(base.loadUnaligned(fromByteOffset: j, as: SIMD16<Int8>.self))
                if k < 16 { return j &+ k }
                j &+= 16
                if j >= n { return n }
                if n &- j < 16 {
                    // The last 16 bytes overlap bytes already seen (clean).
                    let last = n &- 16
                    return last &+ specialIndex(base.loadUnaligned(fromByteOffset: last, as: SIMD16<Int8>.self))
                }
            }
        }
        if n &- j >= 8 {
            // 8 to 15 bytes: two words in one vector, the second overlapping the first.
            let words = SIMD2(base.loadUnaligned(fromByteOffset: j, as: UInt64.self),
                              base.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self))
            #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
            let bits = specialMask(unsafeBitCast(words, to: SIMD16<Int8>.self))
            if bits == 0 { return n }
            let k = bits.trailingZeroBitCount
            return k < 8 ? j &+ k : n &- 16 &+ k
            #else
            let flags = specialLanes(unsafeBitCast(words, to: SIMD16<Int8>.self))
            if flags.low != 0 { return j &+ flags.low.trailingZeroBitCount &>> 3 }
            return flags.high == 0 ? n : n &- 8 &+ flags.high.trailingZeroBitCount &>> 3
            #endif
        }
        #endif
        let width = MemoryLayout<UInt>.size
        if n - j >= width {
            while true {
                let flags = specialBytes(base.loadUnaligned(fromByteOffset: j, as: UInt.self))
                if flags != 0 { return j + flags.trailingZeroBitCount / 8 }
                j += width
                if j >= n { return n }
                if n - j < width {
                    // The last word overlaps bytes already seen (clean), so the lowest flagged
                    // byte in it lies at `j` or after.
                    let last = n - width
                    let tail = specialBytes(base.loadUnaligned(fromByteOffset: last, as: UInt.self))
                    return tail == 0 ? n : last + tail.trailingZeroBitCount / 8
                }
            }
        }
        if width == 8 && n - j >= 4 {
            // 4 to 7 bytes: two 32-bit words, the second overlapping the first.
            let lo = UInt(base.loadUnaligned(fromByteOffset: j, as: UInt32.self))
            let hi = UInt(base.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            let flags = specialBytes(lo | hi << 32)
            if flags == 0 { return n }
            let k = flags.trailingZeroBitCount / 8
            return k < 4 ? j + k : n - 4 + (k - 4)
        }
    }
    #endif
    return scanBytes(p, j, n)
}

/// `plainEnd` over a base address, for the validator's and the member lookup's string scans,
/// inlined there. 64-bit hosts (speed) read 16 bytes at a time in vector registers (SSE2, NEON)
/// while 16 are left, and leave the last few bytes of a buffer to `scanWords` out of line, so
/// that the inlined part stays small; other builds run `scanWords` inline.
@inline(__always)
func scanPlain(_ b: UnsafeRawPointer, _ i: Int, _ n: Int) -> Int {
    #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
    var j = i
    // Wrapping adds: j <= n, and n (a buffer's count) is far below Int.max.
    while j &+ 16 <= n {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        // x86-64: one mask, one test.
        let bits = specialMask(b.loadUnaligned(fromByteOffset: j, as: SIMD16<Int8>.self))
        if bits != 0 { return j &+ bits.trailingZeroBitCount }
        #else
        // Two tests, not `specialIndex`: with it here a decode took about 1,000 more
        // instructions (callgrind).
        let flags = specialLanes(b.loadUnaligned(fromByteOffset: j, as: SIMD16<Int8>.self))
        if flags.low != 0 { return j &+ flags.low.trailingZeroBitCount &>> 3 }
        if flags.high != 0 { return j &+ 8 &+ flags.high.trailingZeroBitCount &>> 3 }
        #endif
        j &+= 16
    }
    return scanNearEnd(b, j, n)
    #else
    return scanWords(b, i, n)
    #endif
}

#if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
/// `scanWords` for the last bytes of a buffer (fewer than 16), out of line.
@inline(never)
func scanNearEnd(_ b: UnsafeRawPointer, _ i: Int, _ n: Int) -> Int {
    scanWords(b, i, n)
}

/// `specialBytes` for 16 bytes: each byte a string scan must look at (a quote, a backslash, or,
/// compared as signed, below 0x20: control characters and non-ASCII bytes) as 0xFF, the others
/// as 0; the first 8 bytes in `low`, little-endian.
@inline(__always)
func specialLanes(_ v: SIMD16<Int8>) -> (low: UInt64, high: UInt64) {
    // Typed constants: `SIMD16(repeating:)` left to inference compiles to a loop over the lanes.
    // A quote and the bytes below 0x20 in one signed comparison: XOR 0x02 maps the quote to
    // 0x20, keeps 0x00...0x1F among themselves and non-ASCII bytes negative, and leaves every
    // other byte at 0x21 or above (0x20 becomes 0x22, 0x21 becomes 0x23, 0x23 becomes 0x21).
    let two = SIMD16<Int8>(repeating: 0x02), limit = SIMD16<Int8>(repeating: 0x21)
    let backslash = SIMD16<Int8>(repeating: 0x5C)
    let words = unsafeBitCast(((v ^ two) .< limit) .| (v .== backslash), to: SIMD2<UInt64>.self)
    return (words[0], words[1])
}

/// Whether `p` holds nothing a JSON string must escape or check (as `plainEnd(p, 0, p.count)
/// == p.count`), for the writer's texts: up to 32 bytes as two overlapping vectors (8 to 15
/// as two overlapping words in one), 4 to 7 as two overlapping words, with no loop and no
/// offset to work out; longer texts by `plainEnd`. 64-bit hosts (speed).
@inline(never)
func isPlain(_ p: UnsafeRawBufferPointer) -> Bool {
    let n = p.count
    guard let base = p.baseAddress, n > 0 else { return true }
    let vectors: SIMD16<Int8>
    if n >= 16 {
        guard n <= 32 else { return plainEnd(p, 0, n) == n }
        let first = base.loadUnaligned(as: SIMD16<Int8>.self)
        let last = base.loadUnaligned(fromByteOffset: n &- 16, as: SIMD16<Int8>.self)
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return specialMask(first) | specialMask(last) == 0
        #else
        let a = specialLanes(first), z = specialLanes(last)
        return a.low | a.high | z.low | z.high == 0
        #endif
    } else if n >= 8 {
        vectors = SIMD16(lowHalf: base.loadUnaligned(as: SIMD8<Int8>.self),
                         highHalf: base.loadUnaligned(fromByteOffset: n &- 8, as: SIMD8<Int8>.self))
    } else if n >= 4 {
        let lo = UInt(base.loadUnaligned(as: UInt32.self))
        let hi = UInt(base.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self))
        return specialBytes(lo | hi &<< 32) == 0
    } else {
        return scanBytes(p, 0, n) == n
    }
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    return specialMask(vectors) == 0
    #else
    let flags = specialLanes(vectors)
    return flags.low | flags.high == 0
    #endif
}

/// Whether `, "` (a comma, a space and the quote of the next member's name: ACME's separator)
/// starts at `i`, with bytes after it.
@inline(__always)
func commaSpaceQuote(_ b: UnsafeRawPointer, _ i: Int, _ n: Int) -> Bool {
    i &+ 2 < n && b.loadUnaligned(fromByteOffset: i, as: UInt16.self) == UInt16(littleEndian: 0x202C)
        && b.load(fromByteOffset: i &+ 2, as: UInt8.self) == UInt8(ascii: "\"")
}

/// The index (0...15) of the first byte of `v` a string scan must look at; 16 if none.
@inline(__always)
func specialIndex(_ v: SIMD16<Int8>) -> Int {
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    let bits = specialMask(v)
    if bits != 0 { return bits.trailingZeroBitCount }
    return 16
    #else
    let flags = specialLanes(v)
    if flags.low != 0 { return flags.low.trailingZeroBitCount &>> 3 }
    return flags.high != 0 ? 8 &+ flags.high.trailingZeroBitCount &>> 3 : 16
    #endif
}
#endif

/// The first byte from `i` that a string scan must look at, or `n`: a word at a time while a
/// whole word is left, then byte by byte.
@inline(__always)
func scanWords(_ b: UnsafeRawPointer, _ i: Int, _ n: Int) -> Int {
    var j = i
    #if _endian(little) && !hasFeature(Embedded)  // Embedded builds (size): the byte loop alone
    // Wrapping adds: j <= n, and n (a buffer's count) is far below Int.max.
    while j &+ MemoryLayout<UInt>.size <= n {
        let flags = specialBytes(b.loadUnaligned(fromByteOffset: j, as: UInt.self))
        // The lowest flagged byte is a real one (borrows only run upwards).
        if flags != 0 { return j &+ flags.trailingZeroBitCount &>> 3 }
        j &+= MemoryLayout<UInt>.size
    }
    #endif
    while j < n {
        let c = b.load(fromByteOffset: j, as: UInt8.self)
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { return j }
        j &+= 1
    }
    return n
}

@inline(__always)
func scanBytes(_ p: UnsafeRawBufferPointer, _ i: Int, _ n: Int) -> Int {
    var j = i
    while j < n {
        let b = p[j]
        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { return j }
        j += 1
    }
    return n
}

/// Marks (top bit of each byte) the bytes of `x` a string scan must look at: a quote or a
/// backslash (0 after the XOR, so 0xFF after subtracting 1), a byte below 0x20 (it borrows), or
/// a non-ASCII byte (`| x`). The subtractions also set the top bit of some bytes >= 0x80, which
/// are flagged anyway, so no `& ~v` masks are needed. A borrow only runs upwards from a byte
/// that is flagged, so the lowest flagged byte is always a real one.
@inline(__always)
func specialBytes(_ x: UInt) -> UInt {
    let ones = UInt(truncatingIfNeeded: 0x0101_0101_0101_0101 as UInt64)
    let quote = x ^ (ones &* 0x22), backslash = x ^ (ones &* 0x5C)
    return ((quote &- ones) | (backslash &- ones) | (x &- ones &* 0x20) | x) & (ones &* 0x80)
}

/// End (exclusive) of the string starting with the quote at `i`; bounded by the buffer.
func skipString(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int {
    var escaped = false
    return stringEnd(p, i, &escaped)
}

/// The end of the string at `i`, noting whether it has escapes. Hosts inline it where it is
/// used (speed); Embedded builds keep one copy (size).
#if hasFeature(Embedded)
@inline(never)
#else
@inline(__always)
#endif
func stringEnd(_ p: UnsafeRawBufferPointer, _ i: Int, _ escaped: inout Bool) -> Int {
    let n = p.count
    guard let b = p.baseAddress else { return n }
    var j = i + 1
    while true {
        j = scanPlain(b, j, n)
        guard j < n else { return n }
        let c = p[j]
        if c == UInt8(ascii: "\"") { return j + 1 }
        if c == UInt8(ascii: "\\") { escaped = true; j += 2 } else { j += 1 }
    }
}

/// End (exclusive) of the value starting at `i` in a validated document; bounded by the buffer.
func skipValue(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int {
    guard i < p.count else { return p.count }
    switch p[i] {
    case UInt8(ascii: "\""):
        return skipString(p, i)
    case UInt8(ascii: "{"), UInt8(ascii: "["):
        var depth = 0
        var j = i
        while j < p.count {
            let c = p[j]
            if c == UInt8(ascii: "\"") { j = skipString(p, j); continue }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                depth += 1
            } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return j + 1 }
            }
            j += 1
        }
        return p.count
    case UInt8(ascii: "t"), UInt8(ascii: "n"):
        return i + 4 <= p.count ? i + 4 : p.count
    case UInt8(ascii: "f"):
        return i + 5 <= p.count ? i + 5 : p.count
    default:
        var j = i
        while j < p.count {
            let c = p[j]
            guard (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-")
                || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
                || c == UInt8(ascii: "E") else { break }
            j += 1
        }
        return j
    }
}

#if !hasFeature(Embedded)
/// `name` (at most 7 bytes) followed by a closing quote, as the little-endian word a member
/// name with exactly those bytes starts with, and the mask of the bytes that count; (0, 0) for
/// a longer name, a name with a backslash, or on a big-endian machine. Inlined in the member
/// lookup (`@_transparent`: the inliner kept it out of line; 15 instructions a decode).
@_transparent
func quickKey(_ name: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
    #if _endian(little)
    let count = name.count
    guard count < 8, let base = name.baseAddress else { return (0, 0) }
    // The name's bytes by two overlapping loads (no loop), then the quote after them.
    var key: UInt64
    if count >= 4 {
        key = UInt64(base.loadUnaligned(as: UInt32.self))
            | UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)) << UInt64(8 * (count - 4))
    } else if count >= 2 {
        key = UInt64(base.loadUnaligned(as: UInt16.self))
            | UInt64(base.loadUnaligned(fromByteOffset: count - 2, as: UInt16.self)) << UInt64(8 * (count - 2))
    } else {
        key = count == 1 ? UInt64(base.load(as: UInt8.self)) : 0
    }
    key |= UInt64(UInt8(ascii: "\"")) << UInt64(8 * count)
    let mask: UInt64 = ~0 &>> UInt64(56 &- 8 &* count)  // the name's bytes and its quote
    // A backslash in the name would match the start of an escape (`\"` is not a closing
    // quote): such names take the scanning path.
    if hasBackslash(key) { return (0, 0) }
    return (key, mask)
    #else
    return (0, 0)
    #endif
}
#endif

/// Whether one of the bytes of `word` is a backslash (zero bytes are not). Exact: the zero-byte
/// test's borrows only run upwards from a flagged byte, so the lowest flagged byte is real.
@inline(__always)
func hasBackslash(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let x = word ^ (ones &* 0x5C)
    return (x &- ones) & ~x & (ones &* 0x80) != 0
}

// MARK: - Validation

#if hasFeature(Embedded)
/// Whether the validator checks the usual positive integer inline (hosts: speed) or leaves
/// every number to `validateNumber` (Embedded builds: size).
let inlineIntegers = false
#else
let inlineIntegers = true
#endif

/// Validates a whole document; returns the offset of the top-level value.
///
/// One loop without recursion: a value starts at the top, and the inner loop steps past what
/// follows a value (whitespace, commas, closing brackets) until the next value starts. Member
/// names are read where a member must start, so the state is where the code is, not flags.
func validateJSON(_ p: UnsafeRawBufferPointer, maxDepth: Int, slots: inout PrimitiveSlots) throws(OneM2MError) -> Int {
    let n = p.count
    guard let b = p.baseAddress else { throw .malformedJSON(.unexpectedEnd, offset: 0) }
    var i = blanks(b, 0, n)
    guard i < n else { throw .malformedJSON(.unexpectedEnd, offset: i) }
    let rootStart = i
    var depth = 0
    // A stack of bits, the innermost container lowest: 1 for an object, 0 for an array (at
    // most 64 deep). Pushed and popped by shifts of one, which need no library call for a
    // 64-bit shift on 32-bit boards; the lowest bit says what closes the innermost container.
    var objectBits: UInt64 = 0

    #if !hasFeature(Embedded)
    // The end of the member name at `i` when the separator check below has measured it, else -1.
    var keyEnd = -1
    #endif
    next: while true {
        // Where a member must start, the inner blocks `break member`; every other path goes on
        // with the next value (`continue next`), returns or throws. So the member name is read
        // at one place below, and inlined there once.
        member: do {
            // A value starts at `i` (< n).
            var c = b.load(fromByteOffset: i, as: UInt8.self)
            if c == UInt8(ascii: "\"") {
                #if arch(x86_64) && !hasFeature(Embedded) && canImport(_Builtin_intrinsics.intel)
                // x86-64 hosts (speed): the value 16 bytes at a time as a 16-bit mask of the
                // bytes a string scan must look at. When the closing quote, the usual `, "` and
                // the next member's name all lie in the 16 bytes that found the quote, the name
                // is measured from the same mask (as the separator check below would, without
                // a second vector); anything else goes on as without this path.
                var j = i &+ 1
                value: do {
                    while j &+ 16 <= n {
                        let bits = specialMask(b.loadUnaligned(fromByteOffset: j, as: SIMD16<Int8>.self))
                        if bits == 0 { j &+= 16; continue }
                        let q = j &+ bits.trailingZeroBitCount
                        guard b.load(fromByteOffset: q, as: UInt8.self) == UInt8(ascii: "\"") else {
                            j = try validateSpecial(p, q)
                            continue
                        }
                        // `r` < 12: the four bytes after the quote lie in the 16 (a load of 4).
                        let r = q &- j
                        if objectBits & 1 != 0 && r < 12
                            && b.loadUnaligned(fromByteOffset: q &+ 1, as: UInt32.self) & 0xFF_FFFF == 0x22_202C {
                            // The name's closing quote, if it is the first flagged byte after
                            // its opening quote (at q + 3) and within the 16.
                            let rest = bits &>> UInt32(truncatingIfNeeded: r &+ 4)
                            if rest != 0 {
                                let k = q &+ 4 &+ rest.trailingZeroBitCount
                                if b.load(fromByteOffset: k, as: UInt8.self) == UInt8(ascii: "\"") { keyEnd = k &+ 1 }
                            }
                            i = q &+ 3
                            break member
                        }
                        i = q &+ 1
                        break value
                    }
                    i = try stringRest(validating: p, b, n, j)
                }
                #else
                i = try stringEnd(validating: p, b, n, i)
                #endif
            } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                guard depth < maxDepth else { throw .malformedJSON(.depthLimitExceeded, offset: i) }
                depth += 1
                let isObject = c == UInt8(ascii: "{")
                objectBits = objectBits &<< 1 | (isObject ? 1 : 0)
                i = blanks(b, i + 1, n)
                guard i < n else { throw .malformedJSON(.unexpectedEnd, offset: i) }
                c = b.load(fromByteOffset: i, as: UInt8.self)
                if c != (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    if isObject { break member }
                    continue next
                }
                i += 1
                depth -= 1
                objectBits &>>= 1
            } else if inlineIntegers && c &- UInt8(ascii: "1") < 9 {
                // The usual number: a positive integer, not followed by a fraction or exponent
                // (inline on hosts: speed; Embedded builds check every number below: size).
                var j = i &+ 1
                while j < n && isDigit(b.load(fromByteOffset: j, as: UInt8.self)) { j &+= 1 }
                if j < n && (b.load(fromByteOffset: j, as: UInt8.self) == UInt8(ascii: ".")
                    || b.load(fromByteOffset: j, as: UInt8.self) | 0x20 == UInt8(ascii: "e")) {
                    j = try validateNumber(p, i)
                }
                i = j
            } else if c == UInt8(ascii: "-") || (inlineIntegers ? c == UInt8(ascii: "0") : isDigit(c)) {
                i = try validateNumber(p, i)
            } else if c == UInt8(ascii: "t") {
                i = try validateLiteral(p, i, "true")
            } else if c == UInt8(ascii: "f") {
                i = try validateLiteral(p, i, "false")
            } else if c == UInt8(ascii: "n") {
                i = try validateLiteral(p, i, "null")
            } else {
                throw .malformedJSON(.unexpectedCharacter, offset: i)
            }

            #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
            // 64-bit hosts (speed): the usual `, "` after a member's value and the next name in
            // one vector: a name with no escape or other special byte ends at the first one
            // flagged after the separator's quote.
            if objectBits & 1 != 0 && i &+ 16 <= n {
                let v = b.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self)
                if unsafeBitCast(v, to: SIMD2<UInt64>.self)[0] & 0xFF_FFFF == 0x22_202C {
                    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
                    let bits = specialMask(v) & ~0x7
                    let k = bits != 0 ? i &+ bits.trailingZeroBitCount : i
                    #else
                    let flags = specialLanes(v)
                    let low = flags.low & ~0xFF_FFFF
                    let k = low != 0 ? i &+ low.trailingZeroBitCount &>> 3
                        : flags.high != 0 ? i &+ 8 &+ flags.high.trailingZeroBitCount &>> 3 : i
                    #endif
                    if k > i && b.load(fromByteOffset: k, as: UInt8.self) == UInt8(ascii: "\"") { keyEnd = k &+ 1 }
                    i &+= 2
                    break member
                }
            }
            #endif
            #if !hasFeature(Embedded)
            // Hosts (speed): the usual `, "` after a member's value goes straight to the next
            // member's name (a set lowest bit means an object is open, so depth > 0).
            if objectBits & 1 != 0 && commaSpaceQuote(b, i, n) {
                i &+= 2
                break member
            }
            #endif
            // After a value: close containers until a comma leads to the next value.
            while true {
                i = blanks(b, i, n)
                if depth == 0 {
                    guard i == n else { throw .malformedJSON(.trailingData, offset: i) }
                    return rootStart
                }
                guard i < n else { throw .malformedJSON(.unexpectedEnd, offset: i) }
                c = b.load(fromByteOffset: i, as: UInt8.self)
                if c == UInt8(ascii: ",") {
                    i += 1
                    #if !hasFeature(Embedded)
                    // Hosts (speed): the usual `, ` skips one space before the general loop.
                    if i < n && b.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: " ") { i &+= 1 }
                    #endif
                    i = blanks(b, i, n)
                    guard i < n else { throw .malformedJSON(.unexpectedEnd, offset: i) }
                    c = b.load(fromByteOffset: i, as: UInt8.self)
                    if objectBits & 1 != 0 {
                        if c == UInt8(ascii: "}") { throw .malformedJSON(.trailingComma, offset: i) }
                        break member
                    }
                    if c == UInt8(ascii: "]") { throw .malformedJSON(.trailingComma, offset: i) }
                    continue next
                }
                guard c == (objectBits & 1 != 0 ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    throw .malformedJSON(.unexpectedCharacter, offset: i)
                }
                i += 1
                depth -= 1
                // The container around it, if any (none at depth 0: all bits are gone).
                objectBits &>>= 1
            }
        }
        #if hasFeature(Embedded)
        i = try memberValue(p, b, n, i, depth, &slots)
        #else
        // The name unless the separator check measured it.
        if keyEnd < 0 { keyEnd = try memberNameEnd(p, b, n, i) }
        i = try memberValue(p, b, n, i, keyEnd: keyEnd, depth, &slots)
        keyEnd = -1
        #endif
    }
}

#if hasFeature(Embedded)
/// Reads the member name at `i` and its colon; returns where the member's value starts (< n).
/// Notes top-level names in `slots`. Embedded builds call it at one place in the validator,
/// out of line (size).
func memberValue(_ p: UnsafeRawBufferPointer, _ b: UnsafeRawPointer, _ n: Int, _ i: Int, _ depth: Int,
                 _ slots: inout PrimitiveSlots) throws(OneM2MError) -> Int {
    try memberValue(p, b, n, i, keyEnd: try memberNameEnd(p, b, n, i), depth, &slots)
}
#endif

/// Validates the member name at `i`; returns the offset after its closing quote.
@inline(__always)
func memberNameEnd(_ p: UnsafeRawBufferPointer, _ b: UnsafeRawPointer, _ n: Int, _ i: Int) throws(OneM2MError) -> Int {
    guard b.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "\"") else {
        throw .malformedJSON(.invalidMemberName, offset: i)
    }
    return try stringEnd(validating: p, b, n, i)
}

/// `memberValue` after the name (from `i` to `keyEnd`): the colon, the name noted. Hosts
/// inline it in the validator (speed; `@_transparent`: the inliner ignores `@inline(__always)`
/// once the validator is this large).
#if hasFeature(Embedded)
@inline(__always)
#else
@_transparent
#endif
func memberValue(_ p: UnsafeRawBufferPointer, _ b: UnsafeRawPointer, _ n: Int, _ i: Int, keyEnd: Int, _ depth: Int,
                 _ slots: inout PrimitiveSlots) throws(OneM2MError) -> Int {
    var j = keyEnd
    #if hasFeature(Embedded)
    let usual = false
    #else
    // Hosts (speed): the usual `: ` straight after the name, and the value's first byte after
    // it, skip the whitespace loops and their end checks.
    let usual = j &+ 2 < n && b.loadUnaligned(fromByteOffset: j, as: UInt16.self) == UInt16(littleEndian: 0x203A)
        && b.load(fromByteOffset: j &+ 2, as: UInt8.self) > 0x20
    #endif
    if usual {
        j &+= 2
    } else {
        j = blanks(b, j, n)
        guard j < n else { throw .malformedJSON(.unexpectedEnd, offset: j) }
        guard b.load(fromByteOffset: j, as: UInt8.self) == UInt8(ascii: ":") else {
            throw .malformedJSON(.invalidMemberName, offset: j)
        }
        j = blanks(b, j + 1, n)
        guard j < n else { throw .malformedJSON(.unexpectedEnd, offset: j) }
    }
    if depth == 1 { slots.record(p, key: i, keyEnd: keyEnd, value: j) }
    return j
}

/// Skips JSON whitespace from `i`, over the base address (no per-byte nil checks): for the
/// validator, and for the member lookup in Embedded builds.
@inline(__always)
func blanks(_ b: UnsafeRawPointer, _ i: Int, _ n: Int) -> Int {
    var j = i
    while j < n {
        let c = b.load(fromByteOffset: j, as: UInt8.self)
        // One comparison for the usual byte that is not whitespace (all four are <= 0x20).
        guard c <= 0x20 && isJSONWhitespace(c) else { break }
        j += 1
    }
    return j
}

/// Validates the string starting with the quote at `i`; returns the offset after the closing
/// quote. Plain text is skipped by `scanPlain`; escapes, control characters and non-ASCII
/// bytes go to `validateSpecial` (out of line: the inlined part stays small). Hosts inline it
/// for names and values (speed); Embedded builds keep one copy (size).
#if !hasFeature(Embedded)
@inline(__always)
#endif
func stringEnd(validating p: UnsafeRawBufferPointer, _ b: UnsafeRawPointer, _ n: Int, _ i: Int) throws(OneM2MError) -> Int {
    // Wrapping adds: i < n and j < n, far below Int.max.
    var j = i &+ 1
    while true {
        j = scanPlain(b, j, n)
        guard j < n else { throw .malformedJSON(.unterminatedString, offset: j) }
        if b.load(fromByteOffset: j, as: UInt8.self) == UInt8(ascii: "\"") { return j &+ 1 }
        j = try validateSpecial(p, j)
    }
}

#if arch(x86_64) && !hasFeature(Embedded) && canImport(_Builtin_intrinsics.intel)
/// The `%` bytes of `v` as a 16-bit mask, the first byte lowest (x86-64 hosts: the writer's
/// template placeholders).
@inline(__always)
func percentMask(_ v: SIMD16<Int8>) -> UInt32 {
    let flags = unsafeBitCast(v .== SIMD16<Int8>(repeating: 0x25), to: __m128i.self)
    return UInt32(truncatingIfNeeded: _mm_movemask_epi8(flags)) & 0xFFFF
}

/// `stringEnd(validating:)` from `j` inside the string (x86-64 hosts: the validator's own
/// vector scan of a value hands the rest of it here).
@inline(__always)
func stringRest(validating p: UnsafeRawBufferPointer, _ b: UnsafeRawPointer, _ n: Int, _ j: Int) throws(OneM2MError) -> Int {
    var j = j
    while true {
        j = scanPlain(b, j, n)
        guard j < n else { throw .malformedJSON(.unterminatedString, offset: j) }
        if b.load(fromByteOffset: j, as: UInt8.self) == UInt8(ascii: "\"") { return j &+ 1 }
        j = try validateSpecial(p, j)
    }
}

/// The bytes of `v` a string scan must look at (as `specialLanes` flags them) as a 16-bit mask,
/// the first byte lowest: one `pmovmskb` (x86-64 hosts; the vector scans use it in place of
/// `specialLanes`' two 64-bit halves, which need a test each: a JSONLoop pair took 4,717
/// instructions with the halves and 4,594 with the mask, callgrind).
@inline(__always)
func specialMask(_ v: SIMD16<Int8>) -> UInt32 {
    let two = SIMD16<Int8>(repeating: 0x02), limit = SIMD16<Int8>(repeating: 0x21)
    let backslash = SIMD16<Int8>(repeating: 0x5C)
    let flags = unsafeBitCast(((v ^ two) .< limit) .| (v .== backslash), to: __m128i.self)
    return UInt32(truncatingIfNeeded: _mm_movemask_epi8(flags)) & 0xFFFF
}
#endif

/// Validates the escape, control character or non-ASCII sequence at `j` inside a string;
/// returns the offset after it.
func validateSpecial(_ p: UnsafeRawBufferPointer, _ j: Int) throws(OneM2MError) -> Int {
    let n = p.count
    let b = p[j]
    if b == UInt8(ascii: "\\") {
        guard j + 1 < n else { throw .malformedJSON(.unterminatedString, offset: n) }
        switch p[j + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return j + 2
        case UInt8(ascii: "u"):
            return try validateUnicodeEscape(p, j)
        default:
            throw .malformedJSON(.invalidEscape, offset: j)
        }
    }
    if b < 0x20 { throw .malformedJSON(.controlCharacterInString, offset: j) }
    switch checkUTF8(p, j, n) {
    case .valid(let len): return j + len
    case .truncated: throw .malformedJSON(.unterminatedString, offset: n)
    case .invalid: throw .malformedJSON(.invalidUTF8, offset: j)
    }
}

/// Validates `\uXXXX` (and its low-surrogate partner) at `j` (the backslash); returns the offset after it.
func validateUnicodeEscape(_ p: UnsafeRawBufferPointer, _ j: Int) throws(OneM2MError) -> Int {
    let n = p.count
    let unit = try escapedUnit(p, j)
    if unit & 0xFC00 == 0xDC00 { throw .malformedJSON(.loneSurrogate, offset: j) }
    guard unit & 0xFC00 == 0xD800 else { return j + 6 }
    let k = j + 6
    // A high surrogate must be followed by `\u` and a low surrogate.
    if k < n && p[k] != UInt8(ascii: "\\") { throw .malformedJSON(.loneSurrogate, offset: j) }
    if k + 1 < n && p[k + 1] != UInt8(ascii: "u") { throw .malformedJSON(.loneSurrogate, offset: j) }
    guard try escapedUnit(p, k) & 0xFC00 == 0xDC00 else { throw .malformedJSON(.loneSurrogate, offset: j) }
    return k + 6
}

/// The code unit of the `\uXXXX` at `j` (the backslash): `unterminatedString` when the document
/// ends inside it, `invalidUnicodeEscape` (at `j`) for anything else that is not four hex digits.
func escapedUnit(_ p: UnsafeRawBufferPointer, _ j: Int) throws(OneM2MError) -> UInt16 {
    let n = p.count
    guard let unit = hex4(p, j + 2) else {
        if j + 6 > n && allHex(p, j + 2, n) { throw .malformedJSON(.unterminatedString, offset: n) }
        throw .malformedJSON(.invalidUnicodeEscape, offset: j)
    }
    return unit
}

func allHex(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Bool {
    var i = from
    while i < to {
        if hexValue(p[i]) == nil { return false }
        i += 1
    }
    return true
}

@inline(__always)
func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

/// Validates a number at `i`; returns the offset after it.
func validateNumber(_ p: UnsafeRawBufferPointer, _ i: Int) throws(OneM2MError) -> Int {
    let n = p.count
    var j = i
    if p[j] == UInt8(ascii: "-") { j += 1 }
    guard j < n else { throw .malformedJSON(.invalidNumber, offset: j) }
    if p[j] == UInt8(ascii: "0") {
        j += 1
        if j < n && isDigit(p[j]) { throw .malformedJSON(.leadingZero, offset: i) }
    } else if isDigit(p[j]) {
        while j < n && isDigit(p[j]) { j += 1 }
    } else {
        throw .malformedJSON(.invalidNumber, offset: j)
    }
    if j < n && p[j] == UInt8(ascii: ".") {
        j += 1
        guard j < n && isDigit(p[j]) else { throw .malformedJSON(.invalidNumber, offset: j) }
        while j < n && isDigit(p[j]) { j += 1 }
    }
    if j < n && (p[j] == UInt8(ascii: "e") || p[j] == UInt8(ascii: "E")) {
        j += 1
        if j < n && (p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-")) { j += 1 }
        guard j < n && isDigit(p[j]) else { throw .malformedJSON(.invalidNumber, offset: j) }
        while j < n && isDigit(p[j]) { j += 1 }
    }
    return j
}

/// Validates `true`/`false`/`null` at `i`; returns the offset after it.
func validateLiteral(_ p: UnsafeRawBufferPointer, _ i: Int, _ word: StaticString) throws(OneM2MError) -> Int {
    let w = staticBytes(word)
    var k = 0
    while k < w.count {
        guard i + k < p.count else { throw .malformedJSON(.unexpectedEnd, offset: p.count) }
        guard p[i + k] == w[k] else { throw .malformedJSON(.unexpectedCharacter, offset: i + k) }
        k += 1
    }
    return i + w.count
}
