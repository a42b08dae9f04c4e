import Foundation
import MQTTClient
import MQTTPacket
import OneM2M
import OneM2MClient
import OneM2MSecure
import PosixTransport
import Testing
import TestSupport
import TLSTransport
import WebSocketTransport

// MARK: - An in-memory server for framing tests

/// The server side of a `WireTransport`: what the client wrote, what it will read.
final class Wire {
    var fromClient: [UInt8] = []
    var toClient: [UInt8] = []
    var endOfStream = false
    var isOpen = false
    var closes = 0
    var maxChunk = Int.max
    var handshakeAnswered = false
    /// The upgrade response; `{accept}` is replaced by the right Sec-WebSocket-Accept.
    var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
    /// Frame bytes sent right behind the response (same read).
    var afterResponse: [UInt8] = []
    var request: String = ""

    func clientWrote() {
        guard !handshakeAnswered, let end = find(fromClient, [13, 10, 13, 10]) else { return }
        handshakeAnswered = true
        request = String(decoding: fromClient[0..<(end + 4)], as: UTF8.self)
        fromClient.removeFirst(end + 4)
        let key = request.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }?
            .split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) ?? ""
        var accept = [UInt8](repeating: 0, count: 28)
        Array(key.utf8).withUnsafeBytes { k in
            accept.withUnsafeMutableBytes { _ = WebSocketHandshake.acceptValue(forKey: k, into: $0) }
        }
        toClient += Array(response.replacingOccurrences(of: "{accept}", with: String(decoding: accept, as: UTF8.self)).utf8)
        toClient += afterResponse
    }

    /// The frames the client sent after the handshake, unmasked.
    func clientFrames() -> [(fin: Bool, opcode: UInt8, masked: Bool, payload: [UInt8])] {
        var out: [(Bool, UInt8, Bool, [UInt8])] = []
        var i = 0
        let b = fromClient
        while i + 2 <= b.count {
            let fin = b[i] & 0x80 != 0, op = b[i] & 0x0F, masked = b[i + 1] & 0x80 != 0
            var len = Int(b[i + 1] & 0x7F)
            var h = 2
            if len == 126 { len = Int(b[i + 2]) << 8 | Int(b[i + 3]); h = 4 }
            else if len == 127 { len = 0; for k in 0..<8 { len = len << 8 | Int(b[i + 2 + k]) }; h = 10 }
            let mask = masked ? Array(b[(i + h)..<(i + h + 4)]) : [0, 0, 0, 0]
            if masked { h += 4 }
            guard i + h + len <= b.count else { break }
            let payload = (0..<len).map { b[i + h + $0] ^ mask[$0 & 3] }
            out.append((fin, op, masked, payload))
            i += h + len
        }
        return out
    }
}

func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
    guard hay.count >= needle.count else { return nil }
    for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
    return nil
}

/// A server frame (unmasked unless asked). `length` overrides the encoded length form.
func serverFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = false, longForm: Int? = nil) -> [UInt8] {
    var f: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
    let m: UInt8 = masked ? 0x80 : 0
    let form = longForm ?? (payload.count < 126 ? 7 : payload.count <= 0xFFFF ? 16 : 64)
    switch form {
    case 7: f.append(m | UInt8(payload.count))
    case 16: f += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default: f.append(m | 127); for k in (0..<8).reversed() { f.append(UInt8(truncatingIfNeeded: payload.count >> (8 * k))) }
    }
    if masked { f += [1, 2, 3, 4]; f += payload.enumerated().map { $0.element ^ [1, 2, 3, 4][$0.offset & 3] } } else { f += payload }
    return f
}

/// A Transport over a `Wire`.
struct WireTransport: Transport {
    let wire: Wire
    mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        wire.isOpen = true
        wire.handshakeAnswered = false
    }
    mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        guard wire.isOpen else { throw .notConnected }
        wire.fromClient += bytes
        wire.clientWrote()
        return bytes.count
    }
    mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard wire.isOpen else { throw .notConnected }
        if wire.toClient.isEmpty {
            if wire.endOfStream { throw .closed }
            return 0
        }
        let n = min(buffer.count, wire.toClient.count, wire.maxChunk)
        for i in 0..<n { buffer[i] = wire.toClient[i] }
        wire.toClient.removeFirst(n)
        return n
    }
    mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        guard wire.isOpen else { throw .notConnected }
        return TransportReadiness(readable: interest.readable && (!wire.toClient.isEmpty || wire.endOfStream), writable: interest.writable)
    }
    mutating func close() {
        if wire.isOpen { wire.closes += 1 }
        wire.isOpen = false
    }
}

typealias WireWebSocket = WebSocketTransport<WireTransport>

func openWire(_ configure: (Wire) -> Void = { _ in }, configuration: WebSocketConfiguration = WebSocketConfiguration(path: "/mqtt", random: .seeded(42))) throws -> (Wire, WireWebSocket) {
    let wire = Wire()
    configure(wire)
    var ws = WebSocketTransport(inner: WireTransport(wire: wire), host: "broker.example", port: 8080, configuration: configuration)
    try ws.open(timeoutMilliseconds: 1_000)
    return (wire, ws)
}

/// Receives until `count` bytes arrived, an error, or nothing more comes.
func drain(_ ws: inout WireWebSocket, upTo count: Int = 1 << 20, chunk: Int = 4096) -> (bytes: [UInt8], error: TransportError?) {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: chunk)
    while out.count < count {
        do {
            let n = try buffer.withUnsafeMutableBytes { try ws.receive(into: $0) }
            if n == 0 { return (out, nil) }
            out += buffer[0..<n]
        } catch let error as TransportError {
            return (out, error)
        } catch {
            return (out, .notConnected)
        }
    }
    return (out, nil)
}

func openFailure(_ configure: (Wire) -> Void) -> (TransportError?, WebSocketFailure?) {
    let wire = Wire()
    configure(wire)
    var ws = WebSocketTransport(inner: WireTransport(wire: wire), host: "broker.example", port: 8080, configuration: WebSocketConfiguration(random: .seeded(7)))
    do {
        try ws.open(timeoutMilliseconds: 200)
        return (nil, nil)
    } catch {
        #expect(!wire.isOpen, "the inner transport is closed after a failed handshake")
        return (error, ws.lastFailure)
    }
}

@Suite("WebSocket transport: RFC 6455 framing against an in-memory server")
struct WebSocketFramingTests {
    @Test func sha1Base64AndTheRFCAcceptExample() {
        func sha1Hex(_ s: String) -> String {
            var h = SHA1()
            Array(s.utf8).withUnsafeBytes { h.update($0) }
            var d = [UInt8](repeating: 0, count: 20)
            d.withUnsafeMutableBytes { h.finish(into: $0) }
            return d.map { String(format: "%02x", $0) }.joined()
        }
        #expect(sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(sha1Hex(String(repeating: "a", count: 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
        func b64(_ s: String) -> String {
            var out = [UInt8](repeating: 0, count: Base64.encodedLength(s.utf8.count))
            let n = Array(s.utf8).withUnsafeBytes { i in out.withUnsafeMutableBytes { Base64.encode(i, into: $0) } }
            return String(decoding: out[0..<n], as: UTF8.self)
        }
        #expect(["", "f", "fo", "foo", "foob", "fooba", "foobar"].map(b64) == ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"])
        // RFC 6455 1.3.
        var accept = [UInt8](repeating: 0, count: 28)
        Array("dGhlIHNhbXBsZSBub25jZQ==".utf8).withUnsafeBytes { k in accept.withUnsafeMutableBytes { _ = WebSocketHandshake.acceptValue(forKey: k, into: $0) } }
        #expect(String(decoding: accept, as: UTF8.self) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func upgradeRequestAndMaskedBinaryFrames() throws {
        var (wire, ws) = try openWire()
        let lines = wire.request.components(separatedBy: "\r\n")
        #expect(lines[0] == "GET /mqtt HTTP/1.1")
        #expect(lines.contains("Host: broker.example:8080"))
        #expect(lines.contains("Upgrade: websocket"))
        #expect(lines.contains("Connection: Upgrade"))
        #expect(lines.contains("Sec-WebSocket-Version: 13"))
        #expect(lines.contains("Sec-WebSocket-Protocol: mqtt"))
        let key = try #require(lines.first { $0.hasPrefix("Sec-WebSocket-Key: ") }).dropFirst(19)
        #expect(key.count == 24)
        #expect(Data(base64Encoded: String(key))?.count == 16)

        // Payload lengths in the 7-, 16- and 64-bit forms; every frame masked, FIN, binary.
        for size in [5, 125, 126, 300, 65535] {
            wire.fromClient = []
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
            var sent = 0
            while sent < size { sent += try payload[sent...].withUnsafeBytes { try ws.send($0) } }
            let frames = wire.clientFrames()
            #expect(frames.allSatisfy { $0.fin && $0.opcode == 2 && $0.masked })
            #expect(frames.flatMap(\.payload) == payload, "size \(size)")
        }
        // A big send buffer puts 70000 bytes in one frame with a 64-bit length.
        var (wire2, big) = try openWire(configuration: WebSocketConfiguration(sendBufferCapacity: 80_000, random: .seeded(3)))
        let payload = [UInt8](repeating: 0x5A, count: 70_000)
        #expect(try payload.withUnsafeBytes { try big.send($0) } == 70_000)
        #expect(wire2.fromClient[1] == 0x80 | 127)
        #expect(wire2.clientFrames().first?.payload == payload)
        // Two handshakes never reuse a key or a mask.
        let (wire3, _) = try openWire(configuration: WebSocketConfiguration(random: .system))
        let (wire4, _) = try openWire(configuration: WebSocketConfiguration(random: .system))
        #expect(wire3.request != wire4.request)
    }

    @Test func fragmentedUnmaskedFramesFormOneStreamAndPingsArePonged() throws {
        var (wire, ws) = try openWire { w in
            // Data right behind the 101 response, in the same read.
            w.afterResponse = serverFrame(2, [1, 2, 3])
        }
        wire.toClient += serverFrame(2, [4, 5], fin: false)
        wire.toClient += serverFrame(9, Array("ping!".utf8))  // control frame between fragments
        wire.toClient += serverFrame(0, [6], fin: false)
        wire.toClient += serverFrame(0xA, [])  // unsolicited pong: ignored
        wire.toClient += serverFrame(0, [7, 8, 9])
        wire.toClient += serverFrame(2, [UInt8](repeating: 0xAB, count: 300))  // 16-bit length
        wire.toClient += serverFrame(2, [UInt8](repeating: 0xCD, count: 70_000))  // 64-bit length
        wire.toClient += serverFrame(2, [])  // empty frame
        wire.maxChunk = 7  // frames split across reads
        let (bytes, error) = drain(&ws, chunk: 1000)
        #expect(error == nil)
        #expect(bytes == [1, 2, 3, 4, 5, 6, 7, 8, 9] + [UInt8](repeating: 0xAB, count: 300) + [UInt8](repeating: 0xCD, count: 70_000))
        let pong = wire.clientFrames().filter { $0.opcode == 0xA }
        #expect(pong.count == 1)
        #expect(pong.first?.payload == Array("ping!".utf8))
        #expect(pong.first?.masked == true)
        let ready = try ws.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 0)
        #expect(!ready.readable)
    }

    @Test func closeFrameIsAnsweredAndEndsTheStream() throws {
        var (wire, ws) = try openWire()
        wire.toClient += serverFrame(2, [0x20, 0x02, 0x00, 0x00])
        wire.toClient += serverFrame(8, [0x03, 0xE8] + Array("bye".utf8))  // 1000
        let (bytes, error) = drain(&ws)
        #expect(bytes == [0x20, 0x02, 0x00, 0x00])
        #expect(error == .closed)
        #expect(ws.peerCloseCode == 1000)
        let close = wire.clientFrames().last
        #expect(close?.opcode == 8)
        #expect(close?.payload == [0x03, 0xE8])
        #expect(!wire.isOpen)
        #expect(throws: TransportError.closed) { _ = try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try ws.send($0) } }
        // The inner stream ending without a close frame is .closed too.
        var (wire2, ws2) = try openWire()
        wire2.endOfStream = true
        #expect(drain(&ws2).error == .closed)
        // Our close() sends close 1000.
        var (wire3, ws3) = try openWire()
        ws3.close()
        #expect(wire3.clientFrames().last?.opcode == 8)
        #expect(wire3.clientFrames().last?.payload == [0x03, 0xE8])
    }

    @Test func framingViolationsFailWithTypedErrors() throws {
        let cases: [([UInt8], WebSocketFailure)] = [
            (serverFrame(2, [1], masked: true), .maskedServerFrame),
            (serverFrame(2, [1], rsv: 4), .reservedBitsSet),
            (serverFrame(1, Array("text".utf8)), .textFrame),
            (serverFrame(3, [1]), .unknownOpcode(3)),
            (serverFrame(9, [1], fin: false), .fragmentedControlFrame),
            (serverFrame(9, [UInt8](repeating: 0, count: 126)), .controlFrameTooLong),
            (serverFrame(0, [1]), .unexpectedContinuation),
            (serverFrame(2, [1], fin: false) + serverFrame(2, [2]), .expectedContinuation),
            (serverFrame(2, [1, 2], longForm: 16), .nonMinimalLength),
            (serverFrame(2, [UInt8](repeating: 0, count: 200), longForm: 64), .nonMinimalLength),
            ([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1], .lengthTooLarge),
            (serverFrame(8, [3]), .invalidCloseFrame),
            (serverFrame(8, [0x03, 0xED]), .invalidCloseFrame),  // 1005 must not be sent
        ]
        for (frame, expected) in cases {
            var (wire, ws) = try openWire()
            wire.toClient += frame
            let (_, error) = drain(&ws)
            #expect(error == .system(code: expected.code), "\(expected)")
            #expect(ws.lastFailure == expected)
            #expect(!wire.isOpen, "\(expected): connection dropped")
            let close = wire.clientFrames().last
            #expect(close?.opcode == 8 && close?.payload == [0x03, 0xEA], "\(expected): close 1002 sent")
        }
    }

    @Test func handshakeChecks() {
        let ok = Wire().response
        let cases: [(String, WebSocketFailure)] = [
            ("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", .handshakeStatus(400)),
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", .handshakeBadAccept),
            (ok.replacingOccurrences(of: "Sec-WebSocket-Accept: {accept}\r\n", with: ""), .handshakeBadAccept),
            (ok.replacingOccurrences(of: "Sec-WebSocket-Protocol: mqtt\r\n", with: ""), .handshakeBadSubprotocol),
            (ok.replacingOccurrences(of: "Protocol: mqtt", with: "Protocol: mqttv3.1"), .handshakeBadSubprotocol),
            (ok.replacingOccurrences(of: "Upgrade: websocket\r\n", with: ""), .handshakeMissingUpgrade),
            (ok.replacingOccurrences(of: "Connection: Upgrade", with: "Connection: keep-alive"), .handshakeMissingUpgrade),
            (ok.replacingOccurrences(of: "\r\n\r\n", with: "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"), .handshakeUnexpectedExtension),
            ("HTTP/1.0 101 Switching Protocols\r\n\r\n", .handshakeMalformed),
            (ok.replacingOccurrences(of: "Upgrade: websocket", with: "Upgrade websocket"), .handshakeMalformed),
            ("HTTP/1.1 101 OK\r\n" + String(repeating: "X-Filler: 0123456789abcdef0123456789abcdef\r\n", count: 100), .handshakeTooLarge),
        ]
        for (response, expected) in cases {
            let (error, failure) = openFailure { $0.response = response }
            #expect(error == .system(code: expected.code), "\(expected)")
            #expect(failure == expected)
        }
        // Case-insensitive header names and values, token lists, extra headers: accepted.
        let relaxed = "HTTP/1.1 101 Web Socket Protocol Handshake\r\nserver: test\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept:{accept}\r\nsec-websocket-protocol:   mqtt  \r\n\r\n"
        let (error, _) = openFailure { $0.response = relaxed }
        #expect(error == nil)
        // No answer at all: .timedOut.
        let (silent, _) = openFailure { $0.response = "" }
        #expect(silent == .timedOut)
    }

    @Test func pendingFramesAreFlushedByWait() throws {
        // An inner transport that takes 10 bytes between waits: the frame is taken whole, the
        // rest goes out through later wait calls.
        final class SlowWire { var budget = 10; var inner = Wire() }
        struct Slow: Transport {
            var wire: WireTransport
            let log: SlowWire
            mutating func open(timeoutMilliseconds: Int) throws(TransportError) { try wire.open(timeoutMilliseconds: timeoutMilliseconds) }
            mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
                if !wire.wire.handshakeAnswered { return try wire.send(bytes) }
                let n = min(log.budget, bytes.count)
                log.budget -= n
                if n == 0 { return 0 }
                return try wire.send(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            }
            mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int { try wire.receive(into: buffer) }
            mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
                log.budget = 10  // the socket drained a little
                return try wire.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
            }
            mutating func close() { wire.close() }
        }
        let log = SlowWire()
        var ws = WebSocketTransport(inner: Slow(wire: WireTransport(wire: log.inner), log: log), host: "h", port: 1, configuration: WebSocketConfiguration(random: .seeded(9)))
        try ws.open(timeoutMilliseconds: 1_000)
        let payload = [UInt8](repeating: 7, count: 100)
        #expect(try payload.withUnsafeBytes { try ws.send($0) } == 100)
        #expect(try payload.withUnsafeBytes { try ws.send($0) } == 0)  // previous frame still going out
        for _ in 0..<20 { _ = try ws.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 0) }
        #expect(log.inner.clientFrames().first?.payload == payload)
        #expect(try payload.withUnsafeBytes { try ws.send($0) } == 100)
    }
}

// MARK: - Against mosquitto's websockets listeners, with ACME behind the broker

/// The local addresses `ss` reports for a listening TCP port.
func listeningAddresses(port: UInt16) throws -> [String] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/ss") ? "/usr/bin/ss" : "/bin/ss")
    p.arguments = ["-ltnH", "sport = :\(port)"]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    while p.isRunning { usleep(1_000) }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return fields.count >= 4 ? String(fields[3]) : nil
    }
}

/// A mosquitto with a ws:// and a wss:// listener. mosquitto 2.0.11 (libwebsockets) ignores
/// `bind_interface` and a `127.0.0.1` bind address for websockets listeners and binds all
/// interfaces; naming the interface as the listener's address (`listener PORT lo`) makes
/// libwebsockets bind 127.0.0.1 only. `ss` checks it.
final class WebSocketBroker {
    let pki: TestPKI
    let broker: Mosquitto
    let ws: UInt16
    let wss: UInt16

    init() throws {
        let pki = try TestPKI()
        let p = freePorts(2)
        (ws, wss) = (p[0], p[1])
        broker = try Mosquitto(extraConfig: """
            listener \(ws) lo
            protocol websockets
            listener \(wss) lo
            protocol websockets
            cafile \(pki.caCertificate)
            certfile \(pki.serverCertificate)
            keyfile \(pki.serverKey)
            """)
        self.pki = pki
        for port in [ws, wss] {
            let addresses = try listeningAddresses(port: port)
            let loopbackOnly = !addresses.isEmpty && addresses.allSatisfy {
                $0.hasPrefix("127.") || $0.hasPrefix("[::ffff:127.") || $0.hasPrefix("[::1]")
            }
            print("websockets listener \(port) bound to \(addresses)")
            guard loopbackOnly else {
                broker.kill()
                throw WebSocketBrokerError.notLoopbackOnly(port: port, addresses: addresses)
            }
        }
    }

    var tls: TLSConfiguration { TLSConfiguration(certificateAuthorities: .file(pki.caCertificate)) }
}

enum WebSocketBrokerError: Error { case notLoopbackOnly(port: UInt16, addresses: [String]) }

@Suite("WebSocket transport against mosquitto")
struct WebSocketTransportTests {
    @Test func mqttOverWebSocketAndSecureWebSocket() throws {
        let env = try WebSocketBroker()
        for (poa, tls) in [("ws://127.0.0.1:\(env.ws)/mqtt", TLSConfiguration()), ("wss://localhost:\(env.wss)", env.tls)] {
            let transport = try PointOfAccessTransport(pointOfAccess: poa, tls: tls)
            let session = try MQTTSession(configuration: SessionConfiguration(clientID: Array("ws-\(UInt16.random(in: 1...9999))".utf8), keepAliveSeconds: 30),
                                          capacities: SessionCapacities(transmitBytes: 64 * 1024, receiveBytes: 64 * 1024, storeBytes: 128 * 1024))
            var client = MQTTClient(session: session, transport: transport, clock: PosixMonotonicClock(), reconnectPolicy: ReconnectPolicy(enabled: false))
            try client.connect(cleanSession: true) { _ in }
            _ = try client.subscribeAndWait([TopicSubscription("ws/echo", qos: .atLeastOnce)]) { _ in }
            for payload in [Array("over websockets".utf8), (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }] {
                try client.publish("ws/echo", payload: payload)
                var received: [UInt8]? = nil
                var acked = false
                let deadline = Date().addingTimeInterval(10)
                while !(acked && received != nil) && Date() < deadline {
                    try client.poll(timeoutMilliseconds: 100) { e in
                        switch e {
                        case .session(.published): acked = true
                        case .session(.message(let m)): received = Array(m.payload)
                        default: break
                        }
                    }
                }
                #expect(acked, "\(poa)")
                #expect(received == payload, "\(poa) \(payload.count) bytes")
            }
            client.disconnect()
        }
        // wss:// verifies the certificate like mqtts://.
        var bad = try PointOfAccessTransport(pointOfAccess: "wss://localhost:\(env.wss)", tls: TLSConfiguration(certificateAuthorities: .file(env.pki.otherCACertificate)))
        #expect(throws: TransportError.tls(code: -0x2700)) { try bad.open(timeoutMilliseconds: 5_000) }
        #expect(bad.tlsFailure == .untrustedCertificate)
        // A plain MQTT port is not a WebSocket server: the upgrade fails with a typed error.
        var notWS = try PointOfAccessTransport(pointOfAccess: "ws://127.0.0.1:\(env.broker.port)")
        let start = Date()
        #expect(throws: TransportError.self) { try notWS.open(timeoutMilliseconds: 2_000) }
        print("ws:// to a plain MQTT listener: \(String(describing: notWS.webSocketFailure)) after \(Int(Date().timeIntervalSince(start) * 1000)) ms")
    }

    @Test(.timeLimit(.minutes(3)))
    func oneM2MRegistrationOverWSAndWSSWithACMEBehindTheBroker() throws {
        let env = try WebSocketBroker()
        let acme = try ACMEServer(brokerPort: env.broker.port)  // ACME uses the plain TCP listener
        defer { acme.stop() }
        for (poa, tls) in [("ws://127.0.0.1:\(env.ws)", TLSConfiguration()), ("wss://localhost:\(env.wss)/mqtt", env.tls)] {
            let aeID = "Cws\(UInt32.random(in: 100_000...999_999))"
            var ae = try PointOfAccessOneM2MClient(
                configuration: OneM2MConfiguration(cseID: acme.cseID, cseName: acme.cseName, originator: aeID),
                pointOfAccess: poa, tls: tls)
            #expect(ae.mqtt.transport.scheme.isWebSocket)
            try ae.connect()
            let reg = try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nws", name: "ae-\(aeID)", pointOfAccess: [poa]) }
            #expect(reg.statusCode == .created, "\(poa): \(String(decoding: reg.payload, as: UTF8.self))")
            let cnt = try ae.perform { c throws(OneM2MClientError) in try c.createContainer(under: "cse-in/ae-\(aeID)", name: "data") }
            #expect(cnt.statusCode == .created)
            let dereg = try ae.deregister()
            #expect(dereg.statusCode == .deleted, "\(poa)")
        }
    }
}
