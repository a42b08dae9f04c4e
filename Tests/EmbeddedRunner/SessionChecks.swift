import MQTTPacket
import MQTTSession

/// A session event reduced to something comparable (events hold views into the session).
enum Ev: Equatable {
    case connected(Bool)
    case message(id: UInt16, payload: Int, dup: Bool)
    case published(UInt16)
    case subscribed(UInt16)
    case unsubscribed(UInt16)
    case oversized(length: Int)
    case lost(UInt16)
    case abandoned(UInt16)
    case failed(SessionError)

    init(_ e: SessionEvent) {
        switch e {
        case .connected(let sp): self = .connected(sp)
        case .message(let p): self = .message(id: p.packetID, payload: p.payload.count, dup: p.dup)
        case .published(let id): self = .published(id)
        case .subscribed(let id, _): self = .subscribed(id)
        case .unsubscribed(let id): self = .unsubscribed(id)
        case .oversizedPacketDropped(_, let length, _): self = .oversized(length: length)
        case .publicationLost(let id): self = .lost(id)
        case .subscriptionAbandoned(let id): self = .abandoned(id)
        case .connectionFailed(let err): self = .failed(err)
        }
    }
}

/// Feeds `wire` to the session (in pieces if its receive buffer is small) and collects events.
func feed(_ s: inout MQTTSession, _ wire: [UInt8], now: Int) -> [Ev] {
    var events: [Ev] = []
    var offset = 0
    while true {
        while let e = s.nextEvent(now: now) { events.append(Ev(e)) }
        if offset >= wire.count { break }
        let space = s.receiveBuffer()
        let n = min(space.count, wire.count - offset)
        if n == 0 { break }
        wire.withUnsafeBytes { src in
            space.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        s.didReceive(n, now: now)
        offset += n
    }
    return events
}

/// Takes everything queued for the transport (as if the socket accepted it all).
func drain(_ s: inout MQTTSession, now: Int) -> [UInt8] {
    let out = Array(s.pendingOutput)
    s.didSend(out.count, now: now)
    return out
}

func publish(_ s: inout MQTTSession, _ payload: StaticString = "hi", qos: QoS = .atLeastOnce, now: Int) -> Result<UInt16, SessionError> {
    withLiteral("a/b") { t in
        withLiteral(payload) { p in
            do throws(SessionError) { return .success(try s.publish(topic: t, payload: p, qos: qos, now: now)) } catch { return .failure(error) }
        }
    }
}

func makeSession(keepAlive: UInt16 = 30, _ caps: SessionCapacities) -> MQTTSession? {
    do throws(SessionError) {
        return try MQTTSession(configuration: SessionConfiguration(clientID: bytes("dev1"), keepAliveSeconds: keepAlive), capacities: caps)
    } catch { return nil }
}

let smallCaps = SessionCapacities(transmitBytes: 256, receiveBytes: 256, storeBytes: 512, inflight: 4, inboundHistory: 4, pendingSubscriptions: 2)

/// The sans-I/O session: CONNECT bytes, QoS 1 publish/ack, replay with DUP after reconnect,
/// duplicate suppression, keep-alive and ping timeout, oversize drop, capacity errors.
func sessionChecks(_ c: inout Checks) {
    c.group = "session"
    guard var s = makeSession(smallCaps) else { c.expect(false, "session creation"); return }

    do throws(SessionError) { try s.connect(now: 0) } catch { c.expect(false, "connect queues") }
    c.expect(drain(&s, now: 0) == hex("10 10 00 04 4D 51 54 54 04 00 00 1E 00 04 64 65 76 31"), "CONNECT: client id dev1, clean 0, keep-alive 30")
    c.expect(feed(&s, hex("20 02 00 00"), now: 5) == [.connected(false)], "CONNACK gives .connected(sessionPresent: false)")

    c.expect(publish(&s, now: 10) == .success(1), "first QoS 1 publication gets packet id 1")
    c.expect(drain(&s, now: 10) == hex("32 09 00 03 61 2F 62 00 01 68 69"), "PUBLISH QoS 1 written byte-exact")
    c.expect(s.inflightCount == 1, "one publication in flight")
    c.expect(feed(&s, hex("40 02 00 01"), now: 20) == [.published(1)], "PUBACK gives .published(1)")
    c.expect(s.inflightCount == 0, "acknowledged publication leaves the in-flight table")

    // Replay: id 2 sent on the old connection, id 3 stored while disconnected.
    _ = publish(&s, now: 30)
    _ = drain(&s, now: 30)
    s.connectionLost()
    c.expect(publish(&s, now: 40) == .success(3), "QoS 1 publish while disconnected is stored")
    c.expect(publish(&s, qos: .atMostOnce, now: 40) == .failure(.notConnected), "QoS 0 publish needs a connection")
    do throws(SessionError) { try s.connect(now: 50) } catch { c.expect(false, "reconnect queues") }
    _ = drain(&s, now: 50)
    c.expect(feed(&s, hex("20 02 01 00"), now: 60) == [.connected(true)], "CONNACK session present")
    c.expect(drain(&s, now: 60) == hex("3A 09 00 03 61 2F 62 00 02 68 69  32 09 00 03 61 2F 62 00 03 68 69"),
             "replay: id 2 with DUP, then id 3 first-time, original ids, in order")
    c.expect(feed(&s, hex("40 02 00 02 40 02 00 03"), now: 70) == [.published(2), .published(3)], "both replays acknowledged")

    // Inbound QoS 1 and duplicate detection.
    c.expect(feed(&s, hex("32 06 00 01 78 00 07 31"), now: 80) == [.message(id: 7, payload: 1, dup: false)], "inbound QoS 1 delivered")
    c.expect(drain(&s, now: 80) == hex("40 02 00 07"), "inbound QoS 1 acknowledged")
    c.expect(feed(&s, hex("3A 06 00 01 78 00 07 31"), now: 90).isEmpty, "redelivery with DUP is not delivered twice")
    c.expect(drain(&s, now: 90) == hex("40 02 00 07") && s.statistics.duplicatesDiscarded == 1, "redelivery acknowledged again and counted")
    c.expect(feed(&s, hex("3A 06 00 01 78 00 07 32"), now: 95) == [.message(id: 7, payload: 1, dup: true)], "same id, new content is a new message")
    _ = drain(&s, now: 95)

    // Keep-alive (30 s): PINGREQ when idle, PINGRESP clears it, no answer fails the link.
    c.expect(s.nextDeadline == 95 + 30_000, "keep-alive deadline = last traffic + 30 s")
    c.expect(feed(&s, [], now: 30_095).isEmpty && drain(&s, now: 30_095) == hex("C0 00"), "PINGREQ after 30 s idle")
    c.expect(s.nextDeadline == 30_095 + 5_000, "deadline becomes the ping timeout")
    c.expect(feed(&s, hex("D0 00"), now: 30_200).isEmpty && s.statistics.pingsSent == 1, "PINGRESP is absorbed")
    c.expect(feed(&s, [], now: 35_100).isEmpty && s.state == .connected, "no ping timeout after PINGRESP")
    _ = feed(&s, [], now: 60_300)
    c.expect(drain(&s, now: 60_300) == hex("C0 00"), "next PINGREQ after another idle period")
    c.expect(feed(&s, [], now: 65_300) == [.failed(.pingTimedOut)] && s.state == .disconnected, "no PINGRESP within 5 s fails the connection")

    // Clean-session connect reports stored publications as lost.
    _ = publish(&s, now: 70_000)
    do throws(SessionError) { try s.connect(now: 70_000, cleanSession: true) } catch { c.expect(false, "clean connect queues") }
    c.expect(feed(&s, [], now: 70_001) == [.lost(4)], "clean session: stored publication reported lost")

    // Refused connection.
    guard var r = makeSession(smallCaps) else { return }
    do throws(SessionError) { try r.connect(now: 0) } catch {}
    c.expect(feed(&r, hex("20 02 00 05"), now: 1) == [.failed(.connectionRefused(.notAuthorized))], "CONNACK 5 refuses the connection")
    c.expect(feed(&r, [], now: 1).isEmpty && r.state == .disconnected, "refused session is disconnected")

    // Capacities: busy, too large, oversize inbound, arena checks.
    guard var b = makeSession(smallCaps) else { return }
    do throws(SessionError) { try b.connect(now: 0) } catch {}
    _ = feed(&b, hex("20 02 00 00"), now: 0)
    for _ in 0..<4 { _ = publish(&b, now: 1); _ = drain(&b, now: 1) }
    c.expect(publish(&b, now: 2) == .failure(.busy), "full in-flight table reports busy (not sticky)")
    _ = feed(&b, hex("40 02 00 01"), now: 3)
    c.expect(publish(&b, now: 4) == .success(5), "busy clears after an acknowledgement")
    let huge = [UInt8](repeating: 0x41, count: 600)
    let tooLarge: Result<UInt16, SessionError> = withLiteral("a/b") { t in
        huge.withUnsafeBytes { p in
            do throws(SessionError) { return .success(try b.publish(topic: t, payload: p, now: 5)) } catch { return .failure(error) }
        }
    }
    c.expect(tooLarge == .failure(.packetTooLarge(needed: 610)), "a publication larger than the buffers is packetTooLarge with its size")
    var oversize = hex("30 C0 02 00 01 78")  // QoS 0, remaining 320 > 256-byte receive buffer
    oversize.append(contentsOf: [UInt8](repeating: 0x55, count: 317))
    c.expect(feed(&b, oversize, now: 6) == [.oversized(length: 323)], "oversized inbound packet dropped with an event")
    c.expect(feed(&b, hex("30 04 00 01 78 31"), now: 7) == [.message(id: 0, payload: 1, dup: false)], "the stream continues after the drop")

    let caps = SessionCapacities()
    c.expect(caps.arenaBytes >= caps.transmitBytes + caps.receiveBytes + caps.storeBytes, "arena holds the three buffers and the tables")
    let largest = SessionCapacities(
        transmitBytes: 1 << 28, receiveBytes: 1 << 28, storeBytes: 1 << 30, inflight: 4096, inboundHistory: 4096, pendingSubscriptions: 64)
    let inbound = MemoryLayout<Int>.size == 8 ? 16 : 8  // an inbound record holds a word-sized digest
    c.expect(largest.isValid && largest.arenaBytes == 4096 * 16 + 64 * 8 + 2 * 4096 * inbound + (1 << 28) + (1 << 28) + (1 << 30),
        "the arena layout of the largest valid capacities does not wrap (32-bit Int)")
    var tiny = [UInt64](repeating: 0, count: 8)
    let rejected: SessionError? = tiny.withUnsafeMutableBytes { raw in
        do throws(SessionError) {
            _ = try MQTTSession(configuration: SessionConfiguration(clientID: bytes("x")), capacities: caps, arena: raw)
            return nil
        } catch { return error }
    }
    c.expect(rejected == .invalidCapacities, "an arena smaller than arenaBytes is refused")
}

/// Clock readings are machine words: on armv7 they wrap every 2^31 ms (about 24.8 days), and
/// keep-alive, ping timeout and the bound on huge timeouts must work across the wrap.
func clockWrapChecks(_ c: inout Checks) {
    c.group = "clock wrap"
    guard var s = makeSession(keepAlive: 10, smallCaps) else { c.expect(false, "session creation"); return }
    let t0 = Int.max - 12_000
    do throws(SessionError) { try s.connect(now: t0) } catch { c.expect(false, "connect queues") }
    _ = drain(&s, now: t0)
    c.expect(feed(&s, hex("20 02 00 00"), now: t0) == [.connected(false)], "connected 12 s before the wrap")
    c.expect(feed(&s, [], now: t0 + 9_999).isEmpty && !s.hasPendingOutput, "no PINGREQ before the keep-alive")
    c.expect(feed(&s, [], now: t0 + 10_000).isEmpty && drain(&s, now: t0 + 10_000) == hex("C0 00"), "PINGREQ after 10 s")
    c.expect(s.nextDeadline == t0 &+ 15_000, "the ping deadline lies past the wrap")
    c.expect(feed(&s, hex("D0 00"), now: t0 &+ 14_000).isEmpty && s.state == .connected, "PINGRESP after the wrap")
    c.expect(s.nextDeadline == t0 &+ 20_000, "keep-alive from the last send, across the wrap")
    c.expect(feed(&s, [], now: t0 &+ 19_999).isEmpty && !s.hasPendingOutput, "no PINGREQ early after the wrap")
    c.expect(feed(&s, [], now: t0 &+ 20_000).isEmpty && drain(&s, now: t0 &+ 20_000) == hex("C0 00"), "PINGREQ 10 s after the last send")
    c.expect(feed(&s, [], now: t0 &+ 24_999).isEmpty, "no ping timeout early")
    c.expect(feed(&s, [], now: t0 &+ 25_000) == [.failed(.pingTimedOut)], "ping timeout 5 s later, past the wrap")

    // A "never" ping timeout is bounded (2^30 ms on 32-bit targets, 2^40 on 64-bit ones), so
    // its deadline lies ahead of every reading until then.
    do throws(SessionError) {
        s = try MQTTSession(configuration: SessionConfiguration(clientID: bytes("dev1"), keepAliveSeconds: 10, pingTimeoutMilliseconds: Int.max), capacities: smallCaps)
        try s.connect(now: t0)
    } catch { c.expect(false, "session with a huge ping timeout") }
    _ = drain(&s, now: t0)
    _ = feed(&s, hex("20 02 00 00"), now: t0)
    _ = feed(&s, [], now: t0 + 10_000)
    c.expect(drain(&s, now: t0 + 10_000) == hex("C0 00"), "PINGREQ with a huge ping timeout")
    let bound = 1 << (Int.bitWidth == 64 ? 40 : 30)
    c.expect(s.nextDeadline.map { $0 &- (t0 + 10_000) } == bound, "a huge timeout is used as the bound")
    c.expect(feed(&s, [], now: t0 &+ 3_600_000).isEmpty && s.state == .connected, "an hour later, past the wrap: still waiting")
    c.expect(feed(&s, [], now: (t0 + 10_000) &+ bound) == [.failed(.pingTimedOut)], "times out at the bound")
}
