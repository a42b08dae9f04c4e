import MQTTClient
import OneM2M
import OneM2MClient
import PosixTransport
import TLSTransport
import WebSocketTransport

/// An AE client over TLS (`mqtts://`).
public typealias TLSOneM2MClient = OneM2MClient<TLSTransport, PosixMonotonicClock, PosixWallClock>
/// An AE client over MQTT-over-WebSocket (`ws://`).
public typealias WebSocketOneM2MClient = OneM2MClient<WebSocketTransport<TCPTransport>, PosixMonotonicClock, PosixWallClock>
/// An AE client over MQTT-over-WebSocket over TLS (`wss://`).
public typealias SecureWebSocketOneM2MClient = OneM2MClient<WebSocketTransport<TLSTransport>, PosixMonotonicClock, PosixWallClock>
/// An AE client whose transport is chosen at run time from a pointOfAccess URI.
public typealias PointOfAccessOneM2MClient = OneM2MClient<PointOfAccessTransport, PosixMonotonicClock, PosixWallClock>

/// The transport a pointOfAccess URI names (TS-0010 6.6: `mqtt://`, `mqtts://`; 6.2: WebSocket
/// with or without TLS, `ws://`, `wss://`), chosen at run time without existentials: an enum
/// that forwards each call to its case's transport.
public enum PointOfAccessTransport: Transport {
    case mqtt(TCPTransport)
    case mqtts(TLSTransport)
    case ws(WebSocketTransport<TCPTransport>)
    case wss(WebSocketTransport<TLSTransport>)

    /// Parses `pointOfAccess` (`scheme://host[:port][/path]`, default ports 1883/8883/80/443)
    /// and builds the closed transport for it. `tls` applies to `mqtts`/`wss` (the server name
    /// defaults to the URI's host); `webSocket` to `ws`/`wss` (its `path` is replaced by the
    /// URI's path when the URI has one).
    public init(
        pointOfAccess: String, tls: TLSConfiguration = TLSConfiguration(),
        webSocket: WebSocketConfiguration = WebSocketConfiguration()
    ) throws(OneM2MError) {
        let parsed: Result<(PointOfAccessScheme, String, UInt16, String), OneM2MError> = withUTF8Bytes(pointOfAccess) { bytes in
            do throws(OneM2MError) {
                let poa = try PointOfAccess.parse(bytes)
                return .success((poa.scheme, String(decoding: poa.host, as: UTF8.self), poa.port, String(decoding: poa.path, as: UTF8.self)))
            } catch {
                return .failure(error)
            }
        }
        let (scheme, host, port, path) = try parsed.get()
        self.init(scheme: scheme, host: host, port: port, path: path, tls: tls, webSocket: webSocket)
    }

    /// The transport for an already parsed endpoint.
    public init(
        scheme: PointOfAccessScheme, host: String, port: UInt16, path: String = "",
        tls: TLSConfiguration = TLSConfiguration(), webSocket: WebSocketConfiguration = WebSocketConfiguration()
    ) {
        var ws = webSocket
        if !path.isEmpty { ws.path = path }
        switch scheme {
        case .mqtt: self = .mqtt(TCPTransport(host: host, port: port))
        case .mqtts: self = .mqtts(TLSTransport(host: host, port: port, configuration: tls))
        case .ws: self = .ws(WebSocketTransport(inner: TCPTransport(host: host, port: port), host: host, port: port, configuration: ws))
        case .wss:
            self = .wss(WebSocketTransport(inner: TLSTransport(host: host, port: port, configuration: tls), host: host, port: port, configuration: ws))
        }
    }

    public var scheme: PointOfAccessScheme {
        switch self {
        case .mqtt: return .mqtt
        case .mqtts: return .mqtts
        case .ws: return .ws
        case .wss: return .wss
        }
    }

    /// The TLS layer (for `failure`, `lastVerificationFlags`, `lastAlert`), if any.
    public var tls: TLSTransport? {
        switch self {
        case .mqtts(let t): return t
        case .wss(let w): return w.inner
        default: return nil
        }
    }

    /// Why the last TLS failure happened, if the transport uses TLS and one happened.
    public var tlsFailure: TLSFailure? { tls?.failure }

    /// The last WebSocket protocol failure, if the transport is a WebSocket.
    public var webSocketFailure: WebSocketFailure? {
        switch self {
        case .ws(let w): return w.lastFailure
        case .wss(let w): return w.lastFailure
        default: return nil
        }
    }

    public mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        switch self {
        case .mqtt(var t): defer { self = .mqtt(t) }; try t.open(timeoutMilliseconds: timeoutMilliseconds)
        case .mqtts(var t): defer { self = .mqtts(t) }; try t.open(timeoutMilliseconds: timeoutMilliseconds)
        case .ws(var t): defer { self = .ws(t) }; try t.open(timeoutMilliseconds: timeoutMilliseconds)
        case .wss(var t): defer { self = .wss(t) }; try t.open(timeoutMilliseconds: timeoutMilliseconds)
        }
    }

    public mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        switch self {
        case .mqtt(var t): defer { self = .mqtt(t) }; return try t.send(bytes)
        case .mqtts(var t): defer { self = .mqtts(t) }; return try t.send(bytes)
        case .ws(var t): defer { self = .ws(t) }; return try t.send(bytes)
        case .wss(var t): defer { self = .wss(t) }; return try t.send(bytes)
        }
    }

    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        switch self {
        case .mqtt(var t): defer { self = .mqtt(t) }; return try t.receive(into: buffer)
        case .mqtts(var t): defer { self = .mqtts(t) }; return try t.receive(into: buffer)
        case .ws(var t): defer { self = .ws(t) }; return try t.receive(into: buffer)
        case .wss(var t): defer { self = .wss(t) }; return try t.receive(into: buffer)
        }
    }

    public mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        switch self {
        case .mqtt(var t): defer { self = .mqtt(t) }; return try t.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
        case .mqtts(var t): defer { self = .mqtts(t) }; return try t.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
        case .ws(var t): defer { self = .ws(t) }; return try t.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
        case .wss(var t): defer { self = .wss(t) }; return try t.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
        }
    }

    public mutating func close() {
        switch self {
        case .mqtt(var t): t.close(); self = .mqtt(t)
        case .mqtts(var t): t.close(); self = .mqtts(t)
        case .ws(var t): t.close(); self = .ws(t)
        case .wss(var t): t.close(); self = .wss(t)
        }
    }
}

extension OneM2MClient where T == PointOfAccessTransport, Clock == PosixMonotonicClock, Wall == PosixWallClock {
    /// A client for the broker `pointOfAccess` names: `mqtt://`, `mqtts://`, `ws://` or
    /// `wss://` (default ports 1883, 8883, 80, 443). TLS is verified against `tls` (a CA, or a
    /// PSK, is required unless `insecureSkipVerification`). A malformed URI throws
    /// `.encoding(OneM2MError.invalidPointOfAccess(...))`.
    public init(
        configuration: OneM2MConfiguration, pointOfAccess: String, tls: TLSConfiguration = TLSConfiguration(),
        webSocket: WebSocketConfiguration = WebSocketConfiguration(), reconnectPolicy: ReconnectPolicy = ReconnectPolicy()
    ) throws(OneM2MClientError) {
        let transport: PointOfAccessTransport
        do { transport = try PointOfAccessTransport(pointOfAccess: pointOfAccess, tls: tls, webSocket: webSocket) } catch { throw .encoding(error) }
        try self.init(configuration: configuration, transport: transport, clock: PosixMonotonicClock(), wallClock: PosixWallClock(), reconnectPolicy: reconnectPolicy)
    }
}

extension OneM2MClient where T == TLSTransport, Clock == PosixMonotonicClock, Wall == PosixWallClock {
    /// A client over TLS to `host:port` (default 8883).
    public init(
        configuration: OneM2MConfiguration, host: String, port: UInt16 = 8883, tls: TLSConfiguration,
        reconnectPolicy: ReconnectPolicy = ReconnectPolicy()
    ) throws(OneM2MClientError) {
        try self.init(
            configuration: configuration, transport: TLSTransport(host: host, port: port, configuration: tls), clock: PosixMonotonicClock(),
            wallClock: PosixWallClock(), reconnectPolicy: reconnectPolicy)
    }

    /// A client over TLS to the broker of an `mqtts://host[:port]` pointOfAccess (default port
    /// 8883). Another scheme throws `.mqtt(.transport(.invalidEndpoint))`, a malformed URI
    /// `.encoding(...)`.
    public init(
        configuration: OneM2MConfiguration, pointOfAccess: String, tls: TLSConfiguration,
        reconnectPolicy: ReconnectPolicy = ReconnectPolicy()
    ) throws(OneM2MClientError) {
        let transport: PointOfAccessTransport
        do { transport = try PointOfAccessTransport(pointOfAccess: pointOfAccess, tls: tls) } catch { throw .encoding(error) }
        guard case .mqtts(let t) = transport else { throw .mqtt(.transport(.invalidEndpoint)) }
        try self.init(configuration: configuration, transport: t, clock: PosixMonotonicClock(), wallClock: PosixWallClock(), reconnectPolicy: reconnectPolicy)
    }
}
