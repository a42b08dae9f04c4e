// A minimal oneM2M AE in Embedded Swift, cross-compiled by scripts/cross.sh and run on the host,
// under qemu-aarch64 and qemu-arm: register with the CSE, create a container, post one
// contentInstance, deregister. Exit code 0 only if every step got the expected status.
//
//   EmbeddedAE PORT [SUFFIX]     (broker at 127.0.0.1:PORT, CSE id-in / cse-in, AE-ID C<SUFFIX>)
//
// It uses no `String`: texts are `ByteString`s (literals, or bytes built into one buffer) and
// the client's `ByteString` API, and output goes out through `cposix_write_all`. So it links
// none of the standard library's `String` code, which would add about 17 KB of armv7 code
// (docs/size.md).
import CPosix
import MQTTClient
import OneM2M
import OneM2MClient
import PosixTransport

/// Decimal digits of a C string (CommandLine is unavailable in Embedded Swift).
func number(_ arg: UnsafeMutablePointer<CChar>?) -> Int {
    guard var p = arg else { return 0 }
    var value = 0
    while p.pointee >= 48 && p.pointee <= 57 && value < 1_000_000 {
        value = value * 10 + Int(p.pointee - 48)
        p += 1
    }
    return value
}

/// A C string's bytes (at most 64), as a view: argv lives as long as the program.
func text(_ arg: UnsafeMutablePointer<CChar>?) -> ByteString {
    guard let arg else { return .empty }
    var n = 0
    while arg[n] != 0 && n < 64 { n += 1 }
    return ByteString(UnsafeRawBufferPointer(start: arg, count: n))
}

/// Texts built at run time (the AE-ID, the paths), side by side in one buffer that lives as
/// long as the program.
struct Texts {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 1)
    var used = 0

    /// The parts one after another, as one byte string (empty if the buffer is full).
    mutating func join(_ parts: ByteString...) -> ByteString {
        let start = used
        for part in parts {
            guard let n = try? part.copy(into: UnsafeMutableRawBufferPointer(rebasing: storage[used...])) else {
                used = start
                return .empty
            }
            used += n
        }
        return ByteString(UnsafeRawBufferPointer(rebasing: storage[start..<used]))
    }
}

/// One line of output, written with write(2) when it ends.
struct Line {
    var bytes: [UInt8] = []

    init(_ parts: ByteString...) {
        for part in parts { bytes.append(contentsOf: part) }
    }

    mutating func add(_ part: ByteString) { bytes.append(contentsOf: part) }

    mutating func add(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: [UInt8] = []
        var v = value.magnitude
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        } while v > 0
        bytes.append(contentsOf: digits.reversed())
    }

    consuming func write() {
        bytes.append(10)
        _ = bytes.withUnsafeBytes { cposix_write_all(1, $0.baseAddress, $0.count) }
    }
}

func step(_ name: StaticString, _ response: OneM2MResponse, expect: ResponseStatusCode) -> Bool {
    let ok = response.statusCode == expect
    var line = Line("embedded-ae: ", ByteString(name), ": rsc ")
    line.add(Int(response.statusCode.rawValue))
    if !ok { line.add(" (unexpected)") }
    line.write()
    return ok
}

func run(port: UInt16, suffix: ByteString) -> Int32 {
    var texts = Texts()
    let aeID = texts.join("Cemb", suffix)
    let name = texts.join("emb-", suffix)
    let ae = texts.join("cse-in/", name)
    let container = texts.join("cse-in/", name, "/readings")
    let latestPath = texts.join("cse-in/", name, "/readings/la")
    var portText = Line()
    portText.add(Int(port))
    let poa = portText.bytes.withUnsafeBytes { texts.join("mqtt://127.0.0.1:", ByteString($0)) }
    guard !poa.isEmpty else { return 2 }

    var client: PosixOneM2MClient
    do throws(OneM2MClientError) {
        client = try PosixOneM2MClient(configuration: OneM2MConfiguration(originator: aeID), host: ByteString("127.0.0.1"), port: port)
    } catch {
        Line("embedded-ae: client: ", ByteString(error.summary)).write()
        return 2
    }
    do throws(OneM2MClientError) {
        try client.connect(timeoutMilliseconds: 10_000)
        Line("embedded-ae: connected as A::", aeID).write()
        let reg = try client.perform { (c) throws(OneM2MClientError) in try c.registerAE(appID: "Nembedded", name: name, pointOfAccess: [poa]) }
        guard step("register AE", reg, expect: .created) else { return 1 }
        let cnt = try client.perform { (c) throws(OneM2MClientError) in try c.createContainer(under: ae, name: "readings") }
        guard step("create container", cnt, expect: .created) else { return 1 }
        let cin = try client.perform { (c) throws(OneM2MClientError) in try c.createContentInstance(in: container, content: "21.5") }
        guard step("create contentInstance", cin, expect: .created) else { return 1 }
        let latest = try client.perform { (c) throws(OneM2MClientError) in try c.retrieve(latestPath) }
        guard step("retrieve latest", latest, expect: .ok) else { return 1 }
        let con = latest.withView { v in v.content?["m2m:cin"]?["con"]?.text == "21.5" } ?? false
        Line("embedded-ae: latest con is 21.5: ", con ? "true" : "false").write()
        guard con else { return 1 }
        let dereg = try client.deregister()
        guard step("deregister", dereg, expect: .deleted) else { return 1 }
    } catch {
        Line("embedded-ae: failed: ", ByteString(error.summary)).write()
        return 1
    }
    Line("embedded-ae: OK").write()
    return 0
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard argc >= 2, let argv else {
        Line("usage: EmbeddedAE PORT [SUFFIX]").write()
        return 2
    }
    let port = number(argv[1])
    guard port > 0 && port < 65_536 else { return 2 }
    return run(port: UInt16(port), suffix: argc >= 3 ? text(argv[2]) : "1")
}
