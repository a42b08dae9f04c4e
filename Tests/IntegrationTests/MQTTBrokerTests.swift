import Foundation
import MQTTClient
import MQTTPacket
import PosixTransport
import Testing
import TestSupport

typealias TCPClient = MQTTClient<TCPTransport, PosixMonotonicClock>

func makeClient(_ id: String, port: UInt16, keepAlive: UInt16 = 30, reconnect: Bool = true) throws -> TCPClient {
    let session = try MQTTSession(configuration: SessionConfiguration(clientID: Array(id.utf8), keepAliveSeconds: keepAlive))
    return MQTTClient(
        session: session, transport: TCPTransport(host: "127.0.0.1", port: port), clock: PosixMonotonicClock(),
        reconnectPolicy: ReconnectPolicy(enabled: reconnect, initialDelayMilliseconds: 50, maximumDelayMilliseconds: 500))
}

/// A received message, copied out of the receive buffer.
struct Received: Equatable {
    var topic: String
    var payload: String
    var dup: Bool
}

extension MQTTClient where T == TCPTransport, Clock == PosixMonotonicClock {
    /// Polls until `until` is true or `seconds` pass; collects messages.
    mutating func pump(_ seconds: Double = 10, into messages: inout [Received], until: (inout [Received]) -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !until(&messages) && Date() < deadline {
            try poll(timeoutMilliseconds: 100) { e in
                if case .session(.message(let p)) = e {
                    messages.append(Received(topic: String(decoding: p.topic, as: UTF8.self), payload: String(decoding: p.payload, as: UTF8.self), dup: p.dup))
                }
            }
        }
    }
}

@Suite("MQTT client against a real mosquitto")
struct MQTTBrokerTests {
    @Test func connectSubscribeWildcardsAndQoS1RoundTrip() throws {
        let broker = try Mosquitto()
        var sub = try makeClient("it-sub-\(UInt16.random(in: 1...9999))", port: broker.port)
        let present = try sub.connect(cleanSession: true) { _ in }
        #expect(present == false)
        let granted = try sub.subscribeAndWait([TopicSubscription("sensors/+/temp", qos: .atLeastOnce), TopicSubscription("alarms/#", qos: .atMostOnce)]) { _ in }
        #expect(granted == [1, 0])

        var pub = try makeClient("it-pub-\(UInt16.random(in: 1...9999))", port: broker.port)
        try pub.connect(cleanSession: true) { _ in }
        var acked: [UInt16] = []
        let id1 = try pub.publish("sensors/kitchen/temp", payload: Array("21.5".utf8))
        try pub.publish("sensors/kitchen/humidity", payload: Array("nope".utf8))  // matches no filter
        try pub.publish("alarms/fire/zone1", payload: Array("!".utf8), qos: .atMostOnce)
        let deadline = Date().addingTimeInterval(10)
        while acked.count < 2 && Date() < deadline {
            try pub.poll(timeoutMilliseconds: 100) { e in if case .session(.published(let id)) = e { acked.append(id) } }
        }
        #expect(acked.contains(id1))
        #expect(pub.session.inflightCount == 0)

        var got: [Received] = []
        try sub.pump(into: &got) { $0.count >= 2 }
        #expect(got.contains(Received(topic: "sensors/kitchen/temp", payload: "21.5", dup: false)))
        #expect(got.contains(Received(topic: "alarms/fire/zone1", payload: "!", dup: false)))
        #expect(!got.contains { $0.topic.hasSuffix("humidity") })
        #expect(sub.session.statistics.messagesDelivered == 2)
        pub.disconnect()
        sub.disconnect()
    }

    @Test func persistentSessionReceivesWhatWasPublishedWhileAway() throws {
        let broker = try Mosquitto()
        let subID = "it-persist-\(UInt16.random(in: 1...9999))"
        var sub = try makeClient(subID, port: broker.port)
        try sub.connect(cleanSession: true) { _ in }  // start from nothing
        sub.disconnect()
        sub = try makeClient(subID, port: broker.port)
        #expect(try sub.connect { _ in } == false)  // Clean Session 0: a new persistent session
        _ = try sub.subscribeAndWait([TopicSubscription("away/#", qos: .atLeastOnce)]) { _ in }
        sub.disconnect()

        var pub = try makeClient("it-away-pub-\(UInt16.random(in: 1...9999))", port: broker.port)
        try pub.connect(cleanSession: true) { _ in }
        for i in 0..<3 { try pub.publish("away/\(i)", payload: Array("while-away-\(i)".utf8)) }
        let until = Date().addingTimeInterval(10)
        while pub.session.inflightCount > 0 && Date() < until { try pub.poll(timeoutMilliseconds: 100) { _ in } }
        #expect(pub.session.inflightCount == 0)
        pub.disconnect()

        #expect(try sub.connect { _ in } == true)  // the broker kept our session
        var got: [Received] = []
        try sub.pump(into: &got) { $0.count >= 3 }
        #expect(got.map(\.payload) == ["while-away-0", "while-away-1", "while-away-2"])
        // TS-0010 6.3 clean-up: afterwards the broker has no session for us.
        try sub.cleanUpSession { _ in }
        var again = try makeClient(subID, port: broker.port)
        #expect(try again.connect { _ in } == false)
        again.disconnect()
    }

    /// mosquitto is killed with SIGKILL (persistence on) in the middle of a stream of QoS 1
    /// publications and restarted on the same port. Both clients reconnect on their own; the
    /// publisher keeps publishing while the broker is down (stored, sent after reconnect), and
    /// the broker redelivers what it had queued for the subscriber (DUP = 1, same packet id),
    /// which the subscriber's session must not hand to the app twice. Every message must reach
    /// the subscriber's application exactly once.
    ///
    /// The kill waits for the publisher's in-flight window to be acknowledged: a PUBACK lost in
    /// the crash makes any MQTT 3.1.1 publisher resend, and the broker forwards the resend as a
    /// new message (QoS 1 is at-least-once end to end; oneM2M deduplicates by `rqi`). That case
    /// is covered by the replay unit tests, not here.
    @Test func brokerKilledMidStreamLosesNothingAndDeliversNothingTwice() throws {
        let broker = try Mosquitto(persistence: true)
        let tag = UInt16.random(in: 1...9999)
        var sub = try makeClient("it-kill-sub-\(tag)", port: broker.port)
        try sub.connect(cleanSession: true) { _ in }
        sub.disconnect()
        sub = try makeClient("it-kill-sub-\(tag)", port: broker.port)
        try sub.connect { _ in }
        _ = try sub.subscribeAndWait([TopicSubscription("stream/#", qos: .atLeastOnce)]) { _ in }
        var pub = try makeClient("it-kill-pub-\(tag)", port: broker.port)
        try pub.connect(cleanSession: true) { _ in }
        pub.disconnect()
        pub = try makeClient("it-kill-pub-\(tag)", port: broker.port)
        try pub.connect { _ in }

        let total = 120
        var received: [String] = []
        var receivedDup: [Bool] = []
        var sent = 0
        var killed = false
        var reconnects = 0
        let deadline = Date().addingTimeInterval(60)
        while Set(received).count < total && Date() < deadline {
            // Keep up to 8 publications in flight, and keep going while the broker is down.
            let pausing = !killed && received.count >= total / 2
            while !pausing && sent < total && pub.session.inflightCount < 8 {
                do {
                    try pub.publish("stream/\(sent % 4)", payload: Array("m\(sent)".utf8))
                    sent += 1
                } catch .session(.busy) { break }
            }
            if pausing && pub.session.inflightCount == 0 {
                broker.kill()
                killed = true
                try broker.restart()
            }
            try pub.poll(timeoutMilliseconds: 5) { e in if case .session(.connected) = e { reconnects += 1 } }
            try sub.poll(timeoutMilliseconds: 5) { e in
                switch e {
                case .session(.message(let p)):
                    received.append(String(decoding: p.payload, as: UTF8.self))
                    receivedDup.append(p.dup)
                case .session(.connected): reconnects += 1
                default: break
                }
            }
        }
        #expect(killed)
        #expect(reconnects >= 2, "both clients reconnected by themselves")
        let unique = Set(received)
        #expect(unique.count == total, "every message arrived: missing \(Set((0..<total).map { "m\($0)" }).subtracting(unique).sorted())")
        let twice = Dictionary(grouping: received.indices, by: { received[$0] }).filter { $0.value.count > 1 }
        #expect(received.count == unique.count, "no message reached the app twice: \(twice.mapValues { $0.map { receivedDup[$0] } }) subscriber stats \(sub.session.statistics) publisher stats \(pub.session.statistics)")
        pub.disconnect()
        sub.disconnect()
    }
}
