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

typealias TLSClient = MQTTClient<TLSTransport, PosixMonotonicClock>

/// Distinct free loopback ports.
func freePorts(_ count: Int) -> [UInt16] {
    var ports: [UInt16] = []
    while ports.count < count {
        let p = freeLoopbackPort()
        if !ports.contains(p) { ports.append(p) }
    }
    return ports
}

/// One mosquitto with the fixture's plain 127.0.0.1 listener plus five TLS listeners on
/// 127.0.0.1, all with certificates from a fresh test PKI.
final class TLSBroker {
    let pki: TestPKI
    let broker: Mosquitto
    /// server.crt (CN=localhost, SAN localhost/127.0.0.1/::1).
    let good: UInt16
    /// expired.crt.
    let expired: UInt16
    /// wronghost.crt (CN=wrong.example).
    let wrongHost: UInt16
    /// server.crt, `require_certificate true` (client certificates by ca.crt).
    let mutual: UInt16
    /// TLS-PSK only (`psk_hint`, `psk_file`).
    let psk: UInt16

    init() throws {
        let pki = try TestPKI()
        let p = freePorts(5)
        (good, expired, wrongHost, mutual, psk) = (p[0], p[1], p[2], p[3], p[4])
        func listener(_ port: UInt16, cert: String, key: String, extra: String = "") -> String {
            """
            listener \(port) 127.0.0.1
            cafile \(pki.caCertificate)
            certfile \(cert)
            keyfile \(key)
            \(extra)
            """
        }
        let config = [
            "psk_file \(pki.pskFile)",
            listener(good, cert: pki.serverCertificate, key: pki.serverKey),
            listener(expired, cert: pki.expiredCertificate, key: pki.expiredKey),
            listener(wrongHost, cert: pki.wrongHostCertificate, key: pki.wrongHostKey),
            listener(mutual, cert: pki.serverCertificate, key: pki.serverKey, extra: "require_certificate true"),
            "listener \(psk) 127.0.0.1\npsk_hint oneM2M-test-broker",
        ].joined(separator: "\n")
        self.pki = pki
        broker = try Mosquitto(extraConfig: config)
    }

    var caOnly: TLSConfiguration { TLSConfiguration(certificateAuthorities: .file(pki.caCertificate)) }
}

func makeTLSClient(_ id: String, host: String = "localhost", port: UInt16, tls: TLSConfiguration) throws -> TLSClient {
    let session = try MQTTSession(configuration: SessionConfiguration(clientID: Array(id.utf8), keepAliveSeconds: 30))
    return MQTTClient(
        session: session, transport: TLSTransport(host: host, port: port, configuration: tls), clock: PosixMonotonicClock(),
        reconnectPolicy: ReconnectPolicy(enabled: false))
}

/// The error `open` throws (nil if it succeeds; then the transport is closed again).
func openError(_ t: inout TLSTransport, timeout: Int = 5_000) -> TransportError? {
    do {
        try t.open(timeoutMilliseconds: timeout)
        t.close()
        return nil
    } catch {
        return error
    }
}

/// CONNECT/CONNACK, then a QoS 1 publication to ourselves: PUBACK and delivery.
func connectAndRoundTrip(_ client: inout TLSClient, topic: String = "tls/echo", payload: [UInt8] = Array("hello over TLS".utf8)) throws -> (acked: Bool, received: [UInt8]?) {
    try client.connect(cleanSession: true) { _ in }
    let granted = try client.subscribeAndWait([TopicSubscription(topic, qos: .atLeastOnce)]) { _ in }
    #expect(granted == [1])
    let id = try client.publish(topic, payload: payload, qos: .atLeastOnce)
    var acked = false
    var received: [UInt8]? = nil
    let deadline = Date().addingTimeInterval(10)
    while !(acked && received != nil) && Date() < deadline {
        try client.poll(timeoutMilliseconds: 100) { e in
            switch e {
            case .session(.published(let p)) where p == id: acked = true
            case .session(.message(let m)): received = Array(m.payload)
            default: break
            }
        }
    }
    return (acked, received)
}

@Suite("TLS transport (mbedTLS) against mosquitto TLS listeners")
struct TLSTransportTests {
    @Test func goodChainConnectsAndCarriesQoS1() throws {
        let env = try TLSBroker()
        var client = try makeTLSClient("tls-good", port: env.good, tls: env.caOnly)
        let (acked, received) = try connectAndRoundTrip(&client)
        #expect(acked)
        #expect(received == Array("hello over TLS".utf8))
        #expect(client.transport.lastVerificationFlags.isEmpty)
        #expect(client.transport.failure == nil)
        #expect(client.transport.cipherSuite.hasPrefix("TLS-ECDHE-ECDSA-"), "\(client.transport.cipherSuite)")
        client.disconnect()

        // By IP literal: the certificate's iPAddress SAN (127.0.0.1) is accepted.
        var byIP = try makeTLSClient("tls-ip", host: "127.0.0.1", port: env.good, tls: env.caOnly)
        let r2 = try connectAndRoundTrip(&byIP)
        #expect(r2.acked && r2.received != nil)
        byIP.disconnect()

        // The CA as a PEM buffer instead of a file.
        let pem = try env.pki.contents("ca.crt")
        var byBuffer = try makeTLSClient("tls-pem", port: env.good, tls: TLSConfiguration(certificateAuthorities: .pem(pem)))
        let r3 = try connectAndRoundTrip(&byBuffer)
        #expect(r3.acked && r3.received != nil)
        byBuffer.disconnect()

        // Host, CA path and server name as bytes (the C API's way: no String).
        var bytesConfig = TLSConfiguration(certificateAuthorities: .file(path: Array(env.pki.caCertificate.utf8)))
        bytesConfig.serverNameBytes = Array("localhost".utf8)
        #expect(bytesConfig.serverName == "localhost")
        #expect(bytesConfig.certificateAuthorities == .file(env.pki.caCertificate))
        var byBytes = Array("127.0.0.1".utf8).withUnsafeBytes { TLSTransport(host: $0, port: env.good, configuration: bytesConfig) }
        #expect(openError(&byBytes) == nil)
        // The name checked is the server name's, not the host's: a wrong one fails.
        bytesConfig.serverNameBytes = Array("broker.example".utf8)
        var wrongName = Array("127.0.0.1".utf8).withUnsafeBytes { TLSTransport(host: $0, port: env.good, configuration: bytesConfig) }
        #expect(openError(&wrongName) == .tls(code: -0x2700))
    }

    @Test func sourcesAndServerNameAsBytesEqualTheirStringForms() {
        #expect(TLSConfiguration.Source.file("/etc/ca.crt") == .file(path: Array("/etc/ca.crt".utf8)))
        #expect(TLSConfiguration.Source.file("ca.crt") != .pem(Array("ca.crt".utf8)))
        var c = TLSConfiguration(serverName: "broker.example")
        #expect(c.serverNameBytes == Array("broker.example".utf8))
        c.serverName = nil
        #expect(c.serverNameBytes == nil && c.serverName == nil)
        c.serverNameBytes = Array("b\u{e9}".utf8)
        #expect(c.serverName == "b\u{e9}")
    }

    @Test func largePublicationsCrossRecordBoundaries() throws {
        // 100 KB payloads: several TLS records per packet, partial socket writes, records
        // split across reads.
        let env = try TLSBroker()
        let capacities = SessionCapacities(transmitBytes: 128 * 1024, receiveBytes: 128 * 1024, storeBytes: 256 * 1024)
        let session = try MQTTSession(configuration: SessionConfiguration(clientID: Array("tls-large".utf8), keepAliveSeconds: 30), capacities: capacities)
        var client = MQTTClient(
            session: session, transport: TLSTransport(host: "localhost", port: env.good, configuration: env.caOnly),
            clock: PosixMonotonicClock(), reconnectPolicy: ReconnectPolicy(enabled: false))
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for _ in 0..<3 {
            let r = try connectAndRoundTrip(&client, topic: "tls/large", payload: payload)
            #expect(r.acked)
            #expect(r.received == payload)
            client.disconnect()
        }
    }

    @Test func sendAndReceiveAllocateNothingAfterTheHandshake() throws {
        #expect(allocationCounterIsActive)
        let env = try TLSBroker()
        var client = try makeTLSClient("tls-alloc", port: env.good, tls: env.caOnly)
        let handshake = threadAllocationCount()
        try client.connect(cleanSession: true) { _ in }
        let handshakeAllocations = threadAllocationCount() - handshake
        _ = try client.subscribeAndWait([TopicSubscription("tls/alloc", qos: .atLeastOnce)]) { _ in }
        let topic = Array("tls/alloc".utf8)
        let payload = [UInt8](repeating: 0x42, count: 200)
        func round(_ client: inout TLSClient) throws -> Bool {
            var acked = false, received = false
            topic.withUnsafeBytes { t in payload.withUnsafeBytes { p in _ = try? client.publish(topic: t, payload: p, qos: .atLeastOnce) } }
            var polls = 0
            while !(acked && received) && polls < 1000 {
                polls += 1
                try client.poll(timeoutMilliseconds: 1000) { e in
                    switch e {
                    case .session(.published): acked = true
                    case .session(.message(let m)): received = m.payload.count == 200
                    default: break
                    }
                }
            }
            try client.flush(timeoutMilliseconds: 1000)
            return acked && received
        }
        for _ in 0..<10 { _ = try round(&client) }
        var ok = 0
        let before = threadAllocationCount()
        for _ in 0..<200 where try round(&client) { ok += 1 }
        let allocated = threadAllocationCount() - before
        #expect(ok == 200)
        #expect(allocated == 0, "\(allocated) allocations in 200 QoS 1 rounds over TLS")
        // Informational: the first connect builds the mbedTLS context and handshakes.
        print("TLS: first connect (context + handshake) made \(handshakeAllocations) allocations; record buffers \(TLSTransport.recordBufferSizes)")
        client.disconnect()
    }

    @Test func wrongCAFailsVerification() throws {
        let env = try TLSBroker()
        var t = TLSTransport(host: "localhost", port: env.good, configuration: TLSConfiguration(certificateAuthorities: .file(env.pki.otherCACertificate)))
        let error = openError(&t)
        #expect(error == .tls(code: -0x2700))
        #expect(t.failure == .untrustedCertificate)
        #expect(t.lastVerificationFlags.contains(.notTrusted))
        #expect(TLSTransport.errorText(code: t.lastErrorCode).contains("Certificate verification failed"), "\(TLSTransport.errorText(code: t.lastErrorCode))")
        #expect(t.lastVerificationFlags.text.contains("not correctly signed by the trusted CA"), "\(t.lastVerificationFlags.text)")
        #expect(!t.isOpen)
    }

    @Test func wrongHostnameSetsCNMismatch() throws {
        let env = try TLSBroker()
        var t = TLSTransport(host: "localhost", port: env.wrongHost, configuration: env.caOnly)
        #expect(openError(&t) == .tls(code: -0x2700))
        #expect(t.failure == .hostnameMismatch)
        #expect(t.lastVerificationFlags == .hostnameMismatch)  // trusted and valid, only the name is wrong

        // The good certificate, but the device expects another name.
        var other = TLSConfiguration(certificateAuthorities: .file(env.pki.caCertificate))
        other.serverName = "broker.example"
        var t2 = TLSTransport(host: "127.0.0.1", port: env.good, configuration: other)
        #expect(openError(&t2) == .tls(code: -0x2700))
        #expect(t2.failure == .hostnameMismatch)
        // An IP literal not in the certificate's SANs.
        var t3 = TLSTransport(host: "127.0.0.1", port: env.wrongHost, configuration: env.caOnly)
        #expect(openError(&t3) == .tls(code: -0x2700))
        #expect(t3.lastVerificationFlags.contains(.hostnameMismatch))
    }

    @Test func expiredCertificateSetsExpiredFlag() throws {
        let env = try TLSBroker()
        var t = TLSTransport(host: "localhost", port: env.expired, configuration: env.caOnly)
        #expect(openError(&t) == .tls(code: -0x2700))
        #expect(t.failure == .expiredCertificate)
        #expect(t.lastVerificationFlags == .expired)
    }

    @Test func insecureModeConnectsButRecordsTheFlags() throws {
        let env = try TLSBroker()
        var cfg = TLSConfiguration(certificateAuthorities: .file(env.pki.otherCACertificate))
        cfg.insecureSkipVerification = true
        var client = try makeTLSClient("tls-insecure", port: env.expired, tls: cfg)
        let r = try connectAndRoundTrip(&client)
        #expect(r.acked && r.received != nil)
        #expect(client.transport.lastVerificationFlags.contains(.notTrusted))
        #expect(client.transport.lastVerificationFlags.contains(.expired))
        client.disconnect()
    }

    @Test func mutualTLSNeedsOurClientCertificate() throws {
        let env = try TLSBroker()
        var withCert = env.caOnly
        withCert.clientCertificate = .file(env.pki.clientCertificate)
        withCert.clientKey = .file(env.pki.clientKey)
        var client = try makeTLSClient("tls-mutual", port: env.mutual, tls: withCert)
        let r = try connectAndRoundTrip(&client)
        #expect(r.acked && r.received != nil)
        client.disconnect()

        // Certificate and key as PEM buffers.
        var fromBuffers = env.caOnly
        fromBuffers.clientCertificate = .pem(try env.pki.contents("client.crt"))
        fromBuffers.clientKey = .pem(try env.pki.contents("client.key"))
        var t0 = TLSTransport(host: "localhost", port: env.mutual, configuration: fromBuffers)
        #expect(openError(&t0) == nil)

        // Without a certificate the broker ends the handshake.
        var t = TLSTransport(host: "localhost", port: env.mutual, configuration: env.caOnly)
        let error = openError(&t)
        #expect(error != nil)
        if case .tls = error {} else { Issue.record("expected .tls, got \(String(describing: error))") }
        print("mutual TLS without a certificate: code -0x\(String(-t.lastErrorCode, radix: 16)) alert \(String(describing: t.lastAlert)): \(TLSTransport.errorText(code: t.lastErrorCode))")
        #expect(t.failure == .clientCertificateRejected, "code \(t.lastErrorCode) alert \(String(describing: t.lastAlert)) \(TLSTransport.errorText(code: t.lastErrorCode))")

        // A certificate from a CA the broker does not trust.
        var foreign = env.caOnly
        foreign.clientCertificate = .file(env.pki.otherClientCertificate)
        foreign.clientKey = .file(env.pki.otherClientKey)
        var t2 = TLSTransport(host: "localhost", port: env.mutual, configuration: foreign)
        #expect(openError(&t2) != nil)
        print("mutual TLS with a foreign certificate: code -0x\(String(-t2.lastErrorCode, radix: 16)) alert \(String(describing: t2.lastAlert))")
        #expect(t2.failure == .clientCertificateRejected, "code \(t2.lastErrorCode) alert \(String(describing: t2.lastAlert))")
    }

    @Test func preSharedKey() throws {
        let env = try TLSBroker()
        let good = try #require(TLSConfiguration.PreSharedKey(identity: env.pki.pskIdentity, hexKey: env.pki.pskHex))
        var client = try makeTLSClient("tls-psk", port: env.psk, tls: TLSConfiguration(preSharedKey: good))
        let r = try connectAndRoundTrip(&client)
        #expect(r.acked && r.received != nil)
        #expect(client.transport.cipherSuite.contains("PSK"), "\(client.transport.cipherSuite)")
        print("TLS-PSK cipher suite: \(client.transport.cipherSuite)")
        client.disconnect()

        // A wrong key.
        var badKey = good
        badKey.key[0] ^= 0xFF
        var t = TLSTransport(host: "localhost", port: env.psk, configuration: TLSConfiguration(preSharedKey: badKey))
        #expect(openError(&t) != nil)
        print("TLS-PSK wrong key: code -0x\(String(-t.lastErrorCode, radix: 16)) alert \(String(describing: t.lastAlert)): \(TLSTransport.errorText(code: t.lastErrorCode))")
        #expect(t.failure == .pskRejected, "code \(t.lastErrorCode) alert \(String(describing: t.lastAlert)) \(TLSTransport.errorText(code: t.lastErrorCode))")

        // An unknown identity.
        let stranger = TLSConfiguration.PreSharedKey(identity: "Cnobody", key: good.key)
        var t2 = TLSTransport(host: "localhost", port: env.psk, configuration: TLSConfiguration(preSharedKey: stranger))
        #expect(openError(&t2) != nil)
        print("TLS-PSK unknown identity: code -0x\(String(-t2.lastErrorCode, radix: 16)) alert \(String(describing: t2.lastAlert))")
        #expect(t2.failure == .pskRejected, "code \(t2.lastErrorCode) alert \(String(describing: t2.lastAlert))")

        #expect(TLSConfiguration.PreSharedKey(identity: "x", hexKey: "abc") == nil)
        #expect(TLSConfiguration.PreSharedKey(identity: "x", hexKey: "zz") == nil)
        #expect(TLSConfiguration.PreSharedKey(identity: "x", hexKey: "0aFf")?.key == [0x0A, 0xFF])
        // The byte form (no String) parses the same way.
        #expect(TLSConfiguration.PreSharedKey(identity: Array("x".utf8), hexKey: Array("0aFf".utf8))
            == TLSConfiguration.PreSharedKey(identity: "x", hexKey: "0aFf"))
        #expect(TLSConfiguration.PreSharedKey(identity: Array("x".utf8), hexKey: Array("0aF".utf8)) == nil)
        #expect(TLSConfiguration.PreSharedKey(identity: Array("x".utf8), hexKey: []) == nil)
    }

    @Test func configurationMistakesFailBeforeConnecting() throws {
        let pki = try TestPKI()
        // Secure default: no CA and no PSK is refused, not connected unauthenticated.
        var none = TLSTransport(host: "localhost", port: 1, configuration: TLSConfiguration())
        #expect(throws: TransportError.tls(code: -0x10001)) { try none.prepare() }
        #expect(none.failure == .configuration)
        #expect(TLSTransport.errorText(code: -0x10001).contains("no CA"))
        // A CA file that does not exist.
        var missing = TLSTransport(host: "localhost", port: 1, configuration: TLSConfiguration(certificateAuthorities: .file("/nonexistent/ca.crt")))
        #expect(openError(&missing) != nil)
        #expect(missing.failure == .configuration)
        // Garbage instead of PEM.
        var garbage = TLSTransport(host: "localhost", port: 1, configuration: TLSConfiguration(certificateAuthorities: .pem(Array("not a certificate".utf8))))
        #expect(openError(&garbage) != nil)
        #expect(garbage.failure == .configuration)
        // A certificate without its key.
        var half = TLSTransport(host: "localhost", port: 1, configuration: TLSConfiguration(
            certificateAuthorities: .file(pki.caCertificate), clientCertificate: .file(pki.clientCertificate)))
        #expect(openError(&half) == .tls(code: -0x10002))
        #expect(half.failure == .configuration)
    }

    @Test func reconnectsAndTimesOut() throws {
        let env = try TLSBroker()
        var t = TLSTransport(host: "localhost", port: env.good, configuration: env.caOnly)
        for _ in 0..<3 {
            try t.open(timeoutMilliseconds: 5_000)
            #expect(t.isOpen)
            t.close()
            #expect(!t.isOpen)
        }
        // The peer closing: receive reports .closed (mosquitto drops a client that sends junk).
        try t.open(timeoutMilliseconds: 5_000)
        let junk: [UInt8] = [0xF0, 0x00]
        _ = try junk.withUnsafeBytes { try t.send($0) }
        var buffer = [UInt8](repeating: 0, count: 64)
        var result: TransportError? = nil
        let deadline = Date().addingTimeInterval(5)
        while result == nil && Date() < deadline {
            _ = try t.wait(for: TransportReadiness(readable: true, writable: false), timeoutMilliseconds: 200)
            do {
                _ = try buffer.withUnsafeMutableBytes { try t.receive(into: $0) }
            } catch let e as TransportError { result = e }
        }
        #expect(result == .closed || result == .reset, "\(String(describing: result))")
        t.close()

        // A listener that never answers the ClientHello (a plain TCP socket): .timedOut.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        listen(fd, 4)
        var silent = TLSTransport(host: "127.0.0.1", port: UInt16(bigEndian: addr.sin_port), configuration: env.caOnly)
        let start = Date()
        #expect(openError(&silent, timeout: 300) == .timedOut)
        #expect(Date().timeIntervalSince(start) < 3)
    }

    /// The TS-0010 7.4 topic authorization of docs/security.md, enforced by mosquitto: the MQTT
    /// user name is the client certificate's CN / the PSK identity (`use_identity_as_username`),
    /// which must be the AE-ID; ACME (anonymous, plain loopback listener) may use all of /oneM2M/.
    @Test(.timeLimit(.minutes(3)))
    func brokerEnforcesTopicAuthorizationPerAE() throws {
        let pki = try TestPKI(clientCommonName: "Cdevice1")
        let p = freePorts(2)
        let (mutual, psk) = (p[0], p[1])
        let acl = pki.path("acl")
        try """
            # Anonymous clients: here only ACME on the plain loopback listener.
            topic readwrite /oneM2M/#

            # Every authenticated client: %u = certificate CN or PSK identity = its AE-ID.
            # Registered AE (TS-0010 7.4 2a / 3), Registrar CSE id-in:
            pattern write /oneM2M/req/%u/id-in/#
            pattern read /oneM2M/resp/%u/id-in/#
            pattern read /oneM2M/req/+/%u/#
            pattern write /oneM2M/resp/id-in/%u/#
            # Initial registration under the credential ID (7.4 2b / 4):
            pattern write /oneM2M/reg_req/%u/#
            pattern read /oneM2M/reg_resp/%u/#

            """.write(toFile: acl, atomically: true, encoding: .utf8)
        let broker = try Mosquitto(extraConfig: """
            acl_file \(acl)
            psk_file \(pki.pskFile)
            listener \(mutual) 127.0.0.1
            cafile \(pki.caCertificate)
            certfile \(pki.serverCertificate)
            keyfile \(pki.serverKey)
            require_certificate true
            use_identity_as_username true
            listener \(psk) 127.0.0.1
            psk_hint oneM2M-test-broker
            use_identity_as_username true
            """)
        let acme = try ACMEServer(brokerPort: broker.port)
        defer { acme.stop() }
        var tls = TLSConfiguration(certificateAuthorities: .file(pki.caCertificate))
        tls.clientCertificate = .file(pki.clientCertificate)
        tls.clientKey = .file(pki.clientKey)
        func config(_ originator: String) -> OneM2MConfiguration {
            OneM2MConfiguration(cseID: acme.cseID, cseName: acme.cseName, originator: originator)
        }

        // The AE whose AE-ID is its certificate's CN: allowed.
        var ae = try TLSOneM2MClient(configuration: config("Cdevice1"), pointOfAccess: "mqtts://localhost:\(mutual)", tls: tls)
        try ae.connect()
        let reg = try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nacl", name: "acl-device1") }
        #expect(reg.statusCode == .created, "\(String(decoding: reg.payload, as: UTF8.self))")

        // It cannot publish requests under another originator: an anonymous watcher sees only
        // the permitted publication.
        var watcher = try makeClient("acl-watch", port: broker.port)
        try watcher.connect(cleanSession: true) { _ in }
        _ = try watcher.subscribeAndWait([TopicSubscription("/oneM2M/req/#", qos: .atLeastOnce)]) { _ in }
        var raw = try makeTLSClient("A::Cdevice1-raw", port: mutual, tls: tls)
        try raw.connect(cleanSession: true) { _ in }
        try raw.publish("/oneM2M/req/Cother/id-in/json", payload: Array("{}".utf8))
        try raw.publish("/oneM2M/req/Cdevice1/nowhere/json", payload: Array("{}".utf8))
        try raw.publish("/oneM2M/req/Cdevice1/id-in/json", payload: Array(#"{"op":2,"to":"Cdevice1","fr":"Cdevice1","rqi":"acl-1","rvi":"3"}"#.utf8))
        // ... nor read another AE's requests. (mosquitto 2.0.11 grants the SUBSCRIBE and drops
        // what the ACL does not let through at delivery.)
        _ = try raw.subscribeAndWait([
            TopicSubscription("/oneM2M/req/+/Cother/#", qos: .atLeastOnce), TopicSubscription("/oneM2M/req/+/Cdevice1/#", qos: .atLeastOnce),
        ]) { _ in }
        try watcher.publish("/oneM2M/req/id-in/Cother/json", payload: Array("{}".utf8))
        try watcher.publish("/oneM2M/req/id-in/Cdevice1/json", payload: Array("{}".utf8))
        var seen: [String] = []
        var delivered: [String] = []
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            try raw.poll(timeoutMilliseconds: 20) { e in
                if case .session(.message(let m)) = e { delivered.append(String(decoding: m.topic, as: UTF8.self)) }
            }
            try watcher.poll(timeoutMilliseconds: 20) { e in
                if case .session(.message(let m)) = e { seen.append(String(decoding: m.topic, as: UTF8.self)) }
            }
        }
        #expect(seen.filter { $0.hasPrefix("/oneM2M/req/Cdevice1/") || $0.hasPrefix("/oneM2M/req/Cother/") } == ["/oneM2M/req/Cdevice1/id-in/json"], "\(seen)")
        #expect(delivered == ["/oneM2M/req/id-in/Cdevice1/json"], "\(delivered)")
        raw.disconnect()
        watcher.disconnect()
        #expect(try ae.deregister().statusCode == .deleted)

        // The same certificate cannot act as another AE: its requests never reach the CSE.
        var intruderConfig = config("Cintruder")
        intruderConfig.requestTimeoutMilliseconds = 1_500
        var intruder = try TLSOneM2MClient(configuration: intruderConfig, pointOfAccess: "mqtts://localhost:\(mutual)", tls: tls)
        try intruder.connect()
        #expect(throws: OneM2MClientError.timedOut) {
            _ = try intruder.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nacl", name: "acl-intruder") }
        }
        intruder.disconnect()

        // TLS-PSK: the PSK identity is the AE-ID.
        let key = try #require(TLSConfiguration.PreSharedKey(identity: pki.pskIdentity, hexKey: pki.pskHex))
        var pskAE = try TLSOneM2MClient(configuration: config(pki.pskIdentity), pointOfAccess: "mqtts://localhost:\(psk)", tls: TLSConfiguration(preSharedKey: key))
        try pskAE.connect()
        let reg2 = try pskAE.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nacl", name: "acl-psk") }
        #expect(reg2.statusCode == .created, "\(String(decoding: reg2.payload, as: UTF8.self))")
        #expect(try pskAE.deregister().statusCode == .deleted)
    }

    @Test(.timeLimit(.minutes(3)))
    func oneM2MRegistrationOverMQTTS() throws {
        let env = try TLSBroker()
        let acme = try ACMEServer(brokerPort: env.broker.port)  // ACME on the plain listener
        defer { acme.stop() }
        let aeID = "Ctls\(UInt32.random(in: 100_000...999_999))"
        let poa = "mqtts://localhost:\(env.good)"
        let c = OneM2MConfiguration(cseID: acme.cseID, cseName: acme.cseName, originator: aeID)
        var ae = try TLSOneM2MClient(configuration: c, pointOfAccess: poa, tls: env.caOnly)
        try ae.connect()
        let reg = try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nsecure", name: "tls-\(aeID)", pointOfAccess: [poa]) }
        #expect(reg.statusCode == .created, "\(String(decoding: reg.payload, as: UTF8.self))")
        let me = try ae.perform { c throws(OneM2MClientError) in try c.retrieve(aeID) }
        #expect(me.statusCode == .ok)
        let dereg = try ae.deregister()
        #expect(dereg.statusCode == .deleted)

        // The same through the run-time scheme choice, with mutual TLS.
        let aeID2 = "Ctls\(UInt32.random(in: 100_000...999_999))"
        var tls = env.caOnly
        tls.clientCertificate = .file(env.pki.clientCertificate)
        tls.clientKey = .file(env.pki.clientKey)
        var ae2 = try PointOfAccessOneM2MClient(
            configuration: OneM2MConfiguration(cseID: acme.cseID, cseName: acme.cseName, originator: aeID2),
            pointOfAccess: "mqtts://localhost:\(env.mutual)", tls: tls)
        try ae2.connect()
        let reg2 = try ae2.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nsecure", name: "mtls-\(aeID2)") }
        #expect(reg2.statusCode == .created)
        #expect(try ae2.deregister().statusCode == .deleted)

        // Wrong scheme / bad URIs.
        #expect(throws: OneM2MClientError.mqtt(.transport(.invalidEndpoint))) {
            _ = try TLSOneM2MClient(configuration: c, pointOfAccess: "mqtt://localhost:1883", tls: env.caOnly)
        }
        #expect(throws: OneM2MClientError.self) { _ = try PointOfAccessOneM2MClient(configuration: c, pointOfAccess: "http://x") }
        // A verification failure reaches the device API as a typed TLS error.
        var bad = try TLSOneM2MClient(configuration: c, pointOfAccess: "mqtts://localhost:\(env.expired)", tls: env.caOnly)
        #expect(throws: OneM2MClientError.mqtt(.transport(.tls(code: -0x2700)))) { try bad.connect(timeoutMilliseconds: 5_000) }
        #expect(bad.mqtt.transport.failure == .expiredCertificate)
    }
}
