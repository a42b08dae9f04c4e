// The JSON "pair" the benchmarks measure, shared by JSONBench (ordo-one package-benchmark) and
// JSONLoop (a plain loop for profilers), so both measure exactly the same code.
//
// One "pair" = encode a create-contentInstance request primitive + decode the 2001 response
// ACME sends for it (FINDINGS.md shape, ACME's own ", " separators), three ways:
//
//   ours               RequestPrimitive + JSONWriter into a fixed buffer; ResponsePrimitiveView
//                      (validates the whole document, reads rsc/rqi/rvi/fr/to/ot in place)
//   Codable            JSONEncoder / JSONDecoder with structs (encoder and decoder reused)
//   JSONSerialization  [String: Any] built and serialized; jsonObject(with:) + casts
//
// Every decoder reads the same facts: rsc == 2001, rqi == the one sent, and the created
// resource's `ri`.

import Foundation
@_spi(Templates) import OneM2M

public let requestTo = "cse-in/bench/data"
public let requestFrom = "Cbench0001"
public let requestID = "1a2b3c4d-123"

/// ACME's answer to that CREATE (copied from a real ACME response; same separators).
public let responseText = """
    {"fr": "/id-in", "to": "Cbench0001", "ot": "20261121T230106,648280", "rsc": 2001, "rqi": "1a2b3c4d-123", \
    "rvi": "3", "drt": 1, "pc": {"m2m:cin": {"cnf": "text/plain:0", "con": "21.5", "cs": 4, "pi": "cntFLkq3XcuQk", \
    "ri": "cinqhqTC9iYaQ", "rn": "cin_UboiNgS1TM", "ty": 4, "ct": "20261121T230106,648280", \
    "lt": "20261121T230106,648280", "et": "20311120T230105,175123", "st": 3}}}
    """

// MARK: - Codable model (what an app using Foundation would write)

public struct CinRequest: Codable {
    var cnf: String
    var con: String
}

public struct CinRequestContent: Codable {
    var cin: CinRequest
    enum CodingKeys: String, CodingKey { case cin = "m2m:cin" }
}

public struct CreateRequest: Codable {
    var op: Int
    var to: String
    var fr: String
    var rqi: String
    var rvi: String
    var ty: Int
    var pc: CinRequestContent
}

public struct CinResource: Codable {
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

public struct CinResponseContent: Codable {
    var cin: CinResource
    enum CodingKeys: String, CodingKey { case cin = "m2m:cin" }
}

public struct CreateResponse: Codable {
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
public struct Ours: @unchecked Sendable {
    public init() {}
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    let to = Array(requestTo.utf8), from = Array(requestFrom.utf8), rqi = Array(requestID.utf8)
    let response = Array(responseText.utf8)

    public func encode() -> Int {
        to.withUnsafeBytes { t in
            from.withUnsafeBytes { f in
                rqi.withUnsafeBytes { r in
                    var w = JSONWriter(buffer: out)
                    let p = RequestPrimitive(
                        operation: .create, to: ByteString(t), from: ByteString(f), requestIdentifier: ByteString(r),
                        releaseVersion: .r3, resourceType: .contentInstance)
                    do {
                        // The content as OneM2MClient.createContentInstance writes it.
                        try p.encode(into: &w) { (w: inout JSONWriter) throws(OneM2MError) in
                            try w.fill(template: ContentTemplate.contentInstance, "21.5")
                        }
                    } catch { fatalError("encode: \(error)") }
                    return w.count
                }
            }
        }
    }

    public func decode() -> Int {
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

public final class WithCodable: @unchecked Sendable {
    public init() {}
    let encoder = JSONEncoder()
    let decoder = JSONDecoder()
    let response = Data(responseText.utf8)

    public func encode() -> Int {
        let r = CreateRequest(
            op: 1, to: requestTo, fr: requestFrom, rqi: requestID, rvi: "3", ty: 4,
            pc: CinRequestContent(cin: CinRequest(cnf: "text/plain:0", con: "21.5")))
        guard let d = try? encoder.encode(r) else { fatalError("encode (Codable) failed") }
        return d.count
    }

    public func decode() -> Int {
        guard let v = try? decoder.decode(CreateResponse.self, from: response),
            v.rsc == 2001, v.rqi == requestID, let ri = v.pc?.cin.ri
        else { fatalError("decode (Codable) failed") }
        return ri.utf8.count
    }
}

public final class WithJSONSerialization: @unchecked Sendable {
    public init() {}
    let response = Data(responseText.utf8)

    public func encode() -> Int {
        let object: [String: Any] = [
            "op": 1, "to": requestTo, "fr": requestFrom, "rqi": requestID, "rvi": "3", "ty": 4,
            "pc": ["m2m:cin": ["cnf": "text/plain:0", "con": "21.5"]],
        ]
        guard let d = try? JSONSerialization.data(withJSONObject: object) else { fatalError("encode (JSONSerialization) failed") }
        return d.count
    }

    public func decode() -> Int {
        guard let any = try? JSONSerialization.jsonObject(with: response), let o = any as? [String: Any],
            (o["rsc"] as? Int) == 2001, (o["rqi"] as? String) == requestID,
            let pc = o["pc"] as? [String: Any], let cin = pc["m2m:cin"] as? [String: Any], let ri = cin["ri"] as? String
        else { fatalError("decode (JSONSerialization) failed") }
        return ri.utf8.count
    }
}

