import Testing
@testable import OneM2M

struct ParsedPOA: Equatable {
    var scheme: PointOfAccessScheme
    var host: String
    var port: UInt16
    var explicit: Bool
    var ipv6: Bool
    var path: String
}

func poa(_ uri: String) throws -> ParsedPOA {
    try withBytes(uri) { raw in
        let p = try PointOfAccess.parse(raw)
        return ParsedPOA(scheme: p.scheme, host: String(decoding: p.host, as: UTF8.self), port: p.port,
                         explicit: p.hasExplicitPort, ipv6: p.isIPv6Literal, path: String(decoding: p.path, as: UTF8.self))
    }
}

func poaError(_ uri: String) -> OneM2MError? {
    withBytes(uri) { raw in caught { () throws(OneM2MError) in _ = try PointOfAccess.parse(raw) } }
}

@Suite struct PointOfAccessTests {
    @Test func parsesSchemesHostsAndPorts() throws {
        #expect(try poa("mqtt://127.0.0.1:1883") == ParsedPOA(scheme: .mqtt, host: "127.0.0.1", port: 1883, explicit: true, ipv6: false, path: ""))
        #expect(try poa("mqtt://broker.example.com") == ParsedPOA(scheme: .mqtt, host: "broker.example.com", port: 1883, explicit: false, ipv6: false, path: ""))
        #expect(try poa("mqtts://broker") == ParsedPOA(scheme: .mqtts, host: "broker", port: 8883, explicit: false, ipv6: false, path: ""))
        #expect(try poa("mqtts://broker:8884") == ParsedPOA(scheme: .mqtts, host: "broker", port: 8884, explicit: true, ipv6: false, path: ""))
        #expect(try poa("ws://h") == ParsedPOA(scheme: .ws, host: "h", port: 80, explicit: false, ipv6: false, path: ""))
        #expect(try poa("wss://h/mqtt") == ParsedPOA(scheme: .wss, host: "h", port: 443, explicit: false, ipv6: false, path: "/mqtt"))
        #expect(try poa("ws://h:8080/mqtt?x=1") == ParsedPOA(scheme: .ws, host: "h", port: 8080, explicit: true, ipv6: false, path: "/mqtt?x=1"))
        #expect(try poa("mqtt://[::1]:1883") == ParsedPOA(scheme: .mqtt, host: "::1", port: 1883, explicit: true, ipv6: true, path: ""))
        #expect(try poa("mqtts://[fe80::1%25eth0]") == ParsedPOA(scheme: .mqtts, host: "fe80::1%25eth0", port: 8883, explicit: false, ipv6: true, path: ""))
        #expect(try poa("mqtt://[::ffff:192.0.2.1]:1") == ParsedPOA(scheme: .mqtt, host: "::ffff:192.0.2.1", port: 1, explicit: true, ipv6: true, path: ""))
        #expect(try poa("MQTT://Host:65535") == ParsedPOA(scheme: .mqtt, host: "Host", port: 65535, explicit: true, ipv6: false, path: ""))
        #expect(try poa("mqtt://h/") == ParsedPOA(scheme: .mqtt, host: "h", port: 1883, explicit: false, ipv6: false, path: ""))
        #expect(try poa("mqtt://h:01883").port == 1883)
        #expect(PointOfAccessScheme.mqtts.usesTLS && !PointOfAccessScheme.ws.usesTLS && PointOfAccessScheme.wss.isWebSocket)
    }

    @Test func rejectsBadURIs() {
        let cases: [(String, PointOfAccessIssue)] = [
            ("http://h", .unknownScheme),
            ("mqtt:/h", .unknownScheme),
            ("mqtt:h", .unknownScheme),
            ("h:1883", .unknownScheme),
            ("127.0.0.1", .unknownScheme),
            ("", .unknownScheme),
            ("://h", .unknownScheme),
            ("mqtt://", .missingHost),
            ("mqtt://:1883", .missingHost),
            ("mqtt:///x", .missingHost),
            ("mqtt://[]:1883", .missingHost),
            ("mqtt://h:0", .invalidPort),
            ("mqtt://h:65536", .invalidPort),
            ("mqtt://h:99999", .invalidPort),
            ("mqtt://h:123456", .invalidPort),
            ("mqtt://h:", .invalidPort),
            ("mqtt://h:12a", .invalidPort),
            ("mqtt://h:-1", .invalidPort),
            ("mqtt://h:1:2", .invalidPort),
            ("mqtt://[::1]:", .invalidPort),
            ("mqtt://[::1", .unbalancedBracket),
            ("mqtt://[::1:1883", .unbalancedBracket),
            ("mqtt://h]:1", .unbalancedBracket),
            ("mqtt://[::1]]:1", .unbalancedBracket),
            ("mqtt://[::1]x", .invalidHostCharacter),
            ("mqtt://[::g]", .invalidHostCharacter),
            ("mqtt://[1.2.3.4]", .invalidHostCharacter),
            ("mqtt://h h", .invalidHostCharacter),
            ("mqtt://hé", .invalidHostCharacter),
            ("mqtt://user@h", .userInfoNotAllowed),
            ("mqtt://user:pw@h:1883", .userInfoNotAllowed),
            ("mqtt://h/topic", .invalidPath),
            ("mqtt://h:1883/oneM2M/req", .invalidPath),
            ("mqtt://h?x", .invalidPath),
            ("ws://h/a b", .invalidPath),
            ("ws://h/a#frag", .invalidPath),
        ]
        for (uri, issue) in cases {
            #expect(poaError(uri) == .invalidPointOfAccess(issue), "\(uri)")
        }
    }

    @Test func formatsAndRoundTrips() throws {
        func fmt(_ s: PointOfAccessScheme, _ host: String, _ port: UInt16?, _ path: String = "") throws -> String {
            try withBytes(host) { h in
                try withBytes(path) { p in
                    try produce { try PointOfAccess.write(scheme: s, host: ByteString(h), port: port, path: ByteString(p), into: $0) }
                }
            }
        }
        #expect(try fmt(.mqtt, "127.0.0.1", 1883) == "mqtt://127.0.0.1:1883")
        #expect(try fmt(.mqtts, "broker", nil) == "mqtts://broker")
        #expect(try fmt(.mqtt, "::1", 1883) == "mqtt://[::1]:1883")
        #expect(try fmt(.wss, "h", 443, "/mqtt") == "wss://h:443/mqtt")
        #expect(throws: OneM2MError.invalidPointOfAccess(.invalidPort)) { try fmt(.mqtt, "h", 0) }
        #expect(throws: OneM2MError.invalidPointOfAccess(.missingHost)) { try fmt(.mqtt, "", 1) }
        #expect(throws: OneM2MError.invalidPointOfAccess(.invalidPath)) { try fmt(.mqtt, "h", 1, "/x") }
        #expect(throws: OneM2MError.invalidPointOfAccess(.invalidPath)) { try fmt(.ws, "h", 1, "x") }
        #expect(throws: OneM2MError.invalidPointOfAccess(.invalidHostCharacter)) { try fmt(.mqtt, "a b", 1) }
        #expect(throws: OneM2MError.bufferTooSmall) {
            try withBytes("broker") { h in try produce(capacity: 16) { try PointOfAccess.write(scheme: .mqtt, host: ByteString(h), port: 1883, into: $0) } }
        }
        for uri in ["mqtt://127.0.0.1:1883", "mqtts://[::1]:8883", "ws://h:80/mqtt", "wss://example.org:443/a/b?c=d"] {
            let again = try withBytes(uri) { raw in try produce { try PointOfAccess.parse(raw).write(into: $0) } }
            #expect(again == uri)
        }
        // Without a port, writing the parsed value makes the default explicit.
        #expect(try withBytes("mqtt://h") { raw in try produce { try PointOfAccess.parse(raw).write(into: $0) } } == "mqtt://h:1883")
    }
}
