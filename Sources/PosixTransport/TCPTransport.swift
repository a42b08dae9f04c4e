import CPosix
import MQTTTransport

/// A non-blocking TCP transport over POSIX sockets (IPv4 and IPv6, via getaddrinfo).
///
/// Implements the `Transport` contract exactly:
/// - `open` resolves the host, tries each address in turn within the time limit, and leaves
///   the socket non-blocking with TCP_NODELAY on (Nagle would add ~40 ms to every MQTT
///   request/response round trip).
/// - `send`/`receive` never block and return 0 for "would block" (EAGAIN, EWOULDBLOCK, EINTR);
///   `receive` throws `.closed` when the peer shut the connection down in an orderly way.
/// - `wait` polls; a hang-up or socket error reports the transport as readable (and as writable
///   too if writability was asked for), so the next `receive`/`send` surfaces the error.
/// - `close()` is idempotent, and `open` may be called again to reconnect.
///
/// `send`, `receive` and `wait` do not allocate. The struct holds the descriptor by value: a
/// copy refers to the same socket, so close it through one copy only. There is no `deinit`;
/// call `close()` when done.
public struct TCPTransport: Transport, Sendable {
    /// The host name or numeric address, NUL-terminated, copied at init.
    private let hostCString: [UInt8]
    /// False if the host is empty or contains a NUL byte.
    private let hostIsValid: Bool
    /// The TCP port to connect to.
    public let port: UInt16
    /// The socket descriptor, or -1 when not open. For diagnostics only.
    public private(set) var descriptor: Int32 = -1

    /// Creates a closed transport for `host` (a DNS name, an IPv4 address or an IPv6 address
    /// without brackets) and `port`. Nothing is resolved until `open`.
    public init(host: String, port: UInt16) {
        // Over the contiguous UTF-8 (a native string's own storage): one copy, no per-byte
        // appends (the byte-by-byte loop cost 1.2 KB of armv7 code).
        var text = host
        self = text.withUTF8 { TCPTransport(host: UnsafeRawBufferPointer($0), port: port) }
    }

    /// `init(host:port:)` with the host name as UTF-8 bytes (no terminating NUL; copied), for
    /// callers that have no `String`: an Embedded program that uses none links none of the
    /// standard library's `String` code (on armv7, 12 to 16 KB).
    public init(host: UnsafeRawBufferPointer, port: UInt16) {
        var valid = !host.isEmpty
        self.hostCString = [UInt8](unsafeUninitializedCapacity: host.count + 1) { out, initialized in
            for k in 0..<host.count {
                if host[k] == 0 { valid = false }
                out[k] = host[k]
            }
            out[host.count] = 0
            initialized = host.count + 1
        }
        self.hostIsValid = valid
        self.port = port
    }

    /// Whether the transport currently holds an open socket.
    public var isOpen: Bool { descriptor >= 0 }

    /// Connects within `timeoutMilliseconds` (a negative value waits without limit). An already
    /// open connection is closed first, so this is also how to reconnect.
    public mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        close()
        guard hostIsValid, port != 0 else { throw .invalidEndpoint }
        let timeout = Int32(clamping: timeoutMilliseconds)
        let port = self.port
        var resolveError: Int32 = 0
        let result = hostCString.withUnsafeBufferPointer { bytes -> Int32 in
            bytes.withMemoryRebound(to: CChar.self) { chars -> Int32 in
                cposix_tcp_connect(chars.baseAddress, port, timeout, &resolveError)
            }
        }
        if result >= 0 {
            descriptor = result
            return
        }
        if result == CPOSIX_ERESOLVE { throw .resolveFailed(code: resolveError) }
        throw TCPTransport.error(errno: -result)
    }

    /// Sends as much of `bytes` as the socket takes without blocking; 0 means "try later".
    public mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        guard descriptor >= 0 else { throw .notConnected }
        if bytes.isEmpty { return 0 }
        let n = cposix_send(descriptor, bytes.baseAddress, bytes.count)
        if n >= 0 { return n }
        let code = Int32(truncatingIfNeeded: -n)
        if TCPTransport.isWouldBlock(code) { return 0 }
        throw TCPTransport.error(errno: code)
    }

    /// Receives what is available without blocking; 0 means "nothing yet". Throws `.closed`
    /// when the peer closed the connection in an orderly way.
    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard descriptor >= 0 else { throw .notConnected }
        if buffer.isEmpty { return 0 }
        let n = cposix_recv(descriptor, buffer.baseAddress, buffer.count)
        if n > 0 { return n }
        if n == 0 { throw .closed }
        let code = Int32(truncatingIfNeeded: -n)
        if TCPTransport.isWouldBlock(code) { return 0 }
        throw TCPTransport.error(errno: code)
    }

    /// Waits until the socket is readable and/or writable as asked, or `timeoutMilliseconds`
    /// passes (then both flags are false). 0 polls; a negative timeout waits without limit.
    /// A hang-up or pending socket error counts as readable (and as writable if asked), so the
    /// following `receive`/`send` reports it.
    public mutating func wait(
        for interest: TransportReadiness, timeoutMilliseconds: Int
    ) throws(TransportError) -> TransportReadiness {
        guard descriptor >= 0 else { throw .notConnected }
        let mask = cposix_poll(
            descriptor, interest.readable ? 1 : 0, interest.writable ? 1 : 0,
            Int32(clamping: timeoutMilliseconds))
        if mask < 0 { throw TCPTransport.error(errno: -mask) }
        let trouble = mask & (CPOSIX_POLL_HANGUP | CPOSIX_POLL_ERROR) != 0
        return TransportReadiness(
            readable: mask & CPOSIX_POLL_READABLE != 0 || trouble,
            writable: mask & CPOSIX_POLL_WRITABLE != 0 || (trouble && interest.writable))
    }

    /// Closes the socket. Safe to call more than once.
    public mutating func close() {
        guard descriptor >= 0 else { return }
        _ = cposix_close(descriptor)
        descriptor = -1
    }

    static func isWouldBlock(_ code: Int32) -> Bool {
        code == CPOSIX_EAGAIN || code == CPOSIX_EWOULDBLOCK || code == CPOSIX_EINTR
    }

    /// Maps an errno value onto the transport's typed errors.
    static func error(errno code: Int32) -> TransportError {
        switch code {
        case CPOSIX_ECONNREFUSED: return .refused
        case CPOSIX_EHOSTUNREACH, CPOSIX_ENETUNREACH: return .unreachable
        case CPOSIX_ETIMEDOUT: return .timedOut
        case CPOSIX_ECONNRESET, CPOSIX_EPIPE, CPOSIX_ECONNABORTED: return .reset
        default: return .system(code: code)
        }
    }
}
