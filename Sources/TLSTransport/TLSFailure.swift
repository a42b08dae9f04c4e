import CMbedTLS

/// X.509 verification result bits (mbedTLS `MBEDTLS_X509_BADCERT_*`), as recorded by the last
/// handshake in `TLSTransport.lastVerificationFlags`.
public struct TLSVerificationFlags: OptionSet, Equatable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The certificate's validity period has ended.
    public static let expired = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_EXPIRED)
    /// The certificate is on a CRL.
    public static let revoked = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_REVOKED)
    /// Neither a subjectAltName nor the CN matches the expected host name
    /// (`MBEDTLS_X509_BADCERT_CN_MISMATCH`).
    public static let hostnameMismatch = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_CN_MISMATCH)
    /// The chain does not lead to a configured CA.
    public static let notTrusted = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_NOT_TRUSTED)
    /// The server sent no certificate.
    public static let missing = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_MISSING)
    /// Verification was skipped.
    public static let skipped = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_SKIP_VERIFY)
    public static let other = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_OTHER)
    /// The certificate's validity period has not started.
    public static let notYetValid = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_FUTURE)
    public static let keyUsage = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_KEY_USAGE)
    public static let extendedKeyUsage = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_EXT_KEY_USAGE)
    public static let netscapeCertType = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_NS_CERT_TYPE)
    /// Signed with an unacceptable hash (e.g. SHA-1).
    public static let badHash = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_BAD_MD)
    /// Signed with an unacceptable public-key algorithm.
    public static let badPublicKeyAlgorithm = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_BAD_PK)
    /// Signed with an unacceptable key (curve, RSA size).
    public static let badKey = TLSVerificationFlags(rawValue: CMBEDTLS_BADCERT_BAD_KEY)

    /// `mbedtls_x509_crt_verify_info`: one line per flag ("! The certificate validity has
    /// expired"), written into `buffer` (NUL-terminated when room); returns the length.
    public func describe(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return cmbedtls_verify_info(rawValue, base.assumingMemoryBound(to: CChar.self), buffer.count)
    }
}

/// Why a TLS connection failed, in terms an application can act on. `TLSTransport.failure`
/// gives it for the last `.tls(code:)` error; `TLSFailure.classify` derives it from the raw
/// facts.
public enum TLSFailure: Equatable, Sendable {
    /// The CA, certificate, key or PSK could not be loaded, or they do not fit together
    /// (e.g. verification required but no CA; a certificate without its key).
    case configuration
    /// The server certificate does not chain to a configured CA (wrong CA, self-signed,
    /// incomplete chain) or is missing.
    case untrustedCertificate
    /// The server certificate has expired.
    case expiredCertificate
    /// The server certificate is not valid yet (check the device clock).
    case certificateNotYetValid
    /// The server certificate does not name the host (`MBEDTLS_X509_BADCERT_CN_MISMATCH`).
    case hostnameMismatch
    /// Another verification failure (revoked, key usage, weak hash or key).
    case certificateRejected
    /// The server asked for a client certificate and aborted the handshake: none was
    /// configured, or it did not accept the one sent.
    case clientCertificateRejected
    /// The PSK handshake failed: wrong key or unknown identity.
    case pskRejected
    /// Any other handshake failure: no common cipher suite or version, unexpected message,
    /// the server closed or reset the connection, an alert.
    case handshakeFailed
    /// A failure after the handshake (bad record, fatal alert from the peer).
    case connectionFailed

    /// A fixed, human-readable description (no allocation, Embedded-safe).
    public var summary: StaticString {
        switch self {
        case .configuration: return "TLS configuration could not be loaded"
        case .untrustedCertificate: return "server certificate is not trusted"
        case .expiredCertificate: return "server certificate has expired"
        case .certificateNotYetValid: return "server certificate is not valid yet"
        case .hostnameMismatch: return "server certificate does not match the host name"
        case .certificateRejected: return "server certificate was rejected"
        case .clientCertificateRejected: return "server rejected or required a client certificate"
        case .pskRejected: return "pre-shared key rejected"
        case .handshakeFailed: return "TLS handshake failed"
        case .connectionFailed: return "TLS connection failed"
        }
    }

    /// Derives the failure from an mbedTLS error code and what the handshake recorded.
    ///
    /// - Parameters:
    ///   - code: the mbedTLS (or shim) error code, as in `TransportError.tls(code:)`.
    ///   - verificationFlags: the X.509 flags of the handshake.
    ///   - alert: the fatal alert the peer sent, if any.
    ///   - duringHandshake: whether the error came from `open`.
    ///   - pskOnly: whether only PSK cipher suites were offered.
    ///   - serverRequestedCertificate / haveClientCertificate: whether the server sent a
    ///     CertificateRequest / a client certificate was configured.
    public static func classify(
        code: Int32, verificationFlags: TLSVerificationFlags, alert: UInt8?, duringHandshake: Bool,
        pskOnly: Bool, serverRequestedCertificate: Bool, haveClientCertificate: Bool
    ) -> TLSFailure {
        if code == CMBEDTLS_ERR_NO_TRUST_ANCHOR || code == CMBEDTLS_ERR_INCOMPLETE_IDENTITY || isLoadError(code) {
            return .configuration
        }
        if code == CMBEDTLS_ERR_X509_CERT_VERIFY_FAILED {
            let f = verificationFlags
            if !f.intersection([.notTrusted, .missing]).isEmpty { return .untrustedCertificate }
            if f.contains(.expired) { return .expiredCertificate }
            if f.contains(.notYetValid) { return .certificateNotYetValid }
            if f.contains(.hostnameMismatch) { return .hostnameMismatch }
            return .certificateRejected
        }
        guard duringHandshake else { return .connectionFailed }
        // The server ends a handshake it does not like with an alert, or by closing.
        let peerAborted = code == CMBEDTLS_ERR_FATAL_ALERT_MESSAGE || code == CMBEDTLS_ERR_CONN_EOF
            || code == CMBEDTLS_ERR_NET_CONN_RESET || code == CMBEDTLS_ERR_NET_RECV_FAILED
            || code == CMBEDTLS_ERR_BAD_HS_FINISHED
        if pskOnly && peerAborted {
            switch alert {
            case nil, 20, 21, 40, 51, 115: return .pskRejected  // bad_record_mac, decryption_failed, handshake_failure, decrypt_error, unknown_psk_identity
            default: break
            }
        }
        if serverRequestedCertificate && peerAborted {
            if !haveClientCertificate { return .clientCertificateRejected }
            switch alert {
            case nil, 40, 41, 42, 43, 44, 45, 46, 48, 49, 116:  // handshake_failure ... unknown_ca, access_denied, certificate_required
                return .clientCertificateRejected
            default: break
            }
        }
        return .handshakeFailed
    }

    /// mbedTLS error ranges of the loaders: PEM (-0x1080 ... -0x1480), X.509 parsing
    /// (-0x2080 ... -0x2980, except -0x2700 = verification failed), PK parsing (-0x3880 ... -0x3F80).
    static func isLoadError(_ code: Int32) -> Bool {
        if code <= -0x1080 && code >= -0x14FF { return true }
        if code <= -0x2080 && code >= -0x29FF && code != CMBEDTLS_ERR_X509_CERT_VERIFY_FAILED { return true }
        if code <= -0x3880 && code >= -0x3FFF { return true }
        return false
    }
}
