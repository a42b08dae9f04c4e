// UTF-8 text as bytes, without String: static literals, caller-owned buffers, or the still
// escaped contents of a validated JSON string. All views are zero-copy.

/// A zero-copy UTF-8 byte string: a `StaticString` literal, a caller-owned byte buffer, or the
/// (possibly escaped) contents of a string inside a validated JSON document.
///
/// `ByteString` never owns memory: the bytes it points to must outlive it. Comparison,
/// iteration and `count` work on the logical (unescaped) bytes, so `"a\u0062"` in a JSON
/// document equals the literal `"ab"`. Nothing here needs Unicode tables or allocates.
public struct ByteString: ExpressibleByStringLiteral, Sequence, Equatable {
    @usableFromInline
    enum Storage {
        /// Plain bytes.
        case raw(UnsafeRawBufferPointer)
        /// Contents of a validated JSON string (between the quotes) that contain escapes.
        case jsonEscaped(UnsafeRawBufferPointer)
        /// A single-scalar `StaticString` without pointer representation, UTF-8 packed little-endian.
        case inline(UInt32, Int)
    }

    @usableFromInline
    let storage: Storage

    /// Wraps caller-owned bytes (the caller keeps them alive and unchanged while this is used).
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) {
        storage = .raw(bytes)
    }

    /// Wraps a static text literal.
    #if !hasFeature(Embedded)
    @inlinable @inline(__always)  // hosts (speed): a literal folds to its pointer and count in the caller
    #endif
    public init(_ text: StaticString) {
        if text.hasPointerRepresentation {
            storage = .raw(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        } else {
            let (packed, count) = utf8Encode(text.unicodeScalar.value)
            storage = .inline(packed, count)
        }
    }

    /// Creates a byte string from a string literal (no copy: literals live in the binary).
    #if !hasFeature(Embedded)
    @inlinable @inline(__always)
    #endif
    public init(stringLiteral value: StaticString) {
        self.init(value)
    }

    /// Wraps the contents of a validated JSON string; escapes are decoded lazily when read.
    @usableFromInline
    init(jsonStringContents bytes: UnsafeRawBufferPointer) {
        var escaped = false
        for b in bytes where b == UInt8(ascii: "\\") { escaped = true; break }
        storage = escaped ? .jsonEscaped(bytes) : .raw(bytes)
    }

    /// The empty byte string.
    public static var empty: ByteString { ByteString(UnsafeRawBufferPointer(start: nil, count: 0)) }

    /// True when the bytes are still JSON-escaped (read through iteration, `copy(into:)` or `==`).
    public var isJSONEscaped: Bool {
        if case .jsonEscaped = storage { return true }
        return false
    }

    /// The bytes as stored: plain bytes, or the escaped JSON form when `isJSONEscaped`; `nil`
    /// for a one-scalar literal without pointer representation.
    public var storedBytes: UnsafeRawBufferPointer? {
        switch storage {
        case .raw(let b), .jsonEscaped(let b): return b
        case .inline: return nil
        }
    }

    /// The number of logical (unescaped) UTF-8 bytes.
    #if !hasFeature(Embedded)
    @inlinable @inline(__always)  // hosts (speed): plain bytes' count without a call
    #endif
    public var count: Int {
        switch storage {
        case .raw(let b): return b.count
        case .inline(_, let n): return n
        case .jsonEscaped:
            var n = 0
            var it = makeIterator()
            while it.next() != nil { n += 1 }
            return n
        }
    }

    /// True when there are no bytes.
    public var isEmpty: Bool {
        switch storage {
        case .raw(let b), .jsonEscaped(let b): return b.isEmpty
        case .inline(_, let n): return n == 0
        }
    }

    /// An iterator over the logical UTF-8 bytes.
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    public func makeIterator() -> Iterator { Iterator(storage) }

    /// Yields the logical UTF-8 bytes of a `ByteString`, decoding JSON escapes on the fly.
    public struct Iterator: IteratorProtocol {
        @usableFromInline var bytes: UnsafeRawBufferPointer
        @usableFromInline var index: Int = 0
        @usableFromInline var escaped: Bool
        @usableFromInline var pending: UInt32 = 0
        @usableFromInline var pendingCount: Int = 0

        @usableFromInline
        init(_ storage: Storage) {
            switch storage {
            case .raw(let b): bytes = b; escaped = false
            case .jsonEscaped(let b): bytes = b; escaped = true
            case .inline(let packed, let n):
                bytes = UnsafeRawBufferPointer(start: nil, count: 0)
                escaped = false
                pending = packed
                pendingCount = n
            }
        }

        /// The next logical byte, or `nil` at the end. Inlinable on hosts (speed); one copy in
        /// Embedded builds, where inlining it into every loop over bytes cost about 1 KB.
        #if hasFeature(Embedded)
        @inline(never)
        #else
        @inlinable
        #endif
        public mutating func next() -> UInt8? {
            if pendingCount > 0 {
                let b = UInt8(truncatingIfNeeded: pending)
                pending >>= 8
                pendingCount -= 1
                return b
            }
            guard index < bytes.count else { return nil }
            let b = bytes[index]
            index += 1
            if !escaped || b != UInt8(ascii: "\\") { return b }
            return nextEscaped()
        }

        @usableFromInline
        mutating func nextEscaped() -> UInt8? {
            // The contents come from a validated document, but stay defensive: never read past the end.
            guard index < bytes.count else { return nil }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "b"): return 0x08
            case UInt8(ascii: "f"): return 0x0C
            case UInt8(ascii: "n"): return 0x0A
            case UInt8(ascii: "r"): return 0x0D
            case UInt8(ascii: "t"): return 0x09
            case UInt8(ascii: "u"):
                guard let unit = hex4(bytes, index) else { return nil }
                index += 4
                var scalar = UInt32(unit)
                if unit >= 0xD800 && unit <= 0xDBFF,
                   index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                   bytes[index + 1] == UInt8(ascii: "u"), let low = hex4(bytes, index + 2),
                   low >= 0xDC00 && low <= 0xDFFF {
                    index += 6
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                }
                let (packed, n) = utf8Encode(scalar)
                pending = packed >> 8
                pendingCount = n - 1
                return UInt8(truncatingIfNeeded: packed)
            default: return e  // `"`, `\`, `/`
            }
        }
    }

    /// Copies the logical bytes into `buffer` and returns how many were written.
    /// Throws `bufferTooSmall` (after writing nothing usable) if they do not fit.
    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    public func copy(into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        var n = 0
        for b in self {
            guard n < buffer.count else { throw .bufferTooSmall }
            buffer[n] = b
            n += 1
        }
        return n
    }

    /// Compares the logical bytes.
    #if !hasFeature(Embedded)
    @inlinable @inline(__always)  // hosts (speed): plain bytes compared in the caller
    #endif
    public static func == (lhs: ByteString, rhs: ByteString) -> Bool {
        if case .raw(let a) = lhs.storage, case .raw(let b) = rhs.storage {
            return bytesEqual(a, b)
        }
        return equalDecoded(lhs, rhs)
    }

    /// `==` on the logical bytes, one at a time (escapes or a one-scalar literal); on hosts out of
    /// line, so the inlined `==` stays small.
    @usableFromInline
    static func equalDecoded(_ lhs: ByteString, _ rhs: ByteString) -> Bool {
        var i = lhs.makeIterator()
        var j = rhs.makeIterator()
        while true {
            let x = i.next()
            let y = j.next()
            if x != y { return false }
            if x == nil { return true }
        }
    }

    /// True when the logical bytes start with `prefix`.
    public func hasPrefix(_ prefix: ByteString) -> Bool {
        var i = makeIterator()
        for p in prefix {
            guard let b = i.next(), b == p else { return false }
        }
        return true
    }

    /// Calls `body` with the logical bytes as one contiguous buffer when that needs no copy
    /// (plain bytes or a literal); returns `nil` for escaped JSON contents.
    public func withContiguousBytesIfAvailable<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R? {
        switch storage {
        case .raw(let b): return body(b)
        case .jsonEscaped: return nil
        case .inline(let packed, let n):
            var p = packed.littleEndian
            return withUnsafeBytes(of: &p) { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}

// MARK: - Internal byte helpers

#if !hasFeature(Embedded)
@inlinable
#endif
@inline(__always)
func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var i = 0
    #if !hasFeature(Embedded)  // Embedded builds (size): the byte loop below alone
    if let pa = a.baseAddress, let pb = b.baseAddress {
        // A word at a time (identifiers are often 8 to 24 bytes); the last word overlaps.
        let n = a.count, w = MemoryLayout<UInt>.size
        if n >= w {
            while i + w < n {
                if pa.loadUnaligned(fromByteOffset: i, as: UInt.self) != pb.loadUnaligned(fromByteOffset: i, as: UInt.self) { return false }
                i += w
            }
            return pa.loadUnaligned(fromByteOffset: n - w, as: UInt.self) == pb.loadUnaligned(fromByteOffset: n - w, as: UInt.self)
        }
    }
    #endif
    while i < a.count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Encodes a Unicode scalar value as UTF-8 packed little-endian into a UInt32 (first byte lowest).
@usableFromInline
func utf8Encode(_ v: UInt32) -> (UInt32, Int) {
    switch v {
    case 0..<0x80:
        return (v, 1)
    case 0x80..<0x800:
        return ((0xC0 | (v >> 6)) | ((0x80 | (v & 0x3F)) << 8), 2)
    case 0x800..<0x10000:
        return ((0xE0 | (v >> 12)) | ((0x80 | ((v >> 6) & 0x3F)) << 8) | ((0x80 | (v & 0x3F)) << 16), 3)
    default:
        return ((0xF0 | (v >> 18)) | ((0x80 | ((v >> 12) & 0x3F)) << 8)
                | ((0x80 | ((v >> 6) & 0x3F)) << 16) | ((0x80 | (v & 0x3F)) << 24), 4)
    }
}

#if hasFeature(Embedded)
/// Embedded builds (size): two range checks, ORing 0x20 folds `A`-`F` onto `a`-`f` (and maps no
/// other byte there).
func hexValue(_ b: UInt8) -> UInt16? {
    let d = b &- UInt8(ascii: "0")
    if d < 10 { return UInt16(d) }
    let l = (b | 0x20) &- UInt8(ascii: "a")
    return l < 6 ? UInt16(l &+ 10) : nil
}
#else
@usableFromInline
func hexValue(_ b: UInt8) -> UInt16? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt16(b &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt16(b &- UInt8(ascii: "a") &+ 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt16(b &- UInt8(ascii: "A") &+ 10)
    default: return nil
    }
}
#endif

/// Four hex digits at `i` as a UTF-16 code unit, or nil.
#if hasFeature(Embedded)
/// One copy in Embedded builds, one digit at a time (size: the iterator took two inlined
/// copies of four digit checks each).
@inline(never)
func hex4(_ bytes: UnsafeRawBufferPointer, _ i: Int) -> UInt16? {
    guard i >= 0, i &+ 4 <= bytes.count else { return nil }
    var v: UInt16 = 0
    var k = i
    while k < i &+ 4 {
        guard let d = hexValue(bytes[k]) else { return nil }
        v = v << 4 | d
        k &+= 1
    }
    return v
}
#else
@usableFromInline
func hex4(_ bytes: UnsafeRawBufferPointer, _ i: Int) -> UInt16? {
    guard i >= 0, i + 4 <= bytes.count,
          let a = hexValue(bytes[i]), let b = hexValue(bytes[i + 1]),
          let c = hexValue(bytes[i + 2]), let d = hexValue(bytes[i + 3]) else { return nil }
    return (a << 12) | (b << 8) | (c << 4) | d
}
#endif

/// Result of checking one UTF-8 sequence.
enum UTF8Check {
    case valid(Int)
    case invalid
    case truncated
}

/// Checks the well-formed UTF-8 sequence (Unicode 3.9 table 3-7) that starts at `i` (a byte >= 0x80).
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size: inlined into isValidUTF8 it took 0.3 KB)
#endif
func checkUTF8(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int) -> UTF8Check {
    let b0 = p[i]
    var need: Int
    var lo: UInt8 = 0x80
    var hi: UInt8 = 0xBF
    switch b0 {
    case 0xC2...0xDF: need = 1
    case 0xE0: need = 2; lo = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: need = 2
    case 0xED: need = 2; hi = 0x9F
    case 0xF0: need = 3; lo = 0x90
    case 0xF1...0xF3: need = 3
    case 0xF4: need = 3; hi = 0x8F
    default: return .invalid
    }
    var k = 1
    while k <= need {
        guard i + k < end else { return .truncated }
        let c = p[i + k]
        if k == 1 {
            guard c >= lo && c <= hi else { return .invalid }
        } else {
            guard c >= 0x80 && c <= 0xBF else { return .invalid }
        }
        k += 1
    }
    need += 1
    return .valid(need)
}

/// Validates a whole byte buffer as UTF-8.
func isValidUTF8(_ p: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    while i < p.count {
        if p[i] < 0x80 { i += 1; continue }
        guard case .valid(let n) = checkUTF8(p, i, p.count) else { return false }
        i += n
    }
    return true
}

/// Writes the decimal digits of `value` into `out` at `offset`; returns the digit count, or nil if they do not fit.
func writeDecimal(_ value: UInt64, _ out: UnsafeMutableRawBufferPointer, _ offset: Int) -> Int? {
    let n = decimalDigitCount(value)
    guard offset >= 0, offset + n <= out.count else { return nil }
    var v = value
    var k = offset + n - 1
    repeat {
        out[k] = UInt8(truncatingIfNeeded: v % 10) &+ UInt8(ascii: "0")
        v /= 10
        k -= 1
    } while v != 0
    return n
}

/// The number of decimal digits of `value` (1 for 0).
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#endif
func decimalDigitCount(_ value: UInt64) -> Int {
    var n = 1
    var v = value
    while v >= 10 { v /= 10; n += 1 }
    return n
}

/// Writes `value` zero-padded to exactly `width` digits (the caller checked the range and space).
/// Not inlined: a timestamp writes seven fields with it. Offsets are within the caller's buffer,
/// so the index arithmetic wraps without checks.
@inline(never)
func writeZeroPadded(_ value: Int, width: Int, _ out: UnsafeMutableRawBufferPointer, _ offset: Int) {
    var v = value
    var k = offset &+ width &- 1
    while k >= offset {
        out[k] = UInt8(truncatingIfNeeded: v % 10) &+ UInt8(ascii: "0")
        v /= 10
        k &-= 1
    }
}

/// Copies bytes into `out` at `offset` (the caller checked the space).
func copyBytes(_ src: UnsafeRawBufferPointer, _ out: UnsafeMutableRawBufferPointer, _ offset: Int) {
    #if hasFeature(Embedded)
    // Embedded builds (size): one memcpy call; the short-copy branches of `copyRaw` (speed)
    // cost about 90 B of armv7 code in this one shared copy routine.
    guard let from = src.baseAddress, let to = out.baseAddress, !src.isEmpty else { return }
    precondition(offset >= 0 && offset + src.count <= out.count)
    (to + offset).copyMemory(from: from, byteCount: src.count)
    #else
    copyBytesInline(src, out, offset)
    #endif
}

#if !hasFeature(Embedded)
/// `copyBytes`, inlined (hosts, speed): where the length is a constant (a static name) it folds
/// to a move or two.
@inline(__always)
func copyBytesInline(_ src: UnsafeRawBufferPointer, _ out: UnsafeMutableRawBufferPointer, _ offset: Int) {
    guard let from = src.baseAddress, let to = out.baseAddress, !src.isEmpty else { return }
    // The condition without an overflow-checked add (`out.count - offset` cannot overflow once
    // `offset` >= 0).
    precondition(offset >= 0 && src.count <= out.count &- offset)
    copyRaw(to + offset, from, src.count)
}

/// Copies `n` bytes from `from` to `to` (hosts, speed), for callers that checked the room
/// (`copyBytesInline`, or the writer's reserved room): short texts (names, identifiers) in two
/// overlapping word moves rather than a memcpy call, up to 64 bytes (a template's fixed part) in
/// overlapping 16-byte vectors on 64-bit hosts. Every load and store stays inside its buffer.
@inline(__always)
func copyRaw(_ to: UnsafeMutableRawPointer, _ from: UnsafeRawPointer, _ n: Int) {
    if n >= 8 && n <= 16 {
        let a = from.loadUnaligned(as: UInt64.self), b = from.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
        to.storeBytes(of: a, as: UInt64.self)
        to.storeBytes(of: b, toByteOffset: n &- 8, as: UInt64.self)
    } else if n >= 4 && n < 8 {
        let a = from.loadUnaligned(as: UInt32.self), b = from.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
        to.storeBytes(of: a, as: UInt32.self)
        to.storeBytes(of: b, toByteOffset: n &- 4, as: UInt32.self)
    } else if n < 4 {
        guard n > 0 else { return }
        to.storeBytes(of: from.load(as: UInt8.self), as: UInt8.self)
        if n > 1 { to.storeBytes(of: from.load(fromByteOffset: n &- 1, as: UInt8.self), toByteOffset: n &- 1, as: UInt8.self) }
        if n > 2 { to.storeBytes(of: from.load(fromByteOffset: 1, as: UInt8.self), toByteOffset: 1, as: UInt8.self) }
    } else {
        #if arch(x86_64) || arch(arm64)
        if n <= 64 {
            typealias V = SIMD16<UInt8>
            let a = from.loadUnaligned(as: V.self), b = from.loadUnaligned(fromByteOffset: n &- 16, as: V.self)
            if n > 32 {
                let c = from.loadUnaligned(fromByteOffset: 16, as: V.self)
                let e = from.loadUnaligned(fromByteOffset: n &- 32, as: V.self)
                to.storeBytes(of: c, toByteOffset: 16, as: V.self)
                to.storeBytes(of: e, toByteOffset: n &- 32, as: V.self)
            }
            to.storeBytes(of: a, as: V.self)
            to.storeBytes(of: b, toByteOffset: n &- 16, as: V.self)
            return
        }
        #endif
        to.copyMemory(from: from, byteCount: n)
    }
}
#endif

/// The bytes of a static text, for internal use (literals in this module always have pointer representation).
@inline(__always)
func staticBytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}
