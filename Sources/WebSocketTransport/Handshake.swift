/// SHA-1 (FIPS 180-4) over a byte buffer. Only for the RFC 6455 handshake check
/// (Sec-WebSocket-Accept), where it is a fixed protocol function, not a security primitive.
public struct SHA1 {
    var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    var blockCount = 0
    var totalBytes: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { append(b) }
    }

    public mutating func update(byte: UInt8) { append(byte) }

    mutating func append(_ b: UInt8) {
        withUnsafeMutableBytes(of: &block) { $0[blockCount] = b }
        blockCount += 1
        totalBytes &+= 1
        if blockCount == 64 {
            compress()
            blockCount = 0
        }
    }

    mutating func compress() {
        var w: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeBytes(of: &block) { b in
            withUnsafeMutableBytes(of: &w) { wb in
                let words = wb.bindMemory(to: UInt32.self)
                for i in 0..<16 {
                    words[i] = UInt32(b[4 * i]) << 24 | UInt32(b[4 * i + 1]) << 16 | UInt32(b[4 * i + 2]) << 8 | UInt32(b[4 * i + 3])
                }
            }
        }
        var (a, bb, c, d, e) = h
        withUnsafeMutableBytes(of: &w) { wb in
            let words = wb.bindMemory(to: UInt32.self)
            for t in 0..<80 {
                let s = t & 15
                if t >= 16 {
                    let x = words[(s + 13) & 15] ^ words[(s + 8) & 15] ^ words[(s + 2) & 15] ^ words[s]
                    words[s] = x << 1 | x >> 31
                }
                let f: UInt32
                let k: UInt32
                switch t {
                case 0..<20: f = (bb & c) | (~bb & d); k = 0x5A82_7999
                case 20..<40: f = bb ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (bb & c) | (bb & d) | (c & d); k = 0x8F1B_BCDC
                default: f = bb ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ words[s]
                e = d
                d = c
                c = bb << 30 | bb >> 2
                bb = a
                a = temp
            }
        }
        h = (h.0 &+ a, h.1 &+ bb, h.2 &+ c, h.3 &+ d, h.4 &+ e)
    }

    /// Finishes and writes the 20-byte digest into `out` (which must hold 20 bytes).
    public mutating func finish(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 20)
        let bits = totalBytes &* 8
        append(0x80)
        while blockCount != 56 { append(0) }
        for i in (0..<8).reversed() { append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        func put(_ i: Int, _ word: UInt32) {
            out[4 * i] = UInt8(truncatingIfNeeded: word >> 24)
            out[4 * i + 1] = UInt8(truncatingIfNeeded: word >> 16)
            out[4 * i + 2] = UInt8(truncatingIfNeeded: word >> 8)
            out[4 * i + 3] = UInt8(truncatingIfNeeded: word)
        }
        put(0, h.0)
        put(1, h.1)
        put(2, h.2)
        put(3, h.3)
        put(4, h.4)
    }
}

/// Base64 (RFC 4648, with padding).
public enum Base64 {
    static func symbol(_ v: UInt8) -> UInt8 {
        switch v {
        case 0..<26: return UInt8(ascii: "A") + v
        case 26..<52: return UInt8(ascii: "a") + v - 26
        case 52..<62: return UInt8(ascii: "0") + v - 52
        case 62: return UInt8(ascii: "+")
        default: return UInt8(ascii: "/")
        }
    }

    /// The encoded length of `count` bytes.
    public static func encodedLength(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Encodes `input` into `output` (at least `encodedLength(input.count)` bytes); returns the length.
    public static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        precondition(output.count >= encodedLength(input.count))
        var i = 0
        var o = 0
        while i < input.count {
            let b0 = input[i]
            let b1: UInt8 = i + 1 < input.count ? input[i + 1] : 0
            let b2: UInt8 = i + 2 < input.count ? input[i + 2] : 0
            output[o] = symbol(b0 >> 2)
            output[o + 1] = symbol((b0 & 0x03) << 4 | b1 >> 4)
            output[o + 2] = i + 1 < input.count ? symbol((b1 & 0x0F) << 2 | b2 >> 6) : UInt8(ascii: "=")
            output[o + 3] = i + 2 < input.count ? symbol(b2 & 0x3F) : UInt8(ascii: "=")
            i += 3
            o += 4
        }
        return o
    }
}

/// RFC 6455 4.2.2 / 4.1: the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
public enum WebSocketHandshake {
    static let guid: StaticString = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Writes base64(SHA-1(key + GUID)) (28 bytes) into `output`; returns 28.
    public static func acceptValue(forKey key: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        var sha = SHA1()
        sha.update(key)
        sha.update(UnsafeRawBufferPointer(start: guid.utf8Start, count: guid.utf8CodeUnitCount))
        var digest: (UInt64, UInt64, UInt32) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digest) { d in
            sha.finish(into: d)
            return Base64.encode(UnsafeRawBufferPointer(rebasing: d[0..<20]), into: output)
        }
    }
}
