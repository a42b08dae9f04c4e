import CPosix
import MQTTTransport

/// CLOCK_MONOTONIC in milliseconds.
public struct PosixMonotonicClock: MonotonicClock, Sendable {
    public init() {}

    public func nowMilliseconds() -> Int {
        Int(truncatingIfNeeded: cposix_monotonic_ms())
    }

    /// Blocks the calling thread for about `milliseconds` (nanosleep; resumes after signals).
    public func sleep(milliseconds: Int) {
        cposix_sleep_ms(Int64(milliseconds))
    }
}

/// The wall clock (CLOCK_REALTIME), for oneM2M timestamps. Not monotonic: use
/// `PosixMonotonicClock` for timeouts.
public struct PosixWallClock: Sendable {
    /// A UTC date and time split into calendar fields.
    public struct CalendarFields: Equatable, Sendable {
        /// Full year, e.g. 2025.
        public var year: Int
        /// 1...12.
        public var month: Int
        /// 1...31.
        public var day: Int
        /// 0...23.
        public var hour: Int
        /// 0...59.
        public var minute: Int
        /// 0...60 (60 only for a leap second, which gmtime never produces).
        public var second: Int

        public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
            self.year = year
            self.month = month
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
        }
    }

    public init() {}

    /// Microseconds since the Unix epoch (1970-01-01T00:00:00Z).
    public func unixMicroseconds() -> Int64 {
        let now = cposix_wall_clock()
        return now.seconds &* 1_000_000 &+ Int64(now.microseconds)
    }

    /// Splits `unixSeconds` into UTC calendar fields (gmtime_r). Nil if the platform's
    /// `time_t` cannot represent it.
    public func calendarFields(unixSeconds: Int64) -> CalendarFields? {
        PosixWallClock.calendarFields(unixSeconds: unixSeconds)
    }

    /// Splits `unixSeconds` into UTC calendar fields (gmtime_r). Nil if the platform's
    /// `time_t` cannot represent it.
    public static func calendarFields(unixSeconds: Int64) -> CalendarFields? {
        var c = cposix_calendar()
        guard cposix_gmtime(unixSeconds, &c) == 0 else { return nil }
        return CalendarFields(
            year: Int(c.year), month: Int(c.month), day: Int(c.day),
            hour: Int(c.hour), minute: Int(c.minute), second: Int(c.second))
    }
}
