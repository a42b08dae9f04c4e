import Testing
@testable import OneM2M

func topic(_ kind: TopicKind, _ originator: String, _ receiver: String, _ s: Serialization?) throws -> String {
    try withBytes(originator) { o in
        try withBytes(receiver) { r in
            try produce { try OneM2MTopic.write(kind: kind, originator: ByteString(o), receiver: ByteString(r), serialization: s, into: $0) }
        }
    }
}

func filter(_ kind: TopicKind, _ originator: String?, _ receiver: String?, _ suffix: TopicFilterSuffix) throws -> String {
    let o = Array((originator ?? "").utf8), r = Array((receiver ?? "").utf8)
    return try o.withUnsafeBytes { ob in
        try r.withUnsafeBytes { rb in
            try produce {
                try OneM2MTopic.writeFilter(kind: kind, originator: originator == nil ? nil : ByteString(ob),
                                            receiver: receiver == nil ? nil : ByteString(rb), suffix: suffix, into: $0)
            }
        }
    }
}

func parseTopic(_ t: String) throws -> (TopicKind, String, String, Serialization?) {
    try withBytes(t) { raw in
        let v = try OneM2MTopic.parse(raw)
        return (v.kind, String(decoding: v.originator, as: UTF8.self), String(decoding: v.receiver, as: UTF8.self), v.serialization)
    }
}

func topicError(_ t: String) -> OneM2MError? {
    withBytes(t) { raw in caught { () throws(OneM2MError) in _ = try OneM2MTopic.parse(raw) } }
}

func level(_ id: String) throws -> String {
    try withBytes(id) { raw in try produce { try OneM2MTopic.writeTopicLevel(id: ByteString(raw), into: $0) } }
}

func idFromLevel(_ level: String) throws -> String {
    try withBytes(level) { raw in try produce { try OneM2MTopic.writeID(topicLevel: raw, into: $0) } }
}

@Suite struct TopicTests {
    @Test func buildsTopicsByteExact() throws {
        #expect(try topic(.request, "Cae1", "/id-in", .json) == "/oneM2M/req/Cae1/id-in/json")
        #expect(try topic(.request, "Cae1", "/id-in", nil) == "/oneM2M/req/Cae1/id-in")
        #expect(try topic(.response, "/id-in", "Csmokef66c1e96rx", .json) == "/oneM2M/resp/id-in/Csmokef66c1e96rx/json")
        #expect(try topic(.registrationRequest, "Csmokef66c1e96", "/id-in", .json) == "/oneM2M/reg_req/Csmokef66c1e96/id-in/json")
        #expect(try topic(.registrationResponse, "C", "id-in", .cbor) == "/oneM2M/reg_resp/C/id-in/cbor")
        #expect(try topic(.request, "/id-in/Cx", "//acme.example.com/id-in", .xml) == "/oneM2M/req/id-in:Cx/:acme.example.com:id-in/xml")
    }

    @Test func buildsSubscriptionFilters() throws {
        // TS-0010 6.4.3 / 6.4.5, and what ACME publishes to.
        #expect(try filter(.request, nil, "Cae1", .none) == "/oneM2M/req/+/Cae1")
        #expect(try filter(.request, nil, "Cae1", .anyLevels) == "/oneM2M/req/+/Cae1/#")
        #expect(try filter(.request, nil, "Cae1", .serialization(.json)) == "/oneM2M/req/+/Cae1/json")
        #expect(try filter(.response, "Cae1", nil, .none) == "/oneM2M/resp/Cae1/+")
        #expect(try filter(.response, "Cae1", nil, .anyLevels) == "/oneM2M/resp/Cae1/+/#")
        #expect(try filter(.response, "Cae1", nil, .serialization(.json)) == "/oneM2M/resp/Cae1/+/json")
        #expect(try filter(.registrationResponse, "cred:1", nil, .serialization(.json)) == "/oneM2M/reg_resp/cred:1/+/json")
        #expect(try filter(.request, nil, "/id-in/Cae", .none) == "/oneM2M/req/+/id-in:Cae")
        // The filter matches exactly what ACME publishes.
        #expect(mqttMatches(try filter(.request, nil, "CAE", .serialization(.json)), "/oneM2M/req/id-in/CAE/json"))
        #expect(mqttMatches(try filter(.response, "CAE", nil, .serialization(.json)), "/oneM2M/resp/CAE/id-in/json"))
        #expect(mqttMatches(try filter(.request, nil, "CAE", .anyLevels), "/oneM2M/req/id-in/CAE/json"))
        #expect(mqttMatches(try filter(.request, nil, "CAE", .anyLevels), "/oneM2M/req/id-in/CAE"))
        #expect(!mqttMatches(try filter(.request, nil, "CAE", .none), "/oneM2M/req/id-in/CAE/json"))
        #expect(!mqttMatches(try filter(.request, nil, "CAE", .anyLevels), "/oneM2M/req/id-in/CAEX/json"))
    }

    @Test func parsesACMETopics() throws {
        let a = try parseTopic("/oneM2M/req/id-in/Csmokef66c1e96rx/json")
        #expect(a.0 == .request && a.1 == "id-in" && a.2 == "Csmokef66c1e96rx" && a.3 == .json)
        let b = try parseTopic("/oneM2M/reg_resp/Csmokef66c1e96/id-in/json")
        #expect(b.0 == .registrationResponse && b.1 == "Csmokef66c1e96" && b.2 == "id-in" && b.3 == .json)
        let c = try parseTopic("/oneM2M/resp/Cae/id-in")
        #expect(c.0 == .response && c.3 == nil)
        #expect(try parseTopic("/oneM2M/req/a/b/cbor").3 == .cbor)
        #expect(try parseTopic("/oneM2M/req/a/b/xml").3 == .xml)
        #expect(try parseTopic("/oneM2M/reg_req/:sp:cse/id-in").1 == ":sp:cse")
    }

    @Test func rejectsMalformedTopics() {
        #expect(topicError("oneM2M/req/a/b") == .invalidTopic(.notOneM2M))
        #expect(topicError("/onem2m/req/a/b") == .invalidTopic(.notOneM2M))
        #expect(topicError("") == .invalidTopic(.notOneM2M))
        #expect(topicError("/oneM2M/") == .invalidTopic(.unknownKind))
        #expect(topicError("/oneM2M/request/a/b") == .invalidTopic(.unknownKind))
        #expect(topicError("/oneM2M/REQ/a/b") == .invalidTopic(.unknownKind))
        // The kind is picked by the level's length (3, 4, 7, 8), then compared: every other text
        // of those lengths, and the lengths in between, are unknown.
        for kind in ["rsp", "reqs", "rep", "reg_rep", "reg_resq", "re", "reg_", "regreq", "reg_respo", "resp_"] {
            #expect(topicError("/oneM2M/\(kind)/a/b") == .invalidTopic(.unknownKind), "\(kind)")
        }
        #expect(topicError("/oneM2M/req") == .invalidTopic(.missingSegment))
        #expect(topicError("/oneM2M/req/a") == .invalidTopic(.missingSegment))
        #expect(topicError("/oneM2M/req//b") == .invalidTopic(.emptySegment))
        #expect(topicError("/oneM2M/req/a/") == .invalidTopic(.emptySegment))
        #expect(topicError("/oneM2M/req/a/b/") == .invalidTopic(.emptySegment))
        #expect(topicError("/oneM2M/req/+/b") == .invalidTopic(.wildcardInSegment))
        #expect(topicError("/oneM2M/req/a/b#") == .invalidTopic(.wildcardInSegment))
        #expect(topicError("/oneM2M/req/a\u{0}/b") == .invalidTopic(.nulInSegment))
        #expect(topicError("/oneM2M/req/a/b/JSON") == .invalidTopic(.unknownSerialization))
        #expect(topicError("/oneM2M/req/a/b/yaml") == .invalidTopic(.unknownSerialization))
        // The serialization is picked by its first byte, then compared.
        for level in ["jso", "jsonx", "cbox", "c", "xm", "xmll", "j", "Xml"] {
            #expect(topicError("/oneM2M/req/a/b/\(level)") == .invalidTopic(.unknownSerialization), "\(level)")
        }
        #expect((try? parseTopic("/oneM2M/reg_resp/a/b/cbor"))?.3 == .cbor)
        #expect(topicError("/oneM2M/req/a/b/json/x") == .invalidTopic(.tooManyLevels))
        #expect(withBytes([UInt8]("/oneM2M/req/a/".utf8) + [0xFF] + [UInt8]("/json".utf8)) { raw in
            caught { () throws(OneM2MError) in _ = try OneM2MTopic.parse(raw) } } == .invalidUTF8Input)
    }

    @Test func responseTopicEchoesLevelsVerbatim() throws {
        func resp(_ t: String) throws -> String {
            try withBytes(t) { raw in try produce { try OneM2MTopic.parse(raw).writeResponseTopic(into: $0) } }
        }
        #expect(try resp("/oneM2M/req/id-in/Csmokef66c1e96rx/json") == "/oneM2M/resp/id-in/Csmokef66c1e96rx/json")
        #expect(try resp("/oneM2M/reg_req/Ccred/id-in/cbor") == "/oneM2M/reg_resp/Ccred/id-in/cbor")
        #expect(try resp("/oneM2M/req/:id-in:Cx/Cae") == "/oneM2M/resp/:id-in:Cx/Cae")
        #expect(throws: OneM2MError.invalidTopic(.unknownKind)) { try resp("/oneM2M/resp/a/b/json") }
    }

    @Test func idConversionBothWays() throws {
        #expect(try level("Cae") == "Cae")
        #expect(try level("/id-in") == "id-in")
        #expect(try level("/id-in/Cx") == "id-in:Cx")
        #expect(try level("//acme.example.com/id-in/Cae") == ":acme.example.com:id-in:Cae")
        #expect(try level("id-in/Cx") == "id-in:Cx")
        #expect(try idFromLevel("id-in:Cx") == "/id-in/Cx")
        #expect(try idFromLevel(":acme.example.com:id-in:Cae") == "//acme.example.com/id-in/Cae")
        #expect(try idFromLevel("Cae") == "Cae")
        for id in ["/id-in/Cx", "//sp/cse/ae", "/cse/a/b/c"] {
            #expect(try idFromLevel(try level(id)) == id)
        }
        func levelError(_ id: String) -> OneM2MError? {
            withBytes(id) { raw in
                var s = [UInt8](repeating: 0, count: 64)
                return s.withUnsafeMutableBytes { b in caught { () throws(OneM2MError) in _ = try OneM2MTopic.writeTopicLevel(id: ByteString(raw), into: b) } }
            }
        }
        #expect(levelError("") == .invalidTopic(.emptySegment))
        #expect(levelError("/") == .invalidTopic(.emptySegment))
        #expect(levelError("C+x") == .invalidTopic(.wildcardInSegment))
        #expect(levelError("/id-in/#") == .invalidTopic(.wildcardInSegment))
        #expect(levelError("a\u{0}") == .invalidTopic(.nulInSegment))
        #expect(throws: OneM2MError.invalidTopic(.tooManyLevels)) { try idFromLevel("a/b") }
        #expect(throws: OneM2MError.invalidTopic(.emptySegment)) { try idFromLevel("") }
    }

    @Test func smallBuffersNeverOverflow() throws {
        let full = "/oneM2M/req/id-in:Cx/id-in/json"
        for cap in 0..<full.utf8.count {
            let e = withBytes("/id-in/Cx") { o in
                var s = [UInt8](repeating: 0, count: cap)
                return s.withUnsafeMutableBytes { b in
                    caught { () throws(OneM2MError) in _ = try OneM2MTopic.write(kind: .request, originator: ByteString(o), receiver: "/id-in", serialization: .json, into: b) }
                }
            }
            #expect(e == .bufferTooSmall)
        }
        #expect(try topic(.request, "/id-in/Cx", "/id-in", .json) == full)
    }
}

/// MQTT 3.1.1 topic filter matching (4.7), for checking the filters against ACME's topics.
func mqttMatches(_ filter: String, _ topic: String) -> Bool {
    let f = filter.split(separator: "/", omittingEmptySubsequences: false)
    let t = topic.split(separator: "/", omittingEmptySubsequences: false)
    var i = 0
    while i < f.count {
        if f[i] == "#" { return true }
        guard i < t.count else { return false }
        if f[i] != "+" && f[i] != t[i] { return false }
        i += 1
    }
    return i == t.count
}
