import Foundation
import Testing
@testable import OneM2M
import TestSupport

/// Documents used for prefix truncation and mutation: ACME payloads from FINDINGS.md and others.
let validCorpus: [String] = [
    #"{"op": 1, "to": "cse-in", "ty": 2, "pc": {"m2m:ae": {"rn": "smoke-f66c1e96", "api": "Nsmoke.ae1", "rr": true, "srv": ["3"], "poa": ["mqtt://127.0.0.1:1883"]}}, "fr": "Csmokef66c1e96", "rqi": "smoke-224b7645e3", "rvi": "3"}"#,
    #"{"fr": "/id-in", "to": "Csmokef66c1e96rx", "ot": "20261121T230106,679199", "op": 5, "rqi": "3v4pdJduzn", "rvi": "3", "drt": 1, "pc": {"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "hello-2", "cs": 7, "pi": "cntFLkq3XcuQk", "ri": "cinqhqTC9iYaQ", "rn": "cin_UboiNgS1TM", "ty": 4, "ct": "20261121T230106,648280", "lt": "20261121T230106,648280", "et": "20311120T230105,175123", "st": 3}}}, "sur": "/id-in/sub3JJ8CHzxji"}}}"#,
    #"[1,-0,0.5,-1.25e+10,2E-3,true,false,null,"",{},[],{"a":{"b":[{"c":null}]}}]"#,
    #"{"esc":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\uD83D\uDE00","utf8":"é€😀","num":-12.5e3}"#,
    "\t\r\n {\"ws\" : [ 1 , 2 ] }",
]

@Suite struct JSONReaderTests {
    @Test func acceptsValidDocuments() {
        for doc in validCorpus { #expect(syntaxError(doc) == nil, "\(doc)") }
        for doc in ["0", "-0", "1e5", "\"x\"", "true", "false", "null", " [] ", "{}", #"{"":""}"#,
                    "123456789012345678901234567890", "[[[]]]", #"{"a":[{},{}]}"#,
                    // Positive integers take an inline path unless a fraction or exponent follows.
                    "7", "[12,34]", #"{"a":99}"#, "12.5", "12e3", "1E+3", "9.0e-2", "[10.25, 3E2]"] {
            #expect(syntaxError(doc) == nil, "\(doc)")
        }
    }

    @Test func malformedCorpusGivesTheRightError() {
        let cases: [(String, JSONSyntaxError)] = [
            ("", .unexpectedEnd),
            ("   ", .unexpectedEnd),
            (#"{"a":"abc"#, .unterminatedString),
            (#""abc"#, .unterminatedString),
            (#""\x""#, .invalidEscape),
            (#""\'""#, .invalidEscape),
            (#""\u12G4""#, .invalidUnicodeEscape),
            (#""\u""#, .invalidUnicodeEscape),
            (#""\uD800""#, .loneSurrogate),
            (#""\uDC00""#, .loneSurrogate),
            (#""\uD800\u0041""#, .loneSurrogate),
            (#""\uD800x""#, .loneSurrogate),
            (#""\uD800\n""#, .loneSurrogate),
            (#""\uDBFF\uDBFF""#, .loneSurrogate),
            ("\"a\nb\"", .controlCharacterInString),
            ("\"a\u{0}b\"", .controlCharacterInString),
            ("\"\u{1F}\"", .controlCharacterInString),
            ("01", .leadingZero),
            ("-01", .leadingZero),
            ("[00]", .leadingZero),
            (#"{"a":012}"#, .leadingZero),
            ("-", .invalidNumber),
            ("1.", .invalidNumber),
            ("1.e5", .invalidNumber),
            ("1e", .invalidNumber),
            ("1e+", .invalidNumber),
            ("12.", .invalidNumber),
            ("12.e5", .invalidNumber),
            ("34E", .invalidNumber),
            ("12x", .trailingData),
            ("[12x]", .unexpectedCharacter),
            (#"{"a":12"#, .unexpectedEnd),
            ("-a", .invalidNumber),
            (".5", .unexpectedCharacter),
            ("+1", .unexpectedCharacter),
            (#"{"a":1,}"#, .trailingComma),
            ("[1,]", .trailingComma),
            ("[1, ]", .trailingComma),
            (#"{"a":1 , }"#, .trailingComma),
            ("{} x", .trailingData),
            ("1 2", .trailingData),
            (#"{"a":1}}"#, .trailingData),
            ("{a:1}", .invalidMemberName),
            (#"{"a" 1}"#, .invalidMemberName),
            ("{1:1}", .invalidMemberName),
            (#"{"a":1 "b":2}"#, .unexpectedCharacter),
            ("[1 2]", .unexpectedCharacter),
            (#"{"a":1]"#, .unexpectedCharacter),
            ("[1}", .unexpectedCharacter),
            ("[,1]", .unexpectedCharacter),
            ("tru", .unexpectedEnd),
            ("trUe", .unexpectedCharacter),
            ("nul", .unexpectedEnd),
            ("falsey", .trailingData),
            ("NaN", .unexpectedCharacter),
            ("'a'", .unexpectedCharacter),
            ("[", .unexpectedEnd),
            ("{", .unexpectedEnd),
            (#"{"a":"#, .unexpectedEnd),
        ]
        for (doc, expected) in cases {
            #expect(syntaxError(doc) == expected, "\(doc.debugDescription)")
        }
    }

    /// Hosts take `: ` with a value's first byte after it, `, ` and a member's `, "` on a short
    /// path before the general whitespace loop (`, "` in an array starts a value, not a name):
    /// every separator (more or other whitespace, whitespace before the colon or comma) gives
    /// the same document, and errors right after a separator keep their kind and offset. The
    /// member lookup, which takes `, "` on a short path too, finds a member after each kind of
    /// comma.
    @Test func separatorsWithAnyWhitespace() throws {
        let colons = [":", ": ", ":  ", " :", "\t:\n", ":\t", ": \n ", " : "]
        let commas = [",", ", ", ",  ", " ,", ",\n", ", \t", "\r\n,\r\n"]
        for colon in colons {
            for comma in commas {
                let text = #"{"rsc"\#(colon)2001\#(comma)"rqi"\#(colon)"x"\#(comma)"pc"\#(colon)[1\#(comma)"s"\#(comma){"s"\#(colon)"t"\#(comma)"a"\#(colon)2}]}"#
                try decodeResponse(text) { r in
                    #expect(r.statusCode.rawValue == 2001 && r.requestIdentifier == "x", "\(text.debugDescription)")
                    #expect(r.content?[1]?.text == "s")
                    #expect((try? r.content?[2]?["a"]?.integer()) == 2)
                }
                for (bad, error, at) in [("{\"a\"\(colon)}", JSONSyntaxError.unexpectedCharacter, -1),
                                         ("{\"a\"\(colon)", .unexpectedEnd, 0),
                                         ("{\"a\"\(colon)1\(comma)}", .trailingComma, -1),
                                         ("[1\(comma)]", .trailingComma, -1),
                                         ("{\"a\"\(colon)1\(comma)", .unexpectedEnd, 0),
                                         ("{\"a\"\(colon)1\(comma)\"", .unterminatedString, 0),
                                         ("{\"a\"\(colon)1\(comma)\"b\"}", .invalidMemberName, -1),
                                         ("[1\(comma)\"s\"}", .unexpectedCharacter, -1)] {
                    let bytes = Array(bad.utf8)
                    let offset = bytes.count + at
                    let got = bytes.withUnsafeBytes { raw -> OneM2MError? in
                        caught { () throws(OneM2MError) in _ = try JSONDocument(validating: raw) }
                    }
                    #expect(got == .malformedJSON(error, offset: offset), "\(bad.debugDescription)")
                }
            }
        }
    }

    /// 64-bit hosts check a member's `, "` and measure the name after it in one vector: names
    /// of every length from 0 to 20 bytes, with an escape, a control character, a non-ASCII
    /// character or an invalid byte at every position (inside the vector or past it), and the
    /// document ending 0 to 3 bytes after the name, give the same document or error.
    @Test func namesAfterTheUsualSeparatorAtEveryLength() throws {
        let specials: [([UInt8], OneM2MError?)] = [
            (Array("\\n".utf8), nil), (Array("é".utf8), nil),
            ([0x01], .malformedJSON(.controlCharacterInString, offset: 0)),
            ([0xFF], .malformedJSON(.invalidUTF8, offset: 0)),
        ]
        for length in 0...20 {
            for at in -1..<length {
                for (special, error) in at < 0 ? [([], nil)] : specials {
                    var name = (0..<length).map { UInt8(97 + $0 % 26) }
                    if at >= 0 { name.replaceSubrange(at..<(at + 1), with: special) }
                    for pad in 0..<4 {
                        let head = Array(#"{"x": 1, ""#.utf8)
                        let bytes = head + name + Array(#"": 2"#.utf8) + Array(repeating: 0x20, count: pad) + [0x7D]
                        let got = withBytes(bytes) { raw -> OneM2MError? in
                            caught { () throws(OneM2MError) in
                                let root = try JSONDocument(validating: raw).root
                                let values = root.members.map { (try? $0.value.integer()) ?? -1 }
                                #expect(values == [1, 2])
                            }
                        }
                        let expected = error.map { e -> OneM2MError in
                            guard case .malformedJSON(let kind, _) = e else { return e }
                            return .malformedJSON(kind, offset: head.count + at)
                        }
                        #expect(got == expected, "\(bytes)")
                    }
                }
            }
        }
    }

    @Test func invalidUTF8IsRejected() {
        let bad: [[UInt8]] = [
            [0x22, 0xC3, 0x28, 0x22],             // bad continuation
            [0x22, 0xC0, 0xAF, 0x22],             // overlong '/'
            [0x22, 0xE0, 0x80, 0xAF, 0x22],       // overlong 3-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],       // UTF-16 surrogate encoded
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
            [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
            [0x22, 0xFF, 0x22],
            [0x22, 0x80, 0x22],                   // lone continuation
            [0x22, 0xE2, 0x82, 0x22],             // truncated 3-byte before the quote
        ]
        for b in bad { #expect(syntaxError(b) == .invalidUTF8, "\(b)") }
        // Non-ASCII outside strings is not JSON at all.
        #expect(syntaxError([0xC3, 0xA9]) == .unexpectedCharacter)
        // The boundaries that are valid.
        let good: [[UInt8]] = [
            [0x22, 0xC2, 0x80, 0x22], [0x22, 0xDF, 0xBF, 0x22], [0x22, 0xE0, 0xA0, 0x80, 0x22],
            [0x22, 0xED, 0x9F, 0xBF, 0x22], [0x22, 0xEE, 0x80, 0x80, 0x22],
            [0x22, 0xF0, 0x90, 0x80, 0x80, 0x22], [0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0x22],
        ]
        for b in good { #expect(syntaxError(b) == nil, "\(b)") }
    }

    @Test func depthLimit() {
        let d16 = String(repeating: "[", count: 16) + String(repeating: "]", count: 16)
        let d17 = String(repeating: "[", count: 17) + String(repeating: "]", count: 17)
        #expect(syntaxError(d16) == nil)
        #expect(syntaxError(d17) == .depthLimitExceeded)
        let o17 = String(repeating: #"{"a":"#, count: 17) + "1" + String(repeating: "}", count: 17)
        #expect(syntaxError(o17) == .depthLimitExceeded)
        #expect(syntaxError(o17, maxDepth: 17) == nil)
        // The offset points at the 17th opening bracket.
        let e = withBytes(d17) { raw in caught { () throws(OneM2MError) in _ = try JSONDocument(validating: raw) } }
        #expect(e == .malformedJSON(.depthLimitExceeded, offset: 16))
        // Deep input far beyond the limit is rejected without recursion.
        let deep = String(repeating: "[", count: 100_000)
        #expect(syntaxError(deep, maxDepth: 64) == .depthLimitExceeded)
        #expect(syntaxError(String(repeating: "[", count: 64) + String(repeating: "]", count: 64), maxDepth: 1000) == nil)
        // Objects and arrays alternating 64 deep: every level must be closed by its own bracket
        // (the validator keeps one bit per level; the outermost is the 64th bit pushed).
        let open = String(repeating: #"[{"a":"#, count: 32), close = String(repeating: "}]", count: 32)
        #expect(syntaxError(open + "1" + close, maxDepth: 64) == nil)
        #expect(syntaxError(open + "1" + close, maxDepth: 63) == .depthLimitExceeded)
        #expect(syntaxError(open + "1" + "]" + close.dropFirst(), maxDepth: 64) == .unexpectedCharacter)
        #expect(syntaxError(open + "1" + close.dropLast() + "}", maxDepth: 64) == .unexpectedCharacter)
        #expect(syntaxError(open + "1" + close.dropLast(2) + "]}", maxDepth: 64) == .unexpectedCharacter)
        #expect(syntaxError(open + "[]" + close, maxDepth: 64) == .depthLimitExceeded)
        #expect(syntaxError(#"[{"a":[{}],"b":{"c":[[],{}]}},[{"d":[]}]]"#) == nil)
    }

    @Test func everyPrefixOfAValidDocumentIsRejected() {
        var checked = 0
        for doc in validCorpus {
            let bytes = Array(doc.utf8)
            #expect(syntaxError(bytes) == nil)
            for n in 0..<bytes.count {
                let prefix = Array(bytes[0..<n])
                let e = syntaxError(prefix)
                #expect(e != nil, "prefix \(n) of \(doc) accepted")
                checked += 1
            }
        }
        #expect(checked == validCorpus.reduce(0) { $0 + $1.utf8.count })
    }

    @Test func mutatedDocumentsNeverTrap() {
        var rng = SplitMix64(seed: 42)
        let alphabet: [UInt8] = Array(#"{}[]":,\-+.0123456789eEtrufalsn u"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        var rejected = 0
        for round in 0..<4000 {
            var bytes = Array(validCorpus[round % validCorpus.count].utf8)
            let edits = 1 + Int(rng.next() % 3)
            for _ in 0..<edits {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            bytes.withUnsafeBytes { raw in
                do {
                    let doc = try JSONDocument(validating: raw)
                    // Walk everything that was accepted.
                    _ = walk(doc.root)
                } catch {
                    rejected += 1
                }
            }
        }
        #expect(rejected > 1000)
    }

    /// Differential check against Foundation's parser on mutated documents. Foundation is more
    /// lenient on trailing commas and stricter on huge exponents (out of Double range), both of
    /// which are excluded; on everything else the two must agree.
    @Test func agreesWithFoundationOnMutatedDocuments() {
        var rng = SplitMix64(seed: 99)
        let alphabet: [UInt8] = Array(#"{}[]":,\-+.0123456789eEtrufalsn uD8C"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xF4, 0xFF, 0x09]
        var compared = 0
        for round in 0..<5000 {
            var bytes = Array(validCorpus[round % validCorpus.count].utf8)
            for _ in 0..<(1 + rng.below(2)) {
                let i = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[i] = alphabet[rng.below(alphabet.count)]
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[rng.below(alphabet.count)], at: i)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            let mine = syntaxError(bytes, maxDepth: 64)
            if mine == .trailingComma || hasHugeExponent(bytes) { continue }
            let theirs = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            #expect((mine == nil) == theirs, "\(String(decoding: bytes, as: UTF8.self).debugDescription): \(String(describing: mine))")
            compared += 1
        }
        #expect(compared > 3500)
    }

    /// Names that are not plain bytes: a one-scalar literal (a `StaticString` without pointer
    /// representation, stored inline) and escaped JSON text find unescaped member names too.
    @Test func memberNamesGivenInlineOrEscaped() throws {
        let doc = #"{"a": 1, "é": 2, "ab": 3, "\u0062": 4}"#
        let other = #"{"k": "a\u0062"}"#
        try withBytes(doc) { raw in
            try withBytes(other) { rawOther in
                let root = try JSONDocument(validating: raw).root
                let a = ByteString(scalarA(StaticString.self)), e = ByteString(scalarE(StaticString.self))
                let b = ByteString(scalarB(StaticString.self))
                #expect(a.storedBytes == nil && e.storedBytes == nil && b.storedBytes == nil)  // inline storage
                #expect(a == "a" && e == "é" && b == "b")
                #expect(try root[a]?.integer() == 1)
                #expect(try root[e]?.integer() == 2)
                #expect(try root[b]?.integer() == 4)  // an escaped member name
                let escapedAB = try #require(try JSONDocument(validating: rawOther).root["k"]?.text)
                #expect(escapedAB.isJSONEscaped)
                #expect(try root[escapedAB]?.integer() == 3)
                #expect(root[ByteString(scalarZ(StaticString.self))] == nil)
            }
        }
    }

    // One-scalar `StaticString`s without pointer representation: what a unicode-scalar literal
    // gives through a generic context (a plain `"a"` literal has a pointer).
    private func scalarA<T: ExpressibleByUnicodeScalarLiteral>(_: T.Type) -> T { "a" }
    private func scalarB<T: ExpressibleByUnicodeScalarLiteral>(_: T.Type) -> T { "b" }
    private func scalarE<T: ExpressibleByUnicodeScalarLiteral>(_: T.Type) -> T { "é" }
    private func scalarZ<T: ExpressibleByUnicodeScalarLiteral>(_: T.Type) -> T { "z" }

    @Test func navigation() throws {
        let text = #"{ "op" : 2, "\u006fp2": "x\"y", "arr": [10, {"k": null}, "s"], "t": true, "f": false, "n": null, "nested": {"a": {"b": -7}}, "op": 3 }"#
        try withBytes(text) { raw in
            let doc = try JSONDocument(validating: raw)
            let root = doc.root
            #expect(root.kind == .object)
            #expect(root.count == 8)
            #expect(try root["op"]?.integer() == 2) // first of duplicate keys
            #expect(root["op2"]?.text == "x\"y")
            #expect(root["op2"]?.text?.isJSONEscaped == true)
            #expect(root["op2"]?.text?.count == 3)
            #expect(root["missing"] == nil)
            let arr = try #require(root["arr"])
            #expect(arr.kind == .array)
            #expect(arr.count == 3)
            #expect(try arr[0]?.integer() == 10)
            #expect(arr[1]?["k"]?.isNull == true)
            #expect(arr[2]?.text == "s")
            #expect(arr[3] == nil)
            #expect(arr[-1] == nil)
            #expect(try root["t"]?.bool() == true)
            #expect(try root["f"]?.bool() == false)
            #expect(try root["nested"]?["a"]?["b"]?.integer() == -7)
            #expect(root["arr"]?["x"] == nil)
            #expect(root["t"]?.count == 0)
            var names: [String] = []
            for m in root.members { names.append(m.name.string) }
            #expect(names == ["op", "op2", "arr", "t", "f", "n", "nested", "op"])
            #expect(String(decoding: arr.rawBytes, as: UTF8.self) == #"[10, {"k": null}, "s"]"#)
            #expect(caught { () throws(OneM2MError) in _ = try root.integer() } == .typeMismatch(expected: .number))
            #expect(caught { () throws(OneM2MError) in _ = try root["n"]!.bool() } == .typeMismatch(expected: .bool))
            var small = [UInt8](repeating: 0, count: 2)
            let e = small.withUnsafeMutableBytes { b in caught { () throws(OneM2MError) in _ = try root["op2"]!.unescapeString(into: b) } }
            #expect(e == .bufferTooSmall)
        }
    }

    @Test func emptyContainersIterateNothing() throws {
        try withBytes(#"{"o":{},"a":[ ],"s":""}"#) { raw in
            let root = try JSONDocument(validating: raw).root
            #expect(root["o"]?.count == 0)
            #expect(root["a"]?.count == 0)
            #expect(root["s"]?.text?.isEmpty == true)
            var it = root["o"]!.elements.makeIterator()
            #expect(it.next() == nil)
        }
    }

    @Test func integers() throws {
        let cases: [(String, Int64?, OneM2MError?)] = [
            ("0", 0, nil), ("-0", 0, nil), ("9223372036854775807", Int64.max, nil),
            ("-9223372036854775808", Int64.min, nil),
            ("9223372036854775808", nil, .integerOutOfRange), ("-9223372036854775809", nil, .integerOutOfRange),
            ("1.5", nil, .notAnInteger), ("1e3", nil, .notAnInteger), ("2.0", nil, .notAnInteger),
            ("1E3", nil, .notAnInteger), ("-7e-1", nil, .notAnInteger), ("-123", -123, nil),
            // Either side of the 18 digits read in place (longer ones take the checked path).
            ("999999999999999999", 999_999_999_999_999_999, nil), ("1000000000000000000", 1_000_000_000_000_000_000, nil),
            ("-999999999999999999", -999_999_999_999_999_999, nil),
        ]
        for (doc, value, error) in cases {
            try withBytes(doc) { raw in
                let v = try JSONDocument(validating: raw).root
                do throws(OneM2MError) {
                    let got = try v.integer()
                    #expect(got == value, "\(doc)")
                } catch let e {
                    #expect(e == error, "\(doc)")
                }
            }
        }
        try withBytes(#"["2", "-3", "", "2x", "300", 300]"#) { raw in
            let a = try JSONDocument(validating: raw).root
            #expect(try a[0]!.integerOrNumericString() == 2)
            #expect(try a[1]!.integerOrNumericString() == -3)
            #expect(caught { () throws(OneM2MError) in _ = try a[2]!.integerOrNumericString() } == .notAnInteger)
            #expect(caught { () throws(OneM2MError) in _ = try a[3]!.integerOrNumericString() } == .notAnInteger)
            #expect(caught { () throws(OneM2MError) in _ = try a[4]!.integer(as: UInt8.self, allowNumericString: true) } == .integerOutOfRange)
            #expect(caught { () throws(OneM2MError) in _ = try a[0]!.integer() } == .typeMismatch(expected: .number))
            #expect(try a[5]!.integer(as: UInt16.self) == 300)
        }
    }

    /// Hosts read an integer of up to 7 digits from one 8-byte load when 8 bytes are left:
    /// every digit count from 1 to 20, both signs, with and without a fraction or exponent,
    /// ending 0 to 9 bytes before the buffer's end, agrees with Swift's own parsing.
    @Test func integersOfEveryLengthAtEveryDistanceFromTheEnd() throws {
        var rng = SeededRandom(seed: 0x1D16)
        for digits in 1...20 {
            for round in 0..<3 {
                var text = String(Int.random(in: 1...9, using: &rng))
                    + (1..<digits).map { _ in String(Int.random(in: 0...9, using: &rng)) }.joined()
                if digits == 1 && round == 0 { text = "0" }
                for sign in ["", "-"] {
                    for tail in ["", ".5", "e3", "E+1"] {
                        for pad in 0..<10 {
                            let doc = "[" + sign + text + tail + String(repeating: " ", count: pad) + "]"
                            try withBytes(doc) { raw in
                                let v = try JSONDocument(validating: raw).root[0]!
                                let error = caught { () throws(OneM2MError) in _ = try v.integer() }
                                if !tail.isEmpty {
                                    // Digits past Int64 are reported before what follows them.
                                    let expected: OneM2MError = Int64(sign + text) == nil ? .integerOutOfRange : .notAnInteger
                                    #expect(error == expected, "\(doc)")
                                } else if let expected = Int64(sign + text) {
                                    #expect(error == nil && (try? v.integer()) == expected, "\(doc)")
                                } else {
                                    #expect(error == .integerOutOfRange, "\(doc)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `text` finds a string's end with the vector scan and takes plain text without a second
    /// look (hosts): every length from 0 to 40, plain or with an escape at every position, as
    /// the whole document (its end in the scan's tail) or followed by more bytes.
    @Test func textOfEveryLengthAndEscapePosition() throws {
        for length in 0...40 {
            for escapeAt in -1..<length {
                var raw = (0..<length).map { String(UnicodeScalar(UInt8(97 + $0 % 26))) }
                var expected = raw
                if escapeAt >= 0 { raw[escapeAt] = "\\n"; expected[escapeAt] = "\n" }
                let body = raw.joined()
                for doc in ["\"\(body)\"", "[\"\(body)\", 1]", "{\"k\": \"\(body)\"}"] {
                    try withBytes(doc) { bytes in
                        let root = try JSONDocument(validating: bytes).root
                        let v = root.kind == .string ? root : root.kind == .array ? root[0]! : root["k"]!
                        #expect(v.text?.string == expected.joined(), "\(doc)")
                        #expect(v.text?.isJSONEscaped == (escapeAt >= 0), "\(doc)")
                    }
                }
            }
        }
    }

    @Test func unescapingAndComparison() throws {
        try withBytes(#"["\uD83D\uDE00\u00e9\u20ac\n\/", "plain", "a\u0000b"]"#) { raw in
            let a = try JSONDocument(validating: raw).root
            var out = [UInt8](repeating: 0, count: 32)
            let n = try out.withUnsafeMutableBytes { b in try a[0]!.unescapeString(into: b) }
            #expect(Array(out[0..<n]) == [0xF0, 0x9F, 0x98, 0x80, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0x0A, 0x2F])
            #expect(a[0]!.text! == ByteString("😀é€\n/"))
            #expect(a[0]!.text!.count == 11)
            #expect(a[1]!.text! == "plain")
            #expect(a[1]!.text!.isJSONEscaped == false)
            #expect(a[1]!.text! != "plai")
            #expect(a[1]!.text! != "plainer")
            #expect(a[1]!.text!.hasPrefix("pla"))
            #expect(Array(a[2]!.text!) == [0x61, 0x00, 0x62])
            #expect(String(decoding: a[0]!.rawStringContents!, as: UTF8.self) == #"\uD83D\uDE00\u00e9\u20ac\n\/"#)
        }
    }
}

/// True if the bytes contain an exponent of three or more digits (`e308`, `E-999`).
/// The syntax error and offset `JSONDocument(validating:)` reports for `doc`, or nil when it is valid.
func syntaxFailure(_ doc: [UInt8]) -> (JSONSyntaxError, Int)? {
    doc.withUnsafeBytes { raw -> (JSONSyntaxError, Int)? in
        do throws(OneM2MError) {
            _ = try JSONDocument(validating: raw)
            return nil
        } catch {
            if case .malformedJSON(let e, offset: let o) = error { return (e, o) }
            return nil
        }
    }
}

func hasHugeExponent(_ b: [UInt8]) -> Bool {
    var i = 0
    while i < b.count {
        if b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            var j = i + 1
            if j < b.count && (b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: "-")) { j += 1 }
            var digits = 0
            while j < b.count && b[j] >= UInt8(ascii: "0") && b[j] <= UInt8(ascii: "9") { digits += 1; j += 1 }
            if digits >= 3 { return true }
        }
        i += 1
    }
    return false
}

/// Visits every value; returns how many there were.
func walk(_ v: JSONValue) -> Int {
    var n = 1
    switch v.kind {
    case .object: for m in v.members { n += walk(m.value); _ = m.name.count }
    case .array: for e in v.elements { n += walk(e) }
    case .string: _ = v.text?.count
    case .number: _ = try? v.integer()
    default: break
    }
    return n
}

@Suite struct JSONScanningTests {
    /// The byte-at-a-time definition `plainEnd` must agree with.
    func referencePlainEnd(_ p: [UInt8], _ i: Int, _ n: Int) -> Int {
        var j = i
        while j < n {
            let b = p[j]
            if b == 0x22 || b == 0x5C || b < 0x20 || b >= 0x80 { return j }
            j += 1
        }
        return n
    }

    @Test func wordAtATimeScanAgreesWithBytewiseScan() {
        var rng = SeededRandom(seed: 0x5CA7)
        // Mostly plain text with a few special bytes, at every alignment and length.
        let specials: [UInt8] = [0x22, 0x5C, 0x00, 0x01, 0x1F, 0x20, 0x21, 0x7F, 0x80, 0xC3, 0xFF, 0x5B, 0x5D]
        for _ in 0..<4000 {
            let n = Int.random(in: 0...40, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0x23...0x7E, using: &rng) }
            for _ in 0..<Int.random(in: 0...3, using: &rng) where n > 0 {
                bytes[Int.random(in: 0..<n, using: &rng)] = specials[Int.random(in: 0..<specials.count, using: &rng)]
            }
            let i = n == 0 ? 0 : Int.random(in: 0...n, using: &rng)
            let end = Int.random(in: i...n, using: &rng)
            let want = referencePlainEnd(bytes, i, end)
            let got = bytes.withUnsafeBytes { plainEnd($0, i, end) }
            #expect(got == want, "bytes \(bytes) from \(i) to \(end)")
            let validatorScan = bytes.withUnsafeBytes { b in b.baseAddress.map { scanPlain($0, i, end) } ?? end }
            #expect(validatorScan == want, "validator's scan: bytes \(bytes) from \(i) to \(end)")
        }
    }

    /// Hosts scan 16 bytes at a time, then the last bytes of the buffer a word and a byte at a
    /// time: one special byte at every position of a 48-byte run (either half of a vector, a
    /// later vector, the tail), scanned from several starts and up to several ends.
    @Test func vectorScanFindsEverySpecialByteAtEveryPosition() {
        let specials: [UInt8] = [0x22, 0x5C, 0x00, 0x1F, 0x7F, 0x80, 0xFF]
        let plain: [UInt8] = [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7E]
        for special in specials {
            for k in 0..<48 {
                var bytes = (0..<48).map { plain[$0 % plain.count] }
                bytes[k] = special
                for i in [0, 1, 7, 8, 15, 16, 17] where i <= k {
                    for end in [k, k + 1, 16, 32, 33, 47, 48] where end >= i {
                        let want = referencePlainEnd(bytes, i, end)
                        let got = bytes.withUnsafeBytes { scanPlain($0.baseAddress!, i, end) }
                        #expect(got == want, "special \(special) at \(k), from \(i) to \(end)")
                        #expect(bytes.withUnsafeBytes { plainEnd($0, i, end) } == want)
                    }
                }
            }
        }
    }

    /// The writer's placeholder search (16 bytes at a time on x86-64 hosts): a `%` at every
    /// position of templates around one and two vectors long, from several starts.
    @Test func placeholderIsFoundAtEveryPosition() {
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { out.deallocate() }
        let w = JSONWriter(buffer: out)
        for n in 0...40 {
            for k in -1..<n {
                var t = [UInt8](repeating: UInt8(ascii: "{"), count: n)
                if k >= 0 { t[k] = UInt8(ascii: "%") }
                for from in [0, 1, 7, 8, 15, 16, 17] where from <= n {
                    let want = k >= from ? k : n
                    #expect(t.withUnsafeBytes { w.placeholder(in: $0, from: from) } == want, "% at \(k) of \(n) from \(from)")
                }
            }
        }
    }

    /// The vector test classifies bytes with one signed comparison after an XOR (quote and
    /// controls together) and one for the backslash: every one of the 256 byte values, at every
    /// lane of a vector and of the overlapping 8-to-15-byte form, agrees with the definition;
    /// and a member lookup and a string read see the same (names and values around each lane).
    @Test func everyByteValueIsClassifiedAtEveryLane() throws {
        for value in 0...255 {
            for n in Array(8...17) + [31, 32, 33] {
                for k in 0..<n {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: n)
                    bytes[k] = UInt8(value)
                    let want = referencePlainEnd(bytes, 0, n)
                    #expect(bytes.withUnsafeBytes { plainEnd($0, 0, n) } == want, "byte \(value) at \(k) of \(n)")
                    #expect(bytes.withUnsafeBytes { scanPlain($0.baseAddress!, 0, n) } == want, "byte \(value) at \(k) of \(n)")
                }
            }
        }
        #if arch(x86_64) || arch(arm64)
        // The writer's yes-or-no check (64-bit hosts), at every length up to 40 and beyond the
        // two vectors, with every byte value at every position.
        for n in 0...40 {
            let clean = [UInt8](repeating: UInt8(ascii: "a"), count: n)
            #expect(clean.withUnsafeBytes { isPlain($0) }, "length \(n)")
            for value in 0...255 {
                for k in 0..<n {
                    var bytes = clean
                    bytes[k] = UInt8(value)
                    let want = referencePlainEnd(bytes, 0, n) == n
                    #expect(bytes.withUnsafeBytes { isPlain($0) } == want, "byte \(value) at \(k) of \(n)")
                }
            }
        }
        #endif
        // Through the validator, the lookup and `text`: a string of 20 bytes with one byte
        // replaced by each printable ASCII value (0x20...0x7E) at each position, as a name and
        // as a value; only the quote and backslash change the outcome.
        for value in 0x20...0x7E where value != 0x22 && value != 0x5C {
            for k in 0..<20 {
                var s = [UInt8](repeating: UInt8(ascii: "b"), count: 20)
                s[k] = UInt8(value)
                let doc = Array("{\"".utf8) + s + Array("\": \"".utf8) + s + Array("\", \"z\": 1}".utf8)
                try doc.withUnsafeBytes { b in
                    let d = try JSONDocument(validating: b)
                    let name = s.withUnsafeBytes { ByteString($0) }
                    let v = try #require(d.root.member(named: name), "byte \(value) at \(k)")
                    #expect(v.text == name)
                    #expect(try d.root.member(named: "z")?.integer() == 1)
                }
            }
        }
        for value in [0x00, 0x01, 0x1F, 0x7F, 0x80, 0xC0, 0xFF] {
            for k in 0..<20 {
                var s = [UInt8](repeating: UInt8(ascii: "b"), count: 20)
                s[k] = UInt8(value)
                let doc = Array("{\"k\": \"".utf8) + s + Array("\", \"z\": 1}".utf8)
                let want: JSONSyntaxError? = value < 0x20 ? .controlCharacterInString : value >= 0x80 ? .invalidUTF8 : nil
                #expect(syntaxError(doc) == want, "byte \(value) at \(k)")
            }
        }
    }

    /// x86-64 hosts measure the next member's name from the same 16 bytes that found a string
    /// value's closing quote: every value length and name length around those 16 bytes, with
    /// every kind of byte at every position of the name, and separators other than `, "`,
    /// validate (or fail, at the same offset with the same error) as the definition says, and
    /// lookups, iteration and primitive slots see the same members.
    @Test func valueThenNameWithinOneVector() throws {
        // A name piece, its decoded bytes, and the error (with its offset in the piece) if bad.
        let pieces: [([UInt8], [UInt8], (JSONSyntaxError, Int)?)] = [
            (Array("n".utf8), Array("n".utf8), nil),
            (Array("\\n".utf8), [0x0A], nil),
            (Array("\\u00e9".utf8), [0xC3, 0xA9], nil),
            ([0xC3, 0xA9], [0xC3, 0xA9], nil),
            (Array("\\\"".utf8), [0x22], nil),
            ([0x01], [], (.controlCharacterInString, 0)),
            ([0xFF], [], (.invalidUTF8, 0)),
            (Array("\\x".utf8), [], (.invalidEscape, 0)),
        ]
        for valueLength in 0...20 {
            let value = [UInt8](repeating: UInt8(ascii: "v"), count: valueLength)
            for nameLength in 0...16 {
                for (piece, decoded, bad) in pieces {
                    for at in 0...nameLength where nameLength > 0 || at == 0 {
                        // The name: `nameLength` plain bytes with the piece at `at` (none if 0).
                        let plain = [UInt8](repeating: UInt8(ascii: "k"), count: nameLength)
                        let raw = nameLength == 0 ? [] : Array(plain[..<at]) + piece + Array(plain[at...])
                        let name = nameLength == 0 ? [] : Array(plain[..<at]) + decoded + Array(plain[at...])
                        let head = Array("{\"a\": \"".utf8) + value + Array("\", \"".utf8)
                        for tail in [", \"z\": 2}", "}"] {
                            let doc = head + raw + Array("\": 1".utf8) + Array(tail.utf8)
                            let got = syntaxFailure(doc)
                            if nameLength > 0, let (error, offset) = bad {
                                #expect(got?.0 == error && got?.1 == head.count + at + offset,
                                        "value \(valueLength), name \(raw), tail \(tail): \(String(describing: got))")
                                continue
                            }
                            #expect(got == nil, "value \(valueLength), name \(raw): \(String(describing: got))")
                            try doc.withUnsafeBytes { b in
                                let d = try JSONDocument(validating: b)
                                let v = try name.withUnsafeBytes { n in try #require(d.root.member(named: ByteString(n))) }
                                #expect(try v.integer() == 1, "value \(valueLength), name \(raw)")
                                #expect(d.root.member(named: "a")?.text?.count == valueLength)
                                var names: [[UInt8]] = []
                                for m in d.root.members { names.append(Array(m.name)) }
                                #expect(names == [Array("a".utf8), name] + (tail.count > 1 ? [Array("z".utf8)] : []))
                            }
                        }
                    }
                }
            }
        }
        // Separators other than `, "` after a value (and the document's end close by).
        for valueLength in 0...20 {
            let value = String(repeating: "v", count: valueLength)
            for sep in [",\"", " , \"", ",  \"", ",\n\"", ", \"", "  ,\"", ", "] {
                let doc = Array("{\"a\": \"\(value)\"\(sep)b\": 1}".utf8)
                if sep == ", " {
                    #expect(syntaxFailure(doc)?.0 == .invalidMemberName, "value \(valueLength), separator \(sep)")
                } else {
                    #expect(syntaxFailure(doc) == nil, "value \(valueLength), separator \(sep)")
                }
            }
            // Inside an array the same bytes are not a member.
            #expect(syntaxFailure(Array("[\"\(value)\", \"b\": 1]".utf8))?.0 == .unexpectedCharacter)
            #expect(syntaxFailure(Array("[\"\(value)\", \"b\"]".utf8)) == nil)
        }
        // Top-level names noted while validating (the primitive slots), after values of every length.
        for valueLength in 0...20 {
            let v = String(repeating: "v", count: valueLength)
            let text = "{\"fr\": \"\(v)\", \"to\": \"\(v)\", \"rqi\": \"\(v)x\", \"rsc\": 2001, \"ot\": \"\(v)\", \"pc\": {\"k\": \"\(v)\", \"rsc\": 1}}"
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBytes { b in
                let r = try ResponsePrimitiveView(decoding: b)
                #expect(r.statusCode.rawValue == 2001)
                #expect(r.requestIdentifier?.string == v + "x")
                #expect(r.from?.string == v && r.to?.string == v && r.originatingTimestampText?.string == v)
                #expect(r.content?.member(named: "k")?.text?.string == v)
            }
        }
    }

    /// The validator over strings longer than a vector: a bad byte at every position is
    /// reported where it is, and a string that ends within the last 16 bytes of the document
    /// (scanned by the tail path) still validates.
    @Test func longStringsAreValidatedAtEveryPosition() {
        let text = Array("abcdefghijklmnopqrstuvwxyz0123456789ABCD".utf8)
        for k in 0..<text.count {
            for (bad, error) in [(UInt8(0x01), JSONSyntaxError.controlCharacterInString), (0xFF, .invalidUTF8), (0x5C, .invalidEscape)] {
                if bad == 0x5C && k + 1 == text.count { continue }  // `\x` needs a byte after it
                var s = text
                s[k] = bad
                if bad == 0x5C { s[k + 1] = UInt8(ascii: "x") }
                let doc = Array("{\"k\": \"".utf8) + s + Array("\", \"z\": 1}".utf8)
                #expect(syntaxError(doc) == error, "byte \(bad) at \(k)")
            }
            // The string ends k bytes into a document that ends soon after it.
            let doc = Array("[\"".utf8) + text[..<k] + Array("\"]".utf8)
            #expect(syntaxError(doc) == nil, "length \(k)")
            let escaped = Array("[\"".utf8) + text[..<k] + Array("\\n\u{e9}\"]".utf8)
            #expect(syntaxError(escaped) == nil, "escape after \(k)")
        }
    }

    /// `bytesEqual` compares a word at a time: a difference at any position of any length is seen.
    @Test func wordCompareSeesEveryDifference() {
        for n in 0...40 {
            let a = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 3) }
            #expect(a.withUnsafeBytes { x in a.withUnsafeBytes { y in bytesEqual(x, y) } }, "length \(n)")
            for k in 0..<n {
                var b = a
                b[k] ^= 0x40
                #expect(!a.withUnsafeBytes { x in b.withUnsafeBytes { y in bytesEqual(x, y) } }, "length \(n), byte \(k)")
            }
            let longer = a + [0]
            #expect(!a.withUnsafeBytes { x in longer.withUnsafeBytes { y in bytesEqual(x, y) } })
        }
    }

    /// `copyBytes` moves short texts with overlapping word moves (on 64-bit hosts up to 64
    /// bytes in vector moves): every length, every offset, nothing written outside the
    /// destination range.
    @Test func shortCopiesWriteExactlyTheirBytes() {
        for n in 0...80 {
            let src = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            for offset in 0...3 {
                var out = [UInt8](repeating: 0xEE, count: n + 8)
                out.withUnsafeMutableBytes { o in src.withUnsafeBytes { copyBytes($0, o, offset) } }
                #expect(Array(out[offset..<(offset + n)]) == src, "length \(n) at \(offset)")
                #expect(out[..<offset].allSatisfy { $0 == 0xEE } && out[(offset + n)...].allSatisfy { $0 == 0xEE })
            }
        }
    }

    @Test func membersAreFoundByTheirUnescapedNames() throws {
        let text = #"{"ab": 1, "a": 2, "a\u0062c": 3, "x\\y": 4, "": 5, "ab": 6, "\u00e9": 7, "q": {"ab": 8}}"#
        try withBytes(text) { raw in
            let root = try JSONDocument(validating: raw).root
            #expect(try root["ab"]?.integer() == 1)  // the first of duplicates
            #expect(try root["a"]?.integer() == 2)
            #expect(try root["abc"]?.integer() == 3)  // escaped in the document
            #expect(try root["x\\y"]?.integer() == 4)  // a backslash in the name itself
            #expect(try root[""]?.integer() == 5)
            #expect(try root["é"]?.integer() == 7)
            #expect(try root["q"]?["ab"]?.integer() == 8)
            #expect(root["abcd"] == nil && root["b"] == nil && root["x"] == nil)
            #expect(root["q"]?["a"] == nil)
            #expect(root["q"]?["ab"]?["ab"] == nil)  // not an object
        }
    }

    /// `member(named:)` checks short names with one word load and measures them from it (64-bit
    /// hosts: a vector; plain names up to 15 bytes on a loop of their own): every
    /// name length (0 to 10 pieces, so both sides of 7, 8 and 16 bytes), escapes and non-ASCII in names,
    /// prefixes of other names, and names that end near the buffer's end (too close for a
    /// word load) agree with a lookup by iterating the members and comparing decoded names.
    @Test func memberLookupAgreesWithIteration() throws {
        var rng = SeededRandom(seed: 0x4E4D)
        let pieces = ["a", "b", "r", "i", ":", "-", "\\u0061", "\\\\", "\\\"", "é"]
        func randomName() -> String {
            (0..<Int.random(in: 0...10, using: &rng)).map { _ in pieces[Int.random(in: 0..<pieces.count, using: &rng)] }.joined()
        }
        let values = ["1", "-2.5e3", "\"v\"", "\"a\\\"b\"", "{\"a\": [1]}", "[]", "null", "true"]
        for _ in 0..<1500 {
            let names = (0..<Int.random(in: 0...6, using: &rng)).map { _ in randomName() }
            // Separators with every kind of whitespace (the lookup skips it unchecked).
            let sep = [", ", ",", " ,\n\t", "\r\n, "][Int.random(in: 0..<4, using: &rng)]
            let colon = [": ", ":", " :\t", "\n: \r"][Int.random(in: 0..<4, using: &rng)]
            let body = names.map { "\"\($0)\"\(colon)\(values[Int.random(in: 0..<values.count, using: &rng)])" }.joined(separator: sep)
            let text = "{" + body + "}"
            try withBytes(text) { raw in
                let root = try JSONDocument(validating: raw).root
                var decoded: [(String, Int)] = []
                for m in root.members { decoded.append((m.name.string, m.value.start)) }
                // Ask for every member's decoded name, and for a few names that may be absent.
                let asks = decoded.map { $0.0 } + (0..<3).map { _ in randomName().replacingOccurrences(of: "\\", with: "") }
                for want in asks {
                    let expected = decoded.first { $0.0 == want }?.1
                    let bytes = Array(want.utf8)
                    let got = bytes.withUnsafeBytes { root.member(named: ByteString($0))?.start }
                    #expect(got == expected, "\(text): \(want)")
                }
            }
        }
    }

    /// x86-64 hosts skip a member whose name is followed by `": "` and a string value with one
    /// 4-byte compare and find the value's closing quote from one mask when it lies in the 16
    /// bytes after its opening quote: string values of every length around those 16 bytes, with
    /// an escape or a non-ASCII byte at every position, after names of every quick-check
    /// length, at every distance from the document's end and with other separators, are
    /// stepped over as member iteration steps over them.
    @Test func lookupSkipsStringValuesOfEveryLength() throws {
        func check(_ text: String, asks: [String]) throws {
            try withBytes(text) { raw in
                let root = try JSONDocument(validating: raw).root
                var decoded: [(String, Int)] = []
                for m in root.members { decoded.append((m.name.string, m.value.start)) }
                for want in asks {
                    let expected = decoded.first { $0.0 == want }?.1
                    let got = Array(want.utf8).withUnsafeBytes { root.member(named: ByteString($0))?.start }
                    #expect(got == expected, "\(text): \(want)")
                }
            }
        }
        for valueLength in 0...40 {
            let plain = String(repeating: "v", count: valueLength)
            var values = [plain]
            for at in 0..<valueLength {
                let head = String(plain.prefix(at)), rest = String(plain.dropFirst(at + 1))
                for piece in ["\\\"", "\\\\", "é", "\\u0041"] { values.append(head + piece + rest) }
            }
            for value in values {
                for nameLength in 1...9 {
                    let name = String(repeating: "k", count: nameLength)
                    for pad in 0..<3 {
                        let text = "{\"\(name)\": \"\(value)\", \"ri\": 7, \"z\": \"\(value)\"\(String(repeating: " ", count: pad))}"
                        try check(text, asks: ["ri", "z", name, "zz", "r"])
                    }
                }
            }
            // Other separators and colons around the value.
            for colon in [": ", ":", " : ", ":  ", ": \t"] {
                for sep in [", ", ",", " , ", ",\n", ",  "] {
                    for name in ["a", "abc", "abcdefg", "abcdefgh"] {
                        let text = "{\"\(name)\"\(colon)\"\(plain)\"\(sep)\"ri\"\(colon)\"\(plain)\"\(sep)\"st\"\(colon)3}"
                        try check(text, asks: ["ri", "st", name, "x"])
                    }
                }
            }
        }
    }

    @Test func valueEndsAreFoundWhenAskedFor() throws {
        let text = #"{"a": {"b": [1, {"c": "x\"y"}], "d": "e"}, "f": [[]], "g": "h"}"#
        try withBytes(text) { raw in
            let doc = try JSONDocument(validating: raw)
            let a = try #require(doc.root["a"])
            #expect(String(decoding: a.rawBytes, as: UTF8.self) == #"{"b": [1, {"c": "x\"y"}], "d": "e"}"#)
            #expect(a["b"]?[1]?["c"]?.text?.string == #"x"y"#)
            #expect(a["d"]?.text?.string == "e")
            #expect(doc.root["f"]?.count == 1 && doc.root["f"]?[0]?.count == 0)
            #expect(doc.root["g"]?.end == raw.count - 1)
            #expect(doc.root.end == raw.count)
            var names: [String] = []
            for m in doc.root.members { names.append(m.name.string) }
            #expect(names == ["a", "f", "g"])
        }
    }

    /// Hosts classify a value's first byte from a table: every byte value gives the kind the
    /// grammar says (anything that does not start a container, string or literal is a number).
    @Test func everyByteValueHasTheRightKind() {
        for b in 0...255 {
            let want: JSONKind
            switch UInt8(b) {
            case UInt8(ascii: "{"): want = .object
            case UInt8(ascii: "["): want = .array
            case UInt8(ascii: "\""): want = .string
            case UInt8(ascii: "t"), UInt8(ascii: "f"): want = .bool
            case UInt8(ascii: "n"): want = .null
            default: want = .number
            }
            #expect(kindOf(UInt8(b)) == want, "byte \(b)")
        }
    }

    /// The validator's inline integer check reads 8 bytes at once on 64-bit hosts while 8 are
    /// left: every digit count from 1 to 12, at every distance from the document's end, in an
    /// object, an array and alone, followed by a fraction, an exponent, a separator or a bad
    /// byte, validates (or fails with the same error at the same offset) as the grammar says.
    @Test func validatorIntegersOfEveryLengthAndEnding() {
        func failure(_ text: String) -> (JSONSyntaxError, Int)? { syntaxFailure(Array(text.utf8)) }
        for digits in 1...12 {
            let number = String((0..<digits).map { Character(String($0 % 9 + 1)) })
            // A tail after the digits and the error it gives (offset within the tail), if any.
            let tails: [(String, (JSONSyntaxError, Int)?)] = [
                ("", nil), (" ", nil), (".5", nil), ("e3", nil), ("E-2", nil), ("0", nil), (".25e+1", nil),
                (".", (.invalidNumber, 1)), ("e", (.invalidNumber, 1)), ("E+", (.invalidNumber, 2)),
                (".x", (.invalidNumber, 1)), ("x", (.unexpectedCharacter, 0)), ("-", (.unexpectedCharacter, 0)),
                ("/", (.unexpectedCharacter, 0)), (":", (.unexpectedCharacter, 0)), ("\u{7F}", (.unexpectedCharacter, 0)),
            ]
            for (tail, bad) in tails {
                for pad in 0..<10 {
                    let spaces = String(repeating: " ", count: pad)
                    for (head, close) in [("{\"a\": ", "}"), ("[", "]"), ("[1, ", ", 2]"), ("{\"a\": 1, \"b\": ", ", \"c\": 2}")] {
                        let doc = head + number + tail + spaces + close
                        let got = failure(doc)
                        if let (error, offset) = bad {
                            #expect(got?.0 == error && got?.1 == head.utf8.count + digits + offset, "\(doc): \(String(describing: got))")
                        } else {
                            #expect(got == nil, "\(doc): \(String(describing: got))")
                        }
                        // Cut off after the number: the document ends inside its container.
                        let cut = head + number + tail + spaces
                        #expect(failure(cut)?.0 == (bad?.0 ?? .unexpectedEnd), "\(cut)")
                    }
                    // Alone: trailing bytes other than whitespace are trailing data.
                    let alone = number + tail + spaces
                    let got = failure(alone)
                    if let (error, offset) = bad {
                        let want: JSONSyntaxError = error == .unexpectedCharacter ? .trailingData : error
                        #expect(got?.0 == want && got?.1 == digits + offset, "\(alone): \(String(describing: got))")
                    } else {
                        #expect(got == nil, "\(alone): \(String(describing: got))")
                    }
                }
            }
        }
    }
}
