// RegisterAE: the smallest complete oneM2M AE over MQTT (TS-0010).
//
//   swift run RegisterAE --broker mqtt://127.0.0.1:1883 [--origin Cmyae] [--name my-ae]
//                        [--cse-id id-in] [--cse-name cse-in]
//
// What it does, in order:
//   1. connects to the MQTT broker the CSE listens on (client id `A::<origin>`, TS-0010 6.3),
//   2. registers an <AE> resource at the CSE (a CREATE with `ty` = 2),
//   3. prints the CSE's response,
//   4. deregisters: DELETE of the AE, then the TS-0010 6.3 MQTT clean-up (reconnect with
//      Clean Session = 1 so the broker forgets our session and subscriptions).
//
// Exit status:
//   0  registered and deregistered
//   1  the CSE refused the registration or the deregistration (the rsc is printed)
//   2  bad command line
//   3  the broker could not be reached, or the MQTT connection failed
//   4  no response from the CSE (is it running and connected to this broker? right --cse-id?)

import OneM2M
import OneM2MClient

#if canImport(Glibc)
import Glibc
#endif

enum ExitCode {
    static let ok: Int32 = 0
    static let rejected: Int32 = 1
    static let usage: Int32 = 2
    static let broker: Int32 = 3
    static let noResponse: Int32 = 4
}

/// Writes one line to `fd` (2 = stderr). Swift 6 does not let code touch C's `stderr` global,
/// so this goes through `write(2)`.
func writeLine(_ line: String, to fd: Int32) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

func fail(_ code: Int32, _ message: String) -> Never {
    writeLine("RegisterAE: \(message)", to: STDERR_FILENO)
    exit(code)
}

let usage = """
    usage: RegisterAE --broker mqtt://HOST:PORT [--origin CXXX] [--name NAME]
                      [--cse-id id-in] [--cse-name cse-in]
    """

// MARK: - Command line

var brokerURL = "mqtt://127.0.0.1:1883"
// The AE-ID we ask for. ACME accepts originators starting with `C` or `S`; the pid keeps two
// runs on one CSE apart.
var origin = "CregisterAE\(getpid())"
var name = "register-ae-\(getpid())"
var cseID = "id-in"  // ACME's default CSE-ID (topics use it without the leading slash)
var cseName = "cse-in"  // the CSEBase resource name: the `to` of the registration

var arguments = CommandLine.arguments.dropFirst()
while let option = arguments.popFirst() {
    if option == "-h" || option == "--help" {
        print(usage)
        exit(ExitCode.ok)
    }
    guard let value = arguments.popFirst() else { fail(ExitCode.usage, "\(option) needs a value\n\(usage)") }
    switch option {
    case "--broker": brokerURL = value
    case "--origin": origin = value
    case "--name": name = value
    case "--cse-id": cseID = value
    case "--cse-name": cseName = value
    default: fail(ExitCode.usage, "unknown option \(option)\n\(usage)")
    }
}

// `PointOfAccess.parse` checks the URI the way TS-0010 6.6 describes a pointOfAccess: scheme,
// host (IPv6 in brackets), port (1883 when absent). Its `host` is a view into the bytes
// parsed, so copy it out into a String before they go away.
let broker: (host: String, port: UInt16)
let parsed: Result<(String, UInt16), OneM2MError> = Array(brokerURL.utf8).withUnsafeBytes { bytes in
    Result { () throws(OneM2MError) -> (String, UInt16) in
        let poa = try PointOfAccess.parse(bytes)
        guard poa.scheme == .mqtt else { throw .invalidPointOfAccess(.unknownScheme) }
        return (String(decoding: poa.host, as: UTF8.self), poa.port)
    }
}
switch parsed {
case .success(let hostAndPort): broker = hostAndPort
case .failure(let error):
    fail(ExitCode.usage, "--broker \(brokerURL): \(error) (expected mqtt://HOST:PORT; this example speaks plain TCP only)")
}

// MARK: - Connect

// Everything about talking to the CSE is in the configuration; the defaults match ACME
// (JSON serialization with the `/json` topic suffix, release 3, 10 s request timeout).
let configuration = OneM2MConfiguration(cseID: cseID, cseName: cseName, originator: origin)
var client: PosixOneM2MClient
do {
    client = try PosixOneM2MClient(configuration: configuration, host: broker.host, port: broker.port)
    // CONNECT, then SUBSCRIBE to the topics where the CSE answers us and sends us requests.
    try client.connect()
} catch {
    fail(ExitCode.broker, "cannot connect to \(brokerURL): \(error.summary) (\(error))")
}
print("connected to \(brokerURL) as MQTT client A::\(origin)")

// MARK: - Register

// `perform` sends the request and polls until its response arrives (blocking; fine for a
// one-shot tool; SensorDaemon shows the non-blocking way). `api` must start with `N` (a
// non-registered App-ID). The pointOfAccess tells the CSE how to reach us: through this broker.
let registration: OneM2MResponse
do {
    registration = try client.perform { c throws(OneM2MClientError) in
        try c.registerAE(appID: "Nregister-ae", name: name, pointOfAccess: [brokerURL])
    }
} catch {
    client.disconnect()
    fail(error == .timedOut ? ExitCode.noResponse : ExitCode.broker, "registration failed: \(error.summary) (\(error))")
}
print("registration: rsc \(registration.statusCode.rawValue)")
print(String(decoding: registration.payload, as: UTF8.self))
guard registration.statusCode == .created else {
    // Nothing was created, so there is nothing to delete: just leave.
    client.disconnect()
    fail(ExitCode.rejected, "the CSE refused the registration (rsc \(registration.statusCode.rawValue))")
}

// MARK: - Deregister

// DELETE `to` = our AE-ID (the CSE removes the AE and everything below it), then the MQTT
// clean-up of TS-0010 6.3. Afterwards the client is disconnected.
do {
    let response = try client.deregister()
    print("deregistration: rsc \(response.statusCode.rawValue)")
    guard response.statusCode == .deleted else {
        fail(ExitCode.rejected, "the CSE refused the deregistration (rsc \(response.statusCode.rawValue))")
    }
} catch {
    fail(error == .timedOut ? ExitCode.noResponse : ExitCode.broker, "deregistration failed: \(error.summary) (\(error))")
}
print("deregistered")
exit(ExitCode.ok)
