import CMbedTLS
import CPosix
import MQTTTransport
import PosixTransport

/// What the BIO callbacks need: the socket and the errno of the last failed send/recv.
struct TLSBIO {
    var descriptor: Int32 = -1
    var lastErrno: Int32 = 0
}

/// mbedTLS BIO send over a non-blocking POSIX socket (CPosix). Never blocks.
let tlsBIOSend: cmbedtls_send_fn = { context, buffer, length in
    guard let bio = context?.assumingMemoryBound(to: TLSBIO.self) else { return CMBEDTLS_ERR_NET_SEND_FAILED }
    let n = cposix_send(bio.pointee.descriptor, buffer, length)
    if n >= 0 { return Int32(truncatingIfNeeded: n) }
    let code = Int32(truncatingIfNeeded: -n)
    if code == CPOSIX_EAGAIN || code == CPOSIX_EWOULDBLOCK || code == CPOSIX_EINTR { return CMBEDTLS_ERR_WANT_WRITE }
    bio.pointee.lastErrno = code
    if code == CPOSIX_EPIPE || code == CPOSIX_ECONNRESET || code == CPOSIX_ECONNABORTED { return CMBEDTLS_ERR_NET_CONN_RESET }
    return CMBEDTLS_ERR_NET_SEND_FAILED
}

/// mbedTLS BIO recv over a non-blocking POSIX socket (CPosix): 0 = end of stream.
let tlsBIORecv: cmbedtls_recv_fn = { context, buffer, length in
    guard let bio = context?.assumingMemoryBound(to: TLSBIO.self) else { return CMBEDTLS_ERR_NET_RECV_FAILED }
    let n = cposix_recv(bio.pointee.descriptor, buffer, length)
    if n >= 0 { return Int32(truncatingIfNeeded: n) }
    let code = Int32(truncatingIfNeeded: -n)
    if code == CPOSIX_EAGAIN || code == CPOSIX_EWOULDBLOCK || code == CPOSIX_EINTR { return CMBEDTLS_ERR_WANT_READ }
    bio.pointee.lastErrno = code
    if code == CPOSIX_ECONNRESET || code == CPOSIX_EPIPE || code == CPOSIX_ECONNABORTED { return CMBEDTLS_ERR_NET_CONN_RESET }
    return CMBEDTLS_ERR_NET_RECV_FAILED
}

/// The mbedTLS context and what the last handshake recorded. A class so that copies of the
/// transport share one context and it is freed exactly once.
final class TLSState {
    let configuration: TLSConfiguration
    /// NUL-terminated; empty when the name check is off.
    let serverName: [UInt8]
    var context: OpaquePointer? = nil
    let bio: UnsafeMutablePointer<TLSBIO>
    var prepared = false
    var pskOnly = false
    var connected = false

    var lastErrorCode: Int32 = 0
    var lastVerificationFlags: UInt32 = 0xFFFF_FFFF
    var lastAlert: Int32 = -1
    var serverRequestedCertificate = false
    var failure: TLSFailure? = nil

    init(configuration: TLSConfiguration, host: UnsafeRawBufferPointer) {
        self.configuration = configuration
        var name: [UInt8] = []
        if let s = configuration.serverNameBytes {
            for b in s where b != 0 { name.append(b) }
        } else {
            for b in host where b != 0 { name.append(b) }
        }
        name.append(0)
        self.serverName = name
        bio = UnsafeMutablePointer<TLSBIO>.allocate(capacity: 1)
        bio.initialize(to: TLSBIO())
    }

    deinit {
        cmbedtls_free(context)
        bio.deinitialize(count: 1)
        bio.deallocate()
    }

    /// Builds the mbedTLS context from the configuration (once): seeds the DRBG, parses the
    /// CA, certificate and key, sets the PSK and the host name, sets up the SSL context.
    func prepare() throws(TransportError) {
        if prepared { return }
        cmbedtls_free(context)
        guard let ctx = cmbedtls_new() else { throw fail(CMBEDTLS_ERR_ALLOC_FAILED, duringHandshake: true) }
        context = ctx
        let c = configuration
        var rc: Int32 = 0
        let personalization: StaticString = "onem2m-mqtt-tls-client"
        rc = cmbedtls_seed(ctx, personalization.utf8Start, personalization.utf8CodeUnitCount)
        if rc == 0, let ca = c.certificateAuthorities {
            rc = TLSState.load(ca, file: { cmbedtls_add_ca_file(ctx, $0) }, buffer: { cmbedtls_add_ca_buffer(ctx, $0, $1) })
        }
        if rc == 0, let cert = c.clientCertificate {
            rc = TLSState.load(cert, file: { cmbedtls_add_own_certificate_file(ctx, $0) }, buffer: { cmbedtls_add_own_certificate_buffer(ctx, $0, $1) })
        }
        if rc == 0, let key = c.clientKey {
            rc = TLSState.loadKey(ctx, key, password: c.clientKeyPassword)
        }
        if rc == 0, let psk = c.preSharedKey {
            rc = psk.key.withUnsafeBytes { k in
                psk.identity.withUnsafeBytes { i in cmbedtls_set_psk(ctx, k.baseAddress, k.count, i.baseAddress, i.count) }
            }
        }
        pskOnly = c.preSharedKey != nil && c.certificateAuthorities == nil && c.clientCertificate == nil
        if rc == 0 {
            var options = cmbedtls_options(
                verify_mode: c.insecureSkipVerification ? CMBEDTLS_VERIFY_OPTIONAL : CMBEDTLS_VERIFY_REQUIRED,
                psk_only: pskOnly ? 1 : 0,
                max_fragment_length_code: c.maxFragmentLength?.rawValue ?? 0)
            rc = cmbedtls_setup(ctx, &options)
        }
        if rc == 0 && serverName.count > 1 {
            rc = serverName.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { cmbedtls_set_hostname(ctx, $0.baseAddress) }
            }
        }
        if rc != 0 {
            let error = fail(rc, duringHandshake: true)
            failure = .configuration
            cmbedtls_free(ctx)
            context = nil
            throw error
        }
        cmbedtls_set_bio(ctx, UnsafeMutableRawPointer(bio), tlsBIOSend, tlsBIORecv)
        prepared = true
    }

    static func load(
        _ source: TLSConfiguration.Source, file: (UnsafePointer<CChar>?) -> Int32,
        buffer: (UnsafeRawPointer?, Int) -> Int32
    ) -> Int32 {
        switch source.storage {
        case .file(let path):
            var bytes = path
            bytes.append(0)
            return bytes.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { file($0.baseAddress) } }
        case .pem(let data):
            return data.withUnsafeBytes { buffer($0.baseAddress, $0.count) }
        }
    }

    static func loadKey(_ ctx: OpaquePointer, _ source: TLSConfiguration.Source, password: [UInt8]?) -> Int32 {
        switch source.storage {
        case .file(let path):
            var bytes = path
            bytes.append(0)
            var pass: [UInt8]? = nil
            if let password {
                pass = password
                pass!.append(0)
            }
            return bytes.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { cpath in
                    if let pass {
                        return pass.withUnsafeBufferPointer { q in
                            q.withMemoryRebound(to: CChar.self) { cmbedtls_set_own_key_file(ctx, cpath.baseAddress, $0.baseAddress) }
                        }
                    }
                    return cmbedtls_set_own_key_file(ctx, cpath.baseAddress, nil)
                }
            }
        case .pem(let data):
            let pass = password ?? []
            return data.withUnsafeBytes { d in
                pass.withUnsafeBytes { p in
                    cmbedtls_set_own_key_buffer(ctx, d.baseAddress, d.count, password == nil ? nil : p.baseAddress, p.count)
                }
            }
        }
    }

    /// Records an mbedTLS failure and returns the error to throw.
    func fail(_ code: Int32, duringHandshake: Bool) -> TransportError {
        lastErrorCode = code
        if let ctx = context {
            lastVerificationFlags = cmbedtls_verify_result(ctx)
            lastAlert = cmbedtls_last_alert(ctx)
            serverRequestedCertificate = cmbedtls_server_requested_certificate(ctx) != 0
        }
        let flags = lastVerificationFlags == 0xFFFF_FFFF ? TLSVerificationFlags() : TLSVerificationFlags(rawValue: lastVerificationFlags)
        failure = TLSFailure.classify(
            code: code, verificationFlags: flags, alert: lastAlert >= 0 ? UInt8(truncatingIfNeeded: lastAlert) : nil,
            duringHandshake: duringHandshake, pskOnly: pskOnly, serverRequestedCertificate: serverRequestedCertificate,
            haveClientCertificate: configuration.clientCertificate != nil)
        return .tls(code: code)
    }

    /// Maps an I/O error after the handshake: socket failures keep their TCP meaning.
    func ioError(_ code: Int32) -> TransportError {
        if code == CMBEDTLS_ERR_NET_CONN_RESET { return .reset }
        if (code == CMBEDTLS_ERR_NET_SEND_FAILED || code == CMBEDTLS_ERR_NET_RECV_FAILED) && bio.pointee.lastErrno != 0 {
            let e = bio.pointee.lastErrno
            if e == CPOSIX_ETIMEDOUT { return .timedOut }
            if e == CPOSIX_EHOSTUNREACH || e == CPOSIX_ENETUNREACH { return .unreachable }
            return .system(code: e)
        }
        return fail(code, duringHandshake: false)
    }
}

/// A non-blocking TLS 1.2 client transport: mbedTLS over a POSIX TCP socket (`mqtts://`).
///
/// Implements the `Transport` contract:
/// - `open` connects TCP and completes the TLS handshake within the time limit (polling on
///   WANT_READ/WANT_WRITE); the server certificate is verified against the configured CA and
///   the host name (or the handshake is PSK-authenticated). The mbedTLS context is built on the
///   first `open` and reused (session reset) on reconnect.
/// - `send` encrypts up to one record and returns the bytes taken (0 = would block); a record
///   the socket could not take whole is flushed by later `send`/`receive`/`wait` calls.
/// - `receive` returns decrypted bytes (0 = would block) and throws `.closed` on close_notify
///   or end of stream.
/// - `wait` reports readable at once when mbedTLS holds decrypted or unprocessed input.
/// - TLS failures throw `.tls(code:)` (the mbedTLS code); `failure`, `lastVerificationFlags`
///   and `lastAlert` say why, `TLSTransport.describe(code:into:)` gives mbedTLS's text.
///
/// Memory: the context (~2.5 KB) plus mbedTLS's record buffers (16 KB in + 16 KB out with
/// the default build) and the handshake's temporary allocations come from the heap when the
/// context is built / during the handshake; `send`/`receive`/`wait` allocate nothing
/// afterwards. See docs/security.md for bounding it.
///
/// Copies share one TLS context and socket (use one copy); call `close()` when done.
public struct TLSTransport: Transport {
    /// The TCP connection underneath.
    public private(set) var tcp: TCPTransport
    let state: TLSState

    /// A closed transport to `host:port` with `configuration`. Nothing is loaded or resolved
    /// until `open` (or `prepare`).
    public init(host: String, port: UInt16, configuration: TLSConfiguration) {
        var text = host
        self = text.withUTF8 { TLSTransport(host: UnsafeRawBufferPointer($0), port: port, configuration: configuration) }
    }

    /// `init(host:port:configuration:)` with the host name as UTF-8 bytes (no terminating NUL;
    /// copied), for callers without `String` (the C API).
    public init(host: UnsafeRawBufferPointer, port: UInt16, configuration: TLSConfiguration) {
        tcp = TCPTransport(host: host, port: port)
        state = TLSState(configuration: configuration, host: host)
    }

    public var configuration: TLSConfiguration { state.configuration }
    /// Whether the handshake completed and the connection is open.
    public var isOpen: Bool { state.connected && tcp.isOpen }
    /// The mbedTLS code of the last TLS failure (0 if none yet).
    public var lastErrorCode: Int32 { state.lastErrorCode }
    /// What the last TLS failure means (nil if none yet).
    public var failure: TLSFailure? { state.failure }
    /// The X.509 verification flags of the last handshake (empty when verified, or when no
    /// certificate was checked, e.g. PSK).
    public var lastVerificationFlags: TLSVerificationFlags {
        state.lastVerificationFlags == 0xFFFF_FFFF ? TLSVerificationFlags() : TLSVerificationFlags(rawValue: state.lastVerificationFlags)
    }
    /// The fatal alert the server sent in the last failure (RFC 5246 7.2), if any.
    public var lastAlert: UInt8? { state.lastAlert >= 0 ? UInt8(truncatingIfNeeded: state.lastAlert) : nil }

    /// Loads the CA, certificate, key and PSK now (instead of on the first `open`), so that
    /// configuration mistakes show up early: throws `.tls(code:)` with `failure ==
    /// .configuration`.
    public mutating func prepare() throws(TransportError) {
        try state.prepare()
    }

    /// Connects and handshakes within `timeoutMilliseconds` (negative: no limit). An open
    /// connection is closed first, so this also reconnects.
    public mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        close()
        try state.prepare()
        guard let ctx = state.context else { throw .notConnected }
        state.lastAlert = -1
        state.failure = nil
        state.lastErrorCode = 0
        state.lastVerificationFlags = 0xFFFF_FFFF
        state.serverRequestedCertificate = false
        let start = cposix_monotonic_ms()
        try tcp.open(timeoutMilliseconds: timeoutMilliseconds)
        state.bio.pointee = TLSBIO(descriptor: tcp.descriptor, lastErrno: 0)
        let reset = cmbedtls_session_reset(ctx)
        if reset != 0 {
            tcp.close()
            throw state.fail(reset, duringHandshake: true)
        }
        while true {
            let rc = cmbedtls_handshake(ctx)
            if rc == 0 { break }
            if rc != CMBEDTLS_ERR_WANT_READ && rc != CMBEDTLS_ERR_WANT_WRITE {
                let error = state.fail(rc, duringHandshake: true)
                tcp.close()
                throw error
            }
            var left: Int64 = -1
            if timeoutMilliseconds >= 0 {
                left = start + Int64(timeoutMilliseconds) - cposix_monotonic_ms()
                if left <= 0 {
                    tcp.close()
                    throw .timedOut
                }
            }
            let mask = cposix_poll(tcp.descriptor, rc == CMBEDTLS_ERR_WANT_READ ? 1 : 0, rc == CMBEDTLS_ERR_WANT_WRITE ? 1 : 0, Int32(clamping: left))
            if mask < 0 {
                tcp.close()
                throw .system(code: -mask)
            }
        }
        state.lastVerificationFlags = cmbedtls_verify_result(ctx)
        state.connected = true
    }

    /// Encrypts and sends up to one record of `bytes`; returns the bytes taken (0: try later).
    public mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        guard isOpen, let ctx = state.context else { throw .notConnected }
        let n = cmbedtls_write(ctx, bytes.baseAddress, bytes.count)
        if n >= 0 { return n }
        let code = Int32(truncatingIfNeeded: n)
        if code == CMBEDTLS_ERR_WANT_WRITE || code == CMBEDTLS_ERR_WANT_READ { return 0 }
        throw state.ioError(code)
    }

    /// Receives decrypted bytes (0: nothing yet). Throws `.closed` when the peer closed.
    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard isOpen, let ctx = state.context else { throw .notConnected }
        try flushPending(ctx)
        if buffer.isEmpty { return 0 }
        let n = cmbedtls_read(ctx, buffer.baseAddress, buffer.count)
        if n > 0 { return n }
        let code = Int32(truncatingIfNeeded: n)
        if n == 0 || code == CMBEDTLS_ERR_PEER_CLOSE_NOTIFY || code == CMBEDTLS_ERR_CONN_EOF { throw .closed }
        if code == CMBEDTLS_ERR_WANT_READ || code == CMBEDTLS_ERR_WANT_WRITE { return 0 }
        throw state.ioError(code)
    }

    /// Sends what is left of a partly sent record (never blocks).
    mutating func flushPending(_ ctx: OpaquePointer) throws(TransportError) {
        let rc = cmbedtls_flush(ctx)
        if rc == 0 || rc == CMBEDTLS_ERR_WANT_WRITE || rc == CMBEDTLS_ERR_WANT_READ { return }
        throw state.ioError(rc)
    }

    /// Waits for readability/writability. Buffered input counts as readable at once; while a
    /// record is partly sent, the socket is also watched for writability and the rest flushed,
    /// and writable is reported only once nothing is pending.
    public mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        guard isOpen, let ctx = state.context else { throw .notConnected }
        let deadline: Int64? = timeoutMilliseconds >= 0 ? cposix_monotonic_ms() + Int64(timeoutMilliseconds) : nil
        while true {
            if interest.readable && cmbedtls_has_pending_input(ctx) != 0 {
                return TransportReadiness(readable: true, writable: false)
            }
            try flushPending(ctx)
            let pending = cmbedtls_has_pending_output(ctx) != 0
            var left: Int64 = -1
            if let deadline { left = max(0, deadline - cposix_monotonic_ms()) }
            let mask = cposix_poll(tcp.descriptor, interest.readable ? 1 : 0, interest.writable || pending ? 1 : 0, Int32(clamping: left))
            if mask < 0 { throw .system(code: -mask) }
            let trouble = mask & (CPOSIX_POLL_HANGUP | CPOSIX_POLL_ERROR) != 0
            let readable = interest.readable && (mask & CPOSIX_POLL_READABLE != 0 || trouble)
            var writable = mask & CPOSIX_POLL_WRITABLE != 0 || trouble
            if writable && pending {
                try flushPending(ctx)
                writable = cmbedtls_has_pending_output(ctx) == 0
            }
            let report = TransportReadiness(readable: readable, writable: interest.writable && writable)
            if report.readable || report.writable || mask == 0 || left == 0 { return report }
            if trouble { return TransportReadiness(readable: interest.readable, writable: interest.writable) }
        }
    }

    /// Sends close_notify (best effort, non-blocking) and closes the socket. Idempotent.
    public mutating func close() {
        if state.connected, let ctx = state.context, tcp.isOpen {
            _ = cmbedtls_close_notify(ctx)
        }
        state.connected = false
        tcp.close()
        state.bio.pointee.descriptor = -1
    }

    // MARK: - Diagnostics

    /// Writes mbedTLS's description of `code` (`mbedtls_strerror`, e.g. "X509 - Certificate
    /// verification failed, e.g. CRL, CA or signature check failed") into `buffer`
    /// (NUL-terminated when room) and returns its length.
    public static func describe(code: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return cmbedtls_strerror(code, base.assumingMemoryBound(to: CChar.self), buffer.count)
    }

    /// The negotiated cipher suite (e.g. "TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256"), NUL-
    /// terminated, valid while the connection lasts; "" when not connected.
    public var cipherSuiteCString: UnsafePointer<CChar> {
        guard let ctx = state.context else { return emptyCString }
        return cmbedtls_ciphersuite(ctx)
    }

    /// mbedTLS's compile-time record buffer sizes (`MBEDTLS_SSL_IN_CONTENT_LEN`,
    /// `MBEDTLS_SSL_OUT_CONTENT_LEN`) of the library this was built against.
    public static var recordBufferSizes: (input: Int, output: Int) {
        (cmbedtls_in_content_length(), cmbedtls_out_content_length())
    }
}

private let emptyCStringStorage: StaticString = ""
private var emptyCString: UnsafePointer<CChar> {
    UnsafeRawPointer(emptyCStringStorage.utf8Start).assumingMemoryBound(to: CChar.self)
}

#if !hasFeature(Embedded)
extension TLSTransport {
    /// mbedTLS's description of `code` (host convenience).
    public static func errorText(code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { describe(code: code, into: $0) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// The negotiated cipher suite (host convenience).
    public var cipherSuite: String { String(cString: cipherSuiteCString) }
}

extension TLSVerificationFlags {
    /// One line per flag (host convenience).
    public var text: String {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = buffer.withUnsafeMutableBytes { describe(into: $0) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
#endif
