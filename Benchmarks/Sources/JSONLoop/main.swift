// A plain loop over our encoder or decoder (the same work as JSONBench's "ours"), for
// profilers: `valgrind --tool=callgrind JSONLoop decode 20000` shows where the time goes.
// `codable-pair` does JSONBench's Codable pair, for an instruction count to compare with.
//
//   JSONLoop encode|decode|validate|pair|codable-pair N     prints ns per operation (wall clock)

import Foundation
import Glibc
import OneM2M

struct CinRequest: Codable { var cnf: String; var con: String }
struct CinRequestContent: Codable {
    var cin: CinRequest
    enum CodingKeys: String, CodingKey { case cin = "m2m:cin" }
}
struct CreateRequest: Codable { var op: Int; var to, fr, rqi, rvi: String; var ty: Int; var pc: CinRequestContent }
struct CinResource: Codable {
    var cnf: String?
    var con: String, pi: String, ri: String, rn: String, ct: String, lt: String, et: String
    var cs: Int, ty: Int, st: Int
}
struct CinResponseContent: Codable {
    var cin: CinResource
    enum CodingKeys: String, CodingKey { case cin = "m2m:cin" }
}
struct CreateResponse: Codable {
    var fr, to, ot: String?
    var rsc: Int
    var rqi, rvi: String?
    var drt: Int?
    var pc: CinResponseContent?
}
nonisolated(unsafe) let encoder = JSONEncoder()
nonisolated(unsafe) let decoder = JSONDecoder()

nonisolated(unsafe) let response = Array("""
    {"fr": "/id-in", "to": "Cbench0001", "ot": "20261121T230106,648280", "rsc": 2001, "rqi": "1a2b3c4d-123", \
    "rvi": "3", "drt": 1, "pc": {"m2m:cin": {"cnf": "text/plain:0", "con": "21.5", "cs": 4, "pi": "cntFLkq3XcuQk", \
    "ri": "cinqhqTC9iYaQ", "rn": "cin_UboiNgS1TM", "ty": 4, "ct": "20261121T230106,648280", \
    "lt": "20261121T230106,648280", "et": "20311120T230105,175123", "st": 3}}}
    """.utf8)
nonisolated(unsafe) let responseData = Data(response)
nonisolated(unsafe) let to = Array("cse-in/bench/data".utf8), from = Array("Cbench0001".utf8), rqi = Array("1a2b3c4d-123".utf8)
nonisolated(unsafe) let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)

@inline(never)
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

@inline(never)
func decode() -> Int {
    response.withUnsafeBytes { b in
        rqi.withUnsafeBytes { expected in
            guard let v = try? ResponsePrimitiveView(decoding: b),
                v.statusCode.rawValue == 2001, v.requestIdentifier == ByteString(expected),
                let ri = v.content?["m2m:cin"]?["ri"]?.text
            else { fatalError("decode failed") }
            return ri.count
        }
    }
}

@inline(never)
func codablePair() -> Int {
    let r = CreateRequest(
        op: 1, to: "cse-in/bench/data", fr: "Cbench0001", rqi: "1a2b3c4d-123", rvi: "3", ty: 4,
        pc: CinRequestContent(cin: CinRequest(cnf: "text/plain:0", con: "21.5")))
    guard let d = try? encoder.encode(r), let v = try? decoder.decode(CreateResponse.self, from: responseData),
        v.rsc == 2001, v.rqi == "1a2b3c4d-123", let ri = v.pc?.cin.ri
    else { fatalError("codable failed") }
    return d.count &+ ri.utf8.count
}

@inline(never)
func validateOnly() -> Int {
    response.withUnsafeBytes { b in
        guard let d = try? JSONDocument(validating: b) else { fatalError("invalid") }
        return d.root.end
    }
}

let args = CommandLine.arguments
guard args.count == 3, let n = Int(args[2]), n > 0 else {
    print("usage: JSONLoop encode|decode|validate|pair|codable-pair N")
    exit(2)
}
var ts0 = timespec(), ts1 = timespec()
var sink = 0
clock_gettime(CLOCK_MONOTONIC, &ts0)
switch args[1] {
case "encode": for _ in 0..<n { sink &+= encode() }
case "decode": for _ in 0..<n { sink &+= decode() }
case "validate": for _ in 0..<n { sink &+= validateOnly() }
case "codable-pair": for _ in 0..<n { sink &+= codablePair() }
default: for _ in 0..<n { sink &+= encode() &+ decode() }
}
clock_gettime(CLOCK_MONOTONIC, &ts1)
let ns = Double(ts1.tv_sec - ts0.tv_sec) * 1e9 + Double(ts1.tv_nsec - ts0.tv_nsec)
print("\(args[1]): \(Int(ns / Double(n))) ns per operation (\(sink & 1))")
