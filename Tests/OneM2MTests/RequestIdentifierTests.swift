@testable import OneM2M
import Testing

@Suite struct RequestIdentifierTests {
    func make(_ salt: UInt32, _ n: UInt32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: RequestIdentifier.maximumLength)
        let len = out.withUnsafeMutableBytes { RequestIdentifier.write(salt: salt, number: n, into: $0) }
        return Array(out[0..<len])
    }

    @Test func writesSaltDashNumber() {
        #expect(String(decoding: make(0x1F3A_9C07, 42), as: UTF8.self) == "1f3a9c07-42")
        #expect(String(decoding: make(0, 0), as: UTF8.self) == "00000000-0")
        #expect(String(decoding: make(0xFFFF_FFFF, .max), as: UTF8.self) == "ffffffff-4294967295")
        var small = [UInt8](repeating: 0, count: 10)
        #expect(small.withUnsafeMutableBytes { RequestIdentifier.write(salt: 1, number: 1, into: $0) } == 0)
    }

    @Test func matchesOnlyOwnIdentifiers() {
        for n: UInt32 in [0, 1, 9, 10, 12345, .max] {
            let rqi = make(0xABCD_0123, n)
            #expect(rqi.withUnsafeBytes { RequestIdentifier.number(in: ByteString($0), salt: 0xABCD_0123) } == n)
            #expect(rqi.withUnsafeBytes { RequestIdentifier.number(in: ByteString($0), salt: 0xABCD_0124) } == nil)
        }
        for foreign in ["", "abcd0123", "abcd0123-", "abcd0123-x1", "abcd0123_5", "abcd0123-99999999999", "e4IcqfLSSE",
                        "abcd0123-4294967296", "abcd0123-9999999999"] {
            let b = Array(foreign.utf8)
            #expect(b.withUnsafeBytes { RequestIdentifier.number(in: ByteString($0), salt: 0xABCD_0123) } == nil, "\(foreign)")
        }
        for foreign in ["ABCD0123-1", "abcd0123-1a", "abcd0123-12345678901", "abcd0123--1", "abcd0123-+1"] {
            let b = Array(foreign.utf8)
            #expect(b.withUnsafeBytes { RequestIdentifier.number(in: ByteString($0), salt: 0xABCD_0123) } == nil, "\(foreign)")
        }
    }

    /// An `rqi` with JSON escapes is compared decoded (the bytes are read in place only when
    /// there are none); one too long to be ours is not ours.
    @Test func escapedIdentifiersAreDecodedFirst() throws {
        let cases: [(String, UInt32?)] = [
            (#""abcd0123-\u0034\u0032""#, 42),
            (#""\u0061bcd0123-7""#, 7),
            (#""abcd0123-4\/2""#, nil),
            (#""abcd0123-\u0031\u0031\u0031\u0031\u0031\u0031""#, 111_111),
            (#""abcd0123-11111111111111111\u0031""#, nil),
        ]
        for (json, expected) in cases {
            let bytes = Array(json.utf8)
            let got = try bytes.withUnsafeBytes { raw -> UInt32? in
                let text = try #require(try JSONDocument(validating: raw).root.text)
                #expect(text.isJSONEscaped)
                return RequestIdentifier.number(in: text, salt: 0xABCD_0123)
            }
            #expect(got == expected, "\(json)")
        }
    }
}
