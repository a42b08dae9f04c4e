import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the `Mosquitto` fixture could not provide a broker.
public enum MosquittoError: Error, CustomStringConvertible {
    /// No mosquitto executable was found (install it: `apt-get install -y mosquitto`, or run
    /// `scripts/mosquitto.sh start DIR`, which installs it when missing).
    case binaryNotFound(searched: [String])
    /// The broker exited or never listened. `log` is what it wrote.
    case failedToStart(port: UInt16, log: String)

    public var description: String {
        switch self {
        case .binaryNotFound(let searched):
            return "mosquitto not found (looked at $MOSQUITTO and \(searched.joined(separator: ", "))); "
                + "install it with `apt-get install -y mosquitto`"
        case .failedToStart(let port, let log):
            return "mosquitto did not start listening on 127.0.0.1:\(port); its log:\n\(log)"
        }
    }
}

/// A mosquitto broker for one test: its own port on 127.0.0.1, its own temporary directory
/// (config, log, persistence database), and a process that only this object ever signals
/// (by the PID it started).
public final class Mosquitto: @unchecked Sendable {
    /// The port of the 127.0.0.1 listener.
    public let port: UInt16
    /// The temporary directory holding `mosquitto.conf`, `mosquitto.log` and the database.
    public let directory: URL
    public var configPath: String { directory.appendingPathComponent("mosquitto.conf").path }
    public var logPath: String { directory.appendingPathComponent("mosquitto.log").path }
    /// Whether persistence is on (database in `directory`, saved after every change).
    public let persistence: Bool

    private let executable: String
    /// Guards `_process` (the fixture may be shared with helper threads in a test).
    private let lock = NSLock()
    private var _process: Process?
    private var process: Process? {
        get { lock.lock(); defer { lock.unlock() }; return _process }
        set { lock.lock(); defer { lock.unlock() }; _process = newValue }
    }
    /// Takes the running process out (so only one caller signals it).
    private func takeProcess() -> Process? {
        lock.lock(); defer { lock.unlock() }
        let p = _process
        _process = nil
        return p
    }

    /// Where the fixture looks for the broker (after `$MOSQUITTO`).
    public static let searchPaths = [
        "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto",
        "/usr/local/bin/mosquitto", "/opt/homebrew/sbin/mosquitto",
    ]

    /// The broker executable, or nil if none is installed.
    public static func findExecutable() -> String? {
        if let env = ProcessInfo.processInfo.environment["MOSQUITTO"], !env.isEmpty,
            FileManager.default.isExecutableFile(atPath: env)
        {
            return env
        }
        return searchPaths.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts a broker on a free 127.0.0.1 port and waits until it accepts connections.
    ///
    /// - Parameters:
    ///   - persistence: keep sessions and queued messages in a database in `directory`, saved
    ///     after every change (`autosave_on_changes true`, `autosave_interval 1`), so that a
    ///     `kill()` + `restart()` keeps what the broker had stored.
    ///   - extraConfig: appended verbatim at the end of the config (e.g. a second
    ///     `listener PORT ::1`; listener options that follow apply to that listener).
    public init(persistence: Bool = false, extraConfig: String = "") throws {
        guard let executable = Mosquitto.findExecutable() else {
            throw MosquittoError.binaryNotFound(searched: Mosquitto.searchPaths)
        }
        self.executable = executable
        self.persistence = persistence
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("mosquitto-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.directory = dir

        // The free port can be taken by someone else before mosquitto binds it: retry with a
        // new one when the broker exits without listening.
        var lastPort: UInt16 = 0
        for _ in 0..<5 {
            let candidate = freeLoopbackPort()
            lastPort = candidate
            try Mosquitto.writeConfig(
                to: dir.appendingPathComponent("mosquitto.conf").path, directory: dir.path,
                port: candidate, persistence: persistence, extraConfig: extraConfig)
            let logStart = Mosquitto.logSize(dir.appendingPathComponent("mosquitto.log").path)
            let p = try Mosquitto.launch(executable: executable, directory: dir)
            if Mosquitto.waitUntilReady(p, port: candidate, logPath: dir.appendingPathComponent("mosquitto.log").path, logStart: logStart) {
                self.port = candidate
                self._process = p
                return
            }
            Mosquitto.terminate(p, signal: SIGKILL)
        }
        let log = (try? String(contentsOfFile: dir.appendingPathComponent("mosquitto.log").path, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: dir)
        throw MosquittoError.failedToStart(port: lastPort, log: log)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The broker's PID while it runs.
    public var pid: Int32? {
        guard let p = process, p.isRunning else { return nil }
        return p.processIdentifier
    }

    /// Whether the broker process is running.
    public var isRunning: Bool { process?.isRunning ?? false }

    /// What the broker has logged so far.
    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Graceful stop: SIGTERM, then wait for the exit (SIGKILL after 10 s). Idempotent.
    /// With persistence on, mosquitto saves its database on the way out.
    public func stop() {
        guard let p = takeProcess() else { return }
        Mosquitto.terminate(p, signal: SIGTERM)
    }

    /// Crash: SIGKILL, then wait for the exit. Nothing is saved on the way out.
    public func kill() {
        guard let p = takeProcess() else { return }
        Mosquitto.terminate(p, signal: SIGKILL)
    }

    /// Starts the broker again (stopping it first if it runs) with the same port and config,
    /// and waits until it listens.
    public func restart() throws {
        stop()
        // The old listener is gone, but binding the port can still fail briefly; mosquitto
        // then exits at once and we try again.
        for _ in 0..<5 {
            let logStart = Mosquitto.logSize(logPath)
            let p = try Mosquitto.launch(executable: executable, directory: directory)
            if Mosquitto.waitUntilReady(p, port: port, logPath: logPath, logStart: logStart) {
                process = p
                return
            }
            Mosquitto.terminate(p, signal: SIGKILL)
        }
        throw MosquittoError.failedToStart(port: port, log: log())
    }

    // MARK: - Helpers

    private static func writeConfig(
        to path: String, directory: String, port: UInt16, persistence: Bool, extraConfig: String
    ) throws {
        var lines = [
            "# Written by TestSupport.Mosquitto",
            "listener \(port) 127.0.0.1",
            "allow_anonymous true",
            "set_tcp_nodelay true",
            // As root mosquitto would switch to the 'mosquitto' user, which cannot write to
            // this root-owned 0700 temporary directory. (No effect when not run as root.)
            "user root",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if persistence {
            lines += [
                "persistence true",
                "persistence_location \(directory)/",
                // Save after every change (subscription, retained or queued message) instead
                // of on a timer, so a SIGKILL loses (almost) nothing; see the note in
                // scripts/mosquitto.sh about the remaining window.
                "autosave_on_changes true",
                "autosave_interval 1",
            ]
        } else {
            lines.append("persistence false")
        }
        if !extraConfig.isEmpty { lines.append(extraConfig) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    private static func launch(executable: String, directory: URL) throws -> Process {
        let logPath = directory.appendingPathComponent("mosquitto.log").path
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw CocoaError(.fileWriteUnknown)
        }
        log.seekToEndOfFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
        p.currentDirectoryURL = directory
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = log
        p.standardError = log
        // The child inherits the calling thread's signal mask, and Swift concurrency / dispatch
        // worker threads (where tests run) block nearly every signal, SIGTERM included: the
        // broker would then ignore stop(). Spawn with an empty mask.
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try p.run()
        try? log.close()
        return p
    }

    private static func logSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// Ready = the port accepts connections *and* this launch logged "mosquitto version ...
    /// running" (all listeners bound) *and* the process still runs. The log check matters: a
    /// connect alone can reach another process that took the port, while ours is about to exit
    /// with "Address already in use".
    private static func waitUntilReady(_ p: Process, port: UInt16, logPath: String, logStart: UInt64) -> Bool {
        let deadline = Date().addingTimeInterval(20)
        guard waitForTCPListener(port: port, timeout: 20, alive: { p.isRunning }) else { return false }
        while Date() < deadline && p.isRunning {
            if let handle = FileHandle(forReadingAtPath: logPath) {
                handle.seek(toFileOffset: logStart)
                let data = handle.readDataToEndOfFile()
                try? handle.close()
                if let text = String(data: data, encoding: .utf8),
                    text.range(of: #"mosquitto version \S+ running"#, options: .regularExpression) != nil
                {
                    return p.isRunning
                }
            }
            usleep(2_000)  // poll interval; the condition is the log line
        }
        return false
    }

    /// Signals exactly the process we started (never by name) and waits for it to exit,
    /// escalating to SIGKILL after 10 s.
    private static func terminate(_ p: Process, signal: Int32) {
        if p.isRunning { _ = Glibc.kill(p.processIdentifier, signal) }
        if waitForExit(p, seconds: 10) { return }
        if p.isRunning { _ = Glibc.kill(p.processIdentifier, SIGKILL) }
        _ = waitForExit(p, seconds: 10)
    }

    /// Polls the exit condition (Foundation reaps the child on its own thread).
    private static func waitForExit(_ p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning {
            if Date() >= deadline { return false }
            usleep(2_000)
        }
        return true
    }
}
