import Foundation
import Testing
@testable import OneM2M

/// A generated JSON value.
indirect enum Model {
    case object([(String, Model)])
    case array([Model])
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
}

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func string() -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<below(12) {
            switch below(6) {
            case 0: s.append(Unicode.Scalar(UInt8(below(0x20))))           // control characters
            case 1: s.append(["\"", "\\", "/", "'", ":", ","].map { Unicode.Scalar($0)! }[below(6)] as Unicode.Scalar)
            case 2: s.append(Unicode.Scalar(UInt32(0x80 + below(0x780)))!)  // 2-byte
            case 3:
                var v = UInt32(0x800 + below(0xF800))
                if v >= 0xD800 && v <= 0xDFFF { v = 0xE000 }
                s.append(Unicode.Scalar(v)!)
            case 4: s.append(Unicode.Scalar(UInt32(0x10000 + below(0x100000)))!) // 4-byte
            default: s.append(Unicode.Scalar(UInt8(0x20 + below(0x5F))))
            }
        }
        return String(s)
    }

    mutating func model(depth: Int) -> Model {
        let pick = depth >= 6 ? below(4) + 2 : below(6)
        switch pick {
        case 0: return .object((0..<below(5)).map { _ in (string(), model(depth: depth + 1)) })
        case 1: return .array((0..<below(5)).map { _ in model(depth: depth + 1) })
        case 2: return .string(string())
        case 3:
            switch below(4) {
            case 0: return .int(Int64(bitPattern: next()))
            case 1: return .int([Int64.min, Int64.max, 0, -1][below(4)])
            default: return .int(Int64(below(2000)) - 1000)
            }
        case 4: return .bool(below(2) == 0)
        default: return .null
        }
    }
}

func write(_ m: Model, _ w: inout JSONWriter) throws {
    switch m {
    case .object(let members):
        try w.beginObject()
        for (k, v) in members {
            let key = Array(k.utf8)
            try key.withUnsafeBytes { raw in try w.key(ByteString(raw)) }
            try write(v, &w)
        }
        try w.endObject()
    case .array(let elements):
        try w.beginArray()
        for e in elements { try write(e, &w) }
        try w.endArray()
    case .string(let s):
        let b = Array(s.utf8)
        try b.withUnsafeBytes { raw in try w.string(bytes: raw) }
    case .int(let i): try w.integer(i)
    case .bool(let b): try w.bool(b)
    case .null: try w.null()
    }
}

func matches(_ v: JSONValue, _ m: Model) -> Bool {
    switch m {
    case .object(let members):
        guard v.kind == .object else { return false }
        var i = 0
        for member in v.members {
            guard i < members.count, Array(member.name) == Array(members[i].0.utf8),
                  matches(member.value, members[i].1) else { return false }
            i += 1
        }
        guard i == members.count else { return false }
        // Lookup by name finds the first member of that name.
        for (k, _) in members {
            let key = Array(k.utf8)
            let found = key.withUnsafeBytes { v.member(named: ByteString($0)) }
            guard let found, let first = members.first(where: { $0.0 == k }), matches(found, first.1) else { return false }
        }
        return true
    case .array(let elements):
        guard v.kind == .array, v.count == elements.count else { return false }
        for (i, e) in v.elements.enumerated() where !matches(e, elements[i]) { return false }
        return true
    case .string(let s):
        guard let t = v.text else { return false }
        var out = [UInt8](repeating: 0, count: s.utf8.count)
        let n = try? out.withUnsafeMutableBytes { try v.unescapeString(into: $0) }
        return Array(t) == Array(s.utf8) && t.count == s.utf8.count && n == s.utf8.count && out == Array(s.utf8)
    case .int(let i): return (try? v.integer()) == i
    case .bool(let b): return (try? v.bool()) == b
    case .null: return v.isNull
    }
}

@Suite struct RoundTripTests {
    @Test func writerOutputReadsBackIdentically() throws {
        var rng = SplitMix64(seed: 0x0E2_2010)
        var storage = [UInt8](repeating: 0, count: 1 << 16)
        var foundationChecked = 0
        for round in 0..<1500 {
            let m = rng.model(depth: 0)
            try storage.withUnsafeMutableBytes { buf in
                var w = JSONWriter(buffer: buf)
                try write(m, &w)
                #expect(w.isComplete)
                let doc = try JSONDocument(validating: w.written, maxDepth: 16)
                #expect(matches(doc.root, m), "round \(round)")
                // An independent parser agrees the output is JSON.
                if round % 5 == 0 {
                    let data = Data(w.written)
                    #expect((try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil)
                    foundationChecked += 1
                }
            }
        }
        #expect(foundationChecked == 300)
    }

    @Test func stringsSurviveEveryEscape() throws {
        // Every byte value below 0x80 as a one-character string.
        var storage = [UInt8](repeating: 0, count: 64)
        for b in UInt8(0)..<0x80 {
            try storage.withUnsafeMutableBytes { buf in
                var w = JSONWriter(buffer: buf)
                try [b].withUnsafeBytes { raw in try w.string(bytes: raw) }
                let doc = try JSONDocument(validating: w.written)
                #expect(Array(doc.root.text!) == [b])
            }
        }
    }

    @Test func echoingAReceivedStringKeepsItsEscapes() throws {
        try withBytes(#"{"rqi":"a\"b\u00e9\\"}"#) { raw in
            let doc = try JSONDocument(validating: raw)
            let rqi = doc.root["rqi"]!.text!
            let out = try render { w in try w.beginObject(); try w.member("rqi", rqi); try w.endObject() }
            #expect(out == #"{"rqi":"a\"b\u00e9\\"}"#)
            let out2 = try render { w in try w.value(doc.root) }
            #expect(out2 == #"{"rqi":"a\"b\u00e9\\"}"#)
        }
    }
}
