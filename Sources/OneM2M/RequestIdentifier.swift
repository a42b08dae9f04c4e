/// The request identifiers (`rqi`) this SDK's clients generate: 8 lower-case hex digits of a
/// per-client salt, `-`, a decimal request number (`1f3a9c07-42`). Unique per client run, written
/// without allocation, and matched back to the request number without keeping strings.
public enum RequestIdentifier {
    /// The longest identifier: 8 + 1 + 10 digits.
    public static let maximumLength = 19

    /// Writes the identifier for `number` into `out` (at least `maximumLength` bytes) and
    /// returns its length, or 0 if `out` is too small.
    public static func write(salt: UInt32, number: UInt32, into out: UnsafeMutableRawBufferPointer) -> Int {
        guard out.count >= maximumLength else { return 0 }
        var i = 0
        var shift: UInt32 = 28
        while i < 8 {
            out[i] = hexDigit(salt >> shift)
            i += 1
            shift &-= 4
        }
        out[8] = UInt8(ascii: "-")
        // The digits from the last position backwards (one pass of divisions, not a counting
        // pass first), then moved up behind the `-`. A UInt32 has at most 10 digits: `at` stays
        // within 8...18.
        var v = number
        var at = maximumLength &- 1
        repeat {
            out[at] = 48 &+ UInt8(truncatingIfNeeded: v % 10)
            v /= 10
            at &-= 1
        } while v > 0
        let digits = maximumLength &- 1 &- at
        (out.baseAddress! + 9).copyMemory(from: out.baseAddress! + (at &+ 1), byteCount: digits)
        return 9 &+ digits
    }

    /// The request number in `rqi` if it is one of ours (same salt), else nil.
    public static func number(in rqi: ByteString, salt: UInt32) -> UInt32? {
        var i = 0
        var value: UInt64 = 0
        var shift: UInt32 = 28
        for b in rqi {
            if i < 8 {
                if b != hexDigit(salt >> shift) { return nil }
                shift &-= 4
            } else if i == 8 {
                if b != UInt8(ascii: "-") { return nil }
            } else {
                guard b >= 48 && b <= 57, i < maximumLength else { return nil }
                // At most 10 digits (i < 19): value < 10^10, no overflow in 64 bits.
                value = value &* 10 &+ UInt64(b &- 48)
            }
            i &+= 1  // at most maximumLength + 1: longer identifiers return above
        }
        guard i > 9, value <= UInt64(UInt32.max) else { return nil }
        return UInt32(value)
    }

    @inline(__always)
    static func hexDigit(_ v: UInt32) -> UInt8 {
        let d = UInt8(truncatingIfNeeded: v & 0xF)
        return d < 10 ? 48 + d : 87 + d
    }
}
