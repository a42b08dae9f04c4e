// The JSON pair of `make bench` (Benchmarks/Sources/JSONPair: encode a create-contentInstance
// request primitive, decode ACME's 2001 response and read rsc, rqi and the created `ri`), built
// by scripts/cross.sh in Embedded Swift, as a board runs it: the Embedded builds scan JSON with
// byte loops where host builds use word and vector scans (smaller code, more instructions).
// `make bench` counts its instructions with callgrind on the host's Embedded build, at two loop
// counts, so start-up cancels out.
//
//   JSONLoopEmbedded N      does the pair N times; exit 0 only if every decode read the right facts
@_spi(Templates) import OneM2M

/// Decimal digits of a C string (CommandLine is unavailable in Embedded Swift).
func number(_ arg: UnsafeMutablePointer<CChar>?) -> Int {
    guard var p = arg else { return 0 }
    var value = 0
    while p.pointee >= 48 && p.pointee <= 57 && value < 100_000_000 {
        value = value * 10 + Int(p.pointee - 48)
        p += 1
    }
    return value
}

/// The same response text as Benchmarks/Sources/JSONPair (ACME's answer, its ", " separators).
let response: StaticString = """
    {"fr": "/id-in", "to": "Cbench0001", "ot": "20261121T230106,648280", "rsc": 2001, "rqi": "1a2b3c4d-123", \
    "rvi": "3", "drt": 1, "pc": {"m2m:cin": {"cnf": "text/plain:0", "con": "21.5", "cs": 4, "pi": "cntFLkq3XcuQk", \
    "ri": "cinqhqTC9iYaQ", "rn": "cin_UboiNgS1TM", "ty": 4, "ct": "20261121T230106,648280", \
    "lt": "20261121T230106,648280", "et": "20311120T230105,175123", "st": 3}}}
    """

@inline(never)
func encode(_ out: UnsafeMutableRawBufferPointer) -> Int {
    var w = JSONWriter(buffer: out)
    let p = RequestPrimitive(
        operation: .create, to: "cse-in/bench/data", from: "Cbench0001", requestIdentifier: "1a2b3c4d-123",
        releaseVersion: .r3, resourceType: .contentInstance)
    do throws(OneM2MError) {
        // The content as OneM2MClient.createContentInstance writes it.
        try p.encode(into: &w) { (w: inout JSONWriter) throws(OneM2MError) in
            try w.fill(template: ContentTemplate.contentInstance, "21.5")
        }
    } catch {
        return -1
    }
    return w.count
}

@inline(never)
func decode(_ text: UnsafeRawBufferPointer) -> Int {
    guard let v = try? ResponsePrimitiveView(decoding: text), v.statusCode.rawValue == 2001,
        v.requestIdentifier == "1a2b3c4d-123", let ri = v.content?["m2m:cin"]?["ri"]?.text
    else { return -1 }
    return ri.count
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard argc == 2, let argv else { return 2 }
    let n = number(argv[1])
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    defer { out.deallocate() }
    let text = UnsafeRawBufferPointer(start: response.utf8Start, count: response.utf8CodeUnitCount)
    let length = encode(out)
    guard length > 0 else { return 1 }
    var i = 0
    while i < n {
        // The same request length and the 13-character `ri` ("cinqhqTC9iYaQ"), every time.
        guard encode(out) == length, decode(text) == 13 else { return 1 }
        i += 1
    }
    return 0
}
