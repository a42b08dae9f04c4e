import CPosix
import MQTTTransport

/// Why a WebSocket connection failed. `WebSocketTransport` throws
/// `TransportError.system(code: failure.code)` for these (the codes are negative and outside
/// the errno range) and keeps the failure in `lastFailure`.
public enum WebSocketFailure: Equatable, Sendable {
    // Opening handshake (RFC 6455 4.1)
    /// The server answered the upgrade with this HTTP status instead of 101.
    case handshakeStatus(UInt16)
    /// The response was not HTTP/1.1 or a header line was malformed.
    case handshakeMalformed
    /// The response header did not fit the receive buffer.
    case handshakeTooLarge
    /// `Upgrade: websocket` or `Connection: Upgrade` missing.
    case handshakeMissingUpgrade
    /// `Sec-WebSocket-Accept` missing or not base64(SHA-1(key + GUID)).
    case handshakeBadAccept
    /// The server did not select the `mqtt` subprotocol (or selected another).
    case handshakeBadSubprotocol
    /// The server selected an extension although none was offered.
    case handshakeUnexpectedExtension
    // Framing (RFC 6455 5)
    /// RSV1-3 set (no extension was negotiated).
    case reservedBitsSet
    /// A frame from the server was masked (5.1: the client must fail).
    case maskedServerFrame
    /// An opcode RFC 6455 does not define.
    case unknownOpcode(UInt8)
    /// A text frame: MQTT uses binary frames only (MQTT 3.1.1 6.0).
    case textFrame
    /// A control frame with FIN clear.
    case fragmentedControlFrame
    /// A control frame with more than 125 bytes of payload.
    case controlFrameTooLong
    /// A continuation frame with no fragmented message open.
    case unexpectedContinuation
    /// A new data frame while a fragmented message was still open.
    case expectedContinuation
    /// A payload length not in its minimal encoding.
    case nonMinimalLength
    /// A 64-bit payload length with the most significant bit set.
    case lengthTooLarge
    /// A close frame with a 1-byte payload or a status code that must not be sent.
    case invalidCloseFrame

    /// The code carried by `TransportError.system(code:)`: -6455_00 minus a case number.
    public var code: Int32 {
        let n: Int32
        switch self {
        case .handshakeStatus: n = 1
        case .handshakeMalformed: n = 2
        case .handshakeTooLarge: n = 3
        case .handshakeMissingUpgrade: n = 4
        case .handshakeBadAccept: n = 5
        case .handshakeBadSubprotocol: n = 6
        case .handshakeUnexpectedExtension: n = 7
        case .reservedBitsSet: n = 10
        case .maskedServerFrame: n = 11
        case .unknownOpcode: n = 12
        case .textFrame: n = 13
        case .fragmentedControlFrame: n = 14
        case .controlFrameTooLong: n = 15
        case .unexpectedContinuation: n = 16
        case .expectedContinuation: n = 17
        case .nonMinimalLength: n = 18
        case .lengthTooLarge: n = 19
        case .invalidCloseFrame: n = 20
        }
        return -645_500 - n
    }

    /// Whether the failure happened during the opening handshake.
    public var isHandshakeFailure: Bool { code >= -645_507 }

    public var summary: StaticString {
        switch self {
        case .handshakeStatus: return "WebSocket upgrade refused (HTTP status not 101)"
        case .handshakeMalformed: return "malformed WebSocket handshake response"
        case .handshakeTooLarge: return "WebSocket handshake response too large"
        case .handshakeMissingUpgrade: return "WebSocket handshake without Upgrade/Connection"
        case .handshakeBadAccept: return "wrong Sec-WebSocket-Accept"
        case .handshakeBadSubprotocol: return "server did not select the mqtt subprotocol"
        case .handshakeUnexpectedExtension: return "server selected an unrequested extension"
        case .reservedBitsSet: return "WebSocket frame with reserved bits set"
        case .maskedServerFrame: return "masked WebSocket frame from the server"
        case .unknownOpcode: return "unknown WebSocket opcode"
        case .textFrame: return "WebSocket text frame (MQTT needs binary)"
        case .fragmentedControlFrame: return "fragmented WebSocket control frame"
        case .controlFrameTooLong: return "WebSocket control frame longer than 125 bytes"
        case .unexpectedContinuation: return "WebSocket continuation without a message"
        case .expectedContinuation: return "WebSocket data frame inside a fragmented message"
        case .nonMinimalLength: return "WebSocket length not minimally encoded"
        case .lengthTooLarge: return "WebSocket 64-bit length out of range"
        case .invalidCloseFrame: return "invalid WebSocket close frame"
        }
    }

    /// The failure for a `TransportError.system(code:)` thrown by a WebSocket transport, if it is one.
    public init?(code: Int32) {
        switch code {
        case -645_502: self = .handshakeMalformed
        case -645_503: self = .handshakeTooLarge
        case -645_504: self = .handshakeMissingUpgrade
        case -645_505: self = .handshakeBadAccept
        case -645_506: self = .handshakeBadSubprotocol
        case -645_507: self = .handshakeUnexpectedExtension
        case -645_510: self = .reservedBitsSet
        case -645_511: self = .maskedServerFrame
        case -645_513: self = .textFrame
        case -645_514: self = .fragmentedControlFrame
        case -645_515: self = .controlFrameTooLong
        case -645_516: self = .unexpectedContinuation
        case -645_517: self = .expectedContinuation
        case -645_518: self = .nonMinimalLength
        case -645_519: self = .lengthTooLarge
        case -645_520: self = .invalidCloseFrame
        default: return nil  // handshakeStatus / unknownOpcode carry a value: see lastFailure
        }
    }
}

/// Where masking keys and the handshake nonce come from.
public enum WebSocketRandomSource: Sendable {
    /// The system generator (getrandom/arc4random) for every key (RFC 6455 10.3 asks for
    /// unpredictable masking keys).
    case system
    /// A deterministic xorshift generator: for tests only.
    case seeded(UInt64)
}

/// Options of the WebSocket client.
public struct WebSocketConfiguration: Sendable {
    /// The request target, starting with `/` (or `?`); "" is sent as "/". Many brokers
    /// (EMQX, HiveMQ) expect "/mqtt"; mosquitto accepts any.
    public var path: String
    /// The Host header; nil = "host:port" of the endpoint (IPv6 literals bracketed).
    public var hostHeader: String?
    /// The subprotocol to request and require (MQTT 3.1.1 6.0: "mqtt").
    public var subprotocol: String
    /// Raw bytes buffered from the inner transport: bounds the handshake response and holds
    /// frame headers and control frames (at least 256).
    public var receiveBufferCapacity: Int
    /// One outgoing frame (header + masked payload) plus room for a control frame; also holds
    /// the upgrade request (at least 512).
    public var sendBufferCapacity: Int
    public var random: WebSocketRandomSource

    public init(
        path: String = "/", hostHeader: String? = nil, subprotocol: String = "mqtt", receiveBufferCapacity: Int = 2048,
        sendBufferCapacity: Int = 2048, random: WebSocketRandomSource = .system
    ) {
        self.path = path
        self.hostHeader = hostHeader
        self.subprotocol = subprotocol
        self.receiveBufferCapacity = receiveBufferCapacity
        self.sendBufferCapacity = sendBufferCapacity
        self.random = random
    }
}

/// Buffers and protocol state; a class so copies of the transport share one connection and
/// the buffers are freed exactly once.
final class WebSocketState {
    let input: UnsafeMutableRawBufferPointer
    var inStart = 0
    var inEnd = 0
    let output: UnsafeMutableRawBufferPointer
    var outStart = 0
    var outEnd = 0

    var isOpen = false
    var closeSent = false
    var closeReceived = false
    /// Payload bytes of the current data frame not yet delivered.
    var payloadRemaining: UInt64 = 0
    /// A data frame with FIN clear was seen and its message is not complete.
    var fragmentedMessageOpen = false
    var failure: WebSocketFailure? = nil
    var peerCloseCode: UInt16? = nil
    var randomState: UInt64
    let useSystemRandom: Bool

    let requestTarget: [UInt8]
    let hostHeader: [UInt8]
    let subprotocol: [UInt8]
    /// The base64 key of the current handshake.
    var key: (UInt64, UInt64, UInt64) = (0, 0, 0)

    init(configuration c: WebSocketConfiguration, host: String, port: UInt16) {
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: max(256, c.receiveBufferCapacity), alignment: 8)
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: max(512, c.sendBufferCapacity), alignment: 8)
        switch c.random {
        case .system:
            useSystemRandom = true
            randomState = 0
        case .seeded(let seed):
            useSystemRandom = false
            randomState = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
        }
        var target = Array(c.path.utf8)
        if target.isEmpty { target = [UInt8(ascii: "/")] }
        if target[0] == UInt8(ascii: "?") { target.insert(UInt8(ascii: "/"), at: 0) }
        requestTarget = target
        if let h = c.hostHeader {
            hostHeader = Array(h.utf8)
        } else {
            var h: [UInt8] = []
            var ipv6 = false
            for b in host.utf8 where b == UInt8(ascii: ":") { ipv6 = true }
            if ipv6 { h.append(UInt8(ascii: "[")) }
            h.append(contentsOf: host.utf8)
            if ipv6 { h.append(UInt8(ascii: "]")) }
            h.append(UInt8(ascii: ":"))
            appendDecimal(&h, Int(port))
            hostHeader = h
        }
        subprotocol = Array(c.subprotocol.utf8)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    func random64() -> UInt64 {
        if useSystemRandom {
            var g = SystemRandomNumberGenerator()
            return g.next()
        }
        randomState ^= randomState << 13
        randomState ^= randomState >> 7
        randomState ^= randomState << 17
        return randomState
    }

    func reset() {
        inStart = 0
        inEnd = 0
        outStart = 0
        outEnd = 0
        isOpen = false
        closeSent = false
        closeReceived = false
        payloadRemaining = 0
        fragmentedMessageOpen = false
        peerCloseCode = nil
    }

    var buffered: Int { inEnd - inStart }
    var hasPendingOutput: Bool { outStart < outEnd }
}

func appendDecimal(_ out: inout [UInt8], _ value: Int) {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var v = value < 0 ? 0 : value
    var n = 0
    withUnsafeMutableBytes(of: &digits) { d in
        repeat {
            d[n] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            n += 1
        } while v > 0
        while n > 0 {
            n -= 1
            out.append(d[n])
        }
    }
}

/// MQTT over WebSocket (RFC 6455 client, MQTT 3.1.1 6.0) on any inner `Transport`: TCP for
/// `ws://`, TLS for `wss://`.
///
/// - `open` opens the inner transport and performs the HTTP/1.1 upgrade within the time limit:
///   `Sec-WebSocket-Protocol: mqtt`, a random 16-byte `Sec-WebSocket-Key`, and a strict check
///   of the 101 response (`Upgrade`, `Connection`, `Sec-WebSocket-Accept` = base64(SHA-1(key
///   + GUID)), the subprotocol, no extensions).
/// - `send` wraps up to one buffer's worth of bytes in a masked binary frame (FIN set) and
///   returns how many it took (0 = would block); a frame the inner transport could not take
///   whole is flushed by later calls (including `wait`).
/// - `receive` returns the payload of binary and continuation frames as a byte stream
///   (fragmentation is invisible to MQTT), answers pings with pongs, ignores pongs, and throws
///   `.closed` on a close frame (after answering it) or when the inner transport closes.
/// - Protocol violations (masked or reserved-bit frames, text frames, bad lengths, bad
///   control frames, bad continuations) send close 1002 and throw
///   `TransportError.system(code:)` with a `WebSocketFailure` code; `lastFailure` has it.
///
/// Memory: two buffers allocated at init (`WebSocketConfiguration` capacities); `send`,
/// `receive` and `wait` allocate nothing. Payload bytes of a large frame are read straight into
/// the caller's buffer.
public struct WebSocketTransport<Inner: Transport>: Transport {
    /// The transport underneath (TCP or TLS).
    public var inner: Inner
    let state: WebSocketState
    let clock: @convention(c) () -> Int64

    /// A closed WebSocket transport over `inner` for the endpoint `host:port` (used for the
    /// Host header). `clock` is a monotonic millisecond clock for the handshake time limit.
    public init(
        inner: Inner, host: String, port: UInt16, configuration: WebSocketConfiguration = WebSocketConfiguration(),
        clock: @convention(c) () -> Int64 = cposix_monotonic_ms
    ) {
        self.inner = inner
        self.state = WebSocketState(configuration: configuration, host: host, port: port)
        self.clock = clock
    }

    /// Whether the upgrade completed and no close frame has been exchanged.
    public var isOpen: Bool { state.isOpen && !state.closeReceived }
    /// The last protocol failure (nil if none).
    public var lastFailure: WebSocketFailure? { state.failure }
    /// The status code of the server's close frame (1005 if it had none), once received.
    public var peerCloseCode: UInt16? { state.peerCloseCode }

    // MARK: - Opening handshake

    public mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        close()
        state.failure = nil
        let start = clock()
        try inner.open(timeoutMilliseconds: timeoutMilliseconds)
        do throws(TransportError) {
            try writeUpgradeRequest()
            try handshake(start: start, timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            inner.close()
            state.reset()
            throw error
        }
        state.isOpen = true
    }

    func left(_ start: Int64, _ timeout: Int) -> Int {
        if timeout < 0 { return -1 }
        return Int(max(0, start + Int64(timeout) - clock()))
    }

    mutating func writeUpgradeRequest() throws(TransportError) {
        let s = state
        s.reset()
        // 16 random bytes, base64 → 24 characters (RFC 6455 4.1).
        var nonce: (UInt64, UInt64) = (s.random64(), s.random64())
        var key: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeBytes(of: &nonce) { n in
            withUnsafeMutableBytes(of: &key) { k in _ = Base64.encode(n, into: k) }
        }
        s.key = key
        var w = ByteWriter(s.output)
        w.append("GET ")
        w.append(s.requestTarget)
        w.append(" HTTP/1.1\r\nHost: ")
        w.append(s.hostHeader)
        w.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ")
        withUnsafeBytes(of: &key) { w.append(UnsafeRawBufferPointer(rebasing: $0[0..<24])) }
        w.append("\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ")
        w.append(s.subprotocol)
        w.append("\r\n\r\n")
        guard !w.overflow else { throw .invalidEndpoint }
        s.outStart = 0
        s.outEnd = w.count
    }

    mutating func handshake(start: Int64, timeoutMilliseconds: Int) throws(TransportError) {
        let s = state
        // Send the request.
        while s.hasPendingOutput {
            let n = try inner.send(UnsafeRawBufferPointer(rebasing: s.output[s.outStart..<s.outEnd]))
            s.outStart += n
            if n == 0 {
                let t = left(start, timeoutMilliseconds)
                if t == 0 { throw .timedOut }
                _ = try inner.wait(for: TransportReadiness(readable: false, writable: true), timeoutMilliseconds: t)
            }
        }
        s.outStart = 0
        s.outEnd = 0
        // Read the response header.
        var headerEnd = -1
        while headerEnd < 0 {
            if s.inEnd == s.input.count { throw fail(.handshakeTooLarge) }
            let n = try inner.receive(into: UnsafeMutableRawBufferPointer(rebasing: s.input[s.inEnd...]))
            if n == 0 {
                let t = left(start, timeoutMilliseconds)
                if t == 0 { throw .timedOut }
                _ = try inner.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: t)
                continue
            }
            let from = max(0, s.inEnd - 3)
            s.inEnd += n
            var i = from
            while i + 3 < s.inEnd {
                if s.input[i] == 13 && s.input[i + 1] == 10 && s.input[i + 2] == 13 && s.input[i + 3] == 10 {
                    headerEnd = i + 4
                    break
                }
                i += 1
            }
        }
        try checkResponse(UnsafeRawBufferPointer(rebasing: s.input[0..<headerEnd]))
        s.inStart = headerEnd  // anything after the header is already frame data
    }

    func fail(_ f: WebSocketFailure) -> TransportError {
        state.failure = f
        return .system(code: f.code)
    }

    /// RFC 6455 4.1, client step 5: the checks on the server's handshake.
    func checkResponse(_ r: UnsafeRawBufferPointer) throws(TransportError) {
        // Status line: HTTP/1.1 SP 3DIGIT SP reason CRLF
        let prefix: StaticString = "HTTP/1.1 "
        let p = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        guard r.count >= 12 else { throw fail(.handshakeMalformed) }
        for i in 0..<p.count where r[i] != p[i] { throw fail(.handshakeMalformed) }
        var status: UInt16 = 0
        for i in 9..<12 {
            guard r[i] >= 48 && r[i] <= 57 else { throw fail(.handshakeMalformed) }
            status = status * 10 + UInt16(r[i] - 48)
        }
        guard status == 101 else { throw fail(.handshakeStatus(status)) }
        var i = 12
        while i + 1 < r.count && !(r[i] == 13 && r[i + 1] == 10) { i += 1 }
        i += 2
        var upgrade = false
        var connection = false
        var accept = false
        var acceptSeen = false
        var subprotocol = false
        var subprotocolSeen = false
        var extensions = false
        var expected: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var keyCopy = state.key
        withUnsafeBytes(of: &keyCopy) { k in
            withUnsafeMutableBytes(of: &expected) { e in
                _ = WebSocketHandshake.acceptValue(forKey: UnsafeRawBufferPointer(rebasing: k[0..<24]), into: e)
            }
        }
        // Header lines up to the empty line.
        while i + 1 < r.count && !(r[i] == 13 && r[i + 1] == 10) {
            var end = i
            while end + 1 < r.count && !(r[end] == 13 && r[end + 1] == 10) { end += 1 }
            var colon = i
            while colon < end && r[colon] != UInt8(ascii: ":") { colon += 1 }
            guard colon < end, colon > i else { throw fail(.handshakeMalformed) }
            let name = UnsafeRawBufferPointer(rebasing: r[i..<colon])
            var vs = colon + 1
            var ve = end
            while vs < ve && (r[vs] == 32 || r[vs] == 9) { vs += 1 }
            while ve > vs && (r[ve - 1] == 32 || r[ve - 1] == 9) { ve -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: r[vs..<ve])
            if equalsIgnoringCase(name, "upgrade") {
                upgrade = equalsIgnoringCase(value, "websocket")
            } else if equalsIgnoringCase(name, "connection") {
                if containsToken(value, "upgrade") { connection = true }
            } else if equalsIgnoringCase(name, "sec-websocket-accept") {
                if acceptSeen { accept = false } else {
                    acceptSeen = true
                    accept = withUnsafeBytes(of: &expected) { e in
                        value.count == 28 && value.elementsEqual(UnsafeRawBufferPointer(rebasing: e[0..<28]))
                    }
                }
            } else if equalsIgnoringCase(name, "sec-websocket-protocol") {
                if subprotocolSeen { subprotocol = false } else {
                    subprotocolSeen = true
                    subprotocol = state.subprotocol.withUnsafeBytes { value.elementsEqual($0) }
                }
            } else if equalsIgnoringCase(name, "sec-websocket-extensions") {
                if !value.isEmpty { extensions = true }
            }
            i = end + 2
        }
        guard upgrade && connection else { throw fail(.handshakeMissingUpgrade) }
        guard accept else { throw fail(.handshakeBadAccept) }
        guard subprotocol || state.subprotocol.isEmpty else { throw fail(.handshakeBadSubprotocol) }
        guard !extensions else { throw fail(.handshakeUnexpectedExtension) }
    }

    // MARK: - Sending

    /// Room for one control frame (pong, close) next to a data frame in the output buffer.
    static var controlReserve: Int { 2 + 4 + 125 }

    /// Frames up to one buffer's worth of `bytes` (masked binary frame, FIN set) and returns
    /// the count taken; 0 while an earlier frame is still being sent.
    public mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        let s = state
        guard s.isOpen else { throw .notConnected }
        if s.closeReceived { throw .closed }
        try flush()
        if s.hasPendingOutput || bytes.isEmpty { return 0 }
        let n = min(bytes.count, s.output.count - 14 - Self.controlReserve)
        appendFrame(opcode: 0x2, payload: UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
        try flush()
        return n
    }

    /// Appends a masked frame to the output buffer (the caller made sure it fits).
    func appendFrame(opcode: UInt8, payload: UnsafeRawBufferPointer) {
        let s = state
        if s.outStart > 0 {
            let pending = s.outEnd - s.outStart
            if pending > 0 {
                UnsafeMutableRawBufferPointer(rebasing: s.output[0..<pending]).copyMemory(from: UnsafeRawBufferPointer(rebasing: s.output[s.outStart..<s.outEnd]))
            }
            s.outStart = 0
            s.outEnd = pending
        }
        var o = s.outEnd
        let out = s.output
        out[o] = 0x80 | opcode
        let count = payload.count
        if count < 126 {
            out[o + 1] = 0x80 | UInt8(count)
            o += 2
        } else if count <= 0xFFFF {
            out[o + 1] = 0x80 | 126
            out[o + 2] = UInt8(truncatingIfNeeded: count >> 8)
            out[o + 3] = UInt8(truncatingIfNeeded: count)
            o += 4
        } else {
            out[o + 1] = 0x80 | 127
            for k in 0..<8 { out[o + 2 + k] = UInt8(truncatingIfNeeded: UInt64(count) >> (UInt64(7 - k) * 8)) }
            o += 10
        }
        let mask = UInt32(truncatingIfNeeded: s.random64())
        let m0 = UInt8(truncatingIfNeeded: mask >> 24), m1 = UInt8(truncatingIfNeeded: mask >> 16)
        let m2 = UInt8(truncatingIfNeeded: mask >> 8), m3 = UInt8(truncatingIfNeeded: mask)
        out[o] = m0
        out[o + 1] = m1
        out[o + 2] = m2
        out[o + 3] = m3
        o += 4
        var k = 0
        while k < count {
            let m: UInt8
            switch k & 3 {
            case 0: m = m0
            case 1: m = m1
            case 2: m = m2
            default: m = m3
            }
            out[o + k] = payload[k] ^ m
            k += 1
        }
        s.outEnd = o + count
    }

    /// Queues a control frame if there is room (one pending control frame at most).
    func queueControl(opcode: UInt8, payload: UnsafeRawBufferPointer) -> Bool {
        let s = state
        guard s.outEnd - s.outStart + 6 + payload.count <= s.output.count else { return false }
        appendFrame(opcode: opcode, payload: payload)
        return true
    }

    /// Sends buffered frame bytes without blocking.
    mutating func flush() throws(TransportError) {
        let s = state
        while s.hasPendingOutput {
            let n = try inner.send(UnsafeRawBufferPointer(rebasing: s.output[s.outStart..<s.outEnd]))
            if n == 0 { return }
            s.outStart += n
        }
        s.outStart = 0
        s.outEnd = 0
    }

    // MARK: - Receiving

    enum Header {
        case needMore
        case frame(fin: Bool, opcode: UInt8, headerLength: Int, length: UInt64)
        case violation(WebSocketFailure)
    }

    func parseHeader() -> Header {
        let s = state
        let avail = s.buffered
        guard avail >= 2 else { return .needMore }
        let b0 = s.input[s.inStart]
        let b1 = s.input[s.inStart + 1]
        if b0 & 0x70 != 0 { return .violation(.reservedBitsSet) }
        if b1 & 0x80 != 0 { return .violation(.maskedServerFrame) }
        let fin = b0 & 0x80 != 0
        let opcode = b0 & 0x0F
        switch opcode {
        case 0x0: if !s.fragmentedMessageOpen { return .violation(.unexpectedContinuation) }
        case 0x1: return .violation(.textFrame)
        case 0x2: if s.fragmentedMessageOpen { return .violation(.expectedContinuation) }
        case 0x8, 0x9, 0xA:
            if !fin { return .violation(.fragmentedControlFrame) }
            if b1 & 0x7F > 125 { return .violation(.controlFrameTooLong) }
        default: return .violation(.unknownOpcode(opcode))
        }
        var length = UInt64(b1 & 0x7F)
        var headerLength = 2
        if length == 126 {
            guard avail >= 4 else { return .needMore }
            length = UInt64(s.input[s.inStart + 2]) << 8 | UInt64(s.input[s.inStart + 3])
            if length < 126 { return .violation(.nonMinimalLength) }
            headerLength = 4
        } else if length == 127 {
            guard avail >= 10 else { return .needMore }
            length = 0
            for k in 0..<8 { length = length << 8 | UInt64(s.input[s.inStart + 2 + k]) }
            if length & (1 << 63) != 0 { return .violation(.lengthTooLarge) }
            if length <= 0xFFFF { return .violation(.nonMinimalLength) }
            headerLength = 10
        }
        return .frame(fin: fin, opcode: opcode, headerLength: headerLength, length: length)
    }

    /// Fails the connection: close 1002 (best effort), inner transport closed.
    mutating func violate(_ f: WebSocketFailure) -> TransportError {
        let error = fail(f)
        let s = state
        if !s.closeSent {
            var payload: UInt16 = UInt16(1002).bigEndian
            let queued = withUnsafeBytes(of: &payload) { queueControl(opcode: 0x8, payload: $0) }
            if queued { s.closeSent = true }
            try? flush()
        }
        inner.close()
        s.isOpen = false
        return error
    }

    /// Whether `receive` can make progress from buffered bytes alone.
    func hasDeliverableInput() -> Bool {
        let s = state
        if s.closeReceived { return true }
        if s.payloadRemaining > 0 { return s.buffered > 0 }
        switch parseHeader() {
        case .needMore: return false
        case .violation: return true
        case .frame(_, let opcode, let headerLength, let length):
            if opcode >= 0x8 { return UInt64(s.buffered - headerLength) >= length }
            return true
        }
    }

    /// Receives payload bytes of binary/continuation frames (0: nothing yet). Control frames
    /// are handled on the way; a close frame ends the stream with `.closed`.
    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        let s = state
        guard s.isOpen else { throw .notConnected }
        if s.closeReceived { throw .closed }
        try flush()
        var produced = 0
        while produced < buffer.count {
            if s.payloadRemaining > 0 {
                let want = Int(min(s.payloadRemaining, UInt64(buffer.count - produced)))
                if s.buffered > 0 {
                    let k = min(want, s.buffered)
                    UnsafeMutableRawBufferPointer(rebasing: buffer[produced..<(produced + k)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: s.input[s.inStart..<(s.inStart + k)]))
                    s.inStart += k
                    produced += k
                    s.payloadRemaining -= UInt64(k)
                    continue
                }
                if produced > 0 { return produced }
                // Nothing buffered: read the payload straight into the caller's buffer.
                s.inStart = 0
                s.inEnd = 0
                let n = try inner.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
                s.payloadRemaining -= UInt64(n)
                return n
            }
            switch parseHeader() {
            case .violation(let f):
                if produced > 0 { return produced }  // deliver what came before; fail next time
                throw violate(f)
            case .frame(let fin, let opcode, let headerLength, let length):
                if opcode < 0x8 {
                    s.inStart += headerLength
                    s.payloadRemaining = length
                    s.fragmentedMessageOpen = !fin
                    continue
                }
                if UInt64(s.buffered - headerLength) >= length {
                    let payload = UnsafeRawBufferPointer(rebasing: s.input[(s.inStart + headerLength)..<(s.inStart + headerLength + Int(length))])
                    s.inStart += headerLength + Int(length)
                    if opcode == 0x9 {
                        _ = queueControl(opcode: 0xA, payload: payload)  // pong (the latest ping wins if busy)
                        try flush()
                    } else if opcode == 0x8 {
                        if produced > 0 {
                            s.inStart -= headerLength + Int(length)  // handle it on the next call
                            return produced
                        }
                        try handleClose(payload)
                    }
                    continue
                }
            case .needMore:
                break
            }
            // Need more bytes from the inner transport.
            if produced > 0 { return produced }
            if s.inStart > 0 {
                let n = s.buffered
                if n > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: s.input[0..<n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: s.input[s.inStart..<s.inEnd]))
                }
                s.inStart = 0
                s.inEnd = n
            }
            let n = try inner.receive(into: UnsafeMutableRawBufferPointer(rebasing: s.input[s.inEnd...]))
            if n == 0 { return 0 }
            s.inEnd += n
        }
        return produced
    }

    /// RFC 6455 5.5.1: answer the close (echoing the status), close the inner transport, end
    /// the stream.
    mutating func handleClose(_ payload: UnsafeRawBufferPointer) throws(TransportError) {
        let s = state
        var code: UInt16 = 1005
        if payload.count == 1 { throw violate(.invalidCloseFrame) }
        if payload.count >= 2 {
            code = UInt16(payload[0]) << 8 | UInt16(payload[1])
            let valid = (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
            if !valid { throw violate(.invalidCloseFrame) }
        }
        s.peerCloseCode = code
        s.closeReceived = true
        if !s.closeSent {
            let echo = UnsafeRawBufferPointer(rebasing: payload[0..<min(2, payload.count)])
            if queueControl(opcode: 0x8, payload: echo) { s.closeSent = true }
            try? flush()
        }
        inner.close()
        throw .closed
    }

    // MARK: - Waiting and closing

    public mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        let s = state
        guard s.isOpen else { throw .notConnected }
        if interest.readable && hasDeliverableInput() { return TransportReadiness(readable: true, writable: false) }
        let start = clock()
        while true {
            try flush()
            let pending = s.hasPendingOutput
            let t = left(start, timeoutMilliseconds)
            let r = try inner.wait(for: TransportReadiness(readable: interest.readable, writable: interest.writable || pending), timeoutMilliseconds: t)
            var writable = r.writable
            if writable && pending {
                try flush()
                writable = !s.hasPendingOutput
            }
            let report = TransportReadiness(readable: interest.readable && r.readable, writable: interest.writable && writable)
            if report.readable || report.writable || t == 0 { return report }
            if !r.readable && !r.writable { return report }  // timed out
        }
    }

    /// Sends a close frame (1000, best effort, non-blocking) and closes the inner transport.
    /// Idempotent.
    public mutating func close() {
        let s = state
        if s.isOpen && !s.closeSent && !s.closeReceived {
            var payload: UInt16 = UInt16(1000).bigEndian
            let queued = withUnsafeBytes(of: &payload) { queueControl(opcode: 0x8, payload: $0) }
            if queued { s.closeSent = true }
            try? flush()
        }
        inner.close()
        s.reset()
    }
}

// MARK: - Small byte helpers (no Foundation)

struct ByteWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var count = 0
    var overflow = false
    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard count + bytes.count <= buffer.count else {
            overflow = true
            return
        }
        if !bytes.isEmpty {
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + bytes.count)]).copyMemory(from: bytes)
        }
        count += bytes.count
    }
}

@inline(__always) func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }

/// ASCII case-insensitive comparison with a lower-case literal.
func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    let l = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    guard a.count == l.count else { return false }
    for i in 0..<a.count where lower(a[i]) != l[i] { return false }
    return true
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
func containsToken(_ value: UnsafeRawBufferPointer, _ token: StaticString) -> Bool {
    var i = 0
    while i < value.count {
        var e = i
        while e < value.count && value[e] != UInt8(ascii: ",") { e += 1 }
        var a = i
        var b = e
        while a < b && (value[a] == 32 || value[a] == 9) { a += 1 }
        while b > a && (value[b - 1] == 32 || value[b - 1] == 9) { b -= 1 }
        if equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: value[a..<b]), token) { return true }
        i = e + 1
    }
    return false
}
