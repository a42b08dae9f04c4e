import Testing
@testable import OneM2M

func formatted(_ seconds: Int64, _ micros: Int? = nil) throws -> String {
    try produce(capacity: 32) { try OneM2MTimestamp.format(unixSeconds: seconds, microseconds: micros, into: $0) }
}

func parsed(_ text: String) throws -> Int64 {
    try withBytes(text) { raw in try OneM2MTimestamp.parse(ByteString(raw)) }
}

func parseError(_ text: String) -> OneM2MError? {
    withBytes(text) { raw in caught { () throws(OneM2MError) in _ = try OneM2MTimestamp.parse(ByteString(raw)) } }
}

@Suite struct TimestampTests {
    @Test func formatsKnownInstants() throws {
        #expect(try formatted(0) == "19700101T000000")
        #expect(try formatted(0, 0) == "19700101T000000,000000")
        #expect(try formatted(1_795_302_065, 177_134) == "20261121T230105,177134")
        #expect(try formatted(4_102_444_799) == "20991231T235959")
        #expect(try formatted(951_825_600) == "20000229T120000")
        #expect(try formatted(-1) == "19691231T235959")
        #expect(try formatted(-62_135_596_800) == "00010101T000000")
        #expect(try formatted(OneM2MTimestamp.earliestUnixSeconds) == "00000101T000000")
        #expect(try formatted(OneM2MTimestamp.latestUnixSeconds, 999_999) == "99991231T235959,999999")
        #expect(try produce { try OneM2MTimestamp.format(unixMicroseconds: -1, into: $0) } == "19691231T235959,999999")
        #expect(try produce { try OneM2MTimestamp.format(unixMicroseconds: 1_577_836_800_000_000, includeFraction: false, into: $0) } == "20200101T000000")
    }

    @Test func formattingRejectsOutOfRangeAndSmallBuffers() {
        func err(_ s: Int64, _ us: Int?, cap: Int = 32) -> OneM2MError? {
            var storage = [UInt8](repeating: 0, count: cap)
            return storage.withUnsafeMutableBytes { b in
                caught { () throws(OneM2MError) in _ = try OneM2MTimestamp.format(unixSeconds: s, microseconds: us, into: b) }
            }
        }
        #expect(err(OneM2MTimestamp.latestUnixSeconds + 1, nil) == .invalidTimestamp(.outOfRange))
        #expect(err(OneM2MTimestamp.earliestUnixSeconds - 1, nil) == .invalidTimestamp(.outOfRange))
        #expect(err(Int64.max, nil) == .invalidTimestamp(.outOfRange))
        #expect(err(Int64.min, nil) == .invalidTimestamp(.outOfRange))
        #expect(err(0, 1_000_000) == .invalidTimestamp(.outOfRange))
        #expect(err(0, -1) == .invalidTimestamp(.outOfRange))
        #expect(err(0, nil, cap: 14) == .bufferTooSmall)
        #expect(err(0, 5, cap: 21) == .bufferTooSmall)
        #expect(err(0, nil, cap: 15) == nil)
    }

    @Test func parsesStrictly() throws {
        #expect(try parsed("19700101T000000") == 0)
        #expect(try parsed("20261121T230105,177134") == 1_795_302_065_177_134)
        #expect(try parsed("20261121T230105.177134") == 1_795_302_065_177_134)
        #expect(try parsed("20261121T230105,1") == 1_795_302_065_100_000)
        #expect(try parsed("20261121T230105,000001") == 1_795_302_065_000_001)
        #expect(try parsed("20991231T235959") == 4_102_444_799_000_000)
        #expect(try parsed("20200101T000000") == 1_577_836_800_000_000)
        #expect(try parsed("20000229T120000") == 951_825_600_000_000)
        #expect(try parsed("20240229T000000") > 0)
        #expect(try parsed("19000301T000000") == -2_203_891_200_000_000)
        #expect(try parsed("00000101T000000") == OneM2MTimestamp.earliestUnixSeconds * 1_000_000)
        // The extremes the wrapping arithmetic in parse(bytes:) relies on.
        #expect(try parsed("99991231T235959,999999") == OneM2MTimestamp.latestUnixSeconds * 1_000_000 + 999_999)
        #expect(try parsed("00000101T000000.1") == OneM2MTimestamp.earliestUnixSeconds * 1_000_000 + 100_000)

        #expect(parseError("19000229T000000") == .invalidTimestamp(.day))
        #expect(parseError("20230229T000000") == .invalidTimestamp(.day))
        #expect(parseError("21000229T000000") == .invalidTimestamp(.day))
        #expect(parseError("20240431T000000") == .invalidTimestamp(.day))
        #expect(parseError("20240100T000000") == .invalidTimestamp(.day))
        #expect(parseError("20241301T000000") == .invalidTimestamp(.month))
        #expect(parseError("20240001T000000") == .invalidTimestamp(.month))
        #expect(parseError("20240101T240000") == .invalidTimestamp(.hour))
        #expect(parseError("20240101T236000") == .invalidTimestamp(.minute))
        #expect(parseError("20240101T235960") == .invalidTimestamp(.second))
        #expect(parseError("20240101t000000") == .invalidTimestamp(.format))
        #expect(parseError("20240101 000000") == .invalidTimestamp(.format))
        #expect(parseError("2024-01-01T00:00:00") == .invalidTimestamp(.format))
        #expect(parseError("20240101T00000") == .invalidTimestamp(.format))
        #expect(parseError("") == .invalidTimestamp(.format))
        #expect(parseError("2024010AT000000") == .invalidTimestamp(.nonDigit))
        #expect(parseError("20240101T0000 0") == .invalidTimestamp(.nonDigit))
        // Date and time are read as two digit runs split by division: every field boundary,
        // and a non-digit is reported before any out-of-range field.
        #expect(try parsed("19991231T235958") == 946_684_798_000_000)
        #expect(try parsed("20380119T031407") == 2_147_483_647_000_000)
        #expect(parseError("20241301T00000A") == .invalidTimestamp(.nonDigit))
        #expect(parseError("2024+101T000000") == .invalidTimestamp(.nonDigit))
        #expect(parseError("20240101T-00000") == .invalidTimestamp(.nonDigit))
        #expect(parseError("20240101T000000,") == .invalidTimestamp(.fraction))
        #expect(parseError("20240101T000000,12a") == .invalidTimestamp(.fraction))
        #expect(parseError("20240101T000000,1234567") == .invalidTimestamp(.format))
        #expect(parseError("20240101T000000Z") == .invalidTimestamp(.format))
        #expect(parseError("20240101T000000;1") == .invalidTimestamp(.format))
    }

    @Test func parsesEscapedJSONText() throws {
        // A timestamp inside a JSON string may be escaped; it is read unescaped.
        func escaped(_ text: String) throws -> Int64 {
            try withBytes(text) { raw in try OneM2MTimestamp.parse(ByteString(jsonStringContents: raw)) }
        }
        #expect(try escaped(#"20261121T230105\u002c177134"#) == 1_795_302_065_177_134)
        #expect(try escaped(#"\u0032\u0030\u0032\u0036\u0031\u0031\u0032\u0031T230105"#) == 1_795_302_065_000_000)
        #expect(throws: OneM2MError.invalidTimestamp(.format)) { try escaped(#"20261121T230105,1771340\u0030"#) }
        #expect(throws: OneM2MError.invalidTimestamp(.nonDigit)) { try escaped(#"2026112\u0078T230105"#) }
    }

    @Test func civilCalendarRoundTrips() {
        var days: Int64 = -800_000
        while days < 3_000_000 {
            let (y, m, d) = OneM2MTimestamp.civilFromDays(days)
            #expect(m >= 1 && m <= 12 && d >= 1 && d <= OneM2MTimestamp.daysInMonth(year: y, month: m))
            #expect(OneM2MTimestamp.daysFromCivil(year: y, month: m, day: d) == days)
            days += 97
        }
        #expect(OneM2MTimestamp.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(OneM2MTimestamp.daysFromCivil(year: 2000, month: 3, day: 1) - OneM2MTimestamp.daysFromCivil(year: 2000, month: 2, day: 28) == 2)
        #expect(OneM2MTimestamp.isLeapYear(2000) && !OneM2MTimestamp.isLeapYear(1900) && OneM2MTimestamp.isLeapYear(2024) && !OneM2MTimestamp.isLeapYear(2023))
        // The one-division form agrees with the textbook rule, negative (proleptic) years included.
        for y in -2_000...10_400 {
            #expect(OneM2MTimestamp.isLeapYear(y) == ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0), "\(y)")
        }
    }

    @Test func formatParseRoundTrip() throws {
        var rng = SplitMix64(seed: 7)
        var storage = [UInt8](repeating: 0, count: 22)
        for _ in 0..<20_000 {
            let span = UInt64(OneM2MTimestamp.latestUnixSeconds - OneM2MTimestamp.earliestUnixSeconds + 1)
            let s = OneM2MTimestamp.earliestUnixSeconds + Int64(rng.next() % span)
            let us = Int(rng.next() % 1_000_000)
            let back = try storage.withUnsafeMutableBytes { b in
                let n = try OneM2MTimestamp.format(unixSeconds: s, microseconds: us, into: b)
                #expect(n == 22)
                return try OneM2MTimestamp.parse(ByteString(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(b)[0..<n])))
            }
            #expect(back == s * 1_000_000 + Int64(us))
        }
    }

    @Test func requestExpiration() throws {
        func rqet(_ t: String) throws -> RequestExpiration {
            try withBytes(t) { raw in try RequestExpiration.parse(ByteString(raw)) }
        }
        #expect(try rqet("5000") == .relative(milliseconds: 5000))
        #expect(try rqet("0") == .relative(milliseconds: 0))
        #expect(try rqet("20200101T000000") == .absolute(unixMicroseconds: 1_577_836_800_000_000))
        #expect(try rqet("20261121T230105,5") == .absolute(unixMicroseconds: 1_795_302_065_500_000))
        #expect(throws: OneM2MError.invalidTimestamp(.relative)) { try rqet("") }
        #expect(throws: OneM2MError.invalidTimestamp(.relative)) { try rqet("1234567890123456789") }
        // 18 digits is the longest relative value (the wrapping accumulation relies on it).
        #expect(try rqet("999999999999999999") == .relative(milliseconds: 999_999_999_999_999_999))
        #expect(throws: OneM2MError.invalidTimestamp(.relative)) { try rqet("9999999999999999999999") }
        #expect(throws: OneM2MError.invalidTimestamp(.format)) { try rqet("-5") }

        let past = RequestExpiration.absolute(unixMicroseconds: 1_577_836_800_000_000)
        #expect(past.hasExpired(now: 1_795_302_065_000_000, receivedAt: 0))
        #expect(!past.hasExpired(now: 1_577_836_800_000_000, receivedAt: 0))
        let rel = RequestExpiration.relative(milliseconds: 5000)
        #expect(rel.deadline(receivedAt: 1_000_000) == 6_000_000)
        #expect(!rel.hasExpired(now: 6_000_000, receivedAt: 1_000_000))
        #expect(rel.hasExpired(now: 6_000_001, receivedAt: 1_000_000))
        #expect(RequestExpiration.relative(milliseconds: Int64.max).deadline(receivedAt: 5) == Int64.max)
        #expect(RequestExpiration.relative(milliseconds: Int64.max / 1000).deadline(receivedAt: Int64.max - 1) == Int64.max)
        #expect(RequestExpiration.relative(milliseconds: Int64.min).deadline(receivedAt: 0) == Int64.min)
    }
}
