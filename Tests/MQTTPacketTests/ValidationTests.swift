import MQTTPacket
import Testing

@Suite("Strings, topic names, topic filters")
struct ValidationTests {
    func stringError(_ b: [UInt8]) -> PacketError? {
        b.withUnsafeBytes { p in thrownError { try validateMQTTString(p) } }
    }
    func nameError(_ b: [UInt8]) -> PacketError? {
        b.withUnsafeBytes { p in thrownError { try validateTopicName(p) } }
    }
    func filterError(_ s: String) -> PacketError? {
        utf8(s).withUnsafeBytes { p in thrownError { try validateTopicFilter(p) } }
    }

    @Test(arguments: [
        "", "a", "7F", "C2 80", "DF BF", "E0 A0 80", "E2 82 AC", "ED 9F BF", "EE 80 80", "EF BF BF",
        "F0 90 80 80", "F0 9F 98 80", "F3 BF BF BF", "F4 8F BF BF", "EF BB BF", "61 C3 A9 62",
    ])
    func wellFormedUTF8(_ h: String) {
        #expect(stringError(h == "a" ? utf8("a") : hex(h)) == nil)
    }

    @Test(arguments: [
        ("C0 AF", "overlong 2-byte '/'"), ("C1 BF", "overlong 2-byte"), ("C0 80", "overlong NUL (modified UTF-8)"),
        ("E0 80 AF", "overlong 3-byte"), ("E0 9F BF", "overlong 3-byte max"), ("F0 80 80 AF", "overlong 4-byte"),
        ("F0 8F BF BF", "overlong 4-byte max"),
        ("ED A0 80", "high surrogate U+D800"), ("ED BF BF", "low surrogate U+DFFF"), ("ED B0 80", "U+DC00"),
        ("E2 82", "truncated 3-byte at end"), ("E2", "lead byte alone"), ("F0 9F 98", "truncated 4-byte"), ("61 C3", "truncated 2-byte"),
        ("E2 82 61", "truncated 3-byte mid-string"), ("C3 28", "bad continuation"),
        ("F4 90 80 80", "U+110000"), ("F5 80 80 80", "lead F5"), ("F7 BF BF BF", "lead F7"), ("F8 88 80 80 80", "5-byte form"),
        ("FE", "FE"), ("FF", "FF"), ("80", "lone continuation"), ("BF", "lone continuation BF"), ("61 80 62", "continuation mid-string"),
    ])
    func malformedUTF8(_ h: String, _ why: String) {
        #expect(stringError(hex(h)) == .invalidUTF8, "\(why)")
        // The same bytes as a topic name in a PUBLISH are a decoding error.
        let topic = hex(h)
        let wire: [UInt8] = [0x30, UInt8(2 + topic.count), 0, UInt8(topic.count)] + topic
        #expect(thrownError { try decodeFirst(wire) } == .invalidUTF8, "\(why) in PUBLISH")
    }

    /// Every first and second byte, followed by zero to two continuation bytes, judged as the
    /// standard library's UTF-8 validation judges it (and U+0000 refused).
    @Test func everyLeadAndSecondByteAgreesWithTheStandardLibrary() {
        for b0 in 0...255 {
            for b1 in 0...255 {
                for tail in [[], [0x80], [0xBF, 0x80]] as [[UInt8]] {
                    let bytes = [UInt8(b0), UInt8(b1)] + tail
                    let expected = String(validating: bytes, as: UTF8.self) != nil && !bytes.contains(0)
                    if (stringError(bytes) == nil) != expected { Issue.record("\(bytes)") }
                }
            }
        }
    }

    @Test func nullCharacter() {
        #expect(stringError([0]) == .nullCharacter)
        #expect(stringError([0x61, 0x00, 0x62]) == .nullCharacter)
        #expect(nameError([0x61, 0x2F, 0x00]) == .nullCharacter)
        #expect(thrownError { try decodeFirst(hex("30 05 00 03 61 2F 00")) } == .nullCharacter)
    }

    @Test func topicNames() {
        for ok in ["a", "/", "a/b", "/a/b/", "a//b", "$SYS/broker", "/oneM2M/req/CAE1/id-in/json", "é/€"] {
            #expect(nameError(utf8(ok)) == nil, "\(ok)")
        }
        for wild in ["+", "#", "a/+", "a/#", "a/+/b", "a+", "a#b"] {
            #expect(nameError(utf8(wild)) == .wildcardInTopicName, "\(wild)")
        }
        #expect(nameError([]) == .emptyTopic)
    }

    @Test func topicFilters() {
        for ok in ["#", "+", "/", "+/+", "/+", "+/", "a/+/b", "/#", "a//b", "+/#", "a/b/#", "a/+/+/#", "$SYS/#", "/oneM2M/req/+/ae1/#"] {
            #expect(filterError(ok) == nil, "\(ok)")
        }
        for bad in ["a/b#", "a+/b", "#/a", "a/#/b", "+a", "a+", "a/++", "##", "a/#/", "#/", "a/b+", "a/+b/c"] {
            #expect(filterError(bad) == .invalidTopicFilter, "\(bad)")
        }
        #expect(filterError("") == .emptyTopic)
        #expect(hex("61 2F C0 AF").withUnsafeBytes { p in thrownError { try validateTopicFilter(p) } } == .invalidUTF8)
        #expect(hex("61 2F 00").withUnsafeBytes { p in thrownError { try validateTopicFilter(p) } } == .nullCharacter)
    }

    func matches(_ filter: String, _ topic: String) -> Bool {
        utf8(filter).withUnsafeBytes { f in utf8(topic).withUnsafeBytes { t in topicMatches(filter: f, topic: t) } }
    }

    @Test(arguments: [
        ("a/b", "a/b", true), ("a/b", "a/bc", false), ("a/bc", "a/b", false), ("a/b", "a", false), ("a", "a/b", false),
        ("a/+", "a/b", true), ("a/+", "a/", true), ("a/+", "a", false), ("a/+", "a/b/c", false),
        ("+", "a", true), ("+", "/a", false), ("+/+", "/a", true), ("+/+", "a", false), ("/+", "/", true),
        ("a/+/c", "a/b/c", true), ("a/+/c", "a//c", true), ("a/+/c", "a/b/d", false), ("+/b", "a/bc", false),
        ("#", "a", true), ("#", "a/b/c", true), ("#", "/a", true), ("#", "/", true),
        ("a/#", "a", true), ("a/#", "a/", true), ("a/#", "a/b/c", true), ("a/#", "ab", false), ("a/#", "b/a", false),
        ("a/+/#", "a/b", true), ("a/+/#", "a/b/c/d", true), ("a/+/#", "a", false),
        ("sport/tennis/player1/#", "sport/tennis/player1", true), ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/+", "sport", false), ("sport/+", "sport/", true),
        ("#", "$SYS/broker", false), ("+/broker", "$SYS/broker", false), ("$SYS/#", "$SYS/broker", true), ("$SYS/+", "$SYS/broker", true),
        ("a/+", "a/$b", true),
        ("/oneM2M/req/+/ae1/#", "/oneM2M/req/id-in/ae1/json", true), ("/oneM2M/req/+/ae1/#", "/oneM2M/req/id-in/ae2/json", false),
        ("/oneM2M/resp/ae1/+/#", "/oneM2M/resp/ae1/id-in/json", true), ("/oneM2M/resp/ae1/+/#", "/oneM2M/resp/ae1", false),
    ])
    func topicMatching(filter: String, topic: String, expected: Bool) {
        #expect(matches(filter, topic) == expected)
    }
}
