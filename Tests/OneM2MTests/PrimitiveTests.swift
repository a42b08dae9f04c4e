import Testing
@_spi(Templates) @testable import OneM2M

// ACME payloads from /work/shared/peers/FINDINGS.md, verbatim.
let acmeRegistrationRequest = #"{"op": 1, "to": "cse-in", "ty": 2, "pc": {"m2m:ae": {"rn": "smoke-f66c1e96", "api": "Nsmoke.ae1", "rr": true, "srv": ["3"], "poa": ["mqtt://127.0.0.1:1883"]}}, "fr": "Csmokef66c1e96", "rqi": "smoke-224b7645e3", "rvi": "3"}"#
let acmeRegistrationResponse = #"{"fr": "/id-in", "to": "Csmokef66c1e96", "ot": "20261121T230105,177134", "rsc": 2001, "rqi": "smoke-224b7645e3", "rvi": "3", "drt": 1, "pc": {"m2m:ae": {"rn": "smoke-f66c1e96", "api": "Nsmoke.ae1", "rr": true, "srv": ["3"], "poa": ["mqtt://127.0.0.1:1883"], "pi": "id-in", "ri": "Csmokef66c1e96", "ty": 2, "aei": "Csmokef66c1e96", "ct": "20261121T230105,172348", "lt": "20261121T230105,172348", "et": "20311120T230105,175123"}}}"#
let acmeVerificationRequest = #"{"fr": "/id-in", "to": "Csmokef66c1e96rx", "ot": "20261121T230106,059428", "op": 5, "rqi": "e4IcqfLSSE", "rvi": "3", "drt": 1, "pc": {"m2m:sgn": {"vrq": true, "sur": "/id-in/sub3JJ8CHzxji", "cr": "Csmokef66c1e96"}}}"#
let acmeVerificationAnswer = #"{"rsc": 2000, "rqi": "e4IcqfLSSE", "rvi": "3", "fr": "Csmokef66c1e96rx", "to": "/id-in"}"#
let acmeNotify = #"{"fr": "/id-in", "to": "Csmokef66c1e96rx", "ot": "20261121T230106,679199", "op": 5, "rqi": "3v4pdJduzn", "rvi": "3", "drt": 1, "pc": {"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "hello-2", "cs": 7, "pi": "cntFLkq3XcuQk", "ri": "cinqhqTC9iYaQ", "rn": "cin_UboiNgS1TM", "ty": 4, "ct": "20261121T230106,648280", "lt": "20261121T230106,648280", "et": "20311120T230105,175123", "st": 3}}}, "sur": "/id-in/sub3JJ8CHzxji"}}}"#
let acmeMalformedAnswer = #"{"fr":"/id-in","to":"/id-in","ot":"20261121T230107,000001","rsc":4000,"drt":1,"pc":{"m2m:dbg":"Malformed request/content? Expecting value"}}"#
let acmeDiscovery = #"{"fr": "/id-in", "to": "Cae", "rsc": 2000, "rqi": "d1", "rvi": "3", "pc": {"m2m:uril": ["cse-in/probe-x/c"]}}"#

func decodeRequest<R>(_ text: String, _ body: (RequestPrimitiveView) throws -> R) throws -> R {
    try withBytes(text) { raw in try body(try RequestPrimitiveView(decoding: raw)) }
}

func decodeResponse<R>(_ text: String, _ body: (ResponsePrimitiveView) throws -> R) throws -> R {
    try withBytes(text) { raw in try body(try ResponsePrimitiveView(decoding: raw)) }
}

func requestError(_ text: String) -> OneM2MError? {
    withBytes(text) { raw in caught { () throws(OneM2MError) in _ = try RequestPrimitiveView(decoding: raw) } }
}

func responseError(_ text: String) -> OneM2MError? {
    withBytes(text) { raw in caught { () throws(OneM2MError) in _ = try ResponsePrimitiveView(decoding: raw) } }
}

@Suite struct PrimitiveEncodingTests {
    @Test func createContentInstanceByteExact() throws {
        let out = try render { w in
            let req = RequestPrimitive(operation: .create, to: "cse-in/ae1/cnt", from: "Cae1", requestIdentifier: "req-0001",
                                       resourceType: .contentInstance, originatingTimestamp: 1_795_302_065_177_134,
                                       requestExpiration: .relative(milliseconds: 10_000))
            try req.encode(into: &w) { w throws(OneM2MError) in
                try w.beginObject()
                try w.member("m2m:cin") { w throws(OneM2MError) in
                    try w.beginObject()
                    try w.member("cnf", "text/plain:0")
                    try w.member("con", "21.5")
                    try w.endObject()
                }
                try w.endObject()
            }
        }
        #expect(out == #"{"op":1,"to":"cse-in/ae1/cnt","fr":"Cae1","rqi":"req-0001","rvi":"3","ty":4,"ot":"20261121T230105,177134","rqet":"10000","pc":{"m2m:cin":{"cnf":"text/plain:0","con":"21.5"}}}"#)
    }

    @Test func registrationWithRawContentMatchesACMEShape() throws {
        let pc = #"{"m2m:ae": {"rn": "smoke-f66c1e96", "api": "Nsmoke.ae1", "rr": true, "srv": ["3"], "poa": ["mqtt://127.0.0.1:1883"]}}"#
        let out = try withBytes(pc) { raw in
            try render { w in
                let req = RequestPrimitive(operation: .create, to: "cse-in", from: "Csmokef66c1e96",
                                           requestIdentifier: "smoke-224b7645e3", resourceType: .ae)
                try req.encode(into: &w, content: raw)
            }
        }
        #expect(out == #"{"op":1,"to":"cse-in","fr":"Csmokef66c1e96","rqi":"smoke-224b7645e3","rvi":"3","ty":2,"pc":"# + pc + "}")
        // And it decodes to the same primitive as ACME's own request.
        try decodeRequest(out) { r in
            try decodeRequest(acmeRegistrationRequest) { a in
                #expect(r.operation == a.operation && r.to == a.to && r.from == a.from)
                #expect(r.requestIdentifier == a.requestIdentifier && r.resourceType == a.resourceType)
                #expect(r.content?["m2m:ae"]?["api"]?.text == a.content?["m2m:ae"]?["api"]?.text)
            }
        }
    }

    @Test func retrieveAndDeleteWithoutContent() throws {
        let get = try render { w in
            try RequestPrimitive(operation: .retrieve, to: "cse-in/ae1/cnt/la", from: "Cae1", requestIdentifier: "r2",
                                 releaseVersion: .r2a, originatingTimestamp: 1_577_836_800_000_000,
                                 requestExpiration: .absolute(unixMicroseconds: 1_577_836_805_250_000),
                                 resultContent: .attributes).encode(into: &w)
        }
        #expect(get == #"{"op":2,"to":"cse-in/ae1/cnt/la","fr":"Cae1","rqi":"r2","rvi":"2a","ot":"20200101T000000","rqet":"20200101T000005,250000","rcn":1}"#)
        let del = try render { w in
            try RequestPrimitive(operation: .delete, to: "cse-in/ae1", from: nil, requestIdentifier: "r3", releaseVersion: .r5).encode(into: &w)
        }
        #expect(del == #"{"op":4,"to":"cse-in/ae1","rqi":"r3","rvi":"5"}"#)
    }

    @Test func resourceTypeOnlyOnCreate() {
        var storage = [UInt8](repeating: 0, count: 256)
        storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            #expect(caught { () throws(OneM2MError) in
                try RequestPrimitive(operation: .create, to: "cse-in", from: "C", requestIdentifier: "1").encode(into: &w)
            } == .missingParameter(.resourceType))
            #expect(caught { () throws(OneM2MError) in
                try RequestPrimitive(operation: .retrieve, to: "cse-in", from: "C", requestIdentifier: "1", resourceType: .ae).encode(into: &w)
            } == .invalidParameter(.resourceType))
            #expect(caught { () throws(OneM2MError) in
                try RequestPrimitive(operation: .retrieve, to: "cse-in", from: "C", requestIdentifier: "1",
                                     requestExpiration: .relative(milliseconds: -1)).encode(into: &w)
            } == .invalidTimestamp(.relative))
            #expect(w.count == 0)
        }
    }

    @Test func extraParametersViaWriteParameters() throws {
        let out = try render { w in
            try w.beginObject()
            try RequestPrimitive(operation: .retrieve, to: "cse-in", from: "Cae1", requestIdentifier: "d1").writeParameters(into: &w)
            try w.member("fc") { w throws(OneM2MError) in
                try w.beginObject(); try w.member("fu", integer: 1)
                try w.key("ty"); try w.beginArray(); try w.integer(ResourceType.container.rawValue); try w.endArray()
                try w.endObject()
            }
            try w.endObject()
        }
        #expect(out == #"{"op":2,"to":"cse-in","fr":"Cae1","rqi":"d1","rvi":"3","fc":{"fu":1,"ty":[3]}}"#)
    }

    /// `writeFixedParameters` (the C API's writer) is `writeParameters` up to `ty` / `to`: the
    /// same bytes for a primitive without `ot`, `rqet` and `rcn`, and none of those when set.
    @Test func fixedParametersArePrefixOfWriteParameters() throws {
        let plain = RequestPrimitive(operation: .create, to: "cse-in/ae", from: "Cae1", requestIdentifier: "q\"1",
                                     resourceType: .contentInstance)
        var full = plain
        full.originatingTimestamp = 1_795_302_065_177_134
        full.requestExpiration = .relative(milliseconds: 5000)
        full.resultContent = .nothing
        let fixedOut = try render { w in try w.beginObject(); try full.writeFixedParameters(into: &w); try w.endObject() }
        let plainOut = try render { w in try w.beginObject(); try plain.writeParameters(into: &w); try w.endObject() }
        let fullOut = try render { w in try w.beginObject(); try full.writeParameters(into: &w); try w.endObject() }
        #expect(fixedOut == #"{"op":1,"to":"cse-in/ae","fr":"Cae1","rqi":"q\"1","rvi":"3","ty":4}"#)
        #expect(plainOut == fixedOut)
        #expect(fullOut == #"{"op":1,"to":"cse-in/ae","fr":"Cae1","rqi":"q\"1","rvi":"3","ty":4,"ot":"20261121T230105,177134","rqet":"5000","rcn":0}"#)
        // The same checks as writeParameters: ty is required on CREATE.
        let noType = RequestPrimitive(operation: .create, to: "cse-in", from: nil, requestIdentifier: "r")
        var storage = [UInt8](repeating: 0, count: 64)
        storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            #expect(caught { () throws(OneM2MError) in
                try w.beginObject(); try noType.writeFixedParameters(into: &w)
            } == .missingParameter(.resourceType))
        }
        var response = ResponsePrimitive(statusCode: .created, requestIdentifier: "x", from: "Cae1", to: "/id-in")
        let responseFixed = try render { w in try w.beginObject(); try response.writeFixedParameters(into: &w); try w.endObject() }
        #expect(responseFixed == (try render { w in try response.encode(into: &w) }))
        response.originatingTimestamp = 0
        let responseFull = try render { w in try response.encode(into: &w) }
        let responseFixedWithOT = try render { w in try w.beginObject(); try response.writeFixedParameters(into: &w); try w.endObject() }
        #expect(responseFull == #"{"rsc":2001,"rqi":"x","rvi":"3","fr":"Cae1","to":"/id-in","ot":"19700101T000000"}"#)
        #expect(responseFixedWithOT == #"{"rsc":2001,"rqi":"x","rvi":"3","fr":"Cae1","to":"/id-in"}"#)
    }

    @Test func verificationAnswerByteExact() throws {
        let out = try render { w in
            try ResponsePrimitive(statusCode: .ok, requestIdentifier: "e4IcqfLSSE", releaseVersion: .r3,
                                  from: "Csmokef66c1e96rx", to: "/id-in").encode(into: &w)
        }
        // ACME's verbatim answer, minus the spaces.
        #expect(out == acmeVerificationAnswer.replacingOccurrences(of: " ", with: ""))
        let withPC = try withBytes(#"{"m2m:dbg":"bad"}"#) { raw in
            try render { w in
                try ResponsePrimitive(statusCode: .badRequest, requestIdentifier: nil, originatingTimestamp: 0).encode(into: &w, content: raw)
            }
        }
        #expect(withPC == #"{"rsc":4000,"rvi":"3","ot":"19700101T000000","pc":{"m2m:dbg":"bad"}}"#)
        let closurePC = try render { w in
            try ResponsePrimitive(statusCode: .created, requestIdentifier: "x").encode(into: &w) { w throws(OneM2MError) in try w.null() }
        }
        #expect(closurePC == #"{"rsc":2001,"rqi":"x","rvi":"3","pc":null}"#)
    }

    @Test func answeringADecodedRequestEchoesItsIdentifiers() throws {
        let request = #"{"op":5,"to":"Cae","fr":"/id-in","rqi":"a\"b\u0063","rvi":"3","pc":{"m2m:sgn":{"vrq":true}}}"#
        let out = try decodeRequest(request) { r in
            try render { w in
                try ResponsePrimitive(statusCode: .ok, requestIdentifier: r.requestIdentifier,
                                      releaseVersion: r.releaseVersion ?? .r3, from: r.to, to: r.from).encode(into: &w)
            }
        }
        #expect(out == #"{"rsc":2000,"rqi":"a\"b\u0063","rvi":"3","fr":"Cae","to":"/id-in"}"#)
    }

    /// The request's parameters are written as one run; members of your own may come before
    /// and after them, inside a wrapper whose value is checked to be exactly one object.
    @Test func parametersFollowMembersOfYourOwn() throws {
        let req = RequestPrimitive(operation: .retrieve, to: "cse-in", from: nil, requestIdentifier: "r1")
        let out = try render { w in
            try w.beginObject()
            try w.member("m2m:rqp") { (w: inout JSONWriter) throws(OneM2MError) in
                try w.beginObject()
                try w.member("fc", integer: 1)
                try req.writeParameters(into: &w)
                try w.member("drt", integer: 2)
                try w.endObject()
            }
            try w.endObject()
        }
        #expect(out == #"{"m2m:rqp":{"fc":1,"op":2,"to":"cse-in","rqi":"r1","rvi":"3","drt":2}}"#)
        // Not inside an object: the run is refused and nothing is written.
        var storage = [UInt8](repeating: 0, count: 64)
        storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            #expect(caught { () throws(OneM2MError) in try req.writeParameters(into: &w) } == .invalidWriterState)
            #expect(w.count == 0)
        }
    }

    @Test func encodingIsAtomicAtEveryCapacity() throws {
        let req = RequestPrimitive(operation: .create, to: "cse-in/ae1/cnt", from: "Cae1", requestIdentifier: "req-0001",
                                   resourceType: .contentInstance, originatingTimestamp: 1_795_302_065_177_134,
                                   requestExpiration: .relative(milliseconds: 5000), resultContent: .nothing)
        func content(_ w: inout JSONWriter) throws(OneM2MError) {
            try w.beginObject(); try w.member("m2m:cin") { w throws(OneM2MError) in
                try w.beginObject(); try w.member("con", "x"); try w.endObject()
            }; try w.endObject()
        }
        let full = try render { w in try req.encode(into: &w, content: content) }
        for cap in 0..<full.utf8.count {
            var storage = [UInt8](repeating: 0, count: cap)
            storage.withUnsafeMutableBytes { b in
                var w = JSONWriter(buffer: b)
                let e = caught { () throws(OneM2MError) in try req.encode(into: &w, content: content) }
                #expect(e == .bufferTooSmall)
                #expect(w.count == 0 && !w.isComplete)
            }
        }
        // A bad raw pc also leaves the writer untouched.
        var storage = [UInt8](repeating: 0, count: 512)
        storage.withUnsafeMutableBytes { b in
            var w = JSONWriter(buffer: b)
            let e = withBytes("{\"a\":}") { raw in caught { () throws(OneM2MError) in try req.encode(into: &w, content: raw) } }
            #expect(e == .malformedJSON(.unexpectedCharacter, offset: 5))
            #expect(w.count == 0)
        }
    }

    @Test func contentThatWritesNoneOrTwoValuesLeavesTheWriterAsItWas() throws {
        let req = RequestPrimitive(operation: .create, to: "cse-in/cnt", from: "Cae1", requestIdentifier: "r1",
                                   resourceType: .contentInstance)
        // No value, two values, an unclosed object, a failing body.
        let errors: [OneM2MError] = [.invalidWriterState, .invalidWriterState, .invalidWriterState, .integerOutOfRange]
        for (shape, error) in errors.enumerated() {
            func body(_ w: inout JSONWriter) throws(OneM2MError) {
                switch shape {
                case 0: break
                case 1: try w.integer(1); try w.integer(2)
                case 2: try w.beginObject()
                default: throw .integerOutOfRange
                }
            }
            let out = try render { w in
                try w.beginArray()
                try w.integer(7)
                let before = w.count
                #expect(caught { () throws(OneM2MError) in try req.encode(into: &w, content: body) } == error)
                #expect(w.count == before && w.depth == 1)
                // The writer carries on as if the call had not happened.
                try req.encode(into: &w) { (w: inout JSONWriter) throws(OneM2MError) in try w.integer(3) }
                try w.endArray()
            }
            #expect(out == #"[7,{"op":1,"to":"cse-in/cnt","fr":"Cae1","rqi":"r1","rvi":"3","ty":4,"pc":3}]"#)
        }
    }
}

@Suite struct PrimitiveDecodingTests {
    @Test func decodesACMERegistrationRequest() throws {
        try decodeRequest(acmeRegistrationRequest) { r in
            #expect(r.operation == .create)
            #expect(r.to == "cse-in")
            #expect(r.from == "Csmokef66c1e96")
            #expect(r.requestIdentifier == "smoke-224b7645e3")
            #expect(r.releaseVersion == .r3)
            #expect(r.resourceType == .ae)
            #expect(r.originatingTimestamp == nil && r.requestExpiration == nil && r.resultContent == nil)
            let ae = try #require(r.content?["m2m:ae"])
            #expect(try ae["rr"]?.bool() == true)
            #expect(ae["srv"]?[0]?.text == "3")
            #expect(ae["poa"]?[0]?.text == "mqtt://127.0.0.1:1883")
        }
    }

    @Test func decodesACMERegistrationResponse() throws {
        try decodeResponse(acmeRegistrationResponse) { r in
            #expect(r.statusCode == .created && r.statusCode.isSuccess && !r.statusCode.isError)
            #expect(r.requestIdentifier == "smoke-224b7645e3")
            #expect(r.releaseVersion == .r3)
            #expect(r.from == "/id-in")
            #expect(r.to == "Csmokef66c1e96")
            #expect(try r.originatingTimestamp == 1_795_302_065_177_134)
            #expect(r.content?["m2m:ae"]?["aei"]?.text == "Csmokef66c1e96")
            let ty = try r.content?["m2m:ae"]?["ty"]?.integer()
            #expect(ty == 2)
            #expect(r.debugMessage == nil)
        }
    }

    @Test func decodesACMEVerificationRequest() throws {
        try decodeRequest(acmeVerificationRequest) { r in
            #expect(r.operation == .notify)
            #expect(r.to == "Csmokef66c1e96rx")
            #expect(r.from == "/id-in")
            #expect(r.requestIdentifier == "e4IcqfLSSE")
            let ot = try parsed("20261121T230106,059428")
            #expect(r.originatingTimestamp == ot)
            let n = try #require(r.notification)
            #expect(n.isVerificationRequest)
            #expect(!n.isSubscriptionDeletion)
            #expect(n.subscriptionReference == "/id-in/sub3JJ8CHzxji")
            #expect(n.creator == "Csmokef66c1e96")
            #expect(n.event == nil && n.eventType == nil)
        }
    }

    @Test func decodesACMENotification() throws {
        try decodeRequest(acmeNotify) { r in
            #expect(r.operation == .notify)
            #expect(r.requestIdentifier == "3v4pdJduzn")
            let n = try #require(r.notification)
            #expect(!n.isVerificationRequest)
            #expect(n.eventType == 3)
            #expect(n.subscriptionReference == "/id-in/sub3JJ8CHzxji")
            let cin = try #require(n.eventRepresentation?["m2m:cin"])
            #expect(cin["con"]?.text == "hello-2")
            #expect(try cin["cs"]?.integer() == 7)
            #expect(try cin["ty"]?.integer() == 4)
        }
    }

    @Test func decodesACMEAnswersIncludingTheMalformedOne() throws {
        try decodeResponse(acmeVerificationAnswer) { r in
            #expect(r.statusCode == .ok && r.requestIdentifier == "e4IcqfLSSE" && r.to == "/id-in")
        }
        try decodeResponse(acmeMalformedAnswer) { r in
            #expect(r.statusCode == .badRequest && r.statusCode.isError)
            #expect(r.requestIdentifier == nil && r.releaseVersionText == nil)
            #expect(r.debugMessage?.string == "Malformed request/content? Expecting value")
        }
        try decodeResponse(acmeDiscovery) { r in
            #expect(r.content?["m2m:uril"]?[0]?.text == "cse-in/probe-x/c")
        }
    }

    @Test func acceptsWrappedPrimitives() throws {
        try decodeRequest(#"{"m2m:rqp": {"op": "2", "to": "cse-in", "fr": "Cae", "rqi": "1", "rvi": "3"}}"#) { r in
            #expect(r.operation == .retrieve && r.to == "cse-in")
        }
        try decodeResponse(#"{"m2m:rsp": {"rsc": "2004", "rqi": "1", "rvi": "4"}}"#) { r in
            #expect(r.statusCode == .updated && r.releaseVersion == .r4)
        }
        #expect(requestError(#"{"m2m:rqp": [1]}"#) == .notAPrimitive)
        #expect(responseError(#"{"m2m:rsp": "x"}"#) == .notAPrimitive)
    }

    @Test func parametersAreFoundByUnescapedNameFirstOneWinning() throws {
        // Names are compared after unescaping; the first of duplicate names counts.
        try decodeResponse(#"{"r\u0073c": 2001, "rqi": "a", "rqi": "b", "\u0072vi": "3", "pc": {"m2m:cin": {"ri": "x"}}, "pc": 1}"#) { r in
            #expect(r.statusCode == .created && r.requestIdentifier == "a" && r.releaseVersion == .r3)
            #expect(r.content?["m2m:cin"]?["ri"]?.text == "x")
        }
        // Longer names that share a prefix with a parameter are not the parameter.
        #expect(responseError(#"{"rscx": 2001, "rs": 1}"#) == .missingParameter(.responseStatusCode))
        // A response wrapper does not wrap a request (and vice versa): the outer object is read.
        #expect(requestError(#"{"m2m:rsp": {"op": 2, "to": "x", "rqi": "1", "rvi": "3"}}"#) == .missingParameter(.operation))
        try decodeResponse(#"{"m2m:rqp": {"rsc": 4000}, "rsc": 2000}"#) { r in #expect(r.statusCode == .ok) }
        // A wrapper inside the wrapped primitive is an ordinary member.
        try decodeRequest(#"{"m2m:rqp": {"m2m:rqp": {}, "op": 2, "to": "x", "rqi": "1", "rvi": "3"}}"#) { r in
            #expect(r.operation == .retrieve)
        }
    }

    /// Top-level names are looked up in `PrimitiveSlots.bucketTable` (one load of the name and
    /// the 8 bytes after its quote): each parameter name gives its slot and nothing else matches,
    /// and every parameter name, plain or escaped, is noted wherever it ends relative to the
    /// buffer's end.
    @Test func parameterNamesAreFoundByTheTable() throws {
        #expect(PrimitiveSlots.bucketTable.utf8CodeUnitCount == 16 * 9)
        let names = ["op", "to", "fr", "rqi", "rvi", "ty", "ot", "rqet", "rcn", "pc", "rsc", "m2m:rqp", "m2m:rsp"]
        func word(_ name: String) -> UInt64 {  // the name and its quote, little-endian
            var w: UInt64 = 0
            for (k, c) in (name + "\"").utf8.enumerated() { w |= UInt64(c) << (8 * UInt64(k)) }
            return w
        }
        for (slot, name) in names.enumerated() {
            #expect(PrimitiveSlots.slot(word: word(name)) == slot, "\(name)")
            #expect(PrimitiveSlots.slot(word: word(name + "x")) == nil)
        }
        for other in ["", "x", "o", "rq", "m2m:cin", "pc2"] { #expect(PrimitiveSlots.slot(word: word(other)) == nil, "\(other)") }
        for (slot, name) in names.enumerated() {
            for spelled in [name, "\\u00" + String(name.utf8.first!, radix: 16) + name.dropFirst(), name + "x", String(name.dropLast())] {
                for pad in 0..<10 {
                    let text = "{\"x\": 1, \"\(spelled)\": 7\(String(repeating: " ", count: pad))}"
                    try withBytes(text) { raw in
                        let doc = try JSONDocument(validating: raw)
                        let found = doc.slots.start(slot)
                        let expected = spelled.hasSuffix("x") || spelled.count < name.count ? 0 : text.utf8.count - pad - 1
                        #expect(found == expected, "\(text)")
                    }
                }
            }
        }
    }

    @Test func lenientNumbersAndStrictParameters() throws {
        try decodeRequest(#"{"op":"1","to":"x","rqi":"1","rvi":"3","ty":"4","rcn":"0","rqet":"5000","fr":null}"#) { r in
            #expect(r.operation == .create && r.resourceType == .contentInstance && r.resultContent == .nothing)
            #expect(r.requestExpiration == .relative(milliseconds: 5000))
            #expect(r.from == nil)
        }
        try decodeRequest(#"{"op":2,"to":"x","rqi":"1","rvi":3,"rqet":5000,"unknown":{"a":[1]}}"#) { r in
            #expect(r.releaseVersion == .r3)
            #expect(r.requestExpiration == .relative(milliseconds: 5000))
        }
        try decodeRequest(#"{"op":2,"to":"x","rqi":"1","rvi":"6"}"#) { r in
            #expect(r.releaseVersion == nil && r.releaseVersionText == "6")
        }
        try decodeRequest(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rqet":"20200101T000000"}"#) { r in
            #expect(r.requestExpiration == .absolute(unixMicroseconds: 1_577_836_800_000_000))
            // TS-0010 6.4.3: a request whose rqet has passed.
            #expect(r.hasExpired(now: 1_795_302_065_000_000, receivedAt: 1_795_302_065_000_000))
        }
        try decodeRequest(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rqet":"5000"}"#) { r in
            #expect(!r.hasExpired(now: 5_000_000, receivedAt: 1_000_000))
            #expect(r.hasExpired(now: 6_000_001, receivedAt: 1_000_000))
        }
        try decodeRequest(#"{"op":2,"to":"x","rqi":"1","rvi":"3"}"#) { r in
            #expect(!r.hasExpired(now: Int64.max, receivedAt: 0))
            #expect(r.notification == nil)
        }

        #expect(requestError(#"{"to":"x","rqi":"1","rvi":"3"}"#) == .missingParameter(.operation))
        #expect(requestError(#"{"op":null,"to":"x","rqi":"1","rvi":"3"}"#) == .missingParameter(.operation))
        #expect(requestError(#"{"op":2,"rqi":"1","rvi":"3"}"#) == .missingParameter(.to))
        #expect(requestError(#"{"op":2,"to":"x","rvi":"3"}"#) == .missingParameter(.requestIdentifier))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1"}"#) == .missingParameter(.releaseVersion))
        #expect(requestError(#"{"op":9,"to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":0,"to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":1.0,"to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":"two","to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":256,"to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":2,"to":7,"rqi":"1","rvi":"3"}"#) == .invalidParameter(.to))
        #expect(requestError(#"{"op":2,"to":"","rqi":"1","rvi":"3"}"#) == .invalidParameter(.to))
        #expect(requestError(#"{"op":2,"to":"x","rqi":1,"rvi":"3"}"#) == .invalidParameter(.requestIdentifier))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":true}"#) == .invalidParameter(.releaseVersion))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","fr":5}"#) == .invalidParameter(.from))
        #expect(requestError(#"{"op":1,"to":"x","rqi":"1","rvi":"3","ty":70000}"#) == .invalidParameter(.resourceType))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","ot":"2020"}"#) == .invalidParameter(.originatingTimestamp))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rqet":"soon"}"#) == .invalidParameter(.requestExpiration))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rqet":-5}"#) == .invalidParameter(.requestExpiration))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rqet":[]}"#) == .invalidParameter(.requestExpiration))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rcn":-1}"#) == .invalidParameter(.resultContent))
        // The 0...UInt8.max / 0...UInt16.max bounds of op, ty, rcn and rsc (numbers and numeric strings).
        #expect(requestError(#"{"op":-1,"to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":"258","to":"x","rqi":"1","rvi":"3"}"#) == .invalidParameter(.operation))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","ty":-1}"#) == .invalidParameter(.resourceType))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","ty":65536}"#) == .invalidParameter(.resourceType))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","rcn":257}"#) == .invalidParameter(.resultContent))
        #expect(requestError(#"{"op":2,"to":"x","rqi":"1","rvi":"3","ty":65535}"#) == nil)
        #expect(responseError(#"{"rsc":65536,"rqi":"1"}"#) == .invalidParameter(.responseStatusCode))
        #expect(responseError(#"{"rsc":-2000,"rqi":"1"}"#) == .invalidParameter(.responseStatusCode))
        #expect(responseError(#"{"rsc":"2001","rqi":"1"}"#) == nil)
        #expect(requestError("[1,2]") == .notAPrimitive)
        #expect(requestError("\"x\"") == .notAPrimitive)
        #expect(requestError("") == .malformedJSON(.unexpectedEnd, offset: 0))
        #expect(requestError(#"{"op":2,"#) == .malformedJSON(.unexpectedEnd, offset: 8))

        #expect(responseError(#"{"rqi":"1"}"#) == .missingParameter(.responseStatusCode))
        #expect(responseError(#"{"rsc":"ok","rqi":"1"}"#) == .invalidParameter(.responseStatusCode))
        #expect(responseError(#"{"rsc":70000}"#) == .invalidParameter(.responseStatusCode))
        #expect(responseError(#"{"rsc":2000,"rqi":[]}"#) == .invalidParameter(.requestIdentifier))
        #expect(responseError(#"{"rsc":2000,"ot":5}"#) == .invalidParameter(.originatingTimestamp))
        #expect(responseError(#"{"rsc":2000,"fr":5}"#) == .invalidParameter(.from))
        #expect(responseError(#"{"rsc":2000,"to":{}}"#) == .invalidParameter(.to))
        #expect(responseError(#"{"rsc":2000,"rvi":[]}"#) == .invalidParameter(.releaseVersion))
    }

    /// `fr`, `to`, `rvi` and `ot` are checked for their kind when a response is decoded and
    /// read in place when asked for (escapes decoded; `rvi` also as a bare number).
    @Test func responseTextsAreReadWhenAskedFor() throws {
        try withBytes(#"{"rsc":2001,"rqi":"q","rvi":3,"fr":"\/id-in","to":"Cae","ot":"20200101T000000"}"#) { raw throws in
            let r = try ResponsePrimitiveView(decoding: raw)
            #expect(r.releaseVersionText == "3" && r.releaseVersion == .r3)
            #expect(r.from == "/id-in" && r.to == "Cae" && r.originatingTimestampText == "20200101T000000")
            #expect(try r.originatingTimestamp == 1_577_836_800_000_000)
        }
        try withBytes(#"{"rsc":2001}"#) { raw throws in
            let r = try ResponsePrimitiveView(decoding: raw)
            #expect(r.releaseVersionText == nil && r.from == nil && r.to == nil && r.originatingTimestampText == nil)
        }
    }

    /// A malformed `ot` does not cost the response: it decodes (and completes its request);
    /// reading `originatingTimestamp` reports the error.
    @Test func responseTimestampIsParsedWhenRead() throws {
        try withBytes(#"{"rsc":2000,"rqi":"1","ot":"x"}"#) { raw throws in
            let r = try ResponsePrimitiveView(decoding: raw)
            #expect(r.statusCode == .ok && r.requestIdentifier == "1" && r.originatingTimestampText == "x")
            #expect(caught { () throws(OneM2MError) in _ = try r.originatingTimestamp } == .invalidParameter(.originatingTimestamp))
        }
        try withBytes(#"{"rsc":2000}"#) { raw throws in
            #expect(try ResponsePrimitiveView(decoding: raw).originatingTimestamp == nil)
        }
    }

    @Test func salvagesRequestIdentifierForErrorAnswers() {
        func salvage(_ t: String) -> String? {
            withBytes(t) { raw in RequestPrimitiveView.salvageRequestIdentifier(from: raw)?.string }
        }
        #expect(salvage(#"{"op":9,"to":"x","rqi":"abc","rvi":"3"}"#) == "abc")
        #expect(salvage(#"{"m2m:rqp":{"op":9,"rqi":"w"}}"#) == "w")
        #expect(salvage(#"{"op":9,"to":"x"}"#) == nil)
        #expect(salvage(#"{"op":9,"#) == nil)
    }

    @Test func notificationHelpers() throws {
        try withBytes(#"{"m2m:sgn":{"sud":true,"sur":"s","nev":{"net":"2"}}}"#) { raw in
            let doc = try JSONDocument(validating: raw)
            let n = try NotificationView(content: doc.root)
            #expect(n.isSubscriptionDeletion && !n.isVerificationRequest && n.eventType == 2 && n.eventRepresentation == nil)
        }
        try withBytes(#"{"m2m:cin":{}}"#) { raw in
            let doc = try JSONDocument(validating: raw)
            #expect(throws: OneM2MError.notANotification) { try NotificationView(content: doc.root) }
        }
        try withBytes(#"{"m2m:sgn":{"vrq":"true"}}"#) { raw in
            let doc = try JSONDocument(validating: raw)
            #expect(!(try NotificationView(content: doc.root).isVerificationRequest))
        }
    }

    @Test func truncatedACMEPayloadsNeverTrap() {
        for doc in [acmeRegistrationRequest, acmeVerificationRequest, acmeNotify] {
            let bytes = Array(doc.utf8)
            for n in 0..<bytes.count {
                let e = withBytes(Array(bytes[0..<n])) { raw in caught { () throws(OneM2MError) in _ = try RequestPrimitiveView(decoding: raw) } }
                guard case .malformedJSON = e else { Issue.record("prefix \(n): \(String(describing: e))"); continue }
            }
        }
    }

    @Test func mutatedPayloadsNeverTrap() {
        var rng = SplitMix64(seed: 2010)
        let alphabet: [UInt8] = Array(#"{}[]":,\-+.0123456789eEtrufalsn "#.utf8) + [0x00, 0x80, 0xFF]
        let sources = [acmeRegistrationRequest, acmeRegistrationResponse, acmeVerificationRequest, acmeNotify, acmeMalformedAnswer]
        var decoded = 0
        for round in 0..<5000 {
            var bytes = Array(sources[round % sources.count].utf8)
            let i = rng.below(bytes.count)
            switch rng.below(3) {
            case 0: bytes[i] = alphabet[rng.below(alphabet.count)]
            case 1: bytes.remove(at: i)
            default: bytes.insert(alphabet[rng.below(alphabet.count)], at: i)
            }
            bytes.withUnsafeBytes { raw in
                if let r = try? RequestPrimitiveView(decoding: raw) {
                    decoded += 1
                    _ = r.notification?.eventRepresentation?["m2m:cin"]?["con"]?.text?.count
                    _ = r.notification?.eventType
                    _ = r.hasExpired(now: 0, receivedAt: 0)
                }
                if let r = try? ResponsePrimitiveView(decoding: raw) {
                    decoded += 1
                    _ = r.debugMessage?.count
                    _ = r.content.map(walk)
                }
                _ = RequestPrimitiveView.salvageRequestIdentifier(from: raw)
            }
        }
        #expect(decoded > 500)
    }

    @Test func statusCodes() {
        #expect(ResponseStatusCode.accepted.isAcknowledgement && !ResponseStatusCode.accepted.isSuccess)
        #expect(ResponseStatusCode.deleted.isSuccess && ResponseStatusCode.updated.isSuccess)
        #expect(ResponseStatusCode.requestTimeout.rawValue == 4008 && ResponseStatusCode.requestTimeout.isError)
        #expect(ResponseStatusCode.subscriptionVerificationInitiationFailed.rawValue == 5204)
        #expect(ResponseStatusCode.notAcceptable.rawValue == 5207 && ResponseStatusCode.notAcceptable.isError)
        #expect(ResponseStatusCode.originatorAlreadyRegistered.rawValue == 4117)
        #expect(ResponseStatusCode(rawValue: 6000).isError && !ResponseStatusCode(rawValue: 3000).isError)
        #expect(ResourceType(rawValue: 999).rawValue == 999 && ResourceType.flexContainer.rawValue == 28)
        #expect(Operation(rawValue: 5) == .notify && Operation(rawValue: 6) == nil)
        for v in ReleaseVersion.allCases { #expect(ReleaseVersion(text: ByteString(v.text)) == v) }
        #expect(ReleaseVersion(text: "2A") == nil)
        // Read in one pass: nothing else of one to three bytes matches, escaped text does.
        for text: ByteString in ["", "0", "6", "a", "1a", "3a", "2b", "22", "2a2", "2aa", "33", "r3", " 3", "3 "] {
            #expect(ReleaseVersion(text: text) == nil)
        }
        #expect(withBytes(#"2\u0061"#) { ReleaseVersion(text: ByteString(jsonStringContents: $0)) } == .r2a)
        #expect(withBytes(#"\u0034"#) { ReleaseVersion(text: ByteString(jsonStringContents: $0)) } == .r4)
        #expect(PrimitiveParameter.requestExpiration.shortName.description == "rqet")
    }
}
