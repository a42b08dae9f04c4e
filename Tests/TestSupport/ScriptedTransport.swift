import MQTTTransport

/// A monotonic clock whose time only moves when the test (or a `ScriptedTransport` wait, or
/// `sleep`) advances it. Copies share one time, so the test keeps a copy and the client another.
public struct ManualClock: MonotonicClock {
    final class Storage {
        var now: Int
        var sleeps: [Int] = []
        init(_ now: Int) { self.now = now }
    }
    let storage: Storage

    public init(startMilliseconds: Int = 0) { storage = Storage(startMilliseconds) }

    public func nowMilliseconds() -> Int { storage.now }

    /// Advances the clock by `milliseconds` (negative values count as 0) and records the call.
    public func sleep(milliseconds: Int) {
        storage.sleeps.append(milliseconds)
        storage.now += max(0, milliseconds)
    }

    /// Moves time forward without recording a sleep.
    public func advance(by milliseconds: Int) { storage.now += max(0, milliseconds) }

    /// Sets the time (never backwards).
    public func set(_ milliseconds: Int) { storage.now = max(storage.now, milliseconds) }

    /// Every `sleep` argument so far, in order.
    public var sleeps: [Int] { storage.sleeps }
}

/// The in-memory peer behind a `ScriptedTransport`: it records what the client wrote and
/// plays back what the test scripted. A class, so the test keeps a reference while the client
/// owns the transport value.
public final class ScriptedPeer {
    /// One thing the client's `receive` will see, in order.
    public enum Inbound: Equatable {
        case bytes([UInt8])
        case error(TransportError)
    }

    /// A complete packet the client wrote, with the time and connection it was written on.
    public struct Frame: Equatable {
        public var bytes: [UInt8]
        public var connection: Int
        public var time: Int
    }

    /// Every byte the client wrote, over all connections.
    public private(set) var written: [UInt8] = []
    /// The bytes written on each connection (index 0 = first `open`).
    public private(set) var connections: [[UInt8]] = []
    /// Every complete packet written, split by its fixed header, in order.
    public private(set) var frames: [Frame] = []
    /// Calls made by the client, for asserting on the sequence ("open", "close", "send 12/40",
    /// "recv 4", "wait r w 100"...).
    public private(set) var log: [String] = []
    public private(set) var openCount = 0
    public private(set) var closeCount = 0
    public private(set) var isOpen = false
    /// The `timeoutMilliseconds` of every `open` call.
    public private(set) var openTimeouts: [Int] = []

    /// Pending inbound items for the current connection. Cleared by `close()`.
    public var inbound: [Inbound] = []
    /// Items delivered once the clock reaches their time (kept across connections; delivered
    /// only while open).
    public private(set) var scheduled: [(at: Int, item: Inbound)] = []
    /// Results of the next `open` calls (nil = success); when empty, `open` succeeds.
    public var openResults: [TransportError?] = []
    /// Byte limits of the next `send` calls; when empty, `send` takes everything (unless blocked).
    public var sendLimits: [Int] = []
    /// Errors thrown by the next `send` calls, before `sendLimits` apply.
    public var sendErrors: [TransportError] = []
    /// While true, `send` accepts nothing (returns 0) and `wait` never reports writable.
    public var sendsBlocked = false
    /// The most bytes one `receive` returns (to exercise partial reads).
    public var maxReceiveChunk = Int.max
    /// Called for every complete packet the client writes; may script a reply (`deliver`).
    public var onPacket: ((ScriptedPeer, Frame) -> Void)?

    let clock: ManualClock?
    var frameParseOffset = 0

    /// `clock`, if given, stamps frames, drives scheduled deliveries and is advanced by `wait`.
    public init(clock: ManualClock? = nil) { self.clock = clock }

    // MARK: Scripting

    /// Queue bytes for the client to receive.
    public func deliver(_ bytes: [UInt8]) { inbound.append(.bytes(bytes)) }
    /// The next `receive` (after anything already queued) throws `error`.
    public func failNextReceive(_ error: TransportError) { inbound.append(.error(error)) }
    /// The next `open` throws `error`.
    public func failNextOpen(_ error: TransportError) { openResults.append(error) }
    /// The next `send` takes at most `count` bytes.
    public func limitNextSend(to count: Int) { sendLimits.append(count) }
    /// The next `send` throws `error`.
    public func failNextSend(_ error: TransportError) { sendErrors.append(error) }
    /// Deliver `bytes` (or an error) once the clock reaches `time`.
    public func schedule(_ item: Inbound, at time: Int) {
        scheduled.append((time, item))
        scheduled.sort { $0.at < $1.at }
    }

    /// Complete packets written on connection `index`.
    public func frames(onConnection index: Int) -> [[UInt8]] {
        frames.filter { $0.connection == index }.map(\.bytes)
    }

    var now: Int { clock?.nowMilliseconds() ?? 0 }

    func releaseScheduled() {
        guard isOpen else { return }
        while let first = scheduled.first, first.at <= now {
            scheduled.removeFirst()
            inbound.append(first.item)
        }
    }

    var readable: Bool {
        releaseScheduled()
        return !inbound.isEmpty
    }

    func recordWrite(_ bytes: UnsafeRawBufferPointer) {
        written.append(contentsOf: bytes)
        connections[connections.count - 1].append(contentsOf: bytes)
        let conn = connections.count - 1
        while true {
            let data = connections[conn]
            guard let (length, _) = mqttFrameLength(data, from: frameParseOffset),
                frameParseOffset + length <= data.count
            else { return }
            let frame = Frame(bytes: Array(data[frameParseOffset..<(frameParseOffset + length)]), connection: conn, time: now)
            frameParseOffset += length
            frames.append(frame)
            onPacket?(self, frame)
        }
    }

    // MARK: Transport calls

    func open(timeoutMilliseconds: Int) throws(TransportError) {
        openTimeouts.append(timeoutMilliseconds)
        log.append("open")
        if !openResults.isEmpty, let error = openResults.removeFirst() { throw error }
        openCount += 1
        isOpen = true
        connections.append([])
        frameParseOffset = 0
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        guard isOpen else { throw .notConnected }
        if !sendErrors.isEmpty {
            let e = sendErrors.removeFirst()
            log.append("send error")
            throw e
        }
        if sendsBlocked {
            log.append("send 0/\(bytes.count)")
            return 0
        }
        var n = bytes.count
        if !sendLimits.isEmpty { n = min(n, max(0, sendLimits.removeFirst())) }
        log.append("send \(n)/\(bytes.count)")
        recordWrite(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
        return n
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard isOpen else { throw .notConnected }
        releaseScheduled()
        guard let first = inbound.first else { return 0 }
        switch first {
        case .error(let e):
            inbound.removeFirst()
            log.append("recv error")
            throw e
        case .bytes(let b):
            let n = min(b.count, buffer.count, maxReceiveChunk)
            if n == 0 && !b.isEmpty { return 0 }
            for i in 0..<n { buffer[i] = b[i] }
            if n == b.count { inbound.removeFirst() } else { inbound[0] = .bytes(Array(b[n...])) }
            log.append("recv \(n)")
            return n
        }
    }

    func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        guard isOpen else { throw .notConnected }
        log.append("wait \(interest.readable ? "r" : "-")\(interest.writable ? "w" : "-") \(timeoutMilliseconds)")
        func ready() -> TransportReadiness {
            TransportReadiness(readable: interest.readable && readable, writable: interest.writable && !sendsBlocked)
        }
        let r = ready()
        if r.readable || r.writable { return r }
        // Nothing ready: time passes, up to the next scheduled delivery or the timeout.
        guard let clock else { return r }
        let deadline = now + max(0, timeoutMilliseconds)
        if interest.readable, let next = scheduled.first, next.at < deadline {
            clock.set(next.at)
            return ready()
        }
        clock.set(deadline)
        return ready()
    }

    func close() {
        log.append("close")
        if isOpen { closeCount += 1 }
        isOpen = false
        inbound.removeAll()
    }
}

/// A deterministic in-memory `Transport` over a `ScriptedPeer`.
public struct ScriptedTransport: Transport {
    public let peer: ScriptedPeer

    public init(peer: ScriptedPeer) { self.peer = peer }

    public mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        try peer.open(timeoutMilliseconds: timeoutMilliseconds)
    }
    public mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        try peer.send(bytes)
    }
    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        try peer.receive(into: buffer)
    }
    public mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        try peer.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
    }
    public mutating func close() { peer.close() }
}

/// The length of the MQTT packet starting at `offset` in `bytes` and the size of its fixed
/// header, from the Remaining Length field alone (no validation); nil if the header is not
/// complete or its length field is longer than 4 bytes.
public func mqttFrameLength(_ bytes: [UInt8], from offset: Int = 0) -> (length: Int, headerLength: Int)? {
    var value = 0
    var multiplier = 1
    var i = offset + 1
    while true {
        if i - offset > 4 || i >= bytes.count { return nil }
        let digit = bytes[i]
        value += Int(digit & 0x7F) * multiplier
        multiplier *= 128
        i += 1
        if digit & 0x80 == 0 { break }
    }
    return (i - offset + value, i - offset)
}

/// Splits a byte stream into complete MQTT packets by their fixed headers; an incomplete tail
/// is left out. (Decode each with `PacketDecoder` where MQTTPacket is available; see
/// `decodePackets` in MQTTSessionTests.)
public func splitMQTTFrames(_ bytes: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var offset = 0
    while let (length, _) = mqttFrameLength(bytes, from: offset), offset + length <= bytes.count {
        out.append(Array(bytes[offset..<(offset + length)]))
        offset += length
    }
    return out
}
