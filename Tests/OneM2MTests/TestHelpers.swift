import Testing
@testable import OneM2M

/// Runs `body` with the UTF-8 bytes of `text` in a stable buffer.
func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let a = Array(text.utf8)
    return try a.withUnsafeBytes { try body($0) }
}

/// Runs `body` with raw bytes in a stable buffer.
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { try body($0) }
}

/// Writes with a fresh `JSONWriter` over a buffer of `capacity` bytes and returns the text.
func render(capacity: Int = 4096, _ body: (inout JSONWriter) throws -> Void) throws -> String {
    var storage = [UInt8](repeating: 0, count: capacity)
    return try storage.withUnsafeMutableBytes { buf in
        var w = JSONWriter(buffer: buf)
        try body(&w)
        return String(decoding: w.written, as: UTF8.self)
    }
}

/// Calls a buffer-writing function with a buffer of `capacity` bytes and returns the text.
func produce(capacity: Int = 512, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> String {
    var storage = [UInt8](repeating: 0, count: capacity)
    return try storage.withUnsafeMutableBytes { buf in
        let n = try body(buf)
        return String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[0..<n]), as: UTF8.self)
    }
}

/// The JSON syntax error for `bytes`, or nil if they are valid.
func syntaxError(_ bytes: [UInt8], maxDepth: Int = 16) -> JSONSyntaxError? {
    bytes.withUnsafeBytes { raw -> JSONSyntaxError? in
        do throws(OneM2MError) {
            _ = try JSONDocument(validating: raw, maxDepth: maxDepth)
            return nil
        } catch {
            if case .malformedJSON(let e, offset: _) = error { return e }
            Issue.record("unexpected error \(error)")
            return nil
        }
    }
}

func syntaxError(_ text: String, maxDepth: Int = 16) -> JSONSyntaxError? {
    syntaxError(Array(text.utf8), maxDepth: maxDepth)
}

/// The error thrown by `body`, or nil.
func caught(_ body: () throws(OneM2MError) -> Void) -> OneM2MError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

extension ByteString {
    /// The logical bytes as a Swift string (test convenience).
    var string: String { String(decoding: Array(self), as: UTF8.self) }
}

/// A small deterministic PRNG (SplitMix64) so generated tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
