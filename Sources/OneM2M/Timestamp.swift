// oneM2M timestamps (TS-0004 m2m:timestamp: ISO 8601 basic format, UTC) `YYYYMMDDThhmmss[,ffffff]`,
// and the request expiration `rqet` which may also be relative milliseconds (ACME accepts "5000").

/// Formatting and parsing of oneM2M timestamps `YYYYMMDDThhmmss[,ffffff]` (UTC), with a
/// civil-calendar conversion of its own (no libc, no Foundation).
public enum OneM2MTimestamp {
    /// Length of `YYYYMMDDThhmmss`.
    public static let basicLength = 15
    /// Length of `YYYYMMDDThhmmss,ffffff`, the longest form this module writes or reads.
    public static let maximumLength = 22
    /// Unix seconds of 0000-01-01T00:00:00 (proleptic Gregorian), the earliest formattable time.
    public static let earliestUnixSeconds: Int64 = -62_167_219_200
    /// Unix seconds of 9999-12-31T23:59:59, the latest formattable time.
    public static let latestUnixSeconds: Int64 = 253_402_300_799

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    /// `month` must be 1...12; any day number is accepted and counted on. Computed in the
    /// native word (cheap on 32-bit boards): years are clamped to ±1,000,000 and days to
    /// ±100,000,000, far beyond the 0000...9999 a timestamp can carry.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let year = max(-1_000_000, min(1_000_000, year)), day = max(-100_000_000, min(100_000_000, day))
        let y = year - (month <= 2 ? 1 : 0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        // |era| <= 2,501 and |doe| < 1.1e8 (the clamps): the 64-bit sum cannot overflow, so it
        // wraps (`&*`, `&+`): no 64-bit overflow checks, costly on 32-bit boards.
        return Int64(era) &* 146_097 &+ Int64(doe) &- 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
    /// Day counts are clamped to ±100,000,000 (about ±273,000 years), so the arithmetic fits the
    /// native word of a 32-bit board.
    public static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = Int(max(-100_000_000, min(100_000_000, days))) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (y + (m <= 2 ? 1 : 0), m, d)
    }

    /// True for Gregorian leap years.
    public static func isLeapYear(_ year: Int) -> Bool {
        // One division: `& 3` is `% 4 == 0` for negative years too, and a multiple of 100 is a
        // multiple of 400 exactly when it is a multiple of 16.
        year & 3 == 0 && (year % 100 != 0 || year & 15 == 0)
    }

    /// Days in `month` (1...12) of `year`.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Writes `YYYYMMDDThhmmss` (or `YYYYMMDDThhmmss,ffffff` when `microseconds` is given, as
    /// ACME writes it) for a Unix time into `buffer`; returns the number of bytes written (15 or 22).
    /// Throws `invalidTimestamp(.outOfRange)` outside years 0000...9999 or microseconds 0...999999,
    /// and `bufferTooSmall` if `buffer` is too short (nothing is written then).
    public static func format(unixSeconds: Int64, microseconds: Int? = nil,
                              into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        guard unixSeconds >= earliestUnixSeconds && unixSeconds <= latestUnixSeconds else {
            throw .invalidTimestamp(.outOfRange)
        }
        if let us = microseconds, us < 0 || us > 999_999 { throw .invalidTimestamp(.outOfRange) }
        let length = microseconds == nil ? basicLength : maximumLength
        guard buffer.count >= length else { throw .bufferTooSmall }
        var days = unixSeconds / 86_400
        // The second of the day (-86,399...86,399) in the native word: the divisions below
        // are then no 64-bit library calls on a 32-bit board.
        var secs = Int(truncatingIfNeeded: unixSeconds &- days &* 86_400)
        if secs < 0 { secs &+= 86_400; days &-= 1 }  // days >= -719,528 (range checked above)
        let (y, m, d) = civilFromDays(days)
        writeZeroPadded(y, width: 4, buffer, 0)
        writeZeroPadded(m, width: 2, buffer, 4)
        writeZeroPadded(d, width: 2, buffer, 6)
        buffer[8] = UInt8(ascii: "T")
        writeZeroPadded(secs / 3600, width: 2, buffer, 9)
        writeZeroPadded(secs / 60 % 60, width: 2, buffer, 11)
        writeZeroPadded(secs % 60, width: 2, buffer, 13)
        if let us = microseconds {
            buffer[15] = UInt8(ascii: ",")
            writeZeroPadded(us, width: 6, buffer, 16)
        }
        return length
    }

    /// Writes the timestamp of a Unix time in microseconds; with `includeFraction` the six
    /// fraction digits are always written (`,000000` for whole seconds).
    public static func format(unixMicroseconds: Int64, includeFraction: Bool = true,
                              into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        var secs = unixMicroseconds / 1_000_000
        var us = unixMicroseconds % 1_000_000
        if us < 0 { us &+= 1_000_000; secs &-= 1 }  // |secs| < 9.3e12: no overflow
        return try format(unixSeconds: secs, microseconds: includeFraction ? Int(us) : nil, into: buffer)
    }

    /// Parses `YYYYMMDDThhmmss` with an optional fraction of 1...6 digits after `,` or `.` into
    /// Unix microseconds. Strict: exact field widths, an upper-case `T`, real calendar dates,
    /// hours 0...23, minutes and seconds 0...59, no zone suffix.
    public static func parse(_ text: ByteString) throws(OneM2MError) -> Int64 {
        if !text.isJSONEscaped, let raw = text.storedBytes { return try parse(bytes: raw) }
        // Escaped (or a one-character literal): unescape into 24 bytes first.
        var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return try withUnsafeMutableBytes(of: &storage) { (b) throws(OneM2MError) -> Int64 in
            // `copy` (shared) throws when more than `maximumLength` bytes would not fit.
            let n: Int
            do throws(OneM2MError) { n = try text.copy(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<maximumLength])) } catch {
                throw .invalidTimestamp(.format)
            }
            return try parse(bytes: UnsafeRawBufferPointer(rebasing: b[0..<n]))
        }
    }

    static func parse(bytes b: UnsafeRawBufferPointer) throws(OneM2MError) -> Int64 {
        let n = b.count
        guard n <= maximumLength else { throw .invalidTimestamp(.format) }
        guard n >= basicLength, b[8] == UInt8(ascii: "T") else { throw .invalidTimestamp(.format) }
        // The date and the time as two numbers (YYYYMMDD < 10^8, hhmmss < 10^6), split by
        // constant divisions: two digit runs instead of six calls. A non-digit anywhere is
        // reported before any range check, as with a run per field.
        let date = try digits(b, 0, 8), time = try digits(b, 9, 6)
        let year = date / 10_000, month = date / 100 % 100, day = date % 100
        let hour = time / 10_000, minute = time / 100 % 100, second = time % 100
        guard month >= 1 && month <= 12 else { throw .invalidTimestamp(.month) }
        guard day >= 1 && day <= daysInMonth(year: year, month: month) else { throw .invalidTimestamp(.day) }
        guard hour <= 23 else { throw .invalidTimestamp(.hour) }
        guard minute <= 59 else { throw .invalidTimestamp(.minute) }
        guard second <= 59 else { throw .invalidTimestamp(.second) }
        var micros = 0
        if n > basicLength {
            let sep = b[15]
            guard sep == UInt8(ascii: ",") || sep == UInt8(ascii: ".") else { throw .invalidTimestamp(.format) }
            let fractionDigits = n &- 16  // n is 16...22 here
            guard fractionDigits >= 1 else { throw .invalidTimestamp(.fraction) }
            #if hasFeature(Embedded)
            // Embedded builds (size): the digit run of the date and time, its error renamed.
            do { micros = try digits(b, 16, fractionDigits) } catch { throw .invalidTimestamp(.fraction) }
            #else
            var i = 16
            while i < n {
                let c = b[i]
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { throw .invalidTimestamp(.fraction) }
                // At most 6 digits (n <= 22): micros < 1,000,000, no overflow.
                micros = micros &* 10 &+ Int(c &- UInt8(ascii: "0"))
                i &+= 1
            }
            #endif
            var k = fractionDigits
            while k < 6 { micros = micros &* 10; k &+= 1 }
        }
        // Wrapping arithmetic on checked bounds: year 0...9999 gives days -719,468...2,932,896,
        // the time of day is below 86,400 s, so the result is within +/-2.6e17 (Int64: 9.2e18).
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days &* 86_400 &+ Int64(hour &* 3600 &+ minute &* 60 &+ second)
        return seconds &* 1_000_000 &+ Int64(micros)
    }
}

/// `count` decimal digits from `from` (not a nested function: captured variables would be boxed on the heap in debug builds).
func digits(_ b: UnsafeRawBufferPointer, _ from: Int, _ count: Int) throws(OneM2MError) -> Int {
    var v = 0
    var i = from
    while i < from &+ count {  // positions inside a 22-byte timestamp
        let c = b[i]
        guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { throw .invalidTimestamp(.nonDigit) }
        // Callers read at most 8 digits: v < 10^8 (fits a 32-bit Int), no overflow.
        v = v &* 10 &+ Int(c &- UInt8(ascii: "0"))
        i &+= 1
    }
    return v
}

/// The Request Expiration Timestamp `rqet`: an absolute oneM2M timestamp, or (as ACME accepts)
/// a relative number of milliseconds.
public enum RequestExpiration: Equatable, Sendable {
    /// An absolute time, in Unix microseconds.
    case absolute(unixMicroseconds: Int64)
    /// A duration in milliseconds, counted from the request's arrival.
    case relative(milliseconds: Int64)

    /// Parses text: only decimal digits (1...18) is a relative duration in milliseconds,
    /// anything else must be a oneM2M timestamp.
    public static func parse(_ text: ByteString) throws(OneM2MError) -> RequestExpiration {
        var allDigits = true
        var value: Int64 = 0
        var n = 0
        for b in text {
            n &+= 1  // at most the text's length
            if b < UInt8(ascii: "0") || b > UInt8(ascii: "9") { allDigits = false; break }
            // At most 18 digits: value < 10^18 < Int64.max, no overflow.
            if n <= 18 { value = value &* 10 &+ Int64(b &- UInt8(ascii: "0")) }
        }
        if allDigits {
            guard n >= 1 && n <= 18 else { throw .invalidTimestamp(.relative) }
            return .relative(milliseconds: value)
        }
        return .absolute(unixMicroseconds: try OneM2MTimestamp.parse(text))
    }

    /// The absolute deadline in Unix microseconds. A relative duration counts from
    /// `receivedAt`, the time the request arrived (as ACME counts it from the time it handles the
    /// request), so clock skew between the peers does not matter for it.
    public func deadline(receivedAt: Int64) -> Int64 {
        switch self {
        case .absolute(let t): return t
        case .relative(let ms):
            guard ms <= Int64.max / 1000 else { return Int64.max }
            guard ms >= Int64.min / 1000 else { return Int64.min }
            let (sum, overflow) = receivedAt.addingReportingOverflow(ms * 1000)
            return overflow ? (ms >= 0 ? Int64.max : Int64.min) : sum
        }
    }

    /// TS-0010 6.4.3: true when the request has expired at `now` (Unix microseconds).
    public func hasExpired(now: Int64, receivedAt: Int64) -> Bool {
        now > deadline(receivedAt: receivedAt)
    }
}
