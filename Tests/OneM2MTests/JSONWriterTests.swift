import Testing
@testable @_spi(Templates) import OneM2M

@Suite struct JSONWriterTests {
    @Test func writesNestedDocumentWithCommas() throws {
        let out = try render { w in
            try w.beginObject()
            try w.key("a"); try w.integer(1)
            try w.key("b"); try w.beginArray()
            try w.string("x"); try w.bool(true); try w.bool(false); try w.null(); try w.integer(-5)
            try w.beginArray(); try w.endArray()
            try w.endArray()
            try w.key("c"); try w.beginObject(); try w.endObject()
            try w.endObject()
            #expect(w.isComplete)
        }
        #expect(out == #"{"a":1,"b":["x",true,false,null,-5,[]],"c":{}}"#)
    }

    @Test func escapesQuotesBackslashesAndControlCharacters() throws {
        let input = "he said \"hi\"\\ /\n\t\r\u{08}\u{0C}\u{01}\u{1F}\u{7F}é€😀"
        let out = try withBytes(input) { raw in try render { w in try w.string(bytes: raw) } }
        #expect(out == "\"he said \\\"hi\\\"\\\\ /\\n\\t\\r\\b\\f\\u0001\\u001f\u{7F}é€😀\"")
    }

    @Test func integersAtTheLimits() throws {
        let out = try render { w in
            try w.beginArray()
            try w.integer(Int64.min); try w.integer(Int64.max); try w.integer(UInt64.max)
            try w.integer(0); try w.integer(UInt8(255)); try w.integer(Int8.min)
            try w.endArray()
        }
        #expect(out == "[-9223372036854775808,9223372036854775807,18446744073709551615,0,255,-128]")
        let wide = try render { w in try w.beginArray(); try w.integer(Int128(-1) << 64 + 1); try w.integer(UInt128(UInt64.max)); try w.endArray() }
        #expect(wide == "[-18446744073709551615,18446744073709551615]")
        var storage = [UInt8](repeating: 0, count: 64)
        let e = storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            return caught { () throws(OneM2MError) in try w.integer(Int128(1) << 64) }
        }
        #expect(e == .integerOutOfRange)
    }

    @Test func decimalStringAndTimestamp() throws {
        let out = try render { w in
            try w.beginArray()
            try w.decimalString(5000)
            try w.timestamp(unixMicroseconds: 1_795_302_065_177_134)
            try w.timestamp(unixMicroseconds: 0, includeFraction: false)
            try w.endArray()
        }
        #expect(out == #"["5000","20261121T230105,177134","19700101T000000"]"#)
    }

    @Test func rejectsInvalidUTF8Text() throws {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x61, 0x80]] {
            var storage = [UInt8](repeating: 0, count: 64)
            let e = withBytes(bad) { raw in
                storage.withUnsafeMutableBytes { b in
                    caught { () throws(OneM2MError) in
                        var w = JSONWriter(buffer: b)
                        try w.string(bytes: raw)
                    }
                }
            }
            #expect(e == .invalidUTF8Input)
        }
    }

    @Test func structuralMisuseIsATypedError() throws {
        func misuse(_ body: (inout JSONWriter) throws(OneM2MError) -> Void) -> OneM2MError? {
            var storage = [UInt8](repeating: 0, count: 64)
            return storage.withUnsafeMutableBytes { b in
                var w = JSONWriter(buffer: b)
                return caught { () throws(OneM2MError) in try body(&w) }
            }
        }
        #expect(misuse { w throws(OneM2MError) in try w.beginObject(); try w.integer(1) } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.beginArray(); try w.key("a") } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.beginObject(); try w.endArray() } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.beginArray(); try w.endObject() } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.endObject() } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.integer(1); try w.integer(2) } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.beginObject(); try w.key("a"); try w.key("b") } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.beginObject(); try w.key("a"); try w.endObject() } == .invalidWriterState)
        #expect(misuse { w throws(OneM2MError) in try w.key("a") } == .invalidWriterState)
    }

    @Test func nestingLimit() throws {
        var storage = [UInt8](repeating: 0, count: 512)
        storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            for _ in 0..<JSONWriter.maxDepth { #expect(caught { () throws(OneM2MError) in try w.beginArray() } == nil) }
            #expect(caught { () throws(OneM2MError) in try w.beginArray() } == .nestingTooDeep)
            for _ in 0..<JSONWriter.maxDepth { #expect(caught { () throws(OneM2MError) in try w.endArray() } == nil) }
            #expect(w.isComplete)
            #expect(w.count == 2 * JSONWriter.maxDepth)
        }
    }

    /// The writer keeps one bit per open container (object or array, empty or not): after each
    /// close, the container around it must get its comma and accept only its own kind of item.
    @Test func kindsAndCommasAreRestoredAtEveryDepth() throws {
        var storage = [UInt8](repeating: 0, count: 2048)
        let text = try storage.withUnsafeMutableBytes { b throws(OneM2MError) -> String in
            var w = JSONWriter(buffer: b)
            for _ in 0..<(JSONWriter.maxDepth / 2) {
                try w.beginArray(); try w.integer(1)
                try w.beginObject(); try w.key("a"); try w.integer(2); try w.key("b")
            }
            try w.integer(0)
            for _ in 0..<(JSONWriter.maxDepth / 2) {
                // A member after the object's nested value, then an element after the object.
                try w.key("c"); try w.integer(3); try w.endObject()
                try w.integer(4); try w.endArray()
            }
            #expect(w.isComplete)
            return String(decoding: UnsafeRawBufferPointer(b)[0..<w.count], as: UTF8.self)
        }
        let half = JSONWriter.maxDepth / 2
        #expect(text == String(repeating: #"[1,{"a":2,"b":"#, count: half) + "0" + String(repeating: #","c":3},4]"#, count: half))
        #expect(syntaxError(text, maxDepth: 64) == nil)
    }

    /// Writes a fixed document into buffers of every size below its length: each must fail with
    /// `bufferTooSmall`, and `written` must be a prefix of the full document ending at a token
    /// boundary (no silent partial token).
    @Test func overflowIsAtomicAtEveryCapacity() throws {
        func script(_ w: inout JSONWriter) throws(OneM2MError) {
            try w.beginObject()
            try w.member("op", integer: 1)
            try w.member("to", "cse-in/ae")
            try w.key("pc")
            try w.beginObject()
            try w.member("s", "q\"\n")
            try w.member("b", bool: true)
            try w.key("l"); try w.beginArray(); try w.null(); try w.integer(-42); try w.endArray()
            try w.member("t", timestamp: 1_795_302_065_177_134)
            try w.member("r", rawJSON: staticBytes(#"{"x":[1,2]}"#))
            try w.endObject()
            try w.endObject()
        }
        let full = try render { w in try script(&w) }
        #expect(full == #"{"op":1,"to":"cse-in/ae","pc":{"s":"q\"\n","b":true,"l":[null,-42],"t":"20261121T230105,177134","r":{"x":[1,2]}}}"#)
        let fullBytes = Array(full.utf8)
        for cap in 0..<fullBytes.count {
            var storage = [UInt8](repeating: 0xAA, count: cap)
            storage.withUnsafeMutableBytes { b in
                var w = JSONWriter(buffer: b)
                var lastCount = 0
                var error: OneM2MError? = nil
                // Re-run the script, recording the count before each call via a wrapper writer.
                do throws(OneM2MError) {
                    try script(&w)
                } catch let e {
                    error = e
                    lastCount = w.count
                }
                #expect(error == .bufferTooSmall, "capacity \(cap)")
                #expect(!w.isComplete)
                #expect(Array(w.written) == Array(fullBytes[0..<lastCount]), "capacity \(cap)")
            }
        }
    }

    @Test func failedCallLeavesWriterUsable() throws {
        var storage = [UInt8](repeating: 0, count: 12)
        try storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            try w.beginArray()
            try w.string("abc")
            #expect(caught { () throws(OneM2MError) in try w.string("too long for this") } == .bufferTooSmall)
            #expect(w.count == 6)
            try w.integer(12)
            try w.endArray()
            #expect(String(decoding: w.written, as: UTF8.self) == #"["abc",12]"#)
        }
    }

    @Test func contentClosureMustWriteExactlyOneValue() throws {
        var storage = [UInt8](repeating: 0, count: 128)
        try storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            try w.beginObject()
            #expect(caught { () throws(OneM2MError) in try w.member("pc") { _ throws(OneM2MError) in } } == .invalidWriterState)
            #expect(w.count == 1)
            #expect(caught { () throws(OneM2MError) in
                try w.member("pc") { w throws(OneM2MError) in try w.integer(1); try w.key("x"); try w.integer(2) }
            } == .invalidWriterState)
            #expect(caught { () throws(OneM2MError) in
                try w.member("pc") { w throws(OneM2MError) in try w.endObject() }
            } == .invalidWriterState)
            #expect(w.count == 1)
            try w.member("pc") { w throws(OneM2MError) in
                try w.beginObject(); try w.member("m2m:cin") { w throws(OneM2MError) in
                    try w.beginObject(); try w.member("con", "v"); try w.endObject()
                }; try w.endObject()
            }
            try w.endObject()
            #expect(String(decoding: w.written, as: UTF8.self) == #"{"pc":{"m2m:cin":{"con":"v"}}}"#)
        }
    }

    @Test func rawJSONIsValidated() throws {
        for bad in ["", "{", "[1,]", "01", "{} {}", "\"a"] {
            var storage = [UInt8](repeating: 0, count: 64)
            let e = withBytes(bad) { raw in
                storage.withUnsafeMutableBytes { b in
                    caught { () throws(OneM2MError) in
                        var w = JSONWriter(buffer: b)
                        try w.rawJSON(raw)
                    }
                }
            }
            guard case .malformedJSON = e else { Issue.record("\(bad): \(String(describing: e))"); continue }
        }
        let ok = try withBytes(#" {"a" : [1, 2]} "#) { raw in try render { w in try w.beginArray(); try w.rawJSON(raw); try w.endArray() } }
        #expect(ok == #"[ {"a" : [1, 2]} ]"#)
    }

    @Test func resetStartsOver() throws {
        var storage = [UInt8](repeating: 0, count: 32)
        try storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            try w.integer(1)
            w.reset()
            try w.string("x")
            #expect(String(decoding: w.written, as: UTF8.self) == #""x""#)
        }
    }
}

@Suite struct JSONTemplateTests {
    #if (arch(x86_64) || arch(arm64))
    /// The one-argument fill's check: the first `%` and whether it is the only one, for templates
    /// of 0-80 bytes (the 64-bit mask covers 16-64) with none, one, or two at every position.
    @Test func onlyPlaceholderFindsTheFirstAndCountsOne() {
        var storage = [UInt8](repeating: 0, count: 8)
        storage.withUnsafeMutableBytes { buf in
            let w = JSONWriter(buffer: buf)
            for n in 0...80 {
                let plain = (0..<n).map { [UInt8(ascii: "$"), UInt8(ascii: "&"), 0xA5, UInt8(ascii: "a")][$0 % 4] }
                for k in -1..<n {
                    for k2 in -1..<n where k2 == -1 || k2 > k {
                        var t = plain
                        if k >= 0 { t[k] = UInt8(ascii: "%") }
                        if k2 >= 0 { t[k2] = UInt8(ascii: "%") }
                        let first = t.firstIndex(of: UInt8(ascii: "%")) ?? n
                        let one = t.filter { $0 == UInt8(ascii: "%") }.count == 1
                        let got = t.withUnsafeBytes { w.onlyPlaceholder(in: $0) }
                        #expect(got.first == first && got.one == one, "% at \(k), \(k2) of \(n)")
                    }
                }
            }
        }
    }
    #endif

    /// The placeholder search reads a word at a time: a `%` at every position, after every
    /// start, with other bytes (`$`, `&`, `%` + 0x80) that differ from it in one bit.
    @Test func placeholderSearchFindsEveryPosition() {
        var storage = [UInt8](repeating: 0, count: 8)
        storage.withUnsafeMutableBytes { buf in
            let w = JSONWriter(buffer: buf)
            for n in 0...40 {
                for k in 0...n {
                    var t = (0..<n).map { [UInt8(ascii: "$"), UInt8(ascii: "&"), 0xA5, UInt8(ascii: "a")][$0 % 4] }
                    if k < n { t[k] = UInt8(ascii: "%") }
                    for i in 0...n {
                        let want = i <= k ? k : n
                        #expect(t.withUnsafeBytes { w.placeholder(in: $0, from: i) } == want, "% at \(k) of \(n) from \(i)")
                    }
                }
            }
        }
    }

    @Test func fillsStringsEscapedInPlace() throws {
        #expect(try render { w in try w.fill(template: #"{"a":%,"b":[%,-42],"c":%}"#, "x\"y", "", "\u{1}") }
            == #"{"a":"x\"y","b":["",-42],"c":"\u0001"}"#)
        #expect(try render { w in try w.fill(template: #"[%,%,%,%]"#, "a", "b", "c") } == #"["a","b","c","c"]"#)
        // As a member value and an array element, with separators placed as for any value.
        #expect(try render { w in
            try w.beginObject()
            try w.member("k", "v")
            try w.key("pc")
            try w.fill(template: ContentTemplate.contentInstance, "21.5")
            try w.endObject()
        } == #"{"k":"v","pc":{"m2m:cin":{"cnf":"text/plain:0","con":"21.5"}}}"#)
        #expect(try render { w in
            try w.beginArray()
            try w.fill(template: "0")
            try w.fill(template: ContentTemplate.empty)
            try w.endArray()
        } == "[0,{}]")
    }

    @Test func nothingIsWrittenWhenItDoesNotFit() throws {
        var storage = [UInt8](repeating: 0, count: 24)
        try storage.withUnsafeMutableBytes { buf in
            var w = JSONWriter(buffer: buf)
            try w.beginArray()
            #expect(throws: OneM2MError.bufferTooSmall) { try w.fill(template: ContentTemplate.container, "a-long-container-name") }
            #expect(w.count == 1)
            try w.fill(template: ContentTemplate.container, "c")
            try w.endArray()
            #expect(String(decoding: w.written, as: UTF8.self) == #"[{"m2m:cnt":{"rn":"c"}}]"#)
        }
        // Not after a key-less position in an object.
        #expect(throws: OneM2MError.invalidWriterState) { _ = try render { w in try w.beginObject(); try w.fill(template: "1") } }
    }

    #if (arch(x86_64) || arch(arm64))
    @Test func copyRawCopiesEveryLengthExactly() {
        // Every length through the move sizes (1-3, 4-7, 8-16, 17-64, longer), at offsets that
        // leave the destination's bytes around the copy to check.
        for n in 0...100 {
            let src = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
            var dst = [UInt8](repeating: 0xEE, count: n + 6)
            src.withUnsafeBytes { s in
                dst.withUnsafeMutableBytes { d in
                    copyRaw(d.baseAddress! + 3, s.baseAddress ?? UnsafeRawPointer(d.baseAddress!), n)
                }
            }
            #expect(Array(dst[3..<(3 + n)]) == src, "length \(n)")
            #expect(dst[0..<3].allSatisfy { $0 == 0xEE } && dst[(3 + n)...].allSatisfy { $0 == 0xEE }, "length \(n)")
        }
    }
    #endif

    @Test func fillFitsExactlyOrLeavesTheWriterAsItWas() throws {
        // Plain arguments of many lengths, escaped ones, and escaped contents of a document:
        // at every capacity the template is written whole or not at all.
        func quoted(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\u{1}": out += "\\u0001"
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }
        var args = (0...40).map { String(repeating: "x", count: $0) }
        args += ["x\"y", "\\", "\u{1}", "é€𝄞"]
        // As the first element of an array (no comma) and after one (a comma), with one argument
        // and with all three.
        for (a, (afterOne, three)) in args.flatMap({ a in [(false, false), (true, false), (false, true), (true, true)].map { (a, $0) } }) {
            let start = afterOne ? "[1," : "["
            for capacity in 0...(a.utf8.count * 2 + 60) {
                var storage = [UInt8](repeating: 0, count: capacity)
                let want = start + #"{"m2m:cin":{"cnf":"text/plain:0","con":"# + quoted(a) + "}}"
                let bytes = Array(a.utf8)
                try storage.withUnsafeMutableBytes { buf in
                    var w = JSONWriter(buffer: buf)
                    guard capacity >= start.utf8.count else { return }
                    try w.beginArray()
                    if afterOne { try w.integer(1) }
                    let before = w.count
                    do {
                        try bytes.withUnsafeBytes { b in
                            if three {
                                try w.fill(template: ContentTemplate.contentInstance, ByteString(b), .empty, .empty)
                            } else {
                                try w.fill(template: ContentTemplate.contentInstance, ByteString(b))
                            }
                        }
                        #expect(String(decoding: w.written, as: UTF8.self) == want, "\(a) in \(capacity)")
                    } catch OneM2MError.bufferTooSmall {
                        #expect(w.count == before && capacity < want.utf8.count, "\(a) in \(capacity)")
                        if capacity > w.count { try w.endArray() }  // the writer carries on
                    }
                }
            }
        }
        // A document's escaped text is copied as it is, before and after a literal run.
        let doc = Array(#"["a\"b\u0041"]"#.utf8)
        let out = try doc.withUnsafeBytes { raw in
            let text = try JSONDocument(validating: raw).root[0]!.text!
            return try render { w in try w.fill(template: #"[%,"-",%]"#, text, text) }
        }
        #expect(out == #"["a\"b\u0041","-","a\"b\u0041"]"#)
    }

    @Test func oneArgumentFillWritesWhatTheGeneralFormWrites() throws {
        // The one-argument form (one placeholder and a plain text in one pass on hosts) against
        // the general form with the defaults spelled out, for every SDK template (0-3
        // placeholders) and plain, escaped, empty and long texts, as the root and in an array.
        let all: [StaticString] = [
            ContentTemplate.contentInstance, ContentTemplate.namedContentInstance, ContentTemplate.container,
            ContentTemplate.ae, ContentTemplate.aeWithPointOfAccess, ContentTemplate.subscription, ContentTemplate.empty,
            "%", "[%]", "[%,%]", "0",
        ]
        let texts = ["21.5", "", "x\"y", "\u{1}", "é", String(repeating: "a", count: 70)]
        for t in all {
            for text in texts {
                let bytes = Array(text.utf8)
                let one = try bytes.withUnsafeBytes { b in try render { w in try w.fill(template: t, ByteString(b)) } }
                let general = try bytes.withUnsafeBytes { b in
                    try render { w in try w.fill(template: t, ByteString(b), .empty, .empty) }
                }
                #expect(one == general, "\(t) with \(text)")
                let inArray = try bytes.withUnsafeBytes { b in
                    try render { w in try w.beginArray(); try w.integer(1); try w.fill(template: t, ByteString(b)); try w.endArray() }
                }
                #expect(inArray == "[1," + general + "]", "\(t) with \(text)")
            }
        }
        #expect(try render { w in try w.fill(template: "[%,%]", "a") } == #"["a",""]"#)
        #expect(throws: OneM2MError.invalidWriterState) { _ = try render { w in try w.beginObject(); try w.fill(template: "%", "a") } }
    }

    @Test func everySDKTemplateIsJSONOnceFilled() throws {
        let all: [StaticString] = [
            ContentTemplate.contentInstance, ContentTemplate.namedContentInstance, ContentTemplate.container,
            ContentTemplate.ae, ContentTemplate.aeWithPointOfAccess, ContentTemplate.subscription, ContentTemplate.empty,
        ]
        for t in all {
            let out = try render { w in try w.fill(template: t, "a\\b", "c", "d") }
            try withBytes(out) { raw in _ = try JSONDocument(validating: raw) }
        }
    }
}
