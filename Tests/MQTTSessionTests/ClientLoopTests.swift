import MQTTClient
import MQTTPacket
import Testing
import TestSupport

typealias TestClient = MQTTClient<ScriptedTransport, ManualClock>

/// A scripted broker answering the client's packets through a `ScriptedPeer`.
final class FakeBroker {
    var sessionPresent = false
    var connackCode: UInt8 = 0
    var answerConnect = true
    var ackPublishes = true
    var answerPings = true
    var subackCodes: [UInt8]? = nil
    /// Every packet the client wrote, with its connection index and time.
    var received: [(packet: Pkt, connection: Int, time: Int)] = []

    func install(on peer: ScriptedPeer) {
        peer.onPacket = { [unowned self] peer, frame in
            for p in decodePackets(frame.bytes) {
                self.received.append((p, frame.connection, frame.time))
                self.answer(p, peer)
            }
        }
    }

    func answer(_ p: Pkt, _ peer: ScriptedPeer) {
        switch p {
        case .connect(_, let clean, _, _, _):
            if answerConnect { peer.deliver(connackBytes(present: sessionPresent && !clean && connackCode == 0, code: connackCode)) }
        case .publish(_, _, let qos, _, _, let id):
            if qos == 1 && ackPublishes { peer.deliver(pubackBytes(id)) }
        case .subscribe(let id, let filters, let qos):
            peer.deliver(subackBytes(id, subackCodes ?? qos.prefix(filters.count).map { $0 }))
        case .unsubscribe(let id, _): peer.deliver(unsubackBytes(id))
        case .pingreq: if answerPings { peer.deliver([0xD0, 0x00]) }
        default: break
        }
    }

    var packets: [Pkt] { received.map(\.packet) }
    func packets(onConnection c: Int) -> [Pkt] { received.filter { $0.connection == c }.map(\.packet) }
}

/// An owned copy of a client event.
enum CEv: Equatable {
    case session(Ev)
    case disconnected(ClientError, retry: Int)
    init(_ e: ClientEvent) {
        switch e {
        case .session(let s): self = .session(Ev(s))
        case .disconnected(let err, let r): self = .disconnected(err, retry: r)
        }
    }
    var retry: Int? {
        if case .disconnected(_, let r) = self { return r }
        return nil
    }
}

struct Rig {
    let peer: ScriptedPeer
    let clock: ManualClock
    let broker: FakeBroker

    init(start: Int = 1_000) {
        clock = ManualClock(startMilliseconds: start)
        peer = ScriptedPeer(clock: clock)
        broker = FakeBroker()
        broker.install(on: peer)
    }

    func client(
        _ c: SessionConfiguration = config(), _ caps: SessionCapacities = SessionCapacities(),
        reconnect: ReconnectPolicy = ReconnectPolicy(initialDelayMilliseconds: 100, maximumDelayMilliseconds: 1_000)
    ) -> TestClient {
        TestClient(session: makeSession(c, caps), transport: ScriptedTransport(peer: peer), clock: clock, reconnectPolicy: reconnect)
    }
}

func pollEvents(_ c: inout TestClient, _ timeout: Int, sourceLocation: SourceLocation = #_sourceLocation) -> [CEv] {
    var out: [CEv] = []
    do {
        try c.poll(timeoutMilliseconds: timeout) { out.append(CEv($0)) }
    } catch {
        Issue.record("poll threw \(error)", sourceLocation: sourceLocation)
    }
    return out
}

/// Polls once where the connection may end for good (reconnection off): the events are
/// returned; `poll` may also throw `.notConnected` once it has handed them out.
func pollLastEvents(_ c: inout TestClient, _ timeout: Int, sourceLocation: SourceLocation = #_sourceLocation) -> [CEv] {
    var out: [CEv] = []
    do {
        try c.poll(timeoutMilliseconds: timeout) { out.append(CEv($0)) }
    } catch {
        #expect(error == .notConnected && !out.isEmpty, "poll threw \(error) after \(out)", sourceLocation: sourceLocation)
    }
    return out
}

/// Polls until `done` says so (at most `rounds` polls).
func pollUntil(_ c: inout TestClient, rounds: Int = 50, timeout: Int = 60_000, sourceLocation: SourceLocation = #_sourceLocation, _ done: ([CEv]) -> Bool) -> [CEv] {
    var all: [CEv] = []
    for _ in 0..<rounds {
        all += pollEvents(&c, timeout, sourceLocation: sourceLocation)
        if done(all) { return all }
    }
    Issue.record("condition not reached; events: \(all)", sourceLocation: sourceLocation)
    return all
}

@discardableResult
func clientPublish(_ c: inout TestClient, _ topic: String, _ payload: [UInt8], qos: QoS = .atLeastOnce) throws -> UInt16 {
    try utf8(topic).withUnsafeBytes { t in try payload.withUnsafeBytes { p in try c.publish(topic: t, payload: p, qos: qos) } }
}

func clientError(_ body: () throws -> Void) -> ClientError? {
    do {
        try body()
        return nil
    } catch let e as ClientError {
        return e
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite("MQTTClient over a scripted transport")
struct ClientLoopTests {
    @Test func connectSucceeds() throws {
        let rig = Rig()
        var c = rig.client(config("A::ae1", keepAlive: 30))
        let present = try c.connect(timeoutMilliseconds: 4_000) { _ in }
        #expect(present == false)
        #expect(Bool(c.isConnected && c.isOpen))
        #expect(rig.peer.openTimeouts == [4_000])
        #expect(rig.broker.packets == [.connect(clientID: utf8("A::ae1"), clean: false, keepAlive: 30, user: nil, password: nil)])
        #expect(rig.clock.nowMilliseconds() == 1_000)  // no time wasted
        rig.broker.sessionPresent = true
        c.disconnect()
        #expect(try c.connect { _ in } == true)
    }

    @Test func connectRefusedByBroker() {
        let rig = Rig()
        rig.broker.connackCode = 5
        var c = rig.client()
        #expect(clientError { try c.connect { _ in } } == .session(.connectionRefused(.notAuthorized)))
        #expect(!c.isOpen && !rig.peer.isOpen)
        #expect(c.session.state == .disconnected)
    }

    @Test func connectTransportFailure() {
        let rig = Rig()
        rig.peer.failNextOpen(.refused)
        var c = rig.client()
        #expect(clientError { try c.connect { _ in } } == .transport(.refused))
        #expect(Bool(!c.isOpen))
        #expect(rig.broker.packets.isEmpty)
    }

    @Test func connectTimesOutWithoutCONNACK() {
        let rig = Rig()
        rig.broker.answerConnect = false
        var c = rig.client(config(connectTimeout: 3_000))
        #expect(clientError { try c.connect(timeoutMilliseconds: 10_000) { _ in } } == .session(.connectTimedOut))
        #expect(rig.clock.nowMilliseconds() == 4_000)
        #expect(!rig.peer.isOpen)

        // The caller's own limit, if shorter, wins.
        let rig2 = Rig()
        rig2.broker.answerConnect = false
        var c2 = rig2.client(config(connectTimeout: 3_000))
        #expect(clientError { try c2.connect(timeoutMilliseconds: 500) { _ in } } == .timedOut)
        #expect(rig2.clock.nowMilliseconds() == 1_500)
    }

    @Test func pollReturnsOnTimeoutWithoutEvents() throws {
        let rig = Rig()
        var c = rig.client(config(keepAlive: 60))
        try c.connect { _ in }
        #expect(pollEvents(&c, 1_000) == [])
        #expect(rig.clock.nowMilliseconds() == 2_000)
        #expect(pollEvents(&c, 0) == [])
        #expect(rig.clock.nowMilliseconds() == 2_000)
        #expect(rig.broker.packets.count == 1)
    }

    @Test func pollDeliversMessagesAndAcknowledges() throws {
        let rig = Rig()
        var c = rig.client()
        try c.connect { _ in }
        rig.peer.schedule(.bytes(publishBytes("in/a", [1, 2], qos: .atLeastOnce, id: 300)), at: 1_700)
        #expect(pollEvents(&c, 5_000) == [.session(.msg("in/a", [1, 2], qos: 1, id: 300))])
        #expect(rig.clock.nowMilliseconds() == 1_700)
        #expect(pollEvents(&c, 10) == [])  // the PUBACK goes out on the next round
        #expect(rig.broker.packets.last == .puback(300))
    }

    @Test func acknowledgementLeavesWithTheNextPublishInOneWrite() throws {
        let rig = Rig()
        var c = rig.client()
        try c.connect { _ in }
        // Two requests arrive in one read: both are handed out by one poll, with no further
        // transport call after the read that brought them.
        rig.peer.deliver(publishBytes("in/a", [1], qos: .atLeastOnce, id: 7) + publishBytes("in/a", [2], qos: .atLeastOnce, id: 8))
        var calls = rig.peer.log.count
        #expect(pollEvents(&c, 1_000).count == 2)
        let pollCalls = Array(rig.peer.log[calls...])
        #expect(pollCalls.last == "recv 22", "poll made these transport calls: \(pollCalls)")
        #expect(!rig.broker.packets.contains(.puback(7)))
        // The answer to them carries both PUBACKs in the same write.
        calls = rig.peer.log.count
        try clientPublish(&c, "out/b", [9])
        #expect(Array(rig.peer.log[calls...]) == ["send 20/20"])  // 2 PUBACKs (4 B each) + PUBLISH (12 B)
        #expect(Array(rig.broker.packets.suffix(3)) == [.puback(7), .puback(8), .publish(topic: utf8("out/b"), payload: [9], qos: 1, dup: false, retain: false, id: 1)])
    }

    @Test func acknowledgementOfTheLastPacketOfAReadLeavesBeforeItIsHandledOut() throws {
        let rig = Rig()
        var c = rig.client()
        try c.connect { _ in }
        // One request in one read (a response at one request in flight): its PUBACK is written
        // before the application sees it, so the broker need not wait for the application.
        rig.peer.deliver(publishBytes("in/a", [1], qos: .atLeastOnce, id: 7))
        let calls = rig.peer.log.count
        let event = try c.nextEvent(timeoutMilliseconds: 1_000)
        guard case .session(.message)? = event else {
            Issue.record("expected the message, got \(String(describing: event))")
            return
        }
        #expect(rig.broker.packets.last == .puback(7))
        #expect(Array(rig.peer.log[calls...]).last == "send 4/4", "transport calls: \(Array(rig.peer.log[calls...]))")
    }

    @Test func heldOutputLeavesInOneWriteWhenTheBlockEnds() throws {
        let rig = Rig()
        var c = rig.client()
        try c.connect { _ in }
        let calls = rig.peer.log.count
        try c.holdingOutput { (c: inout TestClient) throws in
            for i in 0..<3 { try clientPublish(&c, "out/b", [UInt8(i)]) }
            #expect(rig.peer.log.count == calls, "nothing is written while output is held")
            let held = c.isHoldingOutput
            #expect(held)
        }
        let held = c.isHoldingOutput
        #expect(!held)
        #expect(Array(rig.peer.log[calls...]) == ["send 36/36"])  // three 12-byte PUBLISHes
        #expect(rig.broker.packets.filter { if case .publish = $0 { return true } else { return false } }.count == 3)
        // Outside the block every publish is written at once again.
        try clientPublish(&c, "out/b", [9])
        #expect(rig.peer.log.last == "send 12/12")
    }

    @Test func keepAliveThroughTheLoop() throws {
        let rig = Rig(start: 0)
        var c = rig.client(config(keepAlive: 10))
        try c.connect { _ in }
        #expect(pollEvents(&c, 25_000) == [])
        let pings = rig.broker.received.filter { $0.packet == .pingreq }.map(\.time)
        #expect(pings == [10_000, 20_000])
        #expect(Bool(c.isConnected))
        #expect(c.session.statistics.pingsSent == 2)
    }

    @Test func pingTimeoutThroughTheLoop() throws {
        let rig = Rig(start: 0)
        rig.broker.answerPings = false
        var c = rig.client(config(keepAlive: 10, pingTimeout: 5_000), reconnect: ReconnectPolicy(enabled: false))
        try c.connect { _ in }
        let evs = pollLastEvents(&c, 60_000)
        #expect(evs == [.session(.failed(.pingTimedOut)), .disconnected(.session(.pingTimedOut), retry: -1)])
        #expect(rig.clock.nowMilliseconds() == 15_000)
        #expect(!rig.peer.isOpen)
        // No reconnection: poll says so.
        #expect(clientError { try c.poll(timeoutMilliseconds: 100) { _ in } } == .notConnected)
    }

    @Test func reconnectsWithGrowingCappedJitteredBackOffAndReplays() throws {
        let rig = Rig(start: 0)
        rig.broker.ackPublishes = false
        var c = rig.client(config("A::ae-backoff"), reconnect: ReconnectPolicy(initialDelayMilliseconds: 100, maximumDelayMilliseconds: 1_000))
        try c.connect { _ in }
        var ids: [UInt16] = []
        for i in 0..<3 { ids.append(try clientPublish(&c, "r/\(i)", [UInt8(i)])) }
        #expect(rig.broker.packets(onConnection: 0).compactMap(\.publishID) == ids)

        rig.peer.failNextReceive(.reset)
        let lostAt = rig.clock.nowMilliseconds()
        let first = pollEvents(&c, 1_000)
        #expect(first.count == 1)
        guard case .disconnected(.transport(.reset), let r0)? = first.first else {
            Issue.record("expected a reset, got \(first)")
            return
        }
        for _ in 0..<6 { rig.peer.failNextOpen(.refused) }
        rig.broker.sessionPresent = true
        var delays = [r0]
        var connectedEvents: [CEv] = []
        for _ in 0..<20 {
            for e in pollEvents(&c, 60_000) {
                if case .disconnected(.transport(.refused), let r) = e { delays.append(r) } else { connectedEvents.append(e) }
            }
            if !connectedEvents.isEmpty { break }
        }
        #expect(connectedEvents == [.session(.connected(true))])
        let bases: [Int] = [100, 200, 400, 800, 1_000, 1_000, 1_000]
        #expect(delays.count == bases.count)
        for (d, b) in zip(delays, bases) {
            #expect(d >= b - b / 8 && d <= b + b / 8, "delay \(d) for base \(b)")
        }
        #expect(Set(zip(delays, bases).map { $0 - $1 }).count > 1, "no jitter at all")
        // Each attempt happened when its delay said so.
        #expect(rig.clock.nowMilliseconds() == lostAt + delays.reduce(0, +))
        #expect(rig.peer.openCount == 2)
        #expect(rig.clock.sleeps.allSatisfy { $0 > 0 })
        // The replay: same ids, same order, DUP = 1, on the new connection right after CONNECT.
        _ = pollEvents(&c, 10)
        #expect(rig.broker.packets(onConnection: 1) == [.connect(clientID: utf8("A::ae-backoff"), clean: false, keepAlive: 10, user: nil, password: nil)] + ids.enumerated().map { pub("r/\($0.offset)", [UInt8($0.offset)], dup: true, id: $0.element) })

        // Back-off starts again from the initial delay after a successful connect.
        rig.broker.ackPublishes = true
        rig.peer.failNextReceive(.closed)
        let again = pollUntil(&c) { evs in evs.contains { $0.retry != nil } }
        let r = try #require(again.compactMap(\.retry).first)
        #expect(r >= 88 && r <= 112)
    }

    /// Extreme policies (delays of Int.max, or negative ones) give a retry delay, never a trap.
    @Test(arguments: [(Int.max, Int.max), (Int.min, Int.max), (Int.max / 2 + 1, Int.max), (Int.min, Int.min)])
    func backOffOfExtremePoliciesDoesNotTrap(initial: Int, maximum: Int) throws {
        let rig = Rig(start: 0)
        var c = rig.client(reconnect: ReconnectPolicy(initialDelayMilliseconds: initial, maximumDelayMilliseconds: maximum))
        guard let retry = try retryAfterReset(rig, &c) else { return }
        #expect(retry != -1)
        // The next attempt's delay (the doubled one) is computed without a trap too.
        rig.peer.failNextOpen(.refused)
        _ = pollEvents(&c, 10)
    }

    /// A base delay near Int.max: its jitter saturates at Int.max instead of overflowing. The
    /// jitter depends on the client ID's seed. On 32-bit targets about half of 32 IDs drew one
    /// past the overflow and trapped (EmbeddedRunner's back-off check runs this there); with a
    /// 64-bit Int the jitter, at most a UInt32, leaves room, so this pins the result.
    @Test func backOffJitterSaturatesNearIntMax() throws {
        for k in 0..<32 {
            let rig = Rig(start: 0)
            var c = rig.client(config("A::ae\(k)"), reconnect: ReconnectPolicy(initialDelayMilliseconds: Int.max, maximumDelayMilliseconds: Int.max))
            guard let retry = try retryAfterReset(rig, &c) else { return }
            #expect(retry >= Int.max - Int.max / 8)
        }
    }

    /// Connects, makes the next receive fail with a reset, and returns the retry delay of the
    /// disconnection event that follows (nil, with an issue recorded, if none came).
    private func retryAfterReset(_ rig: Rig, _ c: inout TestClient) throws -> Int? {
        try c.connect { _ in }
        rig.peer.failNextReceive(.reset)
        let events = pollEvents(&c, 10)
        guard case .disconnected(.transport(.reset), let retry)? = events.first else {
            Issue.record("expected a reset, got \(events)")
            return nil
        }
        return retry
    }

    @Test func pollBeforeReconnectTimeReturnsOnTimeout() throws {
        let rig = Rig(start: 0)
        var c = rig.client(reconnect: ReconnectPolicy(initialDelayMilliseconds: 1_000, maximumDelayMilliseconds: 8_000))
        try c.connect { _ in }
        rig.peer.failNextReceive(.reset)
        let evs = pollEvents(&c, 10)
        let r = try #require(evs.first?.retry)
        let lostAt = rig.clock.nowMilliseconds()
        #expect(pollEvents(&c, 100) == [])
        #expect(rig.clock.nowMilliseconds() == lostAt + 100)
        #expect(rig.peer.openCount == 1)
        #expect(pollUntil(&c) { $0.contains(.session(.connected(false))) }.count == 1)
        #expect(rig.clock.nowMilliseconds() == lostAt + r)
        #expect(rig.peer.openCount == 2)
    }

    @Test func reconnectDisabledReportsAndStops() throws {
        let rig = Rig()
        var c = rig.client(reconnect: ReconnectPolicy(enabled: false))
        try c.connect { _ in }
        rig.peer.failNextReceive(.closed)
        #expect(pollLastEvents(&c, 100) == [.disconnected(.transport(.closed), retry: -1)])
        #expect(clientError { try c.poll(timeoutMilliseconds: 100) { _ in } } == .notConnected)
        #expect(rig.peer.openCount == 1)
    }

    @Test func cleanUpSessionOrderOnTheWire() throws {
        let rig = Rig()
        rig.broker.ackPublishes = false
        var c = rig.client()
        try c.connect { _ in }
        let id = try clientPublish(&c, "x", [1])
        var events: [CEv] = []
        try c.cleanUpSession { events.append(CEv($0)) }
        // TS-0010 6.3: DISCONNECT, CONNECT with Clean Session = 1, DISCONNECT.
        #expect(rig.broker.packets == [
            .connect(clientID: utf8("A::ae1"), clean: false, keepAlive: 10, user: nil, password: nil),
            pub("x", [1], id: id),
            .disconnect,
            .connect(clientID: utf8("A::ae1"), clean: true, keepAlive: 10, user: nil, password: nil),
            .disconnect,
        ])
        #expect(rig.broker.received.map(\.connection) == [0, 0, 0, 1, 1])
        #expect(rig.peer.log.filter { $0 == "open" || $0 == "close" } == ["open", "close", "open", "close"])
        #expect(events.contains(.session(.lost(id))))
        #expect(events.contains(.session(.connected(false))))
        #expect(!c.isOpen && !c.isConnected && c.session.inflightCount == 0)
        // No automatic reconnection afterwards.
        #expect(clientError { try c.poll(timeoutMilliseconds: 100) { _ in } } == .notConnected)
    }

    @Test func partialWritesKeepPacketsIntact() throws {
        let rig = Rig()
        var c = rig.client()
        try c.connect { _ in }
        for n in [1, 3, 0, 2, 5, 1] { rig.peer.limitNextSend(to: n) }
        let a = try clientPublish(&c, "p/a", [UInt8](repeating: 0xA5, count: 30))
        let b = try clientPublish(&c, "p/b", [7], qos: .atMostOnce)
        _ = pollUntil(&c) { $0.contains(.session(.published(a))) }
        #expect(Array(rig.broker.packets.dropFirst().prefix(2)) == [pub("p/a", [UInt8](repeating: 0xA5, count: 30), id: a), pub("p/b", [7], qos: 0)])
        #expect(b == 0)
    }

    @Test func blockedTransportMakesPublishBusyUntilItDrains() throws {
        let rig = Rig()
        var c = rig.client(config(), SessionCapacities(transmitBytes: 128, storeBytes: 1024))
        try c.connect { _ in }
        rig.peer.sendsBlocked = true
        var accepted = 0
        var error: ClientError? = nil
        for _ in 0..<10 {
            do {
                try clientPublish(&c, "t", [UInt8](repeating: 1, count: 30), qos: .atMostOnce)
                accepted += 1
            } catch let e as ClientError {
                error = e
                break
            }
        }
        #expect(accepted == 3)
        #expect(error == .session(.busy))
        #expect(pollEvents(&c, 500) == [])  // still blocked: time passes, nothing breaks
        #expect(Bool(c.isConnected))
        rig.peer.sendsBlocked = false
        #expect(pollEvents(&c, 10) == [])
        #expect(Bool(!c.session.hasPendingOutput))
        try clientPublish(&c, "t", [UInt8](repeating: 1, count: 30), qos: .atMostOnce)
        #expect(rig.broker.packets.count == 1 + 4)
    }

    @Test func subscribeAndWaitReturnsGrantedCodes() throws {
        let rig = Rig()
        var c = rig.client()
        try c.connect { _ in }
        rig.broker.subackCodes = [1, 0x80]
        let granted = try c.subscribeAndWait([TopicSubscription("/oneM2M/req/+/ae1/#"), TopicSubscription("/oneM2M/resp/ae1/+/#")]) { _ in }
        #expect(granted == [1, 0x80])
        let id = try c.unsubscribe([TopicSubscription("/oneM2M/resp/ae1/+/#")])
        #expect(pollUntil(&c) { $0.contains(.session(.unsubscribed(id))) }.count == 1)
    }

    @Test func sendFailureIsReportedByTheLoop() throws {
        let rig = Rig()
        var c = rig.client(reconnect: ReconnectPolicy(enabled: false))
        try c.connect { _ in }
        rig.peer.sendsBlocked = true
        try clientPublish(&c, "t", [1])
        rig.peer.sendsBlocked = false
        rig.peer.failNextSend(.reset)
        #expect(pollLastEvents(&c, 100) == [.disconnected(.transport(.reset), retry: -1)])
        // The unsent publication is still stored for the next connection.
        #expect(c.session.inflightCount == 1)
        rig.broker.sessionPresent = true
        try c.connect { _ in }
        _ = pollUntil(&c) { $0.contains(.session(.published(1))) }
        // It was queued on the first connection (never written), so the replay carries DUP = 1.
        #expect(rig.broker.packets(onConnection: 1).dropFirst().first == pub("t", [1], dup: true, id: 1))
    }
}

@Suite struct MillisecondsLeftTests {
    /// 0 once the deadline has passed, the difference before it, across the whole `Int` range
    /// (wrapping differences included, as a 32-bit board's clock wraps: time arithmetic never traps).
    @Test func clampsToZeroAcrossTheWrap() {
        #expect(millisecondsLeft(from: 1_000, until: 1_500) == 500)
        #expect(millisecondsLeft(from: 1_500, until: 1_500) == 0)
        #expect(millisecondsLeft(from: 2_000, until: 1_500) == 0)
        #expect(millisecondsLeft(from: 0, until: .max) == .max)
        #expect(millisecondsLeft(from: .max - 99, until: .min &+ 100) == 200)  // a deadline past the wrap
        #expect(millisecondsLeft(from: .min, until: .max) == 0)  // the difference wraps to -1
        #expect(millisecondsLeft(from: -1, until: .max) == 0)  // wraps to Int.min
        #expect(millisecondsLeft(from: .max, until: .min) == 1)  // wraps to 1
    }
}
