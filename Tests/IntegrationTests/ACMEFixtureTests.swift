import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// The ACME fixture itself: a real ACME CSE on a real mosquitto answers a RETRIEVE of its
/// CSEBase sent with the mosquitto command-line clients (no SDK code involved).
@Suite(.serialized)
struct ACMEFixtureTests {
    @Test(.timeLimit(.minutes(3)))
    func acmeAnswersRetrieveOfCSEBaseOverMQTT() throws {
        let mosquittoSub = try #require(findTool("mosquitto_sub"), "mosquitto_sub not found (apt-get install mosquitto-clients)")
        let mosquittoPub = try #require(findTool("mosquitto_pub"), "mosquitto_pub not found (apt-get install mosquitto-clients)")

        let broker = try Mosquitto()
        let acme = try ACMEServer(brokerPort: broker.port)
        defer { acme.stop() }
        #expect(acme.isRunning)
        #expect(acme.cseID == "id-in")
        #expect(acme.cseName == "cse-in")

        let port = String(broker.port)
        let respTopic = "/oneM2M/resp/CAdmin/\(acme.cseID)/json"
        let reqTopic = "/oneM2M/req/CAdmin/\(acme.cseID)/json"

        // Capture exactly one response (or give up after 20 s).
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: mosquittoSub)
        sub.arguments = ["-h", "127.0.0.1", "-p", port, "-t", respTopic, "-C", "1", "-W", "20"]
        sub.standardInput = FileHandle.nullDevice
        let out = Pipe()
        sub.standardOutput = out
        sub.standardError = out
        try sub.run()

        // mosquitto_sub cannot tell when its subscription is active, so publish the request
        // (a fresh rqi each time) until the subscriber has its message and exits.
        var attempt = 0
        let deadline = Date().addingTimeInterval(20)
        while sub.isRunning && Date() < deadline {
            attempt += 1
            let body = #"{"op": 2, "to": "\#(acme.cseName)", "fr": "CAdmin", "rqi": "fixture-\#(attempt)", "rvi": "3"}"#
            let pub = Process()
            pub.executableURL = URL(fileURLWithPath: mosquittoPub)
            pub.arguments = ["-h", "127.0.0.1", "-p", port, "-t", reqTopic, "-m", body]
            pub.standardInput = FileHandle.nullDevice
            try pub.run()
            ACMEServer.waitForExit(pub)
            #expect(pub.terminationStatus == 0)
            // Give the response a moment; the loop ends as soon as the subscriber exits.
            let until = Date().addingTimeInterval(0.5)
            while sub.isRunning && Date() < until { usleep(10_000) }
        }
        // mosquitto_sub's own -W timer is SIGALRM, which a child of a Swift test process has
        // blocked (inherited mask), so end it ourselves.
        if sub.isRunning { kill(sub.processIdentifier, SIGKILL) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        ACMEServer.waitForExit(sub)
        let response = String(decoding: data, as: UTF8.self)

        #expect(sub.terminationStatus == 0, "mosquitto_sub got no response: \(response)\nACME log tail:\n\(acme.log().suffix(3000))")
        #expect(response.replacingOccurrences(of: " ", with: "").contains(#""rsc":2000"#), "response: \(response)")

        let json = try #require(try JSONSerialization.jsonObject(with: Data(response.utf8)) as? [String: Any])
        #expect(json["rsc"] as? Int == 2000)
        #expect((json["rqi"] as? String)?.hasPrefix("fixture-") == true)
        let cb = try #require((json["pc"] as? [String: Any])?["m2m:cb"] as? [String: Any])
        #expect(cb["rn"] as? String == "cse-in")
        #expect(cb["csi"] as? String == "/id-in")

        // stop() ends the process (a zombie or a missing /proc entry both have an empty cmdline).
        let pid = try #require(acme.pid)
        acme.stop()
        #expect(!acme.isRunning)
        let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        #expect(cmdline.isEmpty, "ACME pid \(pid) still running after stop()")
    }
}

private func findTool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
    return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
