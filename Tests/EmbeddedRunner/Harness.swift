// A tiny check harness for Embedded Swift (no XCTest, no Swift Testing, no Foundation):
// every check counts as passed or failed, failures print their name and line, and `main`
// prints "N passed, N failed" and exits non-zero on any failure.
import MQTTPacket

struct Checks {
    var passed = 0
    var failed = 0
    var group: StaticString = ""

    mutating func expect(_ ok: Bool, _ name: StaticString, line: Int = #line) {
        if ok {
            passed += 1
        } else {
            failed += 1
            print("FAIL [\(text(group))] \(text(name)) (line \(line))")
        }
    }
}

/// A StaticString as a String (for printing; UTF-8 validation only, no Unicode tables).
func text(_ s: StaticString) -> String {
    String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

/// The UTF-8 bytes of a literal.
func bytes(_ s: StaticString) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
}

/// "10 0F 00 04" -> [0x10, 0x0F, 0x00, 0x04]
func hex(_ s: StaticString) -> [UInt8] {
    var out: [UInt8] = []
    var nibble: UInt8 = 0
    var half = false
    for c in UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount) {
        let v: UInt8
        switch c {
        case 48...57: v = c - 48
        case 65...70: v = c - 55
        case 97...102: v = c - 87
        default: continue
        }
        if half { out.append(nibble << 4 | v) } else { nibble = v }
        half.toggle()
    }
    return out
}

/// Runs an encoder over a scratch buffer; the written bytes, or the error.
func encoded(capacity: Int = 512, _ body: (UnsafeMutableRawBufferPointer) throws(PacketError) -> Int) -> Result<[UInt8], PacketError> {
    var buffer = [UInt8](repeating: 0, count: capacity)
    let r: Result<Int, PacketError> = buffer.withUnsafeMutableBytes { b in
        do throws(PacketError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    switch r {
    case .success(let n): return .success(Array(buffer[0..<n]))
    case .failure(let e): return .failure(e)
    }
}

func encodedBytes(capacity: Int = 512, _ body: (UnsafeMutableRawBufferPointer) throws(PacketError) -> Int) -> [UInt8] {
    switch encoded(capacity: capacity, body) {
    case .success(let b): return b
    case .failure: return []
    }
}

func encodeError(capacity: Int = 512, _ body: (UnsafeMutableRawBufferPointer) throws(PacketError) -> Int) -> PacketError? {
    switch encoded(capacity: capacity, body) {
    case .success: return nil
    case .failure(let e): return e
    }
}

/// Decodes the first packet of `wire` and hands it to `body` (views valid only inside).
func withDecoded<R>(_ wire: [UInt8], _ body: (Result<Packet, PacketError>) -> R) -> R {
    wire.withUnsafeBytes { raw in
        do throws(PacketError) {
            guard let (p, _) = try PacketDecoder.decodeFirst(raw) else { return body(.failure(.truncated)) }
            return body(.success(p))
        } catch {
            return body(.failure(error))
        }
    }
}

func decodeError(_ wire: [UInt8]) -> PacketError? {
    withDecoded(wire) { r in
        if case .failure(let e) = r { return e }
        return nil
    }
}

func same(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
    a.count == b.count && a.elementsEqual(b)
}

/// Runs `body` over the bytes of a literal.
func withLiteral<R, E: Error>(_ s: StaticString, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try body(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
}
