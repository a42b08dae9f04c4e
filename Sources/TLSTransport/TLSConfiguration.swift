/// How a `TLSTransport` authenticates the server and itself.
///
/// Secure by default: the server certificate must chain to `certificateAuthorities` and name
/// the host (`serverName`, default: the host connected to); TLS 1.2 is the minimum. A
/// configuration with neither a CA nor a PSK is refused at `open` (`TLSFailure.configuration`)
/// instead of connecting unauthenticated. `insecureSkipVerification` is the only way to turn
/// verification off, and only for tests and development.
///
/// Three ways to authenticate (TS-0010 7.3 / TS-0003 security association frameworks):
/// - **Certificates**: `certificateAuthorities` (server authentication), plus optionally
///   `clientCertificate` + `clientKey` (mutual TLS; the broker maps the certificate to the
///   AE's credential).
/// - **Pre-shared key** (TS-0003 "pre-provisioned symmetric key"): `preSharedKey` with its
///   identity; with no CA given only PSK cipher suites are offered (ECDHE-PSK first).
/// - Both: a CA and a PSK; the server chooses.
public struct TLSConfiguration: Sendable {
    /// Where a certificate, chain or key comes from: `.file(path)` or `.pem(bytes)`.
    public struct Source: Sendable, Equatable {
        enum Storage: Sendable, Equatable {
            /// A path, UTF-8 without the terminating NUL.
            case file([UInt8])
            case pem([UInt8])
        }
        let storage: Storage

        /// A PEM or DER file.
        public static func file(_ path: String) -> Source { Source(storage: .file(Array(path.utf8))) }
        /// A PEM or DER file, its path as UTF-8 bytes (no terminating NUL), for callers without
        /// `String` (the C API).
        public static func file(path: [UInt8]) -> Source { Source(storage: .file(path)) }
        /// PEM text (need not be NUL-terminated; several certificates allowed) or DER bytes.
        public static func pem(_ bytes: [UInt8]) -> Source { Source(storage: .pem(bytes)) }
    }

    /// A pre-shared key and the identity the broker knows it by.
    public struct PreSharedKey: Sendable, Equatable {
        public var identity: [UInt8]
        public var key: [UInt8]

        public init(identity: [UInt8], key: [UInt8]) {
            self.identity = identity
            self.key = key
        }

        public init(identity: String, key: [UInt8]) {
            self.identity = Array(identity.utf8)
            self.key = key
        }

        /// A key given in hex (as in mosquitto's `psk_file` and `--psk`), e.g. "1a2b3c".
        /// Nil if the text is empty, has an odd length or a non-hex character.
        public init?(identity: String, hexKey: String) {
            self.init(identity: Array(identity.utf8), hexKey: Array(hexKey.utf8))
        }

        /// `init?(identity:hexKey:)` with both as bytes (no `String`, for Embedded programs).
        public init?(identity: [UInt8], hexKey: [UInt8]) {
            var bytes: [UInt8] = []
            var high: UInt8? = nil
            for c in hexKey {
                let v: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
                default: return nil
                }
                if let h = high {
                    bytes.append(h << 4 | v)
                    high = nil
                } else {
                    high = v
                }
            }
            guard high == nil, !bytes.isEmpty else { return nil }
            self.identity = identity
            self.key = bytes
        }
    }

    /// RFC 6066 maximum fragment length to ask the server for (it must agree). Smaller records
    /// bound what the peer sends in one record; see docs/security.md for what it does and does
    /// not save.
    public enum MaxFragmentLength: Int32, Sendable {
        case bytes512 = 1
        case bytes1024 = 2
        case bytes2048 = 3
        case bytes4096 = 4
    }

    /// Trust anchors the server certificate must chain to.
    public var certificateAuthorities: Source?
    /// The client certificate (chain) for mutual TLS; needs `clientKey`.
    public var clientCertificate: Source?
    /// The client private key (PEM or DER), optionally encrypted with `clientKeyPassword`.
    public var clientKey: Source?
    public var clientKeyPassword: [UInt8]?
    /// TLS-PSK credentials.
    public var preSharedKey: PreSharedKey?
    /// The name the server certificate must match and that is sent as SNI; nil means the host
    /// the transport connects to. An IPv4/IPv6 literal is matched against iPAddress SANs.
    public var serverName: String? {
        get { serverNameBytes.map { String(decoding: $0, as: UTF8.self) } }
        set { serverNameBytes = newValue.map { Array($0.utf8) } }
    }
    /// `serverName` as UTF-8 bytes (what is stored; for callers without `String`).
    public var serverNameBytes: [UInt8]?
    /// Accept any server certificate (the handshake still records `lastVerificationFlags`).
    /// **Off by default; for tests and development only**: it makes the connection open to
    /// any man in the middle.
    public var insecureSkipVerification: Bool
    /// Ask the server for smaller records (nil: not negotiated).
    public var maxFragmentLength: MaxFragmentLength?

    /// The Debian/Ubuntu system CA bundle, for brokers with public certificates.
    public static let systemCertificateBundle = "/etc/ssl/certs/ca-certificates.crt"

    /// Inlinable: a caller that passes no `serverName` links no `String` conversion.
    @inlinable
    public init(
        certificateAuthorities: Source? = nil, clientCertificate: Source? = nil, clientKey: Source? = nil,
        clientKeyPassword: [UInt8]? = nil, preSharedKey: PreSharedKey? = nil, serverName: String? = nil,
        insecureSkipVerification: Bool = false, maxFragmentLength: MaxFragmentLength? = nil
    ) {
        self.certificateAuthorities = certificateAuthorities
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.clientKeyPassword = clientKeyPassword
        self.preSharedKey = preSharedKey
        self.serverNameBytes = serverName.map { Array($0.utf8) }
        self.insecureSkipVerification = insecureSkipVerification
        self.maxFragmentLength = maxFragmentLength
    }
}
