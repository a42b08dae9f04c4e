/// Why a transport operation failed. Every shim maps its native errors onto these cases so the
/// client above can decide what to do (retry with back-off, give up, report) without knowing
/// which shim it runs on. `code` carries the native error number (errno, mbedTLS code) for logs.
public enum TransportError: Error, Equatable, Sendable {
    /// The host name did not resolve (getaddrinfo failed). `code` is the EAI_* value.
    case resolveFailed(code: Int32)
    /// The peer actively refused the connection (ECONNREFUSED).
    case refused
    /// No route to the host or network (EHOSTUNREACH, ENETUNREACH).
    case unreachable
    /// The operation did not complete within its time limit.
    case timedOut
    /// The peer reset the connection (ECONNRESET, EPIPE).
    case reset
    /// The peer closed the connection in an orderly way (recv returned 0 / TLS close_notify).
    case closed
    /// The transport is not open (never connected, or closed by the caller).
    case notConnected
    /// A TLS-level failure (handshake, certificate, PSK). `code` is the library's error code.
    case tls(code: Int32)
    /// Any other system error; `code` is errno.
    case system(code: Int32)
    /// The endpoint given to the transport is invalid (empty host, port 0, bad URL).
    case invalidEndpoint

    /// A fixed, human-readable description (no allocation, Embedded-safe).
    public var summary: StaticString {
        switch self {
        case .resolveFailed: return "host name could not be resolved"
        case .refused: return "connection refused by the peer"
        case .unreachable: return "host or network unreachable"
        case .timedOut: return "operation timed out"
        case .reset: return "connection reset by the peer"
        case .closed: return "connection closed by the peer"
        case .notConnected: return "transport is not connected"
        case .tls: return "TLS failure"
        case .system: return "system error"
        case .invalidEndpoint: return "invalid endpoint"
        }
    }
}

/// What `Transport.wait` should wait for, and what it found.
public struct TransportReadiness: Equatable, Sendable {
    public var readable: Bool
    public var writable: Bool
    public init(readable: Bool, writable: Bool) {
        self.readable = readable
        self.writable = writable
    }
}

/// A byte-stream transport under the MQTT client: TCP, TLS, WebSocket.
///
/// The contract (modelled on coreMQTT's `TransportInterface_t`):
/// - `open(timeoutMilliseconds:)` establishes the connection (including any TLS or WebSocket
///   handshake) within the time limit, or throws. It may block up to that limit.
/// - `send` and `receive` never block. They return the number of bytes moved; **0 means "would
///   block, try again later"**, never end of stream. An orderly close by the peer throws
///   `.closed`; every other failure throws a typed `TransportError`.
/// - `wait` blocks until the transport is readable/writable as asked, or the timeout passes
///   (then it returns both flags false). A timeout of 0 polls.
/// - `close()` releases the connection; it is safe to call more than once. `open` may be called
///   again afterwards to reconnect.
///
/// The protocol is used only as a generic constraint (never as `any Transport`), so it works
/// in Embedded Swift and costs no dynamic dispatch.
public protocol Transport {
    mutating func open(timeoutMilliseconds: Int) throws(TransportError)
    mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int
    mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int
    mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness
    mutating func close()
}

/// A monotonic millisecond clock (never goes backwards, unaffected by wall-clock changes).
/// The session takes time as a parameter; the client asks one of these.
public protocol MonotonicClock {
    /// Milliseconds since an arbitrary fixed point, in the machine word: on a 32-bit board the
    /// reading may wrap (every 2^31 ms, about 24.8 days; return the low bits of a wider counter,
    /// as coreMQTT's `uint32_t` clock does). The SDK only ever uses differences of readings, with
    /// wrapping arithmetic, so a wrap is harmless; on 64-bit targets it never happens.
    func nowMilliseconds() -> Int
    /// Blocks the calling thread for about `milliseconds` (used only while no connection
    /// exists to wait on, e.g. between reconnect attempts).
    func sleep(milliseconds: Int)
}
