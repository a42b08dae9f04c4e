// One "pair" = encode a create-contentInstance request primitive + decode the 2001 response
// ACME sends for it (FINDINGS.md shape, ACME's own ", " separators), three ways:
//
//   ours               RequestPrimitive + JSONWriter into a fixed buffer; ResponsePrimitiveView
//                      (validates the whole document, reads rsc/rqi/rvi/fr/to/ot in place)
//   Codable            JSONEncoder / JSONDecoder with structs (encoder and decoder reused)
//   JSONSerialization  [String: Any] built and serialized; jsonObject(with:) + casts
//
// Every decoder reads the same facts: rsc == 2001, rqi == the one sent, and the created
// resource's `ri`. Timing benchmarks use scalingFactor .kilo (one iteration = 1000 pairs; the
// exported figures are per pair, rounded to whole ns and whole allocations); the `allocs.*`
// benchmarks run one pair per iteration, so their mallocCountTotal is the exact count per pair.
// BENCH_SHORT=1 in the environment: 0.1 s per benchmark (a smoke run).

import Benchmark
import Foundation
import OneM2M

let requestTo = "cse-in/bench/data"
let requestFrom = "Cbench0001"
let requestID = "1a2b3c4d-123"

/// ACME's answer to that CREATE (copied from a real ACME response; same separators).
let responseText = """
    {"fr": "/id-in", "to": "Cbench0001", "ot": "20261121T230106,648280", "rsc": 2001, "rqi": "1a2b3c4d-123", \
    "rvi": "3", "drt": 1, "pc": {"m2m:cin": {"cnf": "text/plain:0", "con": "21.5", "cs": 4, "pi": "cntFLkq3XcuQk", \
    "ri": "cinqhqTC9iYaQ", "rn": "cin_UboiNgS1TM", "ty": 4, "ct": "20261121T230106,648280", \
    "lt": "20261121T230106,648280", "et": "20311120T230105,175123", "st": 3}}}
    """

// MARK: - Codable model (what an app using Foundation would write)

struct CinRequest: Codable {
    var cnf: String
    var con: String
}

struct CinRequestContent: Codable {
    var cin: CinRequest
    enum CodingKeys: String, CodingKey { case cin = "m2m:cin" }
}

struct CreateRequest: Codable {
    var op: Int
    var to: String
    var fr: String
    var rqi: String
    var rvi: String
    var ty: Int
    var pc: CinRequestContent
}

struct CinResource: Codable {
    var cnf: String?
    var con: String
    var cs: Int
    var pi: String
    var ri: String
    var rn: String
    var ty: Int
    var ct: String
    var lt: String
    var et: String
    var st: Int
}

struct CinResponseContent: Codable {
    var cin: CinResource
    enum CodingKeys: String, CodingKey { case cin = "m2m:cin" }
}

struct CreateResponse: Codable {
    var fr: String?
    var to: String?
    var ot: String?
    var rsc: Int
    var rqi: String?
    var rvi: String?
    var drt: Int?
    var pc: CinResponseContent?
}

// MARK: - The three ways

/// Ours: everything lives in caller buffers; nothing is allocated per pair.
struct Ours {
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    let to = Array(requestTo.utf8), from = Array(requestFrom.utf8), rqi = Array(requestID.utf8)
    let response = Array(responseText.utf8)

    @inline(__always)
    func encode() -> Int {
        to.withUnsafeBytes { t in
            from.withUnsafeBytes { f in
                rqi.withUnsafeBytes { r in
                    var w = JSONWriter(buffer: out)
                    let p = RequestPrimitive(
                        operation: .create, to: ByteString(t), from: ByteString(f), requestIdentifier: ByteString(r),
                        releaseVersion: .r3, resourceType: .contentInstance)
                    do {
                        try p.encode(into: &w) { (w: inout JSONWriter) throws(OneM2MError) in
                            try w.beginObject()
                            try w.key("m2m:cin")
                            try w.beginObject()
                            try w.member("cnf", "text/plain:0")
                            try w.member("con", "21.5")
                            try w.endObject()
                            try w.endObject()
                        }
                    } catch { fatalError("encode: \(error)") }
                    return w.count
                }
            }
        }
    }

    @inline(__always)
    func decode() -> Int {
        response.withUnsafeBytes { b in
            rqi.withUnsafeBytes { expected in
                guard let v = try? ResponsePrimitiveView(decoding: b),
                    v.statusCode.rawValue == 2001, v.requestIdentifier == ByteString(expected),
                    let ri = v.content?["m2m:cin"]?["ri"]?.text
                else { fatalError("decode (ours) failed") }
                return ri.count
            }
        }
    }
}

final class WithCodable {
    let encoder = JSONEncoder()
    let decoder = JSONDecoder()
    let response = Data(responseText.utf8)

    @inline(__always)
    func encode() -> Int {
        let r = CreateRequest(
            op: 1, to: requestTo, fr: requestFrom, rqi: requestID, rvi: "3", ty: 4,
            pc: CinRequestContent(cin: CinRequest(cnf: "text/plain:0", con: "21.5")))
        guard let d = try? encoder.encode(r) else { fatalError("encode (Codable) failed") }
        return d.count
    }

    @inline(__always)
    func decode() -> Int {
        guard let v = try? decoder.decode(CreateResponse.self, from: response),
            v.rsc == 2001, v.rqi == requestID, let ri = v.pc?.cin.ri
        else { fatalError("decode (Codable) failed") }
        return ri.utf8.count
    }
}

final class WithJSONSerialization {
    let response = Data(responseText.utf8)

    @inline(__always)
    func encode() -> Int {
        let object: [String: Any] = [
            "op": 1, "to": requestTo, "fr": requestFrom, "rqi": requestID, "rvi": "3", "ty": 4,
            "pc": ["m2m:cin": ["cnf": "text/plain:0", "con": "21.5"]],
        ]
        guard let d = try? JSONSerialization.data(withJSONObject: object) else { fatalError("encode (JSONSerialization) failed") }
        return d.count
    }

    @inline(__always)
    func decode() -> Int {
        guard let any = try? JSONSerialization.jsonObject(with: response), let o = any as? [String: Any],
            (o["rsc"] as? Int) == 2001, (o["rqi"] as? String) == requestID,
            let pc = o["pc"] as? [String: Any], let cin = pc["m2m:cin"] as? [String: Any], let ri = cin["ri"] as? String
        else { fatalError("decode (JSONSerialization) failed") }
        return ri.utf8.count
    }
}

let benchmarks: @Sendable () -> Void = {
    let short = ProcessInfo.processInfo.environment["BENCH_SHORT"] == "1"
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: short ? 1 : 3,
        scalingFactor: .kilo,
        maxDuration: short ? .milliseconds(100) : .seconds(1),
        maxIterations: short ? 5 : 1000
    )

    let ours = Ours()
    let codable = WithCodable()
    let serialization = WithJSONSerialization()
    // Same facts out of all three (and a sanity check of the sizes: ours is the compact form).
    precondition(ours.decode() == codable.decode() && codable.decode() == serialization.decode())

    Benchmark("pair.ours") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ours.encode() &+ ours.decode()) }
    }
    Benchmark("pair.codable") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(codable.encode() &+ codable.decode()) }
    }
    Benchmark("pair.jsonserialization") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(serialization.encode() &+ serialization.decode()) }
    }
    // Exact heap allocations per pair (one pair per iteration, no rounding).
    let exact = Benchmark.Configuration(
        metrics: [.mallocCountTotal], warmupIterations: 1, scalingFactor: .one,
        maxDuration: short ? .milliseconds(100) : .seconds(1), maxIterations: short ? 10 : 1000)
    Benchmark("allocs.ours", configuration: exact) { _ in blackHole(ours.encode() &+ ours.decode()) }
    Benchmark("allocs.codable", configuration: exact) { _ in blackHole(codable.encode() &+ codable.decode()) }
    Benchmark("allocs.jsonserialization", configuration: exact) { _ in
        blackHole(serialization.encode() &+ serialization.decode())
    }
    Benchmark("encode.ours") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ours.encode()) }
    }
    Benchmark("decode.ours") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ours.decode()) }
    }
    Benchmark("encode.codable") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(codable.encode()) }
    }
    Benchmark("decode.codable") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(codable.decode()) }
    }
    Benchmark("encode.jsonserialization") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(serialization.encode()) }
    }
    Benchmark("decode.jsonserialization") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(serialization.decode()) }
    }
}
