import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

// The `onem2m` command-line tool, run as a real process against a real mosquitto + ACME CSE
// (one pair for the whole suite, started by `SharedCSE` and stopped when the suite ends).

// MARK: - Environment

/// mosquitto + ACME for the suite.
final class CLIEnvironment: @unchecked Sendable {
    let broker: Mosquitto
    let acme: ACMEServer

    init() throws {
        broker = try Mosquitto()
        do {
            acme = try ACMEServer(brokerPort: broker.port)
        } catch {
            broker.stop()
            throw error
        }
    }

    func stop() {
        acme.stop()
        broker.stop()
    }

    var brokerURL: String { "mqtt://127.0.0.1:\(broker.port)" }

    @TaskLocal static var current: CLIEnvironment?

    static func require() throws -> CLIEnvironment {
        try #require(current, "no CSE environment: the suite must carry the .sharedCSE trait")
    }
}

/// Starts mosquitto + ACME once before the suite's tests and stops them afterwards.
struct SharedCSE: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let env = try CLIEnvironment()
        defer { env.stop() }
        try await CLIEnvironment.$current.withValue(env) { try await function() }
    }
}

extension Trait where Self == SharedCSE {
    static var sharedCSE: SharedCSE { SharedCSE() }
}

// MARK: - Running the binary

/// The built `onem2m` executable: beside the test bundle (`.build/<triple>/debug/`), or
/// `$ONEM2M_CLI`.
func cliExecutable() throws -> URL {
    if let path = ProcessInfo.processInfo.environment["ONEM2M_CLI"], !path.isEmpty {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("ONEM2M_CLI=\(path) is not an executable file")
            throw CLIMissing()
        }
        return URL(fileURLWithPath: path)
    }
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = me.deletingLastPathComponent()
    var searched: [String] = []
    // On Linux the .xctest is a plain executable in the products directory; on macOS it is a
    // bundle (…/debug/X.xctest/Contents/MacOS/X): walk up a few levels.
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("onem2m")
        searched.append(candidate.path)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    Issue.record("the onem2m binary was not found (looked at \(searched.joined(separator: ", "))); build it with `swift build --product onem2m` or set ONEM2M_CLI")
    throw CLIMissing()
}

struct CLIMissing: Error {}

struct CLIResult: CustomStringConvertible {
    var status: Int32
    /// True when the process ended by a signal (a crash or trap, or our SIGKILL on time-out).
    var signaled: Bool
    var stdout: String
    var stderr: String

    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    var description: String { "exit \(status)\(signaled ? " (signal)" : "")\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// The stdout line(s) as JSON objects.
    func json(line: Int = 0) throws -> [String: Any] {
        let lines = stdoutLines
        try #require(line < lines.count, "no stdout line \(line): \(self)")
        let o = try JSONSerialization.jsonObject(with: Data(lines[line].utf8)) as? [String: Any]
        return try #require(o, "stdout line \(line) is not a JSON object: \(lines[line])")
    }
}

/// A running `onem2m` process with stdout and stderr going to files (no pipe can fill up).
final class RunningCLI: @unchecked Sendable {
    let process = Process()
    let directory: URL
    var stdoutURL: URL { directory.appendingPathComponent("stdout") }
    var stderrURL: URL { directory.appendingPathComponent("stderr") }

    init(_ arguments: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("onem2m-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory.appendingPathComponent("stdout").path, contents: nil)
        FileManager.default.createFile(atPath: directory.appendingPathComponent("stderr").path, contents: nil)
        process.executableURL = try cliExecutable()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = try FileHandle(forWritingTo: stdoutURL)
        let err = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = out
        process.standardError = err
        // Children inherit the spawning thread's signal mask, and test threads block nearly
        // every signal (SIGINT included): spawn with an empty mask, as the Mosquitto fixture does.
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
        try? out.close()
        try? err.close()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    var stderrText: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var stdoutText: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    /// Waits until stderr contains `text` (a readiness condition), or the process ends, or the time is up.
    func waitForStderr(containing text: String, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stderrText.contains(text) { return true }
            if !process.isRunning { return stderrText.contains(text) }
            usleep(10_000)
        }
        return false
    }

    /// Waits for the exit (polling: `waitUntilExit` can hang under swift-testing on Linux);
    /// SIGKILL after `seconds`, reported as an issue.
    func finish(seconds: Double = 60) -> CLIResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            Issue.record("onem2m \(process.arguments ?? []) did not exit within \(seconds) s; killing it")
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { usleep(5_000) }
        }
        return CLIResult(
            status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
            stdout: stdoutText, stderr: stderrText)
    }
}

/// Runs `onem2m arguments...` to completion.
func onem2m(_ arguments: [String], seconds: Double = 60) throws -> CLIResult {
    try RunningCLI(arguments).finish(seconds: seconds)
}

func unique(_ prefix: String) -> String { "\(prefix)\(UInt32.random(in: 100_000...999_999))" }

/// `rsc` of the response on stdout.
func rsc(_ r: CLIResult) throws -> Int? { try r.json()["rsc"] as? Int }

func pc(_ r: CLIResult, _ key: String, line: Int = 0) throws -> [String: Any]? {
    (try r.json(line: line)["pc"] as? [String: Any])?[key] as? [String: Any]
}

/// Exactly one stderr line, in the `onem2m: error: ...` form.
func expectOneErrorLine(_ r: CLIResult, containing text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.stderrLines.count == 1, "expected one stderr line: \(r)", sourceLocation: sourceLocation)
    #expect(r.stderr.hasPrefix("onem2m: error: "), "\(r)", sourceLocation: sourceLocation)
    if let text { #expect(r.stderr.contains(text), "\(r)", sourceLocation: sourceLocation) }
    #expect(!r.signaled, "crashed: \(r)", sourceLocation: sourceLocation)
}

// MARK: - Tests

@Suite("onem2m CLI against mosquitto + ACME", .serialized, .sharedCSE)
struct CLITests {
    @Test(.timeLimit(.minutes(5)))
    func wholeFlow() throws {
        let env = try CLIEnvironment.require()
        let ae = unique("Ccli")
        let aeName = unique("cli-")
        let common = ["--broker", env.brokerURL, "--cse-id", env.acme.cseID, "--cse-name", env.acme.cseName]
        let asAE = common + ["--origin", ae]
        let container = "\(env.acme.cseName)/\(aeName)/data"

        // register
        let reg = try onem2m(["register"] + asAE + ["--app-id", "Ncli", "--name", aeName, "--poa", env.brokerURL])
        #expect(reg.status == 0, "\(reg)")
        #expect(try rsc(reg) == 2001)
        #expect(try pc(reg, "m2m:ae")?["aei"] as? String == ae)
        #expect(reg.stdoutLines.count == 1 && reg.stderr.isEmpty, "\(reg)")

        // create container, contentInstance
        let cnt = try onem2m(["create"] + asAE + ["--to", "\(env.acme.cseName)/\(aeName)", "--type", "container", "--name", "data"])
        #expect(cnt.status == 0, "\(cnt)")
        #expect(try rsc(cnt) == 2001)
        #expect(try pc(cnt, "m2m:cnt")?["rn"] as? String == "data")
        let cin = try onem2m(["create"] + asAE + ["--to", container, "--type", "contentInstance", "--content", "21.5"])
        #expect(cin.status == 0, "\(cin)")
        #expect(try pc(cin, "m2m:cin")?["con"] as? String == "21.5")

        // retrieve .../la
        let la = try onem2m(["retrieve"] + asAE + ["--to", "\(container)/la"])
        #expect(la.status == 0, "\(la)")
        #expect(try rsc(la) == 2000)
        #expect(try pc(la, "m2m:cin")?["con"] as? String == "21.5")

        // update
        let upd = try onem2m(["update"] + asAE + ["--to", container, "--pc", #"{"m2m:cnt":{"mni":10}}"#])
        #expect(upd.status == 0, "\(upd)")
        #expect(try rsc(upd) == 2004)
        #expect(try pc(upd, "m2m:cnt")?["mni"] as? Int == 10)

        // A second AE listens; a subscription with nu = that AE makes ACME send it a
        // verification request, then a notification for the next contentInstance.
        let listener = unique("Clistener")
        let asListener = common + ["--origin", listener]
        let reg2 = try onem2m(["register"] + asListener + ["--app-id", "Nlistener", "--name", unique("listener-"), "--poa", env.brokerURL])
        #expect(reg2.status == 0, "\(reg2)")
        let listen = try RunningCLI(["listen"] + asListener + ["--count", "2"])
        // ACME publishes at QoS 0: nothing is queued for an absent listener, so wait until it is
        // connected and subscribed (it says so on stderr).
        #expect(listen.waitForStderr(containing: "listening as \(listener)"), "listen did not start: \(listen.stderrText)")

        let sub = try onem2m(["create"] + asAE + ["--to", container, "--type", "subscription", "--name", "watch", "--nu", listener])
        #expect(sub.status == 0, "\(sub)")
        #expect(try rsc(sub) == 2001)
        #expect(try pc(sub, "m2m:sub")?["nu"] as? [String] == [listener])
        let cin2 = try onem2m(["create"] + asAE + ["--to", container, "--type", "contentInstance", "--content", "22.0"])
        #expect(cin2.status == 0, "\(cin2)")

        let heard = listen.finish(seconds: 30)
        #expect(heard.status == 0 && !heard.signaled, "\(heard)")
        #expect(heard.stdoutLines.count == 2, "\(heard)")
        if heard.stdoutLines.count == 2 {
            let verification = try #require(try pc(heard, "m2m:sgn", line: 0))
            #expect(verification["vrq"] as? Bool == true, "\(heard)")
            #expect(try heard.json(line: 0)["op"] as? Int == 5)
            let notification = try #require(try pc(heard, "m2m:sgn", line: 1))
            let rep = (notification["nev"] as? [String: Any])?["rep"] as? [String: Any]
            #expect((rep?["m2m:cin"] as? [String: Any])?["con"] as? String == "22.0", "\(heard)")
        }

        // delete, deregister (both AEs), and the AE is gone.
        let del = try onem2m(["delete"] + asAE + ["--to", container])
        #expect(del.status == 0, "\(del)")
        #expect(try rsc(del) == 2002)
        let dereg = try onem2m(["deregister"] + asAE)
        #expect(dereg.status == 0, "\(dereg)")
        #expect(try rsc(dereg) == 2002)
        let dereg2 = try onem2m(["deregister"] + asListener)
        #expect(dereg2.status == 0, "\(dereg2)")
        let gone = try onem2m(["retrieve"] + common + ["--origin", env.acme.adminOriginator, "--to", "\(env.acme.cseName)/\(aeName)"])
        #expect(gone.status == 1, "\(gone)")
        #expect(try rsc(gone) == 4004)
    }

    @Test(.timeLimit(.minutes(3)))
    func errorExits() throws {
        let env = try CLIEnvironment.require()
        let ae = unique("Cerr")
        let aeName = unique("err-")
        let asAE = ["--broker", env.brokerURL, "--origin", ae]
        #expect(try onem2m(["register"] + asAE + ["--app-id", "Nerr", "--name", aeName]).status == 0)
        let parent = "\(env.acme.cseName)/\(aeName)"
        #expect(try onem2m(["create"] + asAE + ["--to", parent, "--type", "container", "--name", "dup"]).status == 0)

        // A duplicate name: rsc 4105, exit 1, the response on stdout, one line on stderr.
        let dup = try onem2m(["create"] + asAE + ["--to", parent, "--type", "container", "--name", "dup"])
        #expect(dup.status == 1, "\(dup)")
        #expect(try rsc(dup) == 4105)
        expectOneErrorLine(dup, containing: "4105")
        #expect(dup.stderr.contains("already exists"), "the m2m:dbg text: \(dup)")

        // Nothing listens on a just-closed port: exit 3, one line.
        let closed = freeLoopbackPort()
        let refused = try onem2m(["retrieve", "--broker", "mqtt://127.0.0.1:\(closed)", "--to", parent])
        #expect(refused.status == 3, "\(refused)")
        expectOneErrorLine(refused, containing: "refused")
        #expect(refused.stdout.isEmpty)

        // No CSE behind this CSE-ID: the request times out, exit 3.
        let silent = try onem2m(["retrieve"] + asAE + ["--cse-id", "nobody-here", "--timeout", "1", "--to", parent])
        #expect(silent.status == 3, "\(silent)")
        expectOneErrorLine(silent, containing: "no response within 1 s")

        // mqtts:// to a port where nothing listens: exit 3, one line.
        let tls = try onem2m(["retrieve", "--broker", "mqtts://127.0.0.1:\(closed)", "--to", parent])
        #expect(tls.status == 3, "\(tls)")
        expectOneErrorLine(tls, containing: "refused")

        // Usage errors: exit 2, one line, no crash, nothing sent.
        let usage: [[String]] = [
            ["create", "--to", parent, "--type", "foo"],
            ["create", "--to", parent, "--type", "container", "--pc", "{bad"],
            ["create", "--to", parent, "--type", "42"],
            ["create", "--type", "container", "--name", "x"],
            ["create", "--to", parent, "--type", "subscription"],
            ["create", "--to", parent, "--type", "container", "--content", "x"],
            ["update", "--to", parent, "--pc", "[1,2]"],
            ["retrieve", "--to", parent, "--broker", "nonsense"],
            ["retrieve", "--to", parent, "--broker", "mqtt://host:99999"],
            ["retrieve", "--to", parent, "--timeout", "-1"],
            ["retrieve", "--to", parent, "--suffix", "xml"],
            ["retrieve", "--to", parent, "--origin", "C/slash"],
            ["retrieve"],
            ["bench", "--to", parent, "--in-flight", "0"],
            ["listen", "--count", "0"],
            ["deregister"],
            ["frobnicate"],
            [],
        ]
        for args in usage {
            let r = try onem2m(args)
            #expect(r.status == 2, "onem2m \(args): \(r)")
            expectOneErrorLine(r)
        }
        let typeFoo = try onem2m(["create", "--to", parent, "--type", "foo"])
        #expect(typeFoo.stderr.contains("foo"))

        #expect(try onem2m(["--help"]).status == 0)
        #expect(try onem2m(["deregister"] + asAE).status == 0)
    }

    @Test(.timeLimit(.minutes(5)))
    func bench() throws {
        let env = try CLIEnvironment.require()
        let ae = unique("Cbench")
        let aeName = unique("bench-")
        let asAE = ["--broker", env.brokerURL, "--origin", ae]
        #expect(try onem2m(["register"] + asAE + ["--app-id", "Nbench", "--name", aeName]).status == 0)
        let container = "\(env.acme.cseName)/\(aeName)/load"
        #expect(try onem2m(["create"] + asAE + ["--to", "\(env.acme.cseName)/\(aeName)", "--type", "container", "--name", "load"]).status == 0)

        let r = try onem2m(["bench"] + asAE + ["--to", container, "--requests", "200", "--in-flight", "8", "--timeout", "30"], seconds: 240)
        #expect(r.status == 0, "\(r)")
        let lines = r.stdoutLines
        #expect(lines.count == 3, "\(r)")
        #expect(lines.first?.range(of: #"^200 requests, 8 in flight: [0-9]+\.[0-9] req/s$"#, options: .regularExpression) != nil, "\(r)")
        #expect(lines.dropFirst().first?.range(of: #"^latency p50 [0-9]+\.[0-9]{2} ms, p99 [0-9]+\.[0-9]{2} ms$"#, options: .regularExpression) != nil, "\(r)")
        #expect(lines.last == "0 non-2xxx responses, 0 timeouts", "\(r)")

        // The instances are there. (Not checked: the container's `cni`. ACME updates that
        // counter without a lock, so concurrent creates leave it too low although every
        // <contentInstance> exists; a discovery finds all of them.)
        let la = try onem2m(["retrieve"] + asAE + ["--to", "\(container)/la"])
        #expect(la.status == 0, "\(la)")
        #expect(try pc(la, "m2m:cin")?["con"] as? String == "21.5", "\(la)")

        // --json: one object with the same figures.
        let j = try onem2m(["bench"] + asAE + ["--to", container, "--requests", "20", "--in-flight", "4", "--json", "--timeout", "30"], seconds: 120)
        #expect(j.status == 0, "\(j)")
        #expect(j.stdoutLines.count == 1)
        let o = try j.json()
        #expect(o["requests"] as? Int == 20)
        #expect(o["inFlight"] as? Int == 4)
        #expect(o["non2xxx"] as? Int == 0)
        #expect(o["timeouts"] as? Int == 0)
        #expect((o["requestsPerSecond"] as? Double ?? 0) > 0)
        let p50 = o["latencyP50Ms"] as? Double ?? -1
        let p99 = o["latencyP99Ms"] as? Double ?? -1
        #expect(p50 > 0 && p99 >= p50, "\(j)")
        #expect(try onem2m(["deregister"] + asAE).status == 0)
    }

    @Test(.timeLimit(.minutes(3)))
    func listenStopsCleanlyOnSIGINT() throws {
        let env = try CLIEnvironment.require()
        let ae = unique("Csig")
        let asAE = ["--broker", env.brokerURL, "--origin", ae]
        #expect(try onem2m(["register"] + asAE + ["--app-id", "Nsig", "--name", unique("sig-")]).status == 0)
        let listen = try RunningCLI(["listen"] + asAE)
        #expect(listen.waitForStderr(containing: "listening as \(ae)"), "\(listen.stderrText)")
        #expect(kill(listen.process.processIdentifier, SIGINT) == 0)
        let r = listen.finish(seconds: 10)
        #expect(r.status == 0 && !r.signaled, "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
        #expect(try onem2m(["deregister"] + asAE).status == 0)
    }
}

// MARK: - mqtts:// (TS-0010 6.2 / 7.3)

/// The CLI over TLS: a broker with a certificate listener and a PSK listener (ACME on its plain
/// listener behind it), certificates generated by the test.
@Suite("onem2m CLI over mqtts://")
struct CLITLSTests {
    @Test(.timeLimit(.minutes(3)))
    func registerOverTLSWithCAClientPSKAndRefusals() throws {
        let pki = try TestPKI()
        let tlsPort = freeLoopbackPort()
        let pskPort = freeLoopbackPort()
        let broker = try Mosquitto(extraConfig: """
            psk_file \(pki.pskFile)
            listener \(tlsPort) 127.0.0.1
            cafile \(pki.caCertificate)
            certfile \(pki.serverCertificate)
            keyfile \(pki.serverKey)
            listener \(pskPort) 127.0.0.1
            psk_hint oneM2M-test-broker
            """)
        let acme = try ACMEServer(brokerPort: broker.port)
        defer { acme.stop() }
        let origin = unique("Ctls")
        let name = unique("tls-")
        let secure = ["--broker", "mqtts://localhost:\(tlsPort)", "--ca", pki.caCertificate, "--origin", origin]

        // Verified chain: register and deregister over TLS.
        let reg = try onem2m(["register"] + secure + ["--app-id", "Ntls", "--name", name])
        #expect(reg.status == 0, "\(reg)")
        #expect(try rsc(reg) == 2001, "\(reg)")

        // The system bundle does not know our test CA: refused, one line naming the reason.
        let untrusted = try onem2m(["retrieve", "--broker", "mqtts://localhost:\(tlsPort)", "--origin", origin, "--to", origin])
        #expect(untrusted.status == 3, "\(untrusted)")
        expectOneErrorLine(untrusted, containing: "TLS")
        #expect(untrusted.stderr.contains("not trusted") || untrusted.stderr.contains("untrusted"), "\(untrusted)")

        // --insecure works, and says loudly that it is insecure.
        let insecure = try onem2m(["retrieve", "--broker", "mqtts://localhost:\(tlsPort)", "--insecure", "--origin", origin, "--to", origin])
        #expect(insecure.status == 0, "\(insecure)")
        #expect(insecure.stderr.contains("WARNING: --insecure"), "\(insecure)")

        // TLS-PSK (TS-0003 pre-shared key): the right key works, a wrong one is refused.
        let psk = ["--broker", "mqtts://127.0.0.1:\(pskPort)", "--psk-identity", pki.pskIdentity, "--origin", origin, "--to", origin]
        let good = try onem2m(["retrieve"] + psk + ["--psk-hex", pki.pskHex])
        #expect(good.status == 0, "\(good)")
        #expect(try rsc(good) == 2000, "\(good)")
        let bad = try onem2m(["retrieve"] + psk + ["--psk-hex", "00112233445566778899"])
        #expect(bad.status == 3, "\(bad)")
        expectOneErrorLine(bad, containing: "TLS")

        // Option misuse is a usage error.
        let half = try onem2m(["retrieve", "--broker", "mqtts://127.0.0.1:\(pskPort)", "--psk-identity", "x", "--to", origin])
        #expect(half.status == 2, "\(half)")

        let dereg = try onem2m(["deregister"] + secure)
        #expect(dereg.status == 0, "\(dereg)")
    }
}
