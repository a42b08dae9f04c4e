// A minimal oneM2M AE in Embedded Swift, cross-compiled by scripts/cross.sh and run on the host,
// under qemu-aarch64 and qemu-arm: register with the CSE, create a container, post one
// contentInstance, deregister. Exit code 0 only if every step got the expected status.
//
//   EmbeddedAE PORT [SUFFIX]     (broker at 127.0.0.1:PORT, CSE id-in / cse-in, AE-ID C<SUFFIX>)
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

func text(_ arg: UnsafeMutablePointer<CChar>?) -> String {
    guard let arg else { return "" }
    var n = 0
    while arg[n] != 0 && n < 64 { n += 1 }
    return String(decoding: UnsafeRawBufferPointer(start: arg, count: n), as: UTF8.self)
}

func step(_ name: StaticString, _ response: OneM2MResponse, expect: ResponseStatusCode) -> Bool {
    let ok = response.statusCode == expect
    print("embedded-ae: \(String(decoding: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), as: UTF8.self)): rsc \(response.statusCode.rawValue)\(ok ? "" : " (unexpected)")")
    return ok
}

func run(port: UInt16, suffix: String) -> Int32 {
    let aeID = "Cemb" + suffix
    let name = "emb-" + suffix
    var client: PosixOneM2MClient
    do throws(OneM2MClientError) {
        client = try PosixOneM2MClient(configuration: OneM2MConfiguration(originator: aeID), host: "127.0.0.1", port: port)
    } catch {
        print("embedded-ae: client: \(String(decoding: UnsafeRawBufferPointer(start: error.summary.utf8Start, count: error.summary.utf8CodeUnitCount), as: UTF8.self))")
        return 2
    }
    do throws(OneM2MClientError) {
        try client.connect(timeoutMilliseconds: 10_000)
        print("embedded-ae: connected as A::\(aeID)")
        let poa = "mqtt://127.0.0.1:" + String(port)
        let reg = try client.perform { (c) throws(OneM2MClientError) in try c.registerAE(appID: "Nembedded", name: name, pointOfAccess: [poa]) }
        guard step("register AE", reg, expect: .created) else { return 1 }
        let cnt = try client.perform { (c) throws(OneM2MClientError) in try c.createContainer(under: "cse-in/" + name, name: "readings") }
        guard step("create container", cnt, expect: .created) else { return 1 }
        let cin = try client.perform { (c) throws(OneM2MClientError) in try c.createContentInstance(in: "cse-in/" + name + "/readings", content: "21.5") }
        guard step("create contentInstance", cin, expect: .created) else { return 1 }
        let latest = try client.perform { (c) throws(OneM2MClientError) in try c.retrieve("cse-in/" + name + "/readings/la") }
        guard step("retrieve latest", latest, expect: .ok) else { return 1 }
        let con = latest.withView { v in v.content?["m2m:cin"]?["con"]?.text == "21.5" } ?? false
        print("embedded-ae: latest con is 21.5: \(con)")
        guard con else { return 1 }
        let dereg = try client.deregister()
        guard step("deregister", dereg, expect: .deleted) else { return 1 }
    } catch {
        print("embedded-ae: failed: \(String(decoding: UnsafeRawBufferPointer(start: error.summary.utf8Start, count: error.summary.utf8CodeUnitCount), as: UTF8.self))")
        return 1
    }
    print("embedded-ae: OK")
    return 0
}

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard argc >= 2, let argv else {
        print("usage: EmbeddedAE PORT [SUFFIX]")
        return 2
    }
    let port = number(argv[1])
    guard port > 0 && port < 65_536 else { return 2 }
    return run(port: UInt16(port), suffix: argc >= 3 ? text(argv[2]) : "1")
}
