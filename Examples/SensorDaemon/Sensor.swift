// The simulated sensor, the reading's wire form, and the stop flag set by signal handlers.

import OneM2M
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Signals

/// The signal that asked us to stop (0: none yet). An atomic is safe to touch from a handler.
let stopSignal = Atomic<Int32>(0)

/// SIGINT/SIGTERM handler: only records the signal. The main loop notices it within one poll
/// slice (at most 100 ms) and shuts down in order. A second signal kills the process the
/// default way, in case the clean shutdown hangs.
func requestStop(_ signal: Int32) {
    stopSignal.store(signal, ordering: .relaxed)
    _ = Glibc.signal(signal, SIG_DFL)
}

func installSignalHandlers() {
    _ = signal(SIGINT, requestStop)
    _ = signal(SIGTERM, requestStop)
    // A parent may have started us with these signals blocked (a child inherits the mask;
    // Swift test runners and some supervisors block them): unblock, or we could not be stopped.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &set, nil)
}

// MARK: - The simulated sensor

/// A temperature in tenths of a degree (integers: `21.4` prints as `21.4`, never
/// `21.400000000000002`).
struct Temperature {
    var tenths: Int

    /// A slow sine wave around 21 °C plus seeded noise: the same seed gives the same series.
    init(seed: UInt64, sequence: Int) {
        var x = seed &+ UInt64(truncatingIfNeeded: sequence) &* 0x9E37_79B9_7F4A_7C15  // splitmix64
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        let noise = Double(x % 1_000) / 1_000 - 0.5  // -0.5 ..< 0.5
        let celsius = 21.0 + 1.5 * sin(Double(sequence) / 5) + 0.4 * noise
        tenths = Int((celsius * 10).rounded())
    }

    var text: String {
        let sign = tenths < 0 ? "-" : ""
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}

/// What a reading looks like on the wire: the `con` of a `<contentInstance>` is a string, and
/// this one holds a small JSON object: `{"t":21.4,"seq":3}`.
func readingContent(_ t: Temperature, sequence: Int) -> String {
    #"{"t":\#(t.text),"seq":\#(sequence)}"#
}

/// Reads `seq` and `t` back out of a `con` string (its unescaped bytes), or nil if it is not one
/// of our readings.
func parseReading(_ con: [UInt8]) -> (sequence: Int64, temperature: String)? {
    con.withUnsafeBytes { bytes -> (Int64, String)? in
        guard let doc = try? JSONDocument(validating: bytes),
            let seq = try? doc.root["seq"]?.integer(),
            let t = doc.root["t"], t.kind == .number
        else { return nil }
        return (seq, String(decoding: t.rawBytes, as: UTF8.self))
    }
}
