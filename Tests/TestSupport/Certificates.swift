import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the test PKI could not be made.
public enum TestPKIError: Error, CustomStringConvertible {
    /// `openssl` is not installed (`apt-get install -y openssl`).
    case opensslNotFound
    /// An openssl command failed; `output` is what it printed.
    case commandFailed(arguments: [String], status: Int32, output: String)

    public var description: String {
        switch self {
        case .opensslNotFound: return "openssl not found; install it with `apt-get install -y openssl`"
        case .commandFailed(let arguments, let status, let output):
            return "openssl \(arguments.joined(separator: " ")) failed (exit \(status)):\n\(output)"
        }
    }
}

/// A throw-away PKI for TLS tests, made with the `openssl` command line tool (EC P-256 keys,
/// SHA-256) in its own temporary directory, removed by `deinit`:
///
/// | file | what |
/// | --- | --- |
/// | `ca.crt` / `ca.key` | the test CA (`CN=oneM2M Test CA`) |
/// | `other-ca.crt` / `other-ca.key` | an unrelated CA (the "wrong CA") |
/// | `server.crt` / `server.key` | `CN=localhost`, SAN `DNS:localhost, IP:127.0.0.1, IP:::1`, by the CA |
/// | `expired.crt` / `expired.key` | like server, valid 2020-01-01 ... 2021-01-01 only |
/// | `wronghost.crt` / `wronghost.key` | `CN=wrong.example`, SAN `DNS:wrong.example`, by the CA |
/// | `client.crt` / `client.key` | `CN=<clientCommonName>`, clientAuth, by the CA |
/// | `other-client.crt` / `other-client.key` | a client certificate by the other CA |
/// | `psk.txt` | mosquitto `psk_file`: `<pskIdentity>:<pskHex>` |
///
/// Making it takes ~0.3 s (about 20 openssl runs).
public final class TestPKI: @unchecked Sendable {
    public let directory: URL
    /// The client certificate's CN (usable as an MQTT user name / AE credential).
    public let clientCommonName: String
    /// The TLS-PSK identity and key (hex) written to `psk.txt`.
    public let pskIdentity = "Cdevice-psk"
    public let pskHex = "6f6e654d324d2d7073652d746573742d6b6579"

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    public var caCertificate: String { path("ca.crt") }
    public var otherCACertificate: String { path("other-ca.crt") }
    public var serverCertificate: String { path("server.crt") }
    public var serverKey: String { path("server.key") }
    public var expiredCertificate: String { path("expired.crt") }
    public var expiredKey: String { path("expired.key") }
    public var wrongHostCertificate: String { path("wronghost.crt") }
    public var wrongHostKey: String { path("wronghost.key") }
    public var clientCertificate: String { path("client.crt") }
    public var clientKey: String { path("client.key") }
    public var otherClientCertificate: String { path("other-client.crt") }
    public var otherClientKey: String { path("other-client.key") }
    public var pskFile: String { path("psk.txt") }

    /// The bytes of a file of the PKI (e.g. to pass a PEM buffer instead of a path).
    public func contents(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    public static let searchPaths = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/opt/homebrew/bin/openssl"]

    /// Makes the whole PKI in a new temporary directory.
    public init(clientCommonName: String = "Cdevice1") throws {
        guard let openssl = TestPKI.searchPaths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestPKIError.opensslNotFound
        }
        self.clientCommonName = clientCommonName
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("testpki-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        directory = dir
        do {
            try make(openssl)
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    private func make(_ openssl: String) throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func run(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: openssl)
            p.arguments = args
            p.currentDirectoryURL = directory
            p.standardInput = FileHandle.nullDevice
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            while p.isRunning { usleep(1_000) }
            guard p.terminationStatus == 0 else {
                throw TestPKIError.commandFailed(arguments: args, status: p.terminationStatus, output: String(decoding: out, as: UTF8.self))
            }
        }
        func ca(_ name: String, _ cn: String) throws {
            try run(["req", "-x509"] + ec + [
                "-keyout", "\(name).key", "-out", "\(name).crt", "-days", "3650", "-subj", "/CN=\(cn)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
        var serial = 100
        func leaf(_ name: String, cn: String, ext: String, by issuer: String) throws {
            try write("\(name).ext", ext)
            try run(["req", "-new"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(cn)"])
            serial += 1
            try run([
                "x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).crt", "-CAkey", "\(issuer).key",
                "-set_serial", String(serial), "-days", "825", "-sha256", "-extfile", "\(name).ext", "-out", "\(name).crt",
            ])
        }
        let serverExt = """
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=serverAuth
            subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1

            """
        let clientExt = """
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=clientAuth

            """
        try ca("ca", "oneM2M Test CA")
        try ca("other-ca", "Unrelated Test CA")
        try leaf("server", cn: "localhost", ext: serverExt, by: "ca")
        try leaf("wronghost", cn: "wrong.example", ext: serverExt.replacingOccurrences(
            of: "DNS:localhost,IP:127.0.0.1,IP:::1", with: "DNS:wrong.example"), by: "ca")
        try leaf("client", cn: clientCommonName, ext: clientExt, by: "ca")
        try leaf("other-client", cn: clientCommonName, ext: clientExt, by: "other-ca")
        // Expired: `openssl ca` is the portable way to set past validity dates (OpenSSL 3.0's
        // `x509 -req` has no -not_before/-not_after).
        try write("expired.ext", serverExt)
        try write("ca.cnf", """
            [ ca ]
            default_ca = test_ca
            [ test_ca ]
            database = index.txt
            new_certs_dir = .
            serial = serial
            default_md = sha256
            policy = any
            unique_subject = no
            [ any ]
            commonName = supplied

            """)
        try write("index.txt", "")
        try write("serial", "1000\n")
        try run(["req", "-new"] + ec + ["-keyout", "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost"])
        try run([
            "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key", "-in", "expired.csr",
            "-out", "expired.crt", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
            "-extfile", "expired.ext", "-notext",
        ])
        try write("psk.txt", "\(pskIdentity):\(pskHex)\n")
    }
}
