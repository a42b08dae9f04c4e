// Command-line options of SensorDaemon (plain CommandLine parsing: no dependencies to copy).

import OneM2M

#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses (also listed in main.swift and Examples/README.md).
enum ExitCode {
    /// Ran, then deregistered cleanly (after N readings or on SIGINT/SIGTERM).
    static let ok: Int32 = 0
    /// The CSE refused a set-up request or the deregistration (the rsc is printed).
    static let rejected: Int32 = 1
    /// Bad command line.
    static let usage: Int32 = 2
    /// The broker could not be reached, or the MQTT connection failed for good.
    static let broker: Int32 = 3
    /// The CSE did not answer (not running, not connected to this broker, wrong --cse-id).
    static let noResponse: Int32 = 4
}

/// Writes one line to stdout at once. (`write(2)` directly: `print` is block-buffered into a
/// pipe, and Swift 6 will not let us touch C's `stdout` to change that.)
func say(_ line: String, to fd: Int32 = STDOUT_FILENO) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

/// Prints to stderr and exits.
func fail(_ code: Int32, _ message: String) -> Never {
    say("SensorDaemon: \(message)", to: STDERR_FILENO)
    exit(code)
}

struct Options {
    /// `mqtt://host:port`: where to connect, and the AE's pointOfAccess (how the CSE reaches us).
    var broker = "mqtt://127.0.0.1:1883"
    var host = "127.0.0.1"
    var port: UInt16 = 1883
    /// The AE-ID to register with (ACME accepts `C…` and `S…`).
    var origin = "Csensor\(getpid())"
    /// The AE's resource name under the CSEBase.
    var name = "sensor-1"
    /// Seconds between readings (fractions allowed).
    var intervalMilliseconds: Int = 5_000
    /// How many readings to post before deregistering; 0 = until SIGINT/SIGTERM.
    var readings = 0
    /// Seed of the simulated sensor (same seed, same readings).
    var seed: UInt64 = 1
    var cseID = "id-in"
    var cseName = "cse-in"

    static let usage = """
        usage: SensorDaemon [--broker mqtt://HOST:PORT] [--origin CXXX] [--name RN]
                            [--interval SECONDS] [--readings N (0 = forever)] [--seed N]
                            [--cse-id id-in] [--cse-name cse-in]
        """

    static func parse(_ arguments: [String]) -> Options {
        var o = Options()
        var args = arguments.dropFirst()
        while let option = args.popFirst() {
            if option == "-h" || option == "--help" {
                say(usage)
                exit(ExitCode.ok)
            }
            guard let value = args.popFirst() else { fail(ExitCode.usage, "\(option) needs a value\n\(usage)") }
            switch option {
            case "--broker": o.broker = value
            case "--origin": o.origin = value
            case "--name": o.name = value
            case "--interval":
                guard let s = Double(value), s > 0, s <= 86_400 else { fail(ExitCode.usage, "--interval: seconds > 0, got \(value)") }
                o.intervalMilliseconds = max(1, Int((s * 1000).rounded()))
            case "--readings":
                guard let n = Int(value), n >= 0 else { fail(ExitCode.usage, "--readings: a count >= 0, got \(value)") }
                o.readings = n
            case "--seed":
                guard let n = UInt64(value) else { fail(ExitCode.usage, "--seed: a number >= 0, got \(value)") }
                o.seed = n
            case "--cse-id": o.cseID = value
            case "--cse-name": o.cseName = value
            default: fail(ExitCode.usage, "unknown option \(option)\n\(usage)")
            }
        }
        guard o.origin.hasPrefix("C") || o.origin.hasPrefix("S") else {
            fail(ExitCode.usage, "--origin must start with C or S (an AE-ID), got \(o.origin)")
        }
        // TS-0010 6.6 pointOfAccess syntax; `host` is a view into the parsed bytes: copy it out.
        let parsed: Result<(String, UInt16), OneM2MError> = Array(o.broker.utf8).withUnsafeBytes { bytes in
            Result { () throws(OneM2MError) -> (String, UInt16) in
                let poa = try PointOfAccess.parse(bytes)
                guard poa.scheme == .mqtt else { throw .invalidPointOfAccess(.unknownScheme) }
                return (String(decoding: poa.host, as: UTF8.self), poa.port)
            }
        }
        switch parsed {
        case .success(let (host, port)):
            o.host = host
            o.port = port
        case .failure(let error):
            fail(ExitCode.usage, "--broker \(o.broker): \(error) (expected mqtt://HOST:PORT; plain TCP only)")
        }
        return o
    }
}
