import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the `ACMEServer` fixture could not provide a CSE.
public enum ACMEError: Error, CustomStringConvertible, Sendable {
    /// `scripts/acme.sh <arguments>` exited non-zero; `output` is what it printed (for `start`,
    /// that includes the tail of ACME's log).
    case scriptFailed(arguments: [String], status: Int32, output: String)

    public var description: String {
        switch self {
        case .scriptFailed(let arguments, let status, let output):
            return "scripts/acme.sh \(arguments.joined(separator: " ")) failed (exit \(status)):\n\(output)"
        }
    }
}

/// The ACME oneM2M CSE (PyPI `acmecse`, run by `scripts/acme.sh`) as an MQTT peer for one test
/// or suite: headless, in-memory database, HTTP off, its MQTT client connected to the broker at
/// 127.0.0.1:`brokerPort` with an empty topic prefix.
///
/// The first instance in a process runs `scripts/acme.sh install` (a venv at `<repo>/.venv`, or
/// `$ACME_VENV`; ~30 s on a cold machine, instant afterwards). `init` returns once ACME answers a
/// RETRIEVE of its CSEBase over MQTT (~4.5 s). `stop()` (also run by `deinit`) sends SIGINT to
/// exactly the PID the script started, SIGKILL after 10 s.
///
/// The script starts ACME with all signals unblocked: children of a Swift test inherit the
/// calling thread's signal mask from `Process`, which blocks SIGINT and SIGTERM.
///
/// Use one broker per ACME: two ACMEs with the same CSE-ID on one broker share the MQTT client ID
/// `C::id-in` and kick each other off.
///
/// ```swift
/// let broker = try Mosquitto()
/// let acme = try ACMEServer(brokerPort: broker.port)
/// // requests to "/oneM2M/req/<AE-ID>/\(acme.cseID)/json", "to": acme.cseName
/// ```
public final class ACMEServer: @unchecked Sendable {
    /// The CSE-ID without the leading slash, as it appears in MQTT topics (`/id-in` in primitives).
    public let cseID = "id-in"
    /// The CSEBase resource name.
    public let cseName = "cse-in"
    /// The admin originator (full access, e.g. RETRIEVE of the CSEBase gives 2000).
    public let adminOriginator = "CAdmin"
    /// The service provider ID.
    public let serviceProviderID = "//acme.example.com"
    /// The broker port ACME is connected to (on 127.0.0.1).
    public let brokerPort: UInt16
    /// The run directory: `acme.pid`, `acme/acme.ini`, `acme/stdout.log`, `acme/logs/`.
    public let runDirectory: URL

    private let lock = NSLock()
    private var running: Bool
    private let removeDirectory: Bool

    /// The repository root, found from this file's location (`Tests/TestSupport/ACME.swift`).
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repo root

    /// `scripts/acme.sh`.
    public static var script: URL { repoRoot.appendingPathComponent("scripts/acme.sh") }

    /// The result of `scripts/acme.sh install`, run at most once per process (a lazily
    /// initialized static is initialized exactly once, thread-safely).
    private static let installResult: Result<Void, ACMEError> = {
        let (status, output) = runScript(["install"])
        return status == 0 ? .success(()) : .failure(.scriptFailed(arguments: ["install"], status: status, output: output))
    }()

    /// Installs ACME if needed (once per process). `init` calls this; call it yourself to pay the
    /// install time outside a time-limited test.
    public static func install() throws {
        try installResult.get()
    }

    /// Starts ACME against the broker at 127.0.0.1:`brokerPort` and waits until it answers.
    ///
    /// - Parameter runDirectory: where ACME's ini, PID file and logs go; default a new temporary
    ///   directory, removed again by `deinit` (unless `ACME_KEEP_RUNDIR=1`).
    public init(brokerPort: UInt16, runDirectory: URL? = nil) throws {
        try ACMEServer.install()
        self.brokerPort = brokerPort
        let dir = runDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("acme-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.runDirectory = dir
        self.removeDirectory = runDirectory == nil
            && ProcessInfo.processInfo.environment["ACME_KEEP_RUNDIR"] != "1"
        let args = ["start", dir.path, String(brokerPort)]
        let (status, output) = ACMEServer.runScript(args)
        guard status == 0 else {
            // The script stops what it started when it fails.
            self.running = false
            throw ACMEError.scriptFailed(arguments: args, status: status, output: output)
        }
        self.running = true
    }

    deinit {
        stop()
        if removeDirectory { try? FileManager.default.removeItem(at: runDirectory) }
    }

    /// ACME's PID while it runs (from `acme.pid`).
    public var pid: Int32? {
        guard let text = try? String(contentsOf: runDirectory.appendingPathComponent("acme.pid"), encoding: .utf8)
        else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether ACME is running (started and not stopped, and its process exists).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        guard running, let pid else { return false }
        return Glibc.kill(pid, 0) == 0
    }

    /// ACME's log file(s), concatenated (debug level: every request and response is there).
    public func log() -> String {
        let logs = runDirectory.appendingPathComponent("acme/logs")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []).sorted()
        return files.compactMap {
            try? String(contentsOf: logs.appendingPathComponent($0), encoding: .utf8)
        }.joined()
    }

    /// Clean shutdown (SIGINT, ~0.3–2 s; SIGKILL after 10 s). Idempotent.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard running else { return }
        running = false
        _ = ACMEServer.runScript(["stop", runDirectory.path])
    }

    /// Runs `bash scripts/acme.sh <arguments>` and returns its exit status and combined output.
    @discardableResult
    static func runScript(_ arguments: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script.path] + arguments
        p.currentDirectoryURL = repoRoot
        p.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do {
            try p.run()
        } catch {
            return (-1, "cannot run /bin/bash \(script.path): \(error)")
        }
        // ACME itself writes to files, not to this pipe, so EOF comes when the script exits.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        waitForExit(p)
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Waits for `p` to exit by polling `isRunning` (Foundation reaps the child on its own
    /// thread). `Process.waitUntilExit()` can deadlock on Linux when called from a Swift
    /// concurrency thread (seen: stuck in `_CFRunLoopFinished` under swift-testing).
    public static func waitForExit(_ p: Process) {
        while p.isRunning { usleep(2_000) }
    }
}
