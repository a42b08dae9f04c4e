import MQTTPacket
import Testing
import TestSupport

/// A deterministic stand-in for CBMC proofs: many random and mutated inputs through the
/// decoder. A trap anywhere kills the test process; anything decoded must re-encode to the
/// same packet.
@Suite("Decoder fuzzing")
struct FuzzTests {
    static let validFirstBytes: [UInt8] = [0x10, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x3A, 0x3D, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xA2, 0xB0, 0xC0, 0xD0, 0xE0]

    struct Tally {
        var decoded = 0, errors = 0, incomplete = 0
        var byType = [Int](repeating: 0, count: 16)
    }

    /// Decodes `input`; if a packet comes out, checks that re-encoding gives the same first
    /// byte, the same body, and decodes to the same packet.
    static func check(_ input: [UInt8], _ tally: inout Tally) {
        let result: (Decoded, Int)?
        do throws(PacketError) {
            result = try decodeFirst(input)
        } catch {
            tally.errors += 1
            return
        }
        guard let (packet, length) = result else {
            tally.incomplete += 1
            return
        }
        tally.decoded += 1
        tally.byType[Int(input[0] >> 4)] += 1
        #expect(length <= input.count)
        guard let (_, headerLength) = mqttHeader(input) else {
            Issue.record("decoded but no header: \(input)")
            return
        }
        let canonical: [UInt8]
        do throws(PacketError) {
            canonical = try reencode(packet)
        } catch {
            Issue.record("decoded \(packet) but re-encoding threw \(error)")
            return
        }
        #expect(canonical.first == input.first, "first byte of \(input)")
        guard let (_, canonicalHeader) = mqttHeader(canonical) else {
            Issue.record("re-encoded packet has no header")
            return
        }
        #expect(Array(canonical[canonicalHeader...]) == Array(input[headerLength..<length]), "body of \(input)")
        #expect((try? decodeFirst(canonical))?.packet == packet, "round trip of \(input)")
    }

    static func mqttHeader(_ b: [UInt8]) -> (remaining: Int, headerLength: Int)? {
        var value = 0, multiplier = 1, i = 1
        while i < b.count && i <= 4 {
            value += Int(b[i] & 0x7F) * multiplier
            multiplier *= 128
            i += 1
            if b[i - 1] & 0x80 == 0 { return (value, i) }
        }
        return nil
    }

    @Test func randomByteStrings() {
        var rng = SeededRandom(seed: 0x00C0_FFEE_1234_5678)
        var tally = Tally()
        for _ in 0..<100_000 {
            let n = Int.random(in: 0...40, using: &rng)
            // Half the strings use a small alphabet rich in structure (lengths, '/', UTF-8 leads).
            let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x2F, 0x61, 0x62, 0x23, 0x2B, 0x80, 0xC3, 0xA9, 0xFF]
            let small = Bool.random(using: &rng)
            var b = (0..<n).map { _ in small ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng) }
            if n > 0 && Bool.random(using: &rng) { b[0] = Self.validFirstBytes.randomElement(using: &rng)! }
            if n > 1 && Bool.random(using: &rng) { b[1] = UInt8(n - 2) }  // a plausible length
            Self.check(b, &tally)
        }
        // The generator must actually reach the decoders, not just the header checks.
        #expect(tally.decoded > 500)
        #expect(tally.errors > 10_000)
        #expect(tally.byType[3] > 0 && tally.byType[12] > 0)
    }

    @Test func mutationsOfValidPackets() {
        var rng = SeededRandom(seed: 42)
        var tally = Tally()
        let seeds = VectorTests.validPackets
        for _ in 0..<100_000 {
            var b = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                switch Int.random(in: 0..<7, using: &rng) {
                case 0 where !b.isEmpty:  // flip a bit
                    let i = Int.random(in: 0..<b.count, using: &rng)
                    b[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                case 1 where !b.isEmpty:  // random byte
                    b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 2:  // insert
                    b.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...b.count, using: &rng))
                case 3 where !b.isEmpty:  // delete
                    b.remove(at: Int.random(in: 0..<b.count, using: &rng))
                case 4:  // truncate
                    b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
                case 5 where b.count > 1:  // fix up the length byte to the new size
                    b[1] = UInt8(truncatingIfNeeded: min(127, b.count - 2))
                default:  // interesting bytes
                    let i = Int.random(in: 0...b.count, using: &rng)
                    let special: [UInt8] = [0x00, 0x23, 0x2B, 0x2F, 0x7F, 0x80, 0xC0, 0xED, 0xF4, 0xFF]
                    if i < b.count { b[i] = special.randomElement(using: &rng)! } else { b.append(special.randomElement(using: &rng)!) }
                }
            }
            Self.check(b, &tally)
        }
        #expect(tally.decoded > 5_000)
        #expect(tally.errors > 5_000)
        #expect(tally.incomplete > 1_000)
    }

    /// Every strict prefix of every valid packet (and of streams of them) is "incomplete",
    /// and concatenations split back into the same packets.
    @Test func streamsOfValidPackets() throws {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<500 {
            var stream: [UInt8] = []
            var expected: [Decoded] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let p = VectorTests.validPackets.randomElement(using: &rng)!
                stream += p
                expected.append(try #require(try decodeFirst(p)).packet)
            }
            var got: [Decoded] = []
            var offset = 0
            while offset < stream.count {
                let (p, n) = try #require(try decodeFirst(Array(stream[offset...])))
                got.append(p)
                offset += n
            }
            #expect(got == expected)
        }
    }
}
