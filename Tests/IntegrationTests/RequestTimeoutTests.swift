import MQTTPacket
import OneM2MClient
import Testing
import TestSupport

// Request timeouts of OneM2MClient over a scripted broker and a manual clock: no network, and
// time only moves when the client waits.

struct FixedWallClock: WallClock {
    func unixMicroseconds() -> Int64 { 1_795_302_065_000_000 }
}

typealias ScriptedOneM2MClient = OneM2MClient<ScriptedTransport, ManualClock, FixedWallClock>

/// A client (not connected, never reconnecting) of the minimal broker, installed on `peer`.
func scriptedClient(_ configuration: OneM2MConfiguration, peer: ScriptedPeer, clock: ManualClock) throws -> ScriptedOneM2MClient {
    installMinimalBroker(on: peer)
    return try ScriptedOneM2MClient(
        configuration: configuration, transport: ScriptedTransport(peer: peer), clock: clock, wallClock: FixedWallClock(),
        reconnectPolicy: ReconnectPolicy(enabled: false))
}

/// Answers CONNECT, SUBSCRIBE and QoS 1 PUBLISH the way a broker does; never answers a request.
func installMinimalBroker(on peer: ScriptedPeer) {
    peer.onPacket = { peer, frame in
        frame.bytes.withUnsafeBytes { raw in
            guard let (packet, _) = try? PacketDecoder.decodeFirst(raw) else { return }
            switch packet {
            case .connect: peer.deliver([0x20, 0x02, 0x00, 0x00])
            case .subscribe(let id, let filters):
                var count = 0
                var it = SubscriptionIterator(filters: filters, withQoS: true)
                while it.next() != nil { count += 1 }
                peer.deliver([0x90, UInt8(2 + count), UInt8(id >> 8), UInt8(id & 0xFF)] + [UInt8](repeating: 1, count: count))
            case .publish(let p) where p.qos == .atLeastOnce:
                peer.deliver([0x40, 0x02, UInt8(p.packetID >> 8), UInt8(p.packetID & 0xFF)])
            default: break
            }
        }
    }
}

/// Polls until `count` requests have timed out (other events, such as PUBACKs, are skipped);
/// returns each timed-out request with the clock reading when it was reported.
func pollForTimeouts(_ c: inout ScriptedOneM2MClient, _ clock: ManualClock, count: Int,
                     onTimeout: (inout ScriptedOneM2MClient) -> Void = { _ in }) throws -> [(RequestID, Int)] {
    var timedOut: [(RequestID, Int)] = []
    for _ in 0..<20 where timedOut.count < count {
        var fresh: [(RequestID, Int)] = []
        try c.poll(timeoutMilliseconds: 60_000) { event in
            if case .requestTimedOut(let id) = event { fresh.append((id, clock.nowMilliseconds())) }
            return nil
        }
        for t in fresh { timedOut.append(t); onTimeout(&c) }
    }
    return timedOut
}

@Suite("OneM2MClient request timeouts (scripted broker, manual clock)")
struct RequestTimeoutTests {
    func client(_ clock: ManualClock, timeout: Int, peer: ScriptedPeer? = nil, originator: String = "Ctimeout") throws -> ScriptedOneM2MClient {
        try scriptedClient(
            OneM2MConfiguration(originator: originator, requestTimeoutMilliseconds: timeout), peer: peer ?? ScriptedPeer(clock: clock), clock: clock)
    }

    @Test func unansweredRequestsTimeOutAtTheirOwnDeadlinesInOrder() throws {
        let clock = ManualClock(startMilliseconds: 1_000)
        var c = try client(clock, timeout: 5_000)
        try c.connect()
        let start = clock.nowMilliseconds()
        let first = try c.retrieve("cse-in/a")
        clock.advance(by: 2_000)
        let second = try c.retrieve("cse-in/b")
        // Each poll waits until the next deadline, no longer.
        let timedOut = try pollForTimeouts(&c, clock, count: 2)
        #expect(timedOut.map(\.0) == [first, second])
        #expect(timedOut.map(\.1) == [start + 5_000, start + 7_000])
        #expect(c.pendingRequestCount == 0)
        // With nothing pending, a poll just waits out its time.
        try c.poll(timeoutMilliseconds: 1_000) { _ in Issue.record("no event expected"); return nil }
        #expect(clock.nowMilliseconds() == start + 8_000)
    }

    @Test func aRequestSentAfterATimeoutKeepsItsOwnDeadline() throws {
        let clock = ManualClock(startMilliseconds: 0)
        var c = try client(clock, timeout: 1_000)
        try c.connect()
        let t0 = clock.nowMilliseconds()
        let first = try c.retrieve("cse-in/a")
        var retries: [RequestID] = []
        // The first timeout sends a new request at once; it must time out 1 s later, not be
        // forgotten because the deadline was just recomputed.
        let timedOut = try pollForTimeouts(&c, clock, count: 2) { c in
            if retries.isEmpty, let id = try? c.retrieve("cse-in/b") { retries.append(id) }
        }
        #expect(timedOut.map(\.0) == [first] + retries)
        #expect(timedOut.map(\.1) == [t0 + 1_000, t0 + 2_000])
    }

    @Test func aResponseEndsItsRequestAndTheNextDeadlineStillHolds() throws {
        let clock = ManualClock(startMilliseconds: 0)
        let peer = ScriptedPeer(clock: clock)
        var c = try client(clock, timeout: 3_000, peer: peer, originator: "Cresp")
        try c.connect()
        let t0 = clock.nowMilliseconds()
        let answered = try c.retrieve("cse-in/a")
        clock.advance(by: 1_000)
        let unanswered = try c.retrieve("cse-in/b")
        // The CSE answers the first request (its rqi is in the request the broker saw).
        let sentFirst = try #require(peer.frames.first { $0.bytes.first == 0x32 })  // QoS 1 PUBLISH
        let rqi = try sentFirst.bytes.withUnsafeBytes { raw -> String in
            let (packet, _) = try #require(try PacketDecoder.decodeFirst(raw))
            guard case .publish(let p) = packet else { Issue.record("not a publish"); return "" }
            let view = try RequestPrimitiveView(decoding: p.payload)
            return String(decoding: Array(view.requestIdentifier), as: UTF8.self)
        }
        let body = Array(#"{"rsc":2000,"rqi":"\#(rqi)","rvi":"3"}"#.utf8)
        let topic = Array("/oneM2M/resp/Cresp/id-in/json".utf8)
        peer.deliver([0x30, UInt8(2 + topic.count + body.count), 0, UInt8(topic.count)] + topic + body)
        var responses: [RequestID] = []
        var timeouts: [(RequestID, Int)] = []
        for _ in 0..<20 where timeouts.isEmpty {
            try c.poll(timeoutMilliseconds: 60_000) { event in
                switch event {
                case .response(let id, _): responses.append(id)
                case .requestTimedOut(let id): timeouts.append((id, clock.nowMilliseconds()))
                default: break
                }
                return nil
            }
        }
        #expect(responses == [answered])
        #expect(timeouts.map(\.0) == [unanswered] && timeouts.map(\.1) == [t0 + 4_000])
    }

    /// A request timeout far beyond any real wait ("never") is bounded to 2^40 ms: the request
    /// stays pending, nothing traps (the deadline sums do not overflow), and an explicit wait
    /// still times out on time.
    @Test func aHugeRequestTimeoutNeverTrapsAndNeverFires() throws {
        let clock = ManualClock(startMilliseconds: 1_000)
        var c = try client(clock, timeout: Int.max)
        try c.connect()
        let id = try c.retrieve("cse-in/a")
        clock.advance(by: 1_000_000_000)
        try c.poll(timeoutMilliseconds: 1_000) { event in
            if case .requestTimedOut = event { Issue.record("no timeout expected") }
            return nil
        }
        #expect(c.pendingRequestCount == 1)
        let start = clock.nowMilliseconds()
        #expect(throws: OneM2MClientError.timedOut) { try c.awaitResponse(id, timeoutMilliseconds: 500) { _ in nil } }
        #expect(clock.nowMilliseconds() - start >= 500)
        #expect(c.pendingRequestCount == 0)
    }
}
