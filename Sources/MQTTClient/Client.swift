import MQTTPacket
@_exported import MQTTSession
@_spi(Loops) import MQTTSession
@_exported import MQTTTransport

/// Why a client operation failed.
public enum ClientError: Error, Equatable, Sendable {
    /// The transport failed (refused, reset, closed, timed out, TLS ...).
    case transport(TransportError)
    /// The session refused or failed (busy, refused by broker, ping timeout, protocol error ...).
    case session(SessionError)
    /// The operation did not complete in the time given.
    case timedOut
    /// There is no connection (and none is being made).
    case notConnected

    public var summary: StaticString {
        switch self {
        case .transport(let e): return e.summary
        case .session(let e): return e.summary
        case .timedOut: return "operation timed out"
        case .notConnected: return "not connected"
        }
    }
}

/// What `poll` reports.
public enum ClientEvent {
    /// A session event (message, acknowledgement, connected ...). Views inside are valid only
    /// during the handler call.
    case session(SessionEvent)
    /// The connection was lost (after a `.session(.connectionFailed)` when the session found the
    /// fault); if reconnection is on, it is retried after `retryInMilliseconds` (-1: it is not).
    case disconnected(ClientError, retryInMilliseconds: Int)
}

/// Reconnection with exponential back-off and jitter.
public struct ReconnectPolicy: Sendable {
    /// Whether `poll` reconnects by itself after a connection is lost.
    public var enabled: Bool
    public var initialDelayMilliseconds: Int
    public var maximumDelayMilliseconds: Int
    /// How long one attempt may take to open the transport.
    public var connectTimeoutMilliseconds: Int

    public init(enabled: Bool = true, initialDelayMilliseconds: Int = 250, maximumDelayMilliseconds: Int = 30_000, connectTimeoutMilliseconds: Int = 5_000) {
        self.enabled = enabled
        self.initialDelayMilliseconds = initialDelayMilliseconds
        self.maximumDelayMilliseconds = maximumDelayMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }
}

/// Milliseconds from `now` until `deadline`: 0 once it has passed. Time arithmetic wraps rather
/// than traps: a deadline is a clock reading plus an `Int` timeout, and their difference is
/// right even when the sum wraps (as a 32-bit board's clock does), for timeouts up to `Int.max`.
/// Out of line and not generic: one copy for every client loop (`MQTTClient`, `OneM2MClient.poll`).
@inline(never)
public func millisecondsLeft(from now: Int, until deadline: Int) -> Int {
    let left = deadline &- now
    return left <= 0 ? 0 : left
}

/// A small single-threaded MQTT client: one session over one transport, driven by `poll`.
///
/// Nothing runs in the background: every call does its work and returns. Publishing and
/// receiving allocate nothing; the session's arena is the only memory.
public struct MQTTClient<T: Transport, Clock: MonotonicClock>: ~Copyable {
    /// The protocol state machine (capacities, statistics, in-flight count).
    public var session: MQTTSession
    /// The byte transport (TCP, TLS, WebSocket ...).
    public var transport: T
    public let clock: Clock
    public var reconnectPolicy: ReconnectPolicy

    var nextAttemptAt: Int = 0
    var backoff: Int = 0
    var jitterState: UInt32
    /// A `.disconnected` event to report right after the `.connectionFailed` that caused it:
    /// its error and retry delay, valid while `disconnectPending`. Plain fields, not a
    /// `ClientEvent?`: each store and test of an optional event moved the whole event.
    var pendingRetry = 0
    var pendingError: ClientError = .notConnected
    // The flags last, together (no padding between words).
    var disconnectPending = false
    /// Whether the transport is open (it may still be waiting for CONNACK).
    public private(set) var isOpen = false
    var wantConnection = false
    /// Inside `holdingOutput`: operations queue their packets and write nothing.
    public private(set) var isHoldingOutput = false

    public init(session: consuming MQTTSession, transport: T, clock: Clock, reconnectPolicy: ReconnectPolicy = ReconnectPolicy()) {
        self.session = session
        // The seed from the stored session's client ID (read through `session`, the consumed
        // parameter, it copied the whole configuration first).
        var seed: UInt32 = 0x9E37_79B9
        for b in self.session.configuration.clientID { seed = (seed ^ UInt32(b)) &* 16_777_619 }
        self.transport = transport
        self.clock = clock
        self.reconnectPolicy = reconnectPolicy
        self.jitterState = seed | 1
        self.backoff = reconnectPolicy.initialDelayMilliseconds
    }

    /// Whether the session is connected (CONNACK accepted).
    public var isConnected: Bool { session.state == .connected }

    // MARK: - Connecting

    /// Opens the transport, sends CONNECT and waits for CONNACK. Events reported before the
    /// CONNACK (publications lost to a clean connect) go to `onEvent`; the connect returns right
    /// after the CONNACK, so messages the broker sends next are left for `poll`. Returns the
    /// session-present flag. Afterwards `poll` keeps the connection alive and reconnects.
    @discardableResult
    @inline(never)
    public mutating func connect(
        cleanSession: Bool? = nil, timeoutMilliseconds: Int = 10_000, onEvent: (ClientEvent) -> Void
    ) throws(ClientError) -> Bool {
        let deadline = clock.nowMilliseconds() &+ timeoutMilliseconds
        wantConnection = true
        disconnectPending = false
        try open(cleanSession: cleanSession, timeoutMilliseconds: timeoutMilliseconds)
        while true {
            let left = Self.milliseconds(from: clock.nowMilliseconds(), until: deadline)
            if left <= 0 { break }
            guard let e = try nextEvent(timeoutMilliseconds: left, reconnect: false) else { continue }
            onEvent(e)
            switch e {
            case .session(.connected(let present)):
                return present  // `note` has reset the back-off
            case .session(.connectionFailed(let err)):
                disconnectPending = false
                closeTransport()
                throw .session(err)
            case .disconnected(let err, _):
                throw err
            default: break
            }
        }
        closeTransport()
        throw .timedOut
    }

    mutating func open(cleanSession: Bool?, timeoutMilliseconds: Int) throws(ClientError) {
        if isOpen { closeTransport() }
        do {
            try transport.open(timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            throw .transport(error)
        }
        isOpen = true
        do {
            try session.connect(now: clock.nowMilliseconds(), cleanSession: cleanSession)
        } catch {
            closeTransport()
            throw .session(error)
        }
    }

    mutating func closeTransport() {
        if isOpen { transport.close() }
        isOpen = false
        if session.state != .disconnected { session.connectionLost() }
    }

    /// Sends DISCONNECT (waiting up to `timeoutMilliseconds` for it to be written) and closes
    /// the transport. No automatic reconnection follows. Stored publications are kept.
    public mutating func disconnect(timeoutMilliseconds: Int = 2_000) {
        wantConnection = false
        guard isOpen else { session.connectionLost(); return }
        session.disconnect()
        _ = try? flush(timeoutMilliseconds: timeoutMilliseconds)
        closeTransport()
    }

    /// TS-0010 6.3 clean-up: disconnect, reconnect with Clean Session = 1 (the broker discards
    /// our session and subscriptions), disconnect again.
    public mutating func cleanUpSession(timeoutMilliseconds: Int = 10_000, onEvent: (ClientEvent) -> Void) throws(ClientError) {
        disconnect(timeoutMilliseconds: timeoutMilliseconds)
        try connect(cleanSession: true, timeoutMilliseconds: timeoutMilliseconds, onEvent: onEvent)
        disconnect(timeoutMilliseconds: timeoutMilliseconds)
    }

    // MARK: - Operations

    /// Publishes bytes (see `MQTTSession.publish`). Output is flushed as far as the transport
    /// takes it without blocking. QoS 1 returns the packet identifier.
    @discardableResult
    public mutating func publish(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: QoS = .atLeastOnce, retain: Bool = false) throws(ClientError) -> UInt16 {
        let id: UInt16
        do {
            id = try session.publish(topic: topic, payload: payload, qos: qos, retain: retain, now: clock.nowMilliseconds())
        } catch { throw .session(error) }
        writeUnlessHeld()
        return id
    }

    /// Publishes a payload written in place into the transmit buffer (zero copy).
    @discardableResult
    public mutating func publish(topic: UnsafeRawBufferPointer, qos: QoS = .atLeastOnce, retain: Bool = false, writePayload: (UnsafeMutableRawBufferPointer) -> Int?) throws(ClientError) -> UInt16 {
        let id: UInt16
        do {
            id = try session.publish(topic: topic, qos: qos, retain: retain, now: clock.nowMilliseconds(), writePayload: writePayload)
        } catch { throw .session(error) }
        writeUnlessHeld()
        return id
    }

    /// Queues SUBSCRIBE; its SUBACK arrives through `poll` as `.subscribed`.
    @discardableResult
    public mutating func subscribe(_ filters: [TopicSubscription]) throws(ClientError) -> UInt16 {
        let id: UInt16
        do { id = try session.subscribe(filters, now: clock.nowMilliseconds()) } catch { throw .session(error) }
        writeUnlessHeld()
        return id
    }

    /// Subscribes and polls until the SUBACK arrives; returns the granted QoS per filter
    /// (0x80 = refused). Other events that arrive meanwhile (messages) go to `onEvent`.
    @inline(never)
    public mutating func subscribeAndWait(
        _ filters: [TopicSubscription], timeoutMilliseconds: Int = 10_000, onEvent: (ClientEvent) -> Void
    ) throws(ClientError) -> [UInt8] {
        let id = try subscribe(filters)
        let deadline = clock.nowMilliseconds() &+ timeoutMilliseconds
        while true {
            let left = Self.milliseconds(from: clock.nowMilliseconds(), until: deadline)
            if left <= 0 { throw .timedOut }
            guard let e = try nextEvent(timeoutMilliseconds: left, reconnect: false) else { continue }
            switch e {
            case .session(.subscribed(let pid, let codes)) where pid == id: return Array(codes)
            case .session(.subscriptionAbandoned(let pid)) where pid == id: throw .notConnected
            default:
                // One call of `onEvent` (it is inlined: each call site is a copy of it).
                onEvent(e)
                if case .disconnected(let err, _) = e { throw err }
            }
        }
    }

    /// Queues UNSUBSCRIBE; its UNSUBACK arrives through `poll` as `.unsubscribed`.
    @discardableResult
    public mutating func unsubscribe(_ filters: [TopicSubscription]) throws(ClientError) -> UInt16 {
        let id: UInt16
        do { id = try session.unsubscribe(filters, now: clock.nowMilliseconds()) } catch { throw .session(error) }
        writeUnlessHeld()
        return id
    }

    // MARK: - The loop

    /// Waits up to `timeoutMilliseconds` for something to happen, hands every event that is
    /// ready to `handler`, and returns once at least one was reported or the time is up. Keeps
    /// the connection alive (PINGREQ), writes queued output and, after a loss, reconnects with
    /// back-off when the policy allows. Throws only when there is no connection and none will
    /// be made.
    ///
    /// After the first event, only events already received are handed out (no further system
    /// call), and acknowledgements they cause stay queued: they leave with the next publish or
    /// at the start of the next `poll`, so an answer and the next request share one write.
    public mutating func poll(timeoutMilliseconds: Int, _ handler: (ClientEvent) -> Void) throws(ClientError) {
        // One call of `handler` (inlined with it, a second call site was a second copy of it).
        var next = try nextEvent(timeoutMilliseconds: timeoutMilliseconds)
        while let e = next {
            handler(e)
            next = nextBufferedEvent()
        }
    }

    /// The next event from bytes already received (or a report already due), without any I/O:
    /// nothing is written, read or waited for. Returns nil when more input is needed.
    public mutating func nextBufferedEvent() -> ClientEvent? {
        if let d = takePendingDisconnect() { return d }
        guard isOpen, let event = session.nextEvent(now: clock.nowMilliseconds()) else { return nil }
        note(event)
        return .session(event)
    }

    /// What a session event changes in the client (a failure closes the connection and leaves
    /// a `.disconnected` to report next). Inlined: `nextEvent` and `nextBufferedEvent` switch on
    /// the event where it lies (an out-of-line `note` took it by address, so each copied it to a
    /// temporary first); the failure half, `fail`, is out of line and shared. They wrap the event
    /// themselves.
    @inline(__always)
    mutating func note(_ event: SessionEvent) {
        if case .connectionFailed(let err) = event {
            fail(err)
        } else if case .connected = event {
            backoff = reconnectPolicy.initialDelayMilliseconds
        }
    }

    /// `note`'s failure half, out of line.
    @inline(never)
    mutating func fail(_ err: SessionError) {
        pendingError = .session(err)
        pendingRetry = lose()
        disconnectPending = true
    }

    /// Runs `body` with output held: what it publishes (or subscribes) is queued and leaves in
    /// as few writes as the transport allows when `body` returns, instead of one write per
    /// operation. For bursts (several requests at once); `poll` also writes queued output
    /// before it waits.
    public mutating func holdingOutput<R, E: Error>(_ body: (inout Self) throws(E) -> R) throws(E) -> R {
        let outer = isHoldingOutput
        isHoldingOutput = true
        defer {
            isHoldingOutput = outer
            writeUnlessHeld()
        }
        return try body(&self)
    }

    /// Holds (or releases) output without a closure; prefer `holdingOutput`.
    public mutating func setHoldingOutput(_ hold: Bool) { isHoldingOutput = hold }

    /// Writes what is queued as far as the transport takes it without blocking, unless output
    /// is being held.
    @inline(never)  // after every operation: one copy
    public mutating func writeUnlessHeld() {
        if !isHoldingOutput { _ = try? flush(timeoutMilliseconds: 0) }
    }

    /// Writes queued output until it is all written or `timeoutMilliseconds` pass.
    @inline(never)
    public mutating func flush(timeoutMilliseconds: Int) throws(ClientError) {
        guard isOpen else { throw .notConnected }
        // Wrapping, as in `nextEvent`: only differences from later readings count.
        let deadline = clock.nowMilliseconds() &+ timeoutMilliseconds
        while true {
            // Writes until the output is gone or the transport takes no more.
            if let e = writeSome() { throw e }
            if !session.hasPendingOutput { return }
            let left = Self.milliseconds(from: clock.nowMilliseconds(), until: deadline)
            if left <= 0 { throw .timedOut }
            _ = try wait(for: TransportReadiness(readable: false, writable: true), timeoutMilliseconds: left)
        }
    }

    /// The next event, waiting up to `timeoutMilliseconds` for one (nil when none came). The
    /// pull form of `poll`: between two calls the caller may publish, e.g. answer a request it
    /// just received. Views inside the event stay valid until the next call.
    public mutating func nextEvent(timeoutMilliseconds: Int) throws(ClientError) -> ClientEvent? {
        try nextEvent(timeoutMilliseconds: timeoutMilliseconds, reconnect: reconnectPolicy.enabled)
    }

    /// Out of line: `connect`, `subscribeAndWait` and `poll` share this one loop.
    @inline(never)
    mutating func nextEvent(timeoutMilliseconds: Int, reconnect: Bool) throws(ClientError) -> ClientEvent? {
        if let d = takePendingDisconnect() { return d }
        let deadline = clock.nowMilliseconds() &+ max(0, timeoutMilliseconds)
        var timersRun = false
        // Every failure leaves the loop to the one `lose` at the end.
        let failure: ClientError
        loop: while true {
            if !isOpen {
                guard reconnect && wantConnection else { throw .notConnected }
                let now = clock.nowMilliseconds()
                // Readings are compared by their difference: they wrap on 32-bit boards.
                let untilAttempt = Self.milliseconds(from: now, until: nextAttemptAt)
                if untilAttempt > 0 {
                    let left = Self.milliseconds(from: now, until: deadline)
                    if left == 0 { return nil }
                    clock.sleep(milliseconds: min(left, untilAttempt))
                    continue
                }
                do {
                    try open(cleanSession: nil, timeoutMilliseconds: reconnectPolicy.connectTimeoutMilliseconds)
                } catch {
                    failure = error
                    break loop
                }
            }
            // 1. Write what is queued (never blocking here).
            if let e = writeSome() { failure = e; break loop }
            // 2. Hand out the next event the session has ready.
            if let event = session.nextEvent(now: clock.nowMilliseconds()) {
                note(event)
                // The last event of what arrived: its acknowledgements leave now, not after the
                // application has handled it. The broker then frees the message while the
                // application works (one write per read, so a batch still costs one). A send
                // error here stays in the socket and ends the next call's first write.
                if !session.hasBufferedInput { _ = writeSome() }
                return .session(event)
            }
            if let e = writeSome() { failure = e; break loop }
            // 3. Wait for input, writability or the session's next timer. Nothing below changes
            // the session's deadline unless bytes arrive (and then the loop starts over).
            let now = clock.nowMilliseconds()
            let sessionDeadline = session.armedDeadline()
            var wait = Self.milliseconds(from: now, until: deadline)
            if let d = sessionDeadline { wait = min(wait, Self.milliseconds(from: now, until: d)) }
            let interest = TransportReadiness(readable: true, writable: session.hasPendingOutput)
            let ready: TransportReadiness
            do {
                ready = try self.wait(for: interest, timeoutMilliseconds: wait)
            } catch {
                failure = error
                break loop
            }
            if ready.readable {
                let space = session.receiveBuffer()
                if !space.isEmpty {
                    do {
                        let n = try transport.receive(into: space)
                        session.didReceive(n, now: clock.nowMilliseconds())
                        if n > 0 { continue }
                    } catch {
                        failure = .transport(error)
                        break loop
                    }
                }
            }
            let after = clock.nowMilliseconds()
            if Self.milliseconds(from: after, until: deadline) == 0 {
                // One more round if a session timer is due now (keep-alive, ping timeout).
                if let d = sessionDeadline, Self.milliseconds(from: after, until: d) == 0, !timersRun {
                    timersRun = true
                    continue
                }
                return nil
            }
        }
        return .disconnected(failure, retryInMilliseconds: lose())
    }

    /// `millisecondsLeft(from:until:)` (out of line there: its compares were inlined at
    /// each of its six call sites here).
    @inline(__always)
    static func milliseconds(from now: Int, until deadline: Int) -> Int {
        millisecondsLeft(from: now, until: deadline)
    }

    /// The transport's `wait`, out of line: `flush` and `nextEvent` share one copy of it (a
    /// transport over several kinds of connection would otherwise be inlined into each).
    @inline(never)
    mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(ClientError) -> TransportReadiness {
        do { return try transport.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds) } catch { throw .transport(error) }
    }

    mutating func writeSome() -> ClientError? {
        while isOpen && session.hasPendingOutput {
            do {
                let n = try transport.send(session.pendingOutput)
                if n == 0 { return nil }
                session.didSend(n, now: clock.nowMilliseconds())
            } catch { return .transport(error) }
        }
        return nil
    }

    /// Closes the transport after a failure and returns the delay before the next attempt
    /// (-1: none), for the `.disconnected` event.
    @inline(never)
    mutating func lose() -> Int {
        closeTransport()
        let retry = reconnectPolicy.enabled && wantConnection ? nextBackoff() : -1
        nextAttemptAt = clock.nowMilliseconds() &+ max(0, retry)
        return retry
    }

    /// The `.disconnected` event `note` left to hand out next, if any.
    @inline(__always)
    mutating func takePendingDisconnect() -> ClientEvent? {
        guard disconnectPending else { return nil }
        disconnectPending = false
        return .disconnected(pendingError, retryInMilliseconds: pendingRetry)
    }

    /// Exponential back-off with up to 25 % jitter so a fleet does not reconnect in step.
    mutating func nextBackoff() -> Int {
        let base = backoff
        // Doubling saturates: any policy a caller can build (delays up to Int.max, or negative)
        // gives a delay, never a trap.
        let doubled = backoff.multipliedReportingOverflow(by: 2)
        backoff = min(reconnectPolicy.maximumDelayMilliseconds, max(1, doubled.overflow ? Int.max : doubled.partialValue))
        jitterState ^= jitterState << 13
        jitterState ^= jitterState >> 17
        jitterState ^= jitterState << 5
        // A quarter of the base, at least 1. Shifts, not divisions: the same values (`spread`
        // is 1 for any base below 4, negative ones included, and positive, so halving it by a
        // shift rounds as `/ 2` does), without the signed division's rounding fix-up.
        let spread = max(1, base >> 2)
        // `base - spread / 2` cannot overflow (`spread` is 1 for a base below 4, else at most a
        // quarter of it); adding the jitter could for a base near `Int.max`: it saturates there.
        let low = base &- (spread >> 1)
        let jitter = Int(jitterState % UInt32(clamping: spread))
        return low > Int.max &- jitter ? Int.max : low &+ jitter
    }
}
