import MQTTPacket
@_spi(Session) import MQTTPacket

/// A sans-I/O MQTT 3.1.1 client session: QoS 0/1 publish out, QoS 0/1/2 in, subscriptions,
/// keep-alive, replay of unacknowledged publications after reconnect, duplicate detection.
///
/// It never touches a socket or a clock. Drive it with five verbs:
/// 1. `connect(now:)`, `publish`, `subscribe`, `unsubscribe`, `disconnect()` queue packets;
/// 2. `pendingOutput` / `didSend(_:now:)` move queued bytes to the transport;
/// 3. `receiveBuffer()` / `didReceive(_:now:)` take bytes from the transport;
/// 4. `nextEvent(now:)` parses what arrived and runs timers, one event at a time;
/// 5. `nextDeadline` says when `nextEvent` must be called again even if nothing arrives.
/// After a transport failure call `connectionLost()`, reopen the transport and `connect` again.
///
/// All memory is one arena reserved at initialisation (`SessionCapacities.arenaBytes`);
/// publishing, receiving and acknowledging allocate nothing.
public struct MQTTSession: ~Copyable {
    public enum State: Sendable, Equatable { case disconnected, connecting, connected, disconnecting }

    public private(set) var statistics = SessionStatistics()
    public var configuration: SessionConfiguration
    public let capacities: SessionCapacities

    let arena: UnsafeMutableRawBufferPointer
    let outbound: UnsafeMutableBufferPointer<OutboundRecord>
    let pending: UnsafeMutableBufferPointer<PendingAck>
    let history: UnsafeMutableBufferPointer<InboundRecord>
    let qos2: UnsafeMutableBufferPointer<InboundRecord>
    /// Starts of the transmit and receive buffers and of the store, inside the arena (never nil;
    /// their sizes are the capacities'). Plain pointers: a buffer pointer's base address is
    /// optional, and each use of one tested it for nil.
    let tx: UnsafeMutableRawPointer
    let rx: UnsafeMutableRawPointer
    let store: UnsafeMutableRawPointer

    /// Always 0 <= start <= end <= buffer count, so differences of these use `&-` (no overflow
    /// check: they cannot overflow).
    var txStart = 0, txEnd = 0
    var rxStart = 0, rxEnd = 0
    /// Bytes of an oversized packet still to be thrown away.
    var drainRemaining = 0
    var historyNext = 0
    var nextPacketID: UInt16 = 1
    var nextSequence: UInt32 = 1
    var lastSend: Int = 0
    var lastReceive: Int = 0
    /// When the outstanding PINGREQ was queued (meaningful only while `pingOutstanding`: any
    /// value, negative ones included, is a valid clock reading).
    var pingSentAt: Int = 0
    var pingOutstanding = false
    var connectSentAt: Int = 0
    /// Next state after the current connect: clean session requested.
    var connectingClean = false
    /// Lost-publication and abandoned-subscription reports not yet handed out.
    var reportsPending = false
    /// False only when no stored publication waits to be (re)sent, so the common case skips
    /// the scan of the outbound table.
    var mayHaveUnsent = false
    public private(set) var state: State = .disconnected
    let ownsArena: Bool

    /// A session over a caller-provided arena of at least `capacities.arenaBytes` bytes,
    /// 8-byte aligned (for example a static buffer in a C daemon). The caller keeps it alive.
    public init(configuration: SessionConfiguration, capacities: SessionCapacities, arena: UnsafeMutableRawBufferPointer) throws(SessionError) {
        try self.init(configuration: configuration, capacities: capacities, arena: arena, owns: false)
    }

    /// A session that reserves its own arena (one allocation, freed when the session ends).
    public init(configuration: SessionConfiguration, capacities: SessionCapacities = SessionCapacities()) throws(SessionError) {
        guard capacities.isValid else { throw .invalidCapacities }
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: capacities.arenaBytes, alignment: 16)
        try self.init(configuration: configuration, capacities: capacities, arena: memory, owns: true)
    }

    init(configuration: SessionConfiguration, capacities c: SessionCapacities, arena: UnsafeMutableRawBufferPointer, owns: Bool) throws(SessionError) {
        let layout = SessionLayout(c)
        guard c.isValid, arena.count >= layout.total, let base = arena.baseAddress,
            UInt(bitPattern: base) % 8 == 0
        else {
            if owns { arena.deallocate() }
            throw .invalidCapacities
        }
        self.configuration = configuration
        self.capacities = c
        self.arena = arena
        self.ownsArena = owns
        // The tables come first in the arena and an empty record of each is all zero bits
        // (`OutboundRecord()`, `PendingAck()`, `InboundRecord()`), so one fill clears them all.
        base.initializeMemory(as: UInt8.self, repeating: 0, count: layout.transmit)
        outbound = UnsafeMutableBufferPointer(start: (base + layout.outbound).bindMemory(to: OutboundRecord.self, capacity: c.inflight), count: c.inflight)
        pending = UnsafeMutableBufferPointer(start: (base + layout.subscriptions).bindMemory(to: PendingAck.self, capacity: c.pendingSubscriptions), count: c.pendingSubscriptions)
        history = UnsafeMutableBufferPointer(start: (base + layout.history).bindMemory(to: InboundRecord.self, capacity: c.inboundHistory), count: c.inboundHistory)
        qos2 = UnsafeMutableBufferPointer(start: (base + layout.qos2).bindMemory(to: InboundRecord.self, capacity: c.inboundHistory), count: c.inboundHistory)
        tx = base + layout.transmit
        rx = base + layout.receive
        store = base + layout.store
    }

    deinit {
        if ownsArena { arena.deallocate() }
    }

    // MARK: - Queries

    /// Unacknowledged outgoing QoS 1 publications (including ones waiting to be sent).
    public var inflightCount: Int {
        var n = 0
        for i in outbound.slots where outbound[i].state == .awaitingAck { n &+= 1 }  // at most the table's count
        return n
    }

    /// Whether a QoS 1 publication with this identifier awaits its PUBACK.
    public func isInflight(_ packetID: UInt16) -> Bool {
        for i in outbound.slots where outbound[i].state == .awaitingAck && outbound[i].packetID == packetID { return true }
        return false
    }

    /// Bytes queued for the transport. Write as many as it takes, then call `didSend`.
    public var pendingOutput: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: tx + txStart, count: txEnd &- txStart)
    }

    /// Whether anything waits to be written.
    public var hasPendingOutput: Bool { txEnd > txStart }
    /// Whether received bytes wait to be parsed (part of a packet, or more packets of one read).
    public var hasBufferedInput: Bool { rxEnd > rxStart }

    // MARK: - Connecting

    /// Queues CONNECT. With `cleanSession` (default: the configuration's), the broker and this
    /// session discard the previous session: stored publications are reported lost.
    public mutating func connect(now: Int, cleanSession: Bool? = nil) throws(SessionError) {
        if state != .disconnected { throw .alreadyConnected }
        let clean = cleanSession ?? configuration.cleanSession
        txStart = 0
        txEnd = 0
        let n: Int
        let out = UnsafeMutableRawBufferPointer(start: tx, count: txCount)
        do {
            n = try PacketEncoder.connect(
                clientID: configuration.clientID, cleanSession: clean, keepAliveSeconds: configuration.keepAliveSeconds,
                userName: configuration.userName, password: configuration.password, into: out)
        } catch {
            if case .bufferTooSmall(let needed) = error { throw .packetTooLarge(needed: needed) }
            throw .invalidArgument(error)
        }
        txEnd = n
        if clean {
            // MQTT 3.1.2-6: with Clean Session the client discards its session state too.
            for i in outbound.slots where outbound[i].state == .awaitingAck { outbound[i].state = .lost; reportsPending = true }
            clearInboundHistory()
        }
        connectingClean = clean
        state = .connecting
        connectSentAt = now
        lastSend = now
        lastReceive = now
        pingOutstanding = false
    }

    /// Queues DISCONNECT; after it is written (`pendingOutput` empty) close the transport and
    /// call `connectionLost()`. Stored publications are kept for the next connect.
    public mutating func disconnect() {
        guard state == .connected || state == .connecting else { return }
        if txFree < 2 { compactTransmit() }
        if txFree >= 2, let n = try? PacketEncoder.empty(.disconnect, into: UnsafeMutableRawBufferPointer(start: tx + txEnd, count: txFree)) {
            txEnd &+= n  // 2 <= txFree
        }
        state = .disconnecting
    }

    /// The transport failed or was closed. Unsent output and partial input are dropped; stored
    /// QoS 1 publications stay and are replayed after the next CONNACK.
    @inline(never)  // every failure path ends here: one copy (it was inlined into the client's callers too)
    public mutating func connectionLost() {
        state = .disconnected
        txStart = 0
        txEnd = 0
        rxStart = 0
        rxEnd = 0
        drainRemaining = 0
        pingOutstanding = false
        for i in outbound.slots where outbound[i].state == .awaitingAck { outbound[i].needsSend = true }
        mayHaveUnsent = true
        for i in pending.slots where pending[i].packetID != 0 {
            pending[i].abandoned = true
            reportsPending = true
        }
    }

    // MARK: - Publishing

    /// Publishes `payload` on `topic`. QoS 1 returns the packet identifier (report comes as
    /// `.published`); QoS 0 returns 0. QoS 1 may be called while disconnected: the publication
    /// is stored and sent after the next CONNACK.
    @discardableResult
    @inline(never)  // the hot path of every caller: one copy, not one per call site
    public mutating func publish(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: QoS = .atLeastOnce,
        retain: Bool = false, now: Int
    ) throws(SessionError) -> UInt16 {
        do {
            return try publish(topic: topic, qos: qos, retain: retain, now: now) { space in
                if space.count < payload.count { return nil }
                if !payload.isEmpty { UnsafeMutableRawBufferPointer(rebasing: space[0..<payload.count]).copyMemory(from: payload) }
                return payload.count
            }
        } catch {
            // The size is known here: a packet that can never fit is `packetTooLarge` with its
            // real size, not `busy` (which would only clear to the same answer).
            if case .busy = error {} else if case .packetTooLarge = error {} else { throw error }
            let size = PacketEncoder.publishSize(topicLength: topic.count, payloadLength: payload.count, qos: qos)
            if size > (qos == .atLeastOnce ? min(txCount, storeCount) : txCount) { throw .packetTooLarge(needed: size) }
            throw error
        }
    }

    /// Publishes a payload written in place: `writePayload` gets the free space right where the
    /// payload goes in the transmit buffer and returns how many bytes it wrote, or nil if they
    /// did not fit. No copy of the payload is made (but one into the store for QoS 1).
    @discardableResult
    public mutating func publish(
        topic: UnsafeRawBufferPointer, qos: QoS = .atLeastOnce, retain: Bool = false, now: Int,
        writePayload: (UnsafeMutableRawBufferPointer) -> Int?
    ) throws(SessionError) -> UInt16 {
        let staging = try stagePublish(topic: topic, qos: qos)
        let written = writePayload(staging.payloadSpace)
        return try finishPublish(staging, topic: topic, qos: qos, retain: retain, written: written, now: now)
    }

    /// A publication being staged: `stagePublish` hands out the space for its payload,
    /// `finishPublish` completes it. Nothing else may be done with the session in between.
    public struct PublishStaging {
        /// Start of the packet's `room` bytes (transmit buffer when live, else the store),
        /// worst-case header first. A plain pointer: a buffer pointer's base is optional, and
        /// each use tested it for nil.
        let start: UnsafeMutableRawPointer
        let bodyOffset: Int
        let slot: Int
        let live: Bool
        let room: Int
        let maxPacket: Int

        /// Where the payload goes.
        public var payloadSpace: UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(start: start + bodyOffset, count: room &- bodyOffset)
        }
    }

    // `publish(writePayload:)` in two halves, for callers that write a payload in several
    // steps. They are out of line so each distinct `writePayload` closure specialises only the
    // three lines above, not the whole publish path.

    /// First half of `publish(writePayload:)`: checks the topic and finds room; the payload is
    /// then written into `payloadSpace` of the result and `finishPublish` called with the same
    /// topic and QoS, before any other use of the session.
    @inline(never)
    public mutating func stagePublish(topic: UnsafeRawBufferPointer, qos: QoS) throws(SessionError) -> PublishStaging {
        if qos == .exactlyOnce { throw .invalidArgument(.invalidQoS) }  // outbound QoS 2 not offered
        do throws(PacketError) {
            try validateTopicName(topic)
            if topic.count > 0xFFFF { throw PacketError.lengthTooLarge }
        } catch { throw .invalidArgument(error) }
        if qos == .atMostOnce && state != .connected { throw .notConnected }
        // A QoS 1 publication waits behind stored ones not yet sent, so order is kept; it is
        // then staged in the store and sent by `pumpReplays`.
        pumpReplays()
        // Connected, `pumpReplays` leaves `mayHaveUnsent` set only when it stopped for want of
        // room with a publication still to send: right after it, the flag is exact (no scan).
        let live = state == .connected && (qos == .atMostOnce || !mayHaveUnsent)
        var slot = -1
        if qos == .atLeastOnce {
            guard let s = freeOutboundSlot() else { throw .busy }
            slot = s
        }
        let idLength = qos == .atMostOnce ? 0 : 2
        // Worst-case fixed header first. The topic is at most 0xFFFF bytes and `room` at most a
        // buffer (2^30 bytes), so these sums wrap-free: `&+` skips their overflow checks.
        let bodyOffset = 7 &+ topic.count &+ idLength
        // The largest packet either buffer could ever hold, and what it can hold now.
        let maxPacket = qos == .atLeastOnce ? min(txCount, storeCount) : txCount
        compactTransmit()
        var room = live ? txFree : txCount
        if qos == .atLeastOnce { room = min(room, largestStoreGap()) }
        if bodyOffset >= maxPacket { throw .packetTooLarge(needed: bodyOffset &- 4) }
        if bodyOffset >= room { throw .busy }
        // Stage in the transmit buffer when live, else directly in the store.
        let stageStart: UnsafeMutableRawPointer
        if live {
            stageStart = tx + txEnd
        } else {
            guard let at = storeAllocationOffset(size: room) else { throw .busy }
            stageStart = store + at
        }
        return PublishStaging(start: stageStart, bodyOffset: bodyOffset, slot: slot, live: live, room: room, maxPacket: maxPacket)
    }

    /// Second half of `publish(writePayload:)`: `written` is the payload's length in
    /// `payloadSpace`, or nil if it did not fit (then `busy` or `packetTooLarge` is thrown).
    @inline(never)
    public mutating func finishPublish(
        _ staging: PublishStaging, topic: UnsafeRawBufferPointer, qos: QoS, retain: Bool, written: Int?, now: Int
    ) throws(SessionError) -> UInt16 {
        let stage = staging.start, live = staging.live, slot = staging.slot
        let idLength = qos == .atMostOnce ? 0 : 2
        // Offsets and sums below wrap (`&+`, no overflow checks): `stagePublish` made
        // `bodyOffset` smaller than the staging space and `written` is checked against what is
        // left of it, so every one of them is at most the space's size, a buffer of at most 2^30
        // bytes (`SessionCapacities.isValid`).
        guard let written, written >= 0, written <= staging.room &- staging.bodyOffset else {
            throw staging.room >= staging.maxPacket ? .packetTooLarge(needed: staging.maxPacket + 1) : .busy
        }
        let packetID = qos == .atLeastOnce ? allocatePacketID() : 0
        // Write the variable header at 5 (after the worst-case fixed header), then the fixed
        // header at 0, then slide the rest down to the fixed header's end.
        let remaining = 2 &+ topic.count &+ idLength &+ written
        stage.storeBytes(of: UInt8(truncatingIfNeeded: topic.count >> 8), toByteOffset: 5, as: UInt8.self)
        stage.storeBytes(of: UInt8(truncatingIfNeeded: topic.count), toByteOffset: 6, as: UInt8.self)
        if let t = topic.baseAddress { (stage + 7).copyMemory(from: t, byteCount: topic.count) }
        if qos == .atLeastOnce {
            let p = 7 &+ topic.count
            stage.storeBytes(of: UInt8(truncatingIfNeeded: packetID >> 8), toByteOffset: p, as: UInt8.self)
            stage.storeBytes(of: UInt8(truncatingIfNeeded: packetID), toByteOffset: p &+ 1, as: UInt8.self)
        }
        stage.storeBytes(of: 0x30 | (qos.rawValue << 1) | (retain ? 1 : 0), as: UInt8.self)
        var v = remaining
        var q = 1
        repeat {
            var digit = UInt8(truncatingIfNeeded: v & 0x7F)
            v >>= 7
            if v > 0 { digit |= 0x80 }
            stage.storeBytes(of: digit, toByteOffset: q, as: UInt8.self)
            q &+= 1
        } while v > 0
        // `q`: the fixed header's length, 2 to 5 (no `remainingLengthSize` needed).
        if q < 5 { (stage + q).copyMemory(from: stage + 5, byteCount: remaining) }
        let length = q &+ remaining
        if live {
            txEnd &+= length
            statistics.packetsSent &+= 1
        }
        if qos == .atLeastOnce {
            let storeAt: Int
            if live {
                guard let at = storeAllocationOffset(size: length) else { txEnd &-= length; throw .busy }
                (store + at).copyMemory(from: stage, byteCount: length)
                storeAt = at
            } else {
                storeAt = stage - store
            }
            outbound[slot] = OutboundRecord(
                live: live, packetID: packetID, sequence: nextSequence, offset: Int32(truncatingIfNeeded: storeAt), length: Int32(truncatingIfNeeded: length))
            nextSequence &+= 1
            if !live { mayHaveUnsent = true }
        }
        if live { lastSend = now } else { pumpReplays() }
        return packetID
    }

    // Internal helpers that read the session are `mutating` even when they change nothing: a
    // non-mutating method gets the whole session struct (over 200 bytes) as a copy on the caller's
    // stack (a memcpy per call), a mutating one only its address.

    mutating func freeOutboundSlot() -> Int? {
        for i in outbound.slots where outbound[i].state == .free { return i }
        return nil
    }

    /// Next packet identifier not used by an in-flight publication or a pending (un)subscribe.
    mutating func allocatePacketID() -> UInt16 {
        while true {
            let id = nextPacketID
            nextPacketID = nextPacketID == 0xFFFF ? 1 : nextPacketID &+ 1
            if !isUsed(id) { return id }
        }
    }

    mutating func isUsed(_ id: UInt16) -> Bool {
        for i in outbound.slots where outbound[i].state != .free && outbound[i].packetID == id { return true }
        for i in pending.slots where pending[i].packetID == id { return true }
        return false
    }

    // MARK: - Store (a ring of packet copies, oldest first)

    /// Oldest and newest live copies, as (offset of oldest, end of newest).
    mutating func storeBounds() -> (head: Int, tail: Int)? {
        var oldest = -1, newest = -1
        var first: UInt32 = 0, last: UInt32 = 0  // their sequence numbers
        for i in outbound.slots where outbound[i].state == .awaitingAck {
            let q = outbound[i].sequence
            if oldest < 0 || precedes(q, first) { oldest = i; first = q }
            if newest < 0 || precedes(last, q) { newest = i; last = q }
        }
        guard oldest >= 0 else { return nil }
        // A copy lies inside the store (at most 2^30 bytes): its end cannot overflow.
        return (Int(outbound[oldest].offset), Int(outbound[newest].offset &+ outbound[newest].length))
    }

    mutating func largestStoreGap() -> Int {
        // Offsets within the store: the differences cannot overflow.
        guard let (head, tail) = storeBounds() else { return storeCount }
        if tail > head { return max(storeCount &- tail, head) }
        return head &- tail
    }

    mutating func storeAllocationOffset(size: Int) -> Int? {
        guard let (head, tail) = storeBounds() else { return size <= storeCount ? 0 : nil }
        if tail > head {
            if storeCount &- tail >= size { return tail }
            if head >= size { return 0 }
            return nil
        }
        return head &- tail >= size ? tail : nil
    }

    // MARK: - Subscribing

    /// Queues SUBSCRIBE; the answer comes as `.subscribed`. Not on the hot path.
    @discardableResult
    public mutating func subscribe(_ filters: [TopicSubscription], now: Int) throws(SessionError) -> UInt16 {
        try queueSubscription(filters, subscribe: true, now: now)
    }

    /// Queues UNSUBSCRIBE; the answer comes as `.unsubscribed`.
    @discardableResult
    public mutating func unsubscribe(_ filters: [TopicSubscription], now: Int) throws(SessionError) -> UInt16 {
        try queueSubscription(filters, subscribe: false, now: now)
    }

    mutating func queueSubscription(_ filters: [TopicSubscription], subscribe: Bool, now: Int) throws(SessionError) -> UInt16 {
        if state != .connected { throw .notConnected }
        var slot = -1
        for i in pending.slots where pending[i].packetID == 0 { slot = i; break }
        if slot < 0 { throw .busy }
        compactTransmit()
        let id = allocatePacketID()
        let space = UnsafeMutableRawBufferPointer(start: tx + txEnd, count: txFree)
        let n: Int
        do {
            n = subscribe
                ? try PacketEncoder.subscribe(packetID: id, filters: filters, into: space)
                : try PacketEncoder.unsubscribe(packetID: id, filters: filters, into: space)
        } catch {
            if case .bufferTooSmall(let needed) = error { throw needed > txCount ? .packetTooLarge(needed: needed) : .busy }
            throw .invalidArgument(error)
        }
        txEnd &+= n  // the encoder wrote at most `txFree` bytes
        pending[slot] = PendingAck(packetID: id, isSubscribe: subscribe, filterCount: UInt16(truncatingIfNeeded: filters.count))
        statistics.packetsSent &+= 1
        lastSend = now
        return id
    }

    // MARK: - Output

    /// `count` bytes of `pendingOutput` were written to the transport.
    public mutating func didSend(_ count: Int, now: Int) {
        let n = max(0, min(count, txEnd &- txStart))
        txStart &+= n  // at most txEnd
        if txStart == txEnd { txStart = 0; txEnd = 0 }
        if n > 0 { lastSend = now }
        pumpReplays()
    }

    /// Free bytes at the end of the transmit buffer (`txEnd` never passes its end, so the
    /// difference needs no overflow check).
    @inline(__always) var txFree: Int { txCount &- txEnd }

    // The buffers' sizes, read from the capacities they were made with: a buffer pointer's
    // `count` tests its base address for nil first (never nil here) on every use.
    @inline(__always) var txCount: Int { capacities.transmitBytes }
    @inline(__always) var rxCount: Int { capacities.receiveBytes }
    @inline(__always) var storeCount: Int { capacities.storeBytes }

    @inline(never)  // rarely does anything; inlined, its copy loop was repeated in five callers
    mutating func compactTransmit() {
        if txStart == 0 { return }
        let n = txEnd &- txStart
        if n > 0 { tx.copyMemory(from: tx + txStart, byteCount: n) }
        txStart = 0
        txEnd = n
    }

    /// Copies stored publications marked for (re)sending into the transmit buffer, oldest
    /// first, as far as space allows.
    mutating func pumpReplays() {
        guard state == .connected, mayHaveUnsent else { return }
        while true {
            var best = -1
            for i in outbound.slots where outbound[i].state == .awaitingAck && outbound[i].needsSend {
                if best < 0 || precedes(outbound[i].sequence, outbound[best].sequence) { best = i }
            }
            if best < 0 {
                mayHaveUnsent = false
                return
            }
            let r = outbound[best]
            let len = Int(r.length)
            if txFree < len { compactTransmit() }
            if txFree < len { return }
            // A stored copy lies inside the store and fits the free transmit space: no overflow.
            let to = tx + txEnd
            to.copyMemory(from: store + Int(r.offset), byteCount: len)
            // MQTT 4.4: a re-delivery on a resumed session carries DUP = 1 (the stored copy has
            // DUP = 0: finishPublish wrote it so, and only this copy of it is changed).
            if r.sentBefore {
                to.storeBytes(of: to.load(as: UInt8.self) | 0x08, as: UInt8.self)
                statistics.publicationsReplayed &+= 1
            }
            txEnd &+= len
            // Sent (`needsSend` cleared) and so sent before: both flags in one store.
            outbound[best].flags = OutboundRecord.sentBeforeFlag
            statistics.packetsSent &+= 1
        }
    }

    /// Queues PINGREQ (`packetID` unused) or an acknowledgement (PUBACK, PUBREC, PUBCOMP) of
    /// `packetID`; false when the transmit buffer has no room for it. One out-of-line function
    /// rather than a closure per packet (each closure would specialise a copy). The bytes are
    /// written here, not by `PacketEncoder.empty`/`ack`: they are a type nibble (flags 0, as all
    /// four require), a remaining length of 0 or 2 and the identifier, and none of the encoders'
    /// checks can fail (identifiers come from decoded packets, which are never 0).
    @inline(never)
    mutating func queueSmall(_ type: PacketType, packetID: UInt16 = 0) -> Bool {
        if txFree < 4 { compactTransmit() }
        if txFree < 4 { return false }
        // Four bytes fit, so the offsets below cannot pass the buffer's end (or overflow).
        let length: UInt8 = type == .pingreq ? 0 : 2
        let to = tx + txEnd
        to.storeBytes(of: type.rawValue << 4, as: UInt8.self)
        to.storeBytes(of: length, toByteOffset: 1, as: UInt8.self)
        to.storeBytes(of: packetID.bigEndian, toByteOffset: 2, as: UInt16.self)  // PINGREQ: past its end, unused
        txEnd &+= 2 &+ Int(length)
        statistics.packetsSent &+= 1
        return true
    }

    // MARK: - Input

    /// Free space to read transport bytes into; then call `didReceive`. Invalidates views from
    /// earlier events. Empty only while a full packet waits to be taken by `nextEvent`.
    public mutating func receiveBuffer() -> UnsafeMutableRawBufferPointer {
        if rxStart > 0 {
            let n = rxEnd &- rxStart
            if n > 0 { rx.copyMemory(from: rx + rxStart, byteCount: n) }
            rxStart = 0
            rxEnd = n
        }
        return UnsafeMutableRawBufferPointer(start: rx + rxEnd, count: rxCount &- rxEnd)
    }

    /// `count` bytes were read into `receiveBuffer()`.
    public mutating func didReceive(_ count: Int, now: Int) {
        guard count > 0 else { return }
        // rxEnd <= rxCount: the room left cannot overflow, and a count beyond it (a faulty
        // transport's) is clamped rather than summed (the sum could overflow).
        rxEnd = count < rxCount &- rxEnd ? rxEnd &+ count : rxCount
        lastReceive = now
    }

    // MARK: - Events and timers

    /// When `nextEvent` must run again at the latest (keep-alive, ping or connect timeout),
    /// or nil when no timer is armed.
    public var nextDeadline: Int? {
        @inline(__always) get { deadline }
    }

    /// `nextDeadline` out of line, for the client's loop and `checkTimers`: one copy of it.
    /// `mutating` only so that `self` is passed by address (an out-of-line call of a
    /// non-mutating getter copied the whole session first). (SPI: `MQTTClient` waits with it.)
    @_spi(Loops) @inline(never)
    public mutating func armedDeadline() -> Int? { deadline }

    @inline(__always)
    var deadline: Int? {
        switch state {
        case .disconnected: return nil
        case .connecting: return connectSentAt &+ boundedTimeout(configuration.connectTimeoutMilliseconds)
        case .connected, .disconnecting:
            if pingOutstanding { return pingSentAt &+ boundedTimeout(configuration.pingTimeoutMilliseconds) }
            // No PINGREQ while disconnecting (checkTimers), so no keep-alive deadline either.
            guard configuration.keepAliveSeconds > 0, state == .connected else { return nil }
            let k = Int(configuration.keepAliveSeconds) * 1000
            // The earlier of the two by their difference (readings wrap).
            return (lastSend &- lastReceive < 0 ? lastSend : lastReceive) &+ k
        }
    }

    /// Processes received bytes and timers and returns the next event, or nil when there is
    /// nothing more to do until more bytes arrive, output drains, or `nextDeadline` passes.
    @inline(never)  // called by the client's loop and by `nextBufferedEvent`: one copy of the steps
    public mutating func nextEvent(now: Int) -> SessionEvent? {
        // Every failure below is thrown to this one place, which ends the connection (one call
        // and one event built, not one per failure).
        do throws(SessionError) {
            if reportsPending, let e = nextReport() { return e }
            pumpReplays()
            if let e = try parseInbound(now: now) { return e }
            return try checkTimers(now: now)
        } catch {
            connectionLost()
            return .connectionFailed(error)
        }
    }

    mutating func nextReport() -> SessionEvent? {
        for i in outbound.slots where outbound[i].state == .lost {
            outbound[i].state = .free
            return .publicationLost(packetID: outbound[i].packetID)
        }
        for i in pending.slots where pending[i].packetID != 0 && pending[i].abandoned {
            let id = pending[i].packetID
            pending[i].packetID = 0  // free: a free record's other fields are never read
            return .subscriptionAbandoned(packetID: id)
        }
        reportsPending = false
        return nil
    }

    /// Timer arithmetic wraps (`&-`, `&+`) and compares differences, never readings: the same
    /// results for any real clock, including a 32-bit board's, whose readings wrap every 2^31 ms.
    mutating func checkTimers(now: Int) throws(SessionError) -> SessionEvent? {
        // The armed timer is the one `nextDeadline` names (connect, ping or keep-alive): one
        // computation of it, shared with the client's wait. It has run out once `now` is not
        // before it.
        guard let deadline = armedDeadline(), now &- deadline >= 0 else { return nil }
        if state == .connecting { throw .connectTimedOut }
        if pingOutstanding { throw .pingTimedOut }
        // Keep-alive (only armed while connected), MQTT 3.1.2.10: something must be sent within
        // it; a silent broker is probed too (the deadline counts from the earlier of the last
        // send and the last receive), so a dead link is found even when we only send.
        if queueSmall(.pingreq) {
            pingSentAt = now
            pingOutstanding = true
            lastSend = now
            statistics.pingsSent &+= 1
        }
        return nil
    }

    mutating func parseInbound(now: Int) throws(SessionError) -> SessionEvent? {
        while true {
            if drainRemaining > 0 {
                let n = min(drainRemaining, rxEnd &- rxStart)  // 0 ... drainRemaining, rxStart + n <= rxEnd
                drainRemaining &-= n
                rxStart &+= n
                if drainRemaining > 0 { return nil }
                continue
            }
            let available = UnsafeRawBufferPointer(start: rx + rxStart, count: rxEnd &- rxStart)
            if available.isEmpty { return nil }
            let header: FixedHeader
            do {
                guard let h = try PacketDecoder.fixedHeader(available) else { return nil }
                header = h
            } catch {
                throw .protocolViolation(error)
            }
            if header.packetLength > rxCount {
                // Only PUBLISH and SUBACK can legitimately be long; any other packet announcing
                // more than the receive buffer is malformed, not a message to skip.
                switch header.typeCode {
                case 3, 9: return try handleOversized(header, available: available)
                case 1, 8, 10: throw .unexpectedPacket(type: header.typeCode)
                default: throw .protocolViolation(.lengthMismatch)
                }
            }
            if available.count < header.packetLength { return nil }
            // Answers need transmit room; wait for output to drain rather than lose one.
            if txFree < 4 {
                compactTransmit()
                if txFree < 4 { return nil }
            }
            // Plain pointer arithmetic: a range `headerLength..<packetLength` was tested for
            // `lower <= upper` (a trap), which `packetLength = headerLength + remainingLength` holds.
            let body = UnsafeRawBufferPointer(start: rx + (rxStart &+ header.headerLength), count: header.remainingLength)
            rxStart &+= header.packetLength  // the whole packet is buffered
            statistics.packetsReceived &+= 1
            if let e = try handle(header, body) { return e }
        }
    }

    mutating func handleOversized(_ header: FixedHeader, available: UnsafeRawBufferPointer) throws(SessionError) -> SessionEvent? {
        var packetID: UInt16 = 0
        if header.typeCode == 3 && (header.flags & 0x06) != 0 {
            // Wait until the packet identifier is in the buffer (or the buffer is full): first
            // for the topic's length, then for what follows the topic. One check serves both.
            // h <= 5 and the topic length < 2^16: no overflow checks needed (`&+`, `&-`).
            let h = header.headerLength
            // Plain loads at the buffered bytes' start (the buffer pointer's subscript tested its
            // base address for nil at each read).
            let a = UnsafeRawPointer(rx + rxStart)
            let end = available.count < h &+ 2 ? h &+ 2 : h &+ 4 &+ Int(UInt16(bigEndian: a.loadUnaligned(fromByteOffset: h, as: UInt16.self)))
            if available.count < end {
                if rxStart == 0 && rxEnd == rxCount { throw failOversized(header) }
                return nil
            }
            packetID = UInt16(bigEndian: a.loadUnaligned(fromByteOffset: end &- 2, as: UInt16.self))
            if packetID == 0 { throw .protocolViolation(.zeroPacketIdentifier) }
            let qos = (header.flags >> 1) & 3
            let ok = queueSmall(qos == 2 ? .pubrec : .puback, packetID: packetID)
            if !ok { return nil }  // retry once output drains
            if qos == 2 { rememberQoS2(packetID, digest: 0) }
        }
        drainRemaining = header.packetLength
        statistics.packetsReceived &+= 1
        statistics.oversizedDropped &+= 1
        return .oversizedPacketDropped(type: header.typeCode, length: header.packetLength, packetID: packetID)
    }

    /// A QoS > 0 PUBLISH whose packet identifier lies beyond the receive buffer cannot be
    /// acknowledged; the connection is closed so the broker redelivers it (and the app learns
    /// why) rather than losing it silently.
    mutating func failOversized(_ header: FixedHeader) -> SessionError {
        statistics.oversizedDropped &+= 1
        return .packetTooLarge(needed: header.packetLength)
    }

    /// Decodes a packet from the server and acts on it, in one switch on its type: each case
    /// checks its body as `PacketDecoder.decodeFromServer` does (same helpers, same errors, as
    /// `protocolViolation`), then handles it. No `ServerPacket` record and no second switch.
    mutating func handle(_ header: FixedHeader, _ body: UnsafeRawBufferPointer) throws(SessionError) -> SessionEvent? {
        let type = header.typeCode
        if body.count != header.remainingLength { throw .protocolViolation(.lengthMismatch) }
        switch type {
        case 2:  // CONNACK
            let (present, code) = try checked { () throws(PacketError) in try PacketDecoder.connackFields(body) }
            guard state == .connecting else { throw .unexpectedPacket(type: 2) }
            if code != .accepted { throw .connectionRefused(code) }
            state = .connected
            onConnected(sessionPresent: present)
            return .connected(sessionPresent: present)
        case 3:  // PUBLISH
            let message = try checked { () throws(PacketError) in try PacketDecoder.publishFields(flags: header.flags, body, flagsChecked: true) }
            guard state == .connected || state == .disconnecting else { throw .unexpectedPacket(type: 3) }
            return receivePublish(message)
        case 4, 5, 6, 7, 9, 11:
            let id: UInt16
            var codes = UnsafeRawBufferPointer(start: nil, count: 0)
            if type == 9 {
                (id, codes) = try checked { () throws(PacketError) in try PacketDecoder.subackFields(body) }
            } else {
                id = try checked { () throws(PacketError) in try PacketDecoder.acknowledgedID(body) }
            }
            switch type {
            case 4:  // PUBACK
                for i in outbound.slots where outbound[i].state == .awaitingAck && outbound[i].packetID == id {
                    outbound[i].state = .free  // a free record's other fields are never read
                    pumpReplays()
                    return .published(packetID: id)
                }
            case 6:  // PUBREL
                // QoS 2 receive, method A: delivered on PUBLISH, released here (MQTT 4.3.3).
                forgetQoS2(id)
                _ = queueSmall(.pubcomp, packetID: id)
                return nil
            case 9, 11:  // SUBACK, UNSUBACK: one search of the pending table serves both.
                let subscribe = type == 9
                for i in pending.slots where pending[i].packetID == id && pending[i].isSubscribe == subscribe && !pending[i].abandoned {
                    let expected = Int(pending[i].filterCount)
                    pending[i].packetID = 0
                    if !subscribe { return .unsubscribed(packetID: id) }
                    if codes.count != expected { throw .protocolViolation(.lengthMismatch) }
                    return .subscribed(packetID: id, returnCodes: codes)
                }
            default:  // PUBREC, PUBCOMP: we never publish at QoS 2.
                break
            }
        case 12, 13, 14:
            try checked { () throws(PacketError) in try PacketDecoder.emptyBody(body) }
            // PINGREQ and DISCONNECT never come from a broker.
            if type != 13 { throw .unexpectedPacket(type: type) }
            pingOutstanding = false  // PINGRESP
            return nil
        default:  // 1, 8, 10: CONNECT, SUBSCRIBE and UNSUBSCRIBE never come from a broker
            // (`fixedHeader` refused the reserved types 0 and 15).
            throw .unexpectedPacket(type: type)
        }
        // An acknowledgement of nothing we wait for (PUBACK, SUBACK, UNSUBACK), or PUBREC/PUBCOMP.
        statistics.unknownAcknowledgements &+= 1
        return nil
    }

    mutating func onConnected(sessionPresent: Bool) {
        pingOutstanding = false
        if !sessionPresent {
            clearInboundHistory()
            for i in outbound.slots where outbound[i].state == .awaitingAck {
                switch configuration.sessionLossPolicy {
                case .resend:
                    // To send (`needsSend`), new to this broker session (not `sentBefore`: DUP = 0).
                    outbound[i].flags = OutboundRecord.needsSendFlag
                    mayHaveUnsent = true
                case .reportLost:
                    // Only what reached an earlier broker session can be a duplicate; a
                    // publication stored while disconnected is sent as promised.
                    if outbound[i].sentBefore {
                        outbound[i].state = .lost
                        reportsPending = true
                    }
                }
            }
        }
        pumpReplays()
    }

    mutating func receivePublish(_ p: PublishView) -> SessionEvent? {
        // The acknowledgement always fits: parseInbound reserved transmit room for it. One exit
        // for duplicates and one for deliveries (each a copy of the event's construction).
        let duplicate: Bool
        switch p.qos {
        case .atMostOnce:
            duplicate = false
        case .atLeastOnce:
            let digest = Self.digest(p)
            duplicate = p.dup && isKnown(p.packetID, digest: digest, in: history)
            _ = queueSmall(.puback, packetID: p.packetID)
            if !duplicate { remember(p.packetID, digest: digest) }
        case .exactlyOnce:
            duplicate = isKnown(p.packetID, digest: nil, in: qos2)
            _ = queueSmall(.pubrec, packetID: p.packetID)
            if !duplicate { rememberQoS2(p.packetID, digest: 0) }
        }
        if duplicate {
            statistics.duplicatesDiscarded &+= 1
            return nil
        }
        statistics.messagesDelivered &+= 1
        return .message(p)
    }

    /// Plain loops rather than generic algorithms on the hot path: unspecialised (debug)
    /// builds of generic stdlib code may allocate.
    func isKnown(_ id: UInt16, digest: UInt?, in table: UnsafeMutableBufferPointer<InboundRecord>) -> Bool {
        for i in table.slots where table[i].packetID == id && (digest == nil || table[i].digest == digest!) { return true }
        return false
    }

    mutating func remember(_ id: UInt16, digest: UInt) {
        for i in history.slots where history[i].packetID == id {
            history[i].digest = digest
            return
        }
        history[historyNext] = InboundRecord(packetID: id, digest: digest)
        // The next slot, round robin, without a division: `historyNext` < `history.count`.
        historyNext = historyNext &+ 1 == history.count ? 0 : historyNext &+ 1
    }

    mutating func rememberQoS2(_ id: UInt16, digest: UInt) {
        for i in qos2.slots where qos2[i].packetID == 0 || qos2[i].packetID == id {
            qos2[i] = InboundRecord(packetID: id, digest: digest)
            return
        }
        // Table full: the oldest entry gives way (a broker honouring our QoS 1 grant never
        // sends QoS 2 at all).
        qos2[0] = InboundRecord(packetID: id, digest: digest)
    }

    mutating func forgetQoS2(_ id: UInt16) {
        for i in qos2.slots where qos2[i].packetID == id { qos2[i].packetID = 0 }  // free (its digest is unused)
    }

    @inline(never)  // two callers (connect, onConnected): one copy of its loops
    mutating func clearInboundHistory() {
        // `qos2` follows `history` in the arena, records of one type (`SessionLayout`), and an
        // empty record is all zero bits (as the arena's first fill relies on): one memset
        // clears both, then the memory is bound to the records again.
        let records = history.count &+ qos2.count
        let raw = UnsafeMutableRawPointer(history.baseAddress.unsafelyUnwrapped)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<InboundRecord>.stride &* records)
        _ = raw.bindMemory(to: InboundRecord.self, capacity: records)
        historyNext = 0
    }

    /// FNV-1a over topic and payload: tells a redelivery (same id, same content) from a new
    /// message that reuses an acknowledged packet identifier. A machine word: 32 bits on 32-bit
    /// targets, 64 on 64-bit ones (where `mix` then takes 8 bytes per step, half the steps).
    static func digest(_ p: PublishView) -> UInt {
        mix(mix(2_166_136_261, p.topic) ^ 0xFF, p.payload)
    }

    /// Hashes `bytes` into `h` a word at a time (each step a bijection of the state, so a
    /// change confined to one word always changes the result).
    static func mix(_ h0: UInt, _ bytes: UnsafeRawBufferPointer) -> UInt {
        var h = h0
        var i = 0
        let word = MemoryLayout<UInt>.size
        if let base = bytes.baseAddress {
            // `i` stays within the buffer, so `i + word` cannot overflow.
            while i &+ word <= bytes.count {
                h = (h ^ base.loadUnaligned(fromByteOffset: i, as: UInt.self)) &* digestMultiplier
                h ^= h >> (UInt.bitWidth / 2)
                i &+= word
            }
        }
        while i < bytes.count {
            h = (h ^ UInt(bytes[i])) &* 16_777_619
            i &+= 1
        }
        return h
    }
}

/// Odd (so multiplying by it is a bijection): the golden-ratio constant of the word's width.
#if _pointerBitWidth(_64)
let digestMultiplier: UInt = 0x9E37_79B9_7F4A_7C15
#else
let digestMultiplier: UInt = 0x9E37_79B1
#endif

/// A timeout as the wrapping deadline arithmetic uses it: 0 ... 2^40 ms (about 34 years) on
/// 64-bit targets, 0 ... 2^30 ms (about 12 days) on 32-bit ones, where clock readings wrap every
/// 2^31 ms. A larger one (say `Int.max` for "never") would wrap into a deadline already past and
/// wake the loop at once, over and over; a negative one times out at once, as 0 does. (SPI: the
/// oneM2M client bounds its request timeouts with it too.)
@_spi(Loops) @inline(never)
public func boundedTimeout(_ t: Int) -> Int { t < 0 ? 0 : min(t, 1 << (Int.bitWidth == 64 ? 40 : 30)) }

/// A decoder's error as the session reports it: the server broke the protocol.
@inline(__always)
func checked<T>(_ decode: () throws(PacketError) -> T) throws(SessionError) -> T {
    do { return try decode() } catch { throw .protocolViolation(error) }
}

/// Wrap-safe ordering of publication sequence numbers.
@inline(__always)
func precedes(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }

extension UnsafeMutableBufferPointer {
    /// The indices `0 ..< count` as a plain counted loop: `indices` (a `Range`) tested the count
    /// for a negative value and trapped on it in every one of the session's table loops. (SPI:
    /// `OneM2MClient`'s pending table loops with it too.)
    @_spi(Loops) @inlinable @inline(__always)
    public var slots: Slots { Slots(end: count) }
}

/// `0 ..< end`, counted with a wrapping increment that stops at `end` (`end` is a buffer's
/// count, never negative, so `i` reaches it without overflowing; `!=` is one compare fewer in
/// some loops than `<`).
@_spi(Loops)
public struct Slots: Sequence, IteratorProtocol {
    @usableFromInline var i = 0
    @usableFromInline let end: Int
    @inlinable init(end: Int) { self.end = end }
    @inlinable @inline(__always)
    public mutating func next() -> Int? {
        guard i != end else { return nil }
        defer { i &+= 1 }
        return i
    }
}
