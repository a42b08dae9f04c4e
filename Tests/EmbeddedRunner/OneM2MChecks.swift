import OneM2M

// ACME payloads (shared/peers/FINDINGS.md), verbatim.
let acmeRegistrationResponse: StaticString = #"{"fr": "/id-in", "to": "Csmokef66c1e96", "ot": "20261121T230105,177134", "rsc": 2001, "rqi": "smoke-224b7645e3", "rvi": "3", "drt": 1, "pc": {"m2m:ae": {"rn": "smoke-f66c1e96", "api": "Nsmoke.ae1", "rr": true, "srv": ["3"], "pi": "id-in", "ri": "Csmokef66c1e96", "ty": 2, "aei": "Csmokef66c1e96"}}}"#
let acmeVerificationRequest: StaticString = #"{"fr": "/id-in", "to": "Csmokef66c1e96rx", "ot": "20261121T230106,059428", "op": 5, "rqi": "e4IcqfLSSE", "rvi": "3", "drt": 1, "pc": {"m2m:sgn": {"vrq": true, "sur": "/id-in/sub3JJ8CHzxji", "cr": "Csmokef66c1e96"}}}"#
let acmeNotify: StaticString = #"{"fr": "/id-in", "to": "Crx", "op": 5, "rqi": "3v4pdJduzn", "rvi": "3", "pc": {"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "hello-2", "ty": 4}}}, "sur": "/id-in/sub3JJ8CHzxji"}}}"#

/// Runs a JSON writer over a scratch buffer; the text written, or nil on error.
func rendered(_ body: (inout JSONWriter) throws(OneM2MError) -> Void) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 1024)
    let n: Int? = buffer.withUnsafeMutableBytes { raw in
        var w = JSONWriter(buffer: raw)
        do throws(OneM2MError) { try body(&w); return w.count } catch { return nil }
    }
    guard let n else { return nil }
    return Array(buffer[0..<n])
}

func writes(_ body: (UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 256)
    let n: Int? = buffer.withUnsafeMutableBytes { raw in
        do throws(OneM2MError) { return try body(raw) } catch { return nil }
    }
    guard let n else { return nil }
    return Array(buffer[0..<n])
}

func oneM2MError(_ body: () throws(OneM2MError) -> Void) -> OneM2MError? {
    do throws(OneM2MError) { try body(); return nil } catch { return error }
}

/// Every one-byte replacement (by bytes that matter to JSON) and every prefix of ACME's
/// response and NOTIFY, decoded and read as an AE would: a trap would end the runner, so this
/// checks that Embedded builds' own reader paths (numbers, member lookup) stay in bounds.
/// True when the originals decode and some mutations still do (the loop ran for real).
func mutatedPrimitivesNeverTrap() -> Bool {
    let replacements: [UInt8] = [0x7B, 0x7D, 0x5B, 0x5D, 0x22, 0x5C, 0x30, 0x2D, 0x2E, 0x65, 0x3A, 0x2C, 0x20, 0x6E, 0x80, 0x00]
    var decoded = 0, total = 0
    for doc in [acmeRegistrationResponse, acmeNotify] {
        let original = withLiteral(doc) { raw in Array(raw) }
        var variants: [[UInt8]] = (0..<original.count).map { Array(original[0..<$0]) }
        for i in 0..<original.count {
            for r in replacements where r != original[i] {
                var m = original
                m[i] = r
                variants.append(m)
            }
        }
        for v in variants {
            total += 1
            v.withUnsafeBytes { raw in
                if let r = try? ResponsePrimitiveView(decoding: raw) {
                    decoded += 1
                    _ = r.content?["m2m:ae"]?["ri"]?.text
                    _ = try? r.content?["m2m:ae"]?["ty"]?.integer()
                    _ = r.from; _ = r.to; _ = r.releaseVersion; _ = try? r.originatingTimestamp
                }
                if let q = try? RequestPrimitiveView(decoding: raw) {
                    decoded += 1
                    _ = q.notification?.eventRepresentation?["m2m:cin"]?["con"]?.text
                    _ = q.notification?.eventType
                }
            }
        }
    }
    let originals = withLiteral(acmeRegistrationResponse) { raw in (try? ResponsePrimitiveView(decoding: raw)) != nil }
        && withLiteral(acmeNotify) { raw in (try? RequestPrimitiveView(decoding: raw)) != nil }
    return originals && decoded > 0 && decoded < total
}

/// oneM2M TS-0010 sans-I/O: primitives to and from JSON, topics, timestamps, pointOfAccess.
func oneM2MChecks(_ c: inout Checks) {
    c.group = "onem2m"

    // Request primitive, byte-exact (CREATE <contentInstance>).
    let cin = rendered { (w) throws(OneM2MError) in
        let req = RequestPrimitive(operation: .create, to: "cse-in/ae1/cnt", from: "Cae1", requestIdentifier: "req-0001",
                                   resourceType: .contentInstance, originatingTimestamp: 1_795_302_065_177_134,
                                   requestExpiration: .relative(milliseconds: 10_000))
        try req.encode(into: &w) { (w) throws(OneM2MError) in
            try w.beginObject()
            try w.member("m2m:cin") { (w) throws(OneM2MError) in
                try w.beginObject()
                try w.member("cnf", "text/plain:0")
                try w.member("con", "21.5")
                try w.endObject()
            }
            try w.endObject()
        }
    }
    c.expect(cin == bytes(#"{"op":1,"to":"cse-in/ae1/cnt","fr":"Cae1","rqi":"req-0001","rvi":"3","ty":4,"ot":"20261121T230105,177134","rqet":"10000","pc":{"m2m:cin":{"cnf":"text/plain:0","con":"21.5"}}}"#),
             "CREATE contentInstance request encodes byte-exact")
    // String values as `measure` sizes them (Embedded builds: one escaped-length scan): plain
    // ASCII, a quote, a backslash, control bytes, valid UTF-8 (copied as it is), text still
    // escaped from a document (copied as it is), and invalid UTF-8 (refused, nothing written).
    let strings = rendered { (w) throws(OneM2MError) in
        try w.beginArray()
        try w.string("plain")
        try w.string("q\"b\\s")
        try w.string("\u{1}\n\t")
        try w.string("caf\u{E9} \u{20AC} \u{1F600}")
        let nonASCII = hex("C3 A9 E2 82 AC")
        let failure: OneM2MError? = nonASCII.withUnsafeBytes { raw in
            do throws(OneM2MError) { try w.string(ByteString(raw)); return nil } catch { return error }
        }
        if let failure { throw failure }
        try withLiteral(#"["a\u0062\"c"]"#) { (raw) throws(OneM2MError) in
            let doc = try JSONDocument(validating: raw)
            if let t = doc.root[0]?.text { try w.string(t) }
        }
        try w.endArray()
    }
    var expected = bytes(#"["plain","q\"b\\s","\u0001\n\t","caf"#)
    expected += hex("C3 A9 20 E2 82 AC 20 F0 9F 98 80") + bytes(#"",""#) + hex("C3 A9 E2 82 AC") + bytes(#"","a\u0062\"c"]"#)
    c.expect(strings == expected, "string values: escapes, control bytes, UTF-8 and escaped document text byte-exact")
    c.expect(oneM2MError { () throws(OneM2MError) in
        var raw = [UInt8](repeating: 0, count: 64)
        let invalid = hex("61 C0 AF")
        let r: OneM2MError? = raw.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            return invalid.withUnsafeBytes { i in
                do throws(OneM2MError) { try w.string(ByteString(i)); return nil } catch { return w.count == 0 ? error : nil }
            }
        }
        if let r { throw r }
    } == .invalidUTF8Input, "invalid UTF-8 in a string value is refused, nothing written")
    let retrieve = rendered { (w) throws(OneM2MError) in
        try RequestPrimitive(operation: .retrieve, to: "cse-in/a\"b", from: nil, requestIdentifier: "r\\1", resultContent: .attributes).encode(into: &w)
    }
    c.expect(retrieve == bytes(#"{"op":2,"to":"cse-in/a\"b","rqi":"r\\1","rvi":"3","rcn":1}"#),
             "RETRIEVE without fr or ty, with escapes, encodes byte-exact")
    c.expect(oneM2MError { () throws(OneM2MError) in
        var raw = [UInt8](repeating: 0, count: 64)
        let r: OneM2MError? = raw.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            return oneM2MError { () throws(OneM2MError) in
                try RequestPrimitive(operation: .create, to: "cse-in", from: "C", requestIdentifier: "1").encode(into: &w)
            }
        }
        if let r { throw r }
    } == .missingParameter(.resourceType), "CREATE without ty is refused")

    // Response primitive, byte-exact (answer to a verification request), with escaping.
    let answer = rendered { (w) throws(OneM2MError) in
        try ResponsePrimitive(statusCode: .ok, requestIdentifier: "a\"b", from: "Cae", to: "/id-in").encode(into: &w)
    }
    c.expect(answer == bytes(#"{"rsc":2000,"rqi":"a\"b","rvi":"3","fr":"Cae","to":"/id-in"}"#), "response primitive encodes with escapes")

    // Decoding ACME's primitives.
    c.expect(withLiteral(acmeRegistrationResponse) { raw in
        guard let r = try? ResponsePrimitiveView(decoding: raw) else { return false }
        return r.statusCode == .created && r.requestIdentifier == "smoke-224b7645e3" && r.from == "/id-in"
            && r.content?["m2m:ae"]?["aei"]?.text == "Csmokef66c1e96" && (try? r.originatingTimestamp) == 1_795_302_065_177_134
    }, "ACME registration response decodes (rsc, rqi, aei, ot)")
    c.expect(withLiteral(acmeVerificationRequest) { raw in
        guard let r = try? RequestPrimitiveView(decoding: raw) else { return false }
        return r.operation == .notify && r.requestIdentifier == "e4IcqfLSSE" && r.notification?.isVerificationRequest == true
            && r.notification?.creator == "Csmokef66c1e96"
    }, "ACME verification request decodes as vrq NOTIFY")
    c.expect(withLiteral(acmeNotify) { raw in
        guard let r = try? RequestPrimitiveView(decoding: raw), let n = r.notification else { return false }
        return !n.isVerificationRequest && n.eventType == 3 && n.eventRepresentation?["m2m:cin"]?["con"]?.text == "hello-2"
    }, "ACME notification decodes (net 3, rep con)")
    c.expect(withLiteral(#"{"rsc":2000,"rqi":"x""#) { raw in (try? ResponsePrimitiveView(decoding: raw)) == nil }, "truncated JSON is rejected")
    c.expect(withLiteral(#"{"to":"x","rqi":"1","rvi":"3"}"#) { raw in
        oneM2MError { () throws(OneM2MError) in _ = try RequestPrimitiveView(decoding: raw) } == .missingParameter(.operation)
    }, "request primitive without op is a typed error")

    // JSON reader: escapes compared on unescaped bytes; nesting; integers.
    c.expect(withLiteral(#"{"k":"x\u0062\n","n":[1,-20,{"d":true}]}"#) { raw in
        guard let d = try? JSONDocument(validating: raw) else { return false }
        return d.root["k"]?.text == "xb\n" && (try? d.root["n"]?[1]?.integer()) == -20 && (try? d.root["n"]?[2]?["d"]?.bool()) == true
            && d.root["n"]?.count == 3
    }, "JSON reader: escapes, arrays, integers, booleans")
    // Embedded builds parse every integer with parseInteger and step over every member value
    // with skipValue in member(named:): both checked here, where those paths run.
    c.expect(withLiteral(#"{"a":-1.5e3,"b":[1,{"x":"}"}],"c":{"d":null},"e":true,"f":"q\"","g":false,"h":"12","i":0,"j":-9223372036854775808}"#) { raw in
        guard let d = try? JSONDocument(validating: raw) else { return false }
        let o = d.root
        return (try? o["i"]?.integer()) == 0 && (try? o["j"]?.integer()) == Int64.min
            && oneM2MError { () throws(OneM2MError) in _ = try o["a"]?.integer() } == .notAnInteger
            && oneM2MError { () throws(OneM2MError) in _ = try o["h"]?.integer() } == .typeMismatch(expected: .number)
            && (try? o["h"]?.integerOrNumericString()) == 12
            && o["g"]?.kind == .bool && o["f"]?.text == "q\"" && o["c"]?["d"]?.isNull == true && o["zz"] == nil
    }, "JSON reader: integers and member lookup past every kind of value")
    c.expect(withLiteral(#"[9223372036854775808,-9223372036854775809,12345678901234567890123]"#) { raw in
        guard let d = try? JSONDocument(validating: raw) else { return false }
        return oneM2MError { () throws(OneM2MError) in _ = try d.root[0]?.integer() } == .integerOutOfRange
            && oneM2MError { () throws(OneM2MError) in _ = try d.root[1]?.integer() } == .integerOutOfRange
            && oneM2MError { () throws(OneM2MError) in _ = try d.root[2]?.integer() } == .integerOutOfRange
    }, "JSON reader: integers beyond 64 bits are a typed error")
    c.expect(withLiteral(#"[{"a":[{}],"b":{"c":[[],{}]}},[{"d":[]}]]"#) { raw in (try? JSONDocument(validating: raw)) != nil }
        && withLiteral(#"[{"a":[{}],"b":{"c":[[],{}}}},[{"d":[]}]]"#) { raw in (try? JSONDocument(validating: raw)) == nil },
        "JSON reader: mixed nesting, and a closer of the wrong kind")
    c.expect(mutatedPrimitivesNeverTrap(), "JSON reader: every one-byte change and cut of ACME primitives decodes or fails with a typed error")
    c.expect(withLiteral(#"{"a":1,}"#) { raw in (try? JSONDocument(validating: raw)) == nil }, "JSON reader rejects a trailing comma")
    c.expect(withLiteral("[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]") { raw in (try? JSONDocument(validating: raw)) == nil }, "JSON reader enforces its depth limit")

    // Topics (TS-0010 6.4).
    let req = writes { (b) throws(OneM2MError) in try OneM2MTopic.write(kind: .request, originator: "Cae1", receiver: "/id-in", serialization: .json, into: b) }
    c.expect(req == bytes("/oneM2M/req/Cae1/id-in/json"), "request topic: leading / dropped, /json suffix")
    c.expect(writes { (b) throws(OneM2MError) in try OneM2MTopic.writeTopicLevel(id: "//sp/cse/ae", into: b) } == bytes(":sp:cse:ae"), "SP-relative ID becomes :sp:cse:ae")
    c.expect(writes { (b) throws(OneM2MError) in
        try OneM2MTopic.writeFilter(kind: .request, originator: nil, receiver: "Cae1", suffix: .anyLevels, into: b)
    } == bytes("/oneM2M/req/+/Cae1/#"), "request subscription filter req/+/<me>/#")
    c.expect(withLiteral("/oneM2M/req/id-in/Cae1/json") { raw in
        guard let t = try? OneM2MTopic.parse(raw) else { return false }
        let back = writes { (b) throws(OneM2MError) in try t.writeResponseTopic(into: b) }
        return t.kind == .request && same(t.originator, bytes("id-in")) && same(t.receiver, bytes("Cae1")) && t.serialization == .json
            && back == bytes("/oneM2M/resp/id-in/Cae1/json")
    }, "topic parses and yields its response topic")
    c.expect(withLiteral("/oneM2M/req/a/b/c/d") { raw in (try? OneM2MTopic.parse(raw)) == nil }, "topic with too many levels is rejected")

    // Timestamps.
    let ts = writes { (b) throws(OneM2MError) in try OneM2MTimestamp.format(unixMicroseconds: 1_795_302_065_177_134, into: b) }
    c.expect(ts == bytes("20261121T230105,177134"), "timestamp formats with microseconds")
    c.expect((try? OneM2MTimestamp.parse("20261121T230105,177134")) == 1_795_302_065_177_134, "timestamp parses back to the same instant")
    c.expect((try? OneM2MTimestamp.parse("20240229T000000")) == 1_709_164_800_000_000, "leap day 2024-02-29 parses")
    c.expect(oneM2MError { () throws(OneM2MError) in _ = try OneM2MTimestamp.parse("20230229T000000") } == .invalidTimestamp(.day), "2023-02-29 is rejected")
    c.expect(oneM2MError { () throws(OneM2MError) in _ = try OneM2MTimestamp.parse("20230101T240000") } == .invalidTimestamp(.hour), "hour 24 is rejected")
    c.expect((try? RequestExpiration.parse("10000")) == .relative(milliseconds: 10_000), "relative rqet parses")

    // pointOfAccess (TS-0010 6.6).
    c.expect(withLiteral("mqtt://127.0.0.1:1883") { raw in
        guard let p = try? PointOfAccess.parse(raw) else { return false }
        return p.scheme == .mqtt && same(p.host, bytes("127.0.0.1")) && p.port == 1883 && p.hasExplicitPort
    }, "mqtt://127.0.0.1:1883 parses")
    c.expect(withLiteral("mqtts://[::1]") { raw in
        guard let p = try? PointOfAccess.parse(raw) else { return false }
        return p.scheme == .mqtts && same(p.host, bytes("::1")) && p.port == 8883 && p.isIPv6Literal
    }, "mqtts://[::1] gets the default port 8883")
    c.expect(withLiteral("mqtt://host:0") { raw in (try? PointOfAccess.parse(raw)) == nil }, "port 0 is rejected")
}
