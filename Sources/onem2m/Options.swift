import ArgumentParser
import MQTTClient
import OneM2M
import OneM2MClient
import OneM2MSecure
import TLSTransport
import WebSocketTransport

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("broker"), help: ArgumentHelp("The MQTT broker.", valueName: "mqtt://HOST[:PORT]"))
    var broker: String = "mqtt://127.0.0.1:1883"

    @Option(name: .customLong("cse-id"), help: ArgumentHelp("The CSE-ID of the registrar CSE (topic receiver level).", valueName: "id"))
    var cseID: String = "id-in"

    @Option(name: .customLong("cse-name"), help: ArgumentHelp("The CSEBase resource name (the `to` of a registration).", valueName: "name"))
    var cseName: String = "cse-in"

    @Option(name: .customLong("origin"), help: ArgumentHelp("The originator (AE-ID) this command acts as. Default: C + 8 random letters/digits.", valueName: "CXXX"))
    var origin: String?

    @Option(name: .customLong("suffix"), help: ArgumentHelp("The topic serialization suffix: json or none.", valueName: "json|none"))
    var suffix: SuffixArgument = .json

    @Option(name: .customLong("timeout"), help: ArgumentHelp("Seconds to wait for the connection and for each response.", valueName: "SECONDS"))
    var timeout: Double = 10

    @Option(name: .customLong("ca"), help: ArgumentHelp("mqtts/wss: PEM file of the CA(s) that sign the broker's certificate (default: the system bundle).", valueName: "FILE"))
    var ca: String?

    @Option(name: .customLong("cert"), help: ArgumentHelp("mqtts/wss: client certificate (PEM), with --key.", valueName: "FILE"))
    var cert: String?

    @Option(name: .customLong("key"), help: ArgumentHelp("mqtts/wss: client private key (PEM), with --cert.", valueName: "FILE"))
    var key: String?

    @Option(name: .customLong("psk-identity"), help: ArgumentHelp("mqtts: TLS-PSK identity (TS-0003 pre-shared key), with --psk-hex.", valueName: "ID"))
    var pskIdentity: String?

    @Option(name: .customLong("psk-hex"), help: ArgumentHelp("mqtts: TLS-PSK key in hex, with --psk-identity.", valueName: "HEX"))
    var pskHex: String?

    @Flag(name: .customLong("insecure"), help: "mqtts/wss: do NOT verify the broker's certificate (development only; anyone can intercept).")
    var insecure = false

    func validate() throws {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw ValidationError("--timeout must be a number of seconds between 0 and 86400, got \(timeout)")
        }
        guard !cseID.isEmpty else { throw ValidationError("--cse-id must not be empty") }
        guard !cseName.isEmpty else { throw ValidationError("--cse-name must not be empty") }
        if let origin {
            // The originator is an MQTT topic level (TS-0010 6.4): no level separator, no wildcards.
            guard !origin.isEmpty, !origin.contains(where: { "/+#".contains($0) || $0.isWhitespace || $0 == "\0" }) else {
                throw ValidationError("--origin must be a non-empty AE-ID without '/', '+', '#' or spaces (e.g. Csensor1), got '\(origin)'")
            }
        }
        _ = try endpoint()  // a bad --broker is a usage error
        guard (cert == nil) == (key == nil) else { throw ValidationError("--cert and --key go together") }
        guard (pskIdentity == nil) == (pskHex == nil) else { throw ValidationError("--psk-identity and --psk-hex go together") }
        if let id = pskIdentity, let hex = pskHex, TLSConfiguration.PreSharedKey(identity: id, hexKey: hex) == nil {
            throw ValidationError("--psk-hex must be an even number of hex digits, got '\(hex)'")
        }
    }

    /// The TLS settings for mqtts:// and wss:// (verification on unless --insecure).
    func tlsConfiguration() -> TLSConfiguration {
        var t = TLSConfiguration()
        if let ca { t.certificateAuthorities = .file(ca) }
        if let cert, let key {
            t.clientCertificate = .file(cert)
            t.clientKey = .file(key)
        }
        if let id = pskIdentity, let hex = pskHex { t.preSharedKey = TLSConfiguration.PreSharedKey(identity: id, hexKey: hex) }
        if t.certificateAuthorities == nil && t.preSharedKey == nil {
            t.certificateAuthorities = .file(TLSConfiguration.systemCertificateBundle)
        }
        t.insecureSkipVerification = insecure
        return t
    }

    /// `--timeout` in milliseconds (at least 1).
    var timeoutMilliseconds: Int { max(1, Int((timeout * 1000).rounded())) }

    /// The originator: `--origin`, or a fresh `C` + 8 random alphanumerics (fixed per run).
    var originator: String { origin ?? generatedOrigin }

    /// `--broker` parsed (TS-0010 6.6 pointOfAccess syntax).
    func endpoint() throws(CLIError) -> BrokerEndpoint { try BrokerEndpoint(parsing: broker, option: "--broker") }

    /// The SDK configuration these options describe.
    func configuration() -> OneM2MConfiguration {
        var c = OneM2MConfiguration(
            cseID: cseID, cseName: cseName, originator: originator,
            serialization: suffix.serialization, requestTimeoutMilliseconds: timeoutMilliseconds)
        // A command-line tool can afford roomy buffers: large retrieve responses and --pc values.
        c.capacities = SessionCapacities(transmitBytes: 256 * 1024, receiveBytes: 1024 * 1024, storeBytes: 512 * 1024, inflight: 32)
        return c
    }
}

/// Generated once per process so every use of `originator` agrees.
let generatedOrigin: String = {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    var g = SystemRandomNumberGenerator()
    return "C" + String((0..<8).map { _ in alphabet[Int(g.next(upperBound: UInt64(alphabet.count)))] })
}()

/// `--suffix json|none`.
enum SuffixArgument: String, ExpressibleByArgument, CaseIterable {
    case json
    case none

    var serialization: Serialization? { self == .json ? .json : nil }
}

/// `--type ae|container|contentInstance|subscription|NUMBER`.
struct ResourceTypeArgument: ExpressibleByArgument {
    let type: ResourceType

    static let names: [(String, ResourceType)] = [
        ("ae", .ae), ("container", .container), ("contentInstance", .contentInstance), ("subscription", .subscription),
        // Short forms (the oneM2M short resource names).
        ("cnt", .container), ("cin", .contentInstance), ("sub", .subscription),
    ]

    init?(argument: String) {
        if let hit = Self.names.first(where: { $0.0.lowercased() == argument.lowercased() }) {
            type = hit.1
        } else if let n = UInt16(argument), n > 0 {
            type = ResourceType(rawValue: n)
        } else {
            return nil
        }
    }

    static var allValueStrings: [String] { ["ae", "container", "contentInstance", "subscription", "NUMBER"] }

    var name: String {
        switch type {
        case .ae: return "ae"
        case .container: return "container"
        case .contentInstance: return "contentInstance"
        case .subscription: return "subscription"
        default: return String(type.rawValue)
        }
    }
}

/// A broker address from `mqtt://HOST[:PORT]` (or `mqtts://`, `ws://`, `wss://`, which this build
/// recognises but cannot connect to yet).
struct BrokerEndpoint {
    let scheme: PointOfAccessScheme
    /// Host name or address (an IPv6 literal without brackets).
    let host: String
    let port: UInt16
    /// The WebSocket path (ws://, wss://), empty otherwise.
    let path: String
    let text: String

    init(parsing text: String, option: String) throws(CLIError) {
        var bytes = Array(text.utf8)
        let parsed: Result<(PointOfAccessScheme, String, UInt16, String), OneM2MError> = bytes.withUnsafeMutableBytes { b in
            do throws(OneM2MError) {
                let p = try PointOfAccess.parse(UnsafeRawBufferPointer(b))
                return .success((p.scheme, String(decoding: p.host, as: UTF8.self), p.port, String(decoding: p.path, as: UTF8.self)))
            } catch { return .failure(error) }
        }
        switch parsed {
        case .success(let (scheme, host, port, path)):
            self.scheme = scheme
            self.host = host
            self.port = port
            self.path = path
            self.text = text
        case .failure(let e):
            throw .usage("invalid \(option) '\(text)': \(describe(e)) (expected mqtt://, mqtts://, ws:// or wss://HOST[:PORT])")
        }
    }
}
