import Foundation
import OneM2M
import OneM2MClient
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The SensorDaemon example, run as a real process against a fixture mosquitto + ACME.
@Suite("Examples: SensorDaemon against mosquitto + ACME")
struct ExamplesTests {
    @Test(.timeLimit(.minutes(3)))
    func sensorDaemonPostsReadingsAndDeregisters() throws {
        let env = try CSEEnvironment()
        let name = uniqueName("sensor-")
        let daemon = try DaemonProcess(arguments: [
            "--broker", env.poa, "--origin", uniqueName("Csensor"), "--name", name,
            "--readings", "3", "--interval", "0.2",
        ])
        let status = daemon.waitForExit(seconds: 60)
        let lines = daemon.lines
        let output = lines.joined(separator: "\n")
        #expect(status == 0, "\(output)")
        #expect(lines.filter { $0.hasPrefix("reading ") && $0.hasSuffix(" -> 2001") }.count == 3, "\(output)")
        #expect(lines.contains { $0.hasPrefix("notification: seq ") }, "\(output)")
        #expect(lines.last == "deregistered", "\(output)")
        try expectGone(name, env)
    }

    @Test(.timeLimit(.minutes(3)))
    func sensorDaemonDeregistersOnSIGINT() throws {
        let env = try CSEEnvironment()
        let name = uniqueName("sensor-")
        let daemon = try DaemonProcess(arguments: [
            "--broker", env.poa, "--origin", uniqueName("Csensor"), "--name", name,
            "--readings", "0", "--interval", "0.2",
        ])
        let first = daemon.waitForLine(seconds: 30) { $0.hasPrefix("reading 1 -> ") }
        #expect(first == "reading 1 -> 2001", "\(daemon.lines.joined(separator: "\n"))")
        daemon.signal(SIGINT)
        let status = daemon.waitForExit(seconds: 30)
        let lines = daemon.lines
        let output = lines.joined(separator: "\n")
        #expect(status == 0, "\(output)")
        #expect(lines.contains("signal \(SIGINT): stopping"), "\(output)")
        #expect(lines.last == "deregistered", "\(output)")
        try expectGone(name, env)
    }

    /// After a clean deregistration the CSE no longer has the AE (nor its container).
    func expectGone(_ name: String, _ env: CSEEnvironment) throws {
        var admin = try env.client(env.acme.adminOriginator)
        try admin.connect()
        let r = try admin.perform { c throws(OneM2MClientError) in try c.retrieve("\(env.acme.cseName)/\(name)") }
        #expect(r.statusCode == .notFound, "\(text(r))")
        admin.disconnect()
    }
}

/// The SensorDaemon executable as a child process: its stdout and stderr collected line by line.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var collected: [String] = []
    private var partial: [UInt8] = []
    private var finished = false

    /// `SensorDaemon`, built next to the test bundle (`swift build --build-tests` builds every
    /// executable of the package).
    static func executable() throws -> URL {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let candidates = [
            URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("SensorDaemon"),
            URL(fileURLWithPath: Bundle.main.bundlePath).deletingLastPathComponent().appendingPathComponent("SensorDaemon"),
        ]
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) { return found }
        Issue.record("SensorDaemon not found at \(candidates.map(\.path)); build it: swift build --product SensorDaemon")
        throw CocoaError(.fileNoSuchFile)
    }

    init(arguments: [String]) throws {
        process.executableURL = try Self.executable()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        // A child inherits the calling thread's signal mask, and test threads block SIGINT and
        // SIGTERM: spawn with an empty mask so the SIGINT we send is delivered at once.
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
        // Our copy of the write end must go, or the reader never sees EOF.
        try? pipe.fileHandleForWriting.close()
        let reader = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                append(Array(data))
            }
            lock.lock()
            if !partial.isEmpty { collected.append(String(decoding: partial, as: UTF8.self)) }
            partial = []
            finished = true
            lock.unlock()
        }
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    private func append(_ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                collected.append(String(decoding: partial, as: UTF8.self))
                partial = []
            } else {
                partial.append(b)
            }
        }
    }

    /// The complete lines written so far.
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    private var outputClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }

    /// Waits for a line matching `predicate`; nil if none came in time or the process ended.
    func waitForLine(seconds: Double, _ predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = lines.first(where: predicate) { return line }
            if outputClosed { return lines.first(where: predicate) }
            usleep(10_000)
        }
        return nil
    }

    func signal(_ signal: Int32) {
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
    }

    /// The exit status, after all output was read; nil (and the process killed) on timeout.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        // Poll: `waitUntilExit()` can hang under swift-testing on Linux (see ACMEServer).
        while process.isRunning || !outputClosed {
            if Date() >= deadline {
                Glibc.kill(process.processIdentifier, SIGKILL)
                return nil
            }
            usleep(10_000)
        }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }
}
