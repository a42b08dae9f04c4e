// The TLS-specific half of the C API (mqtts://): onem2m_config's tls_* fields as a
// TLSConfiguration, TLSFailure as ONEM2M_ETLS* codes, onem2m_tls_detail's text, and building the
// transport. Written as extensions of the TLSTransport types, so the code size report
// (scripts/size.py, which attributes a symbol to the module its mangled name starts with) counts
// it with TLSTransport, not with the MQTT + oneM2M core that the core-c-api budget is about.
// What supporting two transports costs the core itself (the CTransport enum) stays in
// CAPI.swift and is counted there.
import COneM2M
import TLSTransport

extension TLSConfiguration {
    /// The tls_* fields of a C config, copied; nil if one is invalid (an empty or too long
    /// string, a PSK key without identity or the reverse, a key length of 0 or above
    /// ONEM2M_MAX_PSK).
    init?(_ c: onem2m_config) {
        var valid = true
        let ca = TLSConfiguration.copy(c.tls_ca_file, &valid), cert = TLSConfiguration.copy(c.tls_cert_file, &valid)
        let key = TLSConfiguration.copy(c.tls_key_file, &valid), identity = TLSConfiguration.copy(c.tls_psk_identity, &valid)
        guard valid else { return nil }
        self.init(insecureSkipVerification: c.tls_insecure != 0)
        if let ca { certificateAuthorities = .file(path: ca) }
        if let cert { clientCertificate = .file(path: cert) }
        if let key { clientKey = .file(path: key) }
        switch (identity, c.tls_psk_key) {
        case (nil, nil): break
        case (let identity?, let psk?):
            guard c.tls_psk_key_len > 0 && c.tls_psk_key_len <= Int(ONEM2M_MAX_PSK) else { return nil }
            preSharedKey = PreSharedKey(identity: identity, key: Array(UnsafeBufferPointer(start: psk, count: c.tls_psk_key_len)))
        default: return nil
        }
    }

    /// A config string's bytes, copied (nil when NULL; no `String`: a C daemon links none of
    /// its code); clears `valid` when it is empty or longer than ONEM2M_MAX_TLS_STRING.
    @inline(never)
    static func copy(_ s: UnsafePointer<CChar>?, _ valid: inout Bool) -> [UInt8]? {
        guard let s else { return nil }
        var n = 0
        while s[n] != 0 {
            n += 1
            if n > Int(ONEM2M_MAX_TLS_STRING) { break }
        }
        guard n > 0 && n <= Int(ONEM2M_MAX_TLS_STRING) else {
            valid = false
            return nil
        }
        return Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(s), count: n))
    }

    /// Whether an mqtts:// connection could authenticate the broker (a CA or a PSK), or
    /// verification is off (tls_insecure). Verification never passes without one of them.
    var canAuthenticateServer: Bool {
        certificateAuthorities != nil || preSharedKey != nil || insecureSkipVerification
    }
}

extension TLSFailure {
    /// The C result code for a `.tls` error of the connection: what its TLS layer recorded.
    @inline(never)
    static func code(of transport: inout CTransport) -> Int32 {
        guard let t = transport.tls else { return ONEM2M_EIO.rawValue }
        return code(t.failure)
    }

    /// The C result code of a TLS failure (nil: none was recorded).
    static func code(_ failure: TLSFailure?) -> Int32 {
        switch failure {
        case .configuration: return ONEM2M_ETLSCONFIG.rawValue
        case .untrustedCertificate, .certificateRejected: return ONEM2M_ETLSUNTRUSTED.rawValue
        case .expiredCertificate, .certificateNotYetValid: return ONEM2M_ETLSEXPIRED.rawValue
        case .hostnameMismatch: return ONEM2M_ETLSHOSTNAME.rawValue
        case .pskRejected: return ONEM2M_ETLSPSK.rawValue
        case .clientCertificateRejected: return ONEM2M_ETLSCLIENTCERT.rawValue
        case .handshakeFailed: return ONEM2M_ETLSHANDSHAKE.rawValue
        case .connectionFailed: return ONEM2M_ECLOSED.rawValue  // after the handshake: a lost connection
        case nil: return ONEM2M_EIO.rawValue
        }
    }
}

extension TLSTransport {
    /// A closed transport for onem2m_connect (kept out of line: the TLS set-up is not core code).
    @inline(never)
    static func make(host: UnsafeRawBufferPointer, port: UInt16, configuration: TLSConfiguration) -> TLSTransport {
        TLSTransport(host: host, port: port, configuration: configuration)
    }

    /// onem2m_tls_detail: mbedTLS's text for the last failure of the connection's TLS layer,
    /// then one line per certificate verification flag; NUL-terminated in `out` (not empty).
    /// The length, 0 if the connection is not TLS or no failure was recorded.
    @inline(never)
    static func writeDetail(of transport: inout CTransport, into out: UnsafeMutableRawBufferPointer) -> Int {
        out[0] = 0
        guard let t = transport.tls else { return 0 }
        return t.writeDetail(into: out)
    }

    func writeDetail(into out: UnsafeMutableRawBufferPointer) -> Int {
        guard lastErrorCode != 0 else { return 0 }
        var n = TLSTransport.describe(code: lastErrorCode, into: out)
        let flags = lastVerificationFlags
        if !flags.isEmpty && n + 2 < out.count {
            out[n] = 10  // newline, then one line per flag ("! The certificate validity has expired")
            n += 1
            n += flags.describe(into: UnsafeMutableRawBufferPointer(rebasing: out[n...]))
        }
        n = min(n, out.count - 1)
        while n > 0 && (out[n - 1] == 10 || out[n - 1] == 0) { n -= 1 }  // no trailing newline
        out[n] = 0
        return n
    }
}
