import Testing
import TestSupport
@testable @_spi(Templates) import OneM2M

/// DESIGN rule 2: encoding a request and decoding a response, notification or topic allocate
/// nothing. Buffers are prepared outside the measured closures; `#expect` stays outside too.
@Suite struct AllocationTests {
    @Test func hotPathAllocatesNothing() throws {
        let response = Array(acmeRegistrationResponse.utf8)
        let notify = Array(acmeNotify.utf8)
        let topic = Array("/oneM2M/req/id-in/Csmokef66c1e96rx/json".utf8)
        let poa = Array("mqtts://[::1]:8883".utf8)
        let ts = Array("20261121T230105,177134".utf8)
        var out = [UInt8](repeating: 0, count: 1024)
        var topicOut = [UInt8](repeating: 0, count: 128)
        var failures = 0
        var checksum = 0

        // Warm up once (lazy globals, metadata) and then measure many iterations.
        func run() {
            out.withUnsafeMutableBytes { buf in
                topicOut.withUnsafeMutableBytes { tbuf in
                    response.withUnsafeBytes { resp in
                        notify.withUnsafeBytes { note in
                            topic.withUnsafeBytes { tp in
                                poa.withUnsafeBytes { pa in
                                    ts.withUnsafeBytes { tsb in
                                        do throws(OneM2MError) {
                                            var w = JSONWriter(buffer: buf)
                                            let req = RequestPrimitive(operation: .create, to: "cse-in/ae1/cnt", from: "Cae1",
                                                                       requestIdentifier: "req-0001", resourceType: .contentInstance,
                                                                       originatingTimestamp: 1_795_302_065_177_134,
                                                                       requestExpiration: .relative(milliseconds: 10_000))
                                            try req.encode(into: &w) { w throws(OneM2MError) in
                                                try w.beginObject()
                                                try w.member("m2m:cin") { w throws(OneM2MError) in
                                                    try w.beginObject()
                                                    try w.member("cnf", "text/plain:0")
                                                    try w.member("con", "21.5")
                                                    try w.member("rr", bool: true)
                                                    try w.member("n", integer: -42)
                                                    try w.endObject()
                                                }
                                                try w.endObject()
                                            }
                                            checksum &+= w.count
                                            // The client's contentInstance: pc from a template.
                                            var w3 = JSONWriter(buffer: buf)
                                            try req.encode(into: &w3) { (w: inout JSONWriter) throws(OneM2MError) in
                                                try w.fill(template: ContentTemplate.contentInstance, "21.5")
                                            }
                                            checksum &+= w3.count
                                            let r = try ResponsePrimitiveView(decoding: resp)
                                            checksum &+= Int(r.statusCode.rawValue)
                                            if r.requestIdentifier == "smoke-224b7645e3" { checksum &+= 1 }
                                            checksum &+= r.content?["m2m:ae"]?["aei"]?.text?.count ?? 0
                                            let n = try RequestPrimitiveView(decoding: note)
                                            if let sgn = n.notification, sgn.eventType == 3,
                                               sgn.eventRepresentation?["m2m:cin"]?["con"]?.text == "hello-2" { checksum &+= 1 }
                                            let t = try OneM2MTopic.parse(tp)
                                            checksum &+= try t.writeResponseTopic(into: tbuf)
                                            checksum &+= try OneM2MTopic.writeFilter(kind: .request, originator: nil, receiver: n.to,
                                                                                     suffix: .serialization(.json), into: tbuf)
                                            var w2 = JSONWriter(buffer: buf)
                                            try ResponsePrimitive(statusCode: .ok, requestIdentifier: n.requestIdentifier,
                                                                  from: n.to, to: n.from).encode(into: &w2)
                                            checksum &+= w2.count
                                            checksum &+= Int(try PointOfAccess.parse(pa).port)
                                            checksum &+= Int(try OneM2MTimestamp.parse(ByteString(tsb)) % 1000)
                                            checksum &+= try OneM2MTimestamp.format(unixMicroseconds: 1_795_302_065_177_134, into: tbuf)
                                        } catch {
                                            failures += 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        run()
        let allocs = allocations {
            for _ in 0..<1000 { run() }
        }
        #expect(failures == 0)
        #expect(checksum != 0)
        if allocationCounterIsActive {
            #expect(allocs == 0)
        } else {
            Issue.record("CAllocCounter is not active; allocation count not measured")
        }
    }
}
