import MQTTClient
import MQTTPacket
@_spi(Loops) import MQTTSession
@_spi(Templates) import OneM2M

/// A request addressed to this AE (NOTIFY from the CSE, including subscription verification).
/// Views are valid only during the handler call.
public struct IncomingRequest {
    /// The decoded request primitive.
    public let primitive: RequestPrimitiveView
    /// The topic it arrived on (its originator level is where the answer goes).
    public let topic: TopicView
    /// The `m2m:sgn` notification of a NOTIFY, if that is what it is.
    public var notification: NotificationView? { primitive.notification }
    /// TS-0004: a verification request (`vrq: true`) sent while a subscription is created.
    public var isVerificationRequest: Bool { notification?.isVerificationRequest ?? false }
}

/// What `OneM2MClient.poll` reports.
public enum OneM2MEvent {
    /// The response to one of our requests. Views are valid only during the handler call.
    case response(RequestID, ResponsePrimitiveView)
    /// No response within the request timeout; the request is forgotten.
    case requestTimedOut(RequestID)
    /// A request for this AE. The handler's return value is the answer's `rsc`; nil answers
    /// NOTIFY with 2000 and any other operation with 4005 (an ADN-AE hosts no resources).
    case request(IncomingRequest)
    /// A request answered without involving the app: 4008 (its `rqet` had passed, TS-0010
    /// 6.4.3) or 4000 (it could not be decoded).
    case requestRejected(ResponseStatusCode)
    /// A response that matches no waiting request (late, after its timeout) or that could not
    /// be decoded (`nil`; ACME answers undecodable requests without `rqi`).
    case unmatchedResponse(ResponsePrimitiveView?)
    /// An answer to an incoming request could not be published (e.g. the session is busy).
    case answerFailed(OneM2MClientError)
    /// An MQTT-level event: connected (after a reconnect), disconnected, acknowledgements,
    /// and messages on topics that are not TS-0010 topics.
    case mqtt(ClientEvent)
}

/// A response copied out of the receive buffer (for the blocking helpers).
public struct OneM2MResponse: Sendable {
    /// `rsc`.
    public var statusCode: ResponseStatusCode
    /// The whole response primitive as received (JSON).
    public var payload: [UInt8]
    /// Decodes `payload` again, for reading fields.
    public func withView<R>(_ body: (ResponsePrimitiveView) -> R) -> R? {
        payload.withUnsafeBytes { b in
            guard let v = try? ResponsePrimitiveView(decoding: b) else { return nil }
            return body(v)
        }
    }
}

/// The AE device API over MQTT (TS-0010): connect, register, create / retrieve / update /
/// delete resources, serve notifications, deregister.
///
/// One owner, one thread: drive it with `poll`. Sending a request and handling its response,
/// and answering a notification, allocate nothing: primitives are written straight into the
/// MQTT transmit buffer and read in place from the receive buffer.
public struct OneM2MClient<T: Transport, Clock: MonotonicClock, Wall: WallClock>: ~Copyable {
    /// The MQTT client underneath (session statistics, capacities, the transport).
    public var mqtt: MQTTClient<T, Clock>
    public let wallClock: Wall
    public private(set) var configuration: OneM2MConfiguration

    /// `/oneM2M/req/<me>/<cse>[/json]` and `/oneM2M/reg_req/<me>/<cse>[/json]`.
    var requestTopic: [UInt8] = []
    var registrationTopic: [UInt8] = []
    /// Scratch for response topics and `rqi` text.
    /// `scratchBytes` bytes. A plain pointer: a buffer pointer's base is optional, and each
    /// slice of one tested it and its bounds again.
    let scratch: UnsafeMutableRawPointer
    let pending: UnsafeMutableBufferPointer<PendingRequest>
    /// Salt of this client's request identifiers (`RequestIdentifier`).
    let salt: UInt32
    var counter: UInt32 = 0
    var subscribePacketID: UInt16 = 0
    /// No pending request times out before this (it may be earlier than the real next
    /// deadline after responses arrive; `poll` then rescans), so `poll` scans the pending
    /// table only when a deadline may have passed; nil while none is pending.
    var earliestDeadline: Int? = nil

    /// All zero bits is the empty record: `init` zero-fills the table. Keep every default zero.
    struct PendingRequest {
        var active = false
        var number: UInt32 = 0
        var deadline: Int = 0
    }

    static var scratchBytes: Int { 512 }

    /// A client for one AE. Nothing is sent until `connect`.
    public init(configuration: consuming OneM2MConfiguration, transport: T, clock: Clock, wallClock: Wall, reconnectPolicy: ReconnectPolicy = ReconnectPolicy()) throws(OneM2MClientError) {
        // A `let` (moved from the consuming parameter): the calls below borrow it in place,
        // where each use of the parameter copied the whole configuration (its arrays retained).
        let configuration = consume configuration
        // Checks and topics first: a throw then has less to release.
        guard configuration.maximumPendingRequests > 0 else { throw .mqtt(.session(.invalidCapacities)) }
        let request = try Self.topic(.request, configuration)
        let registration = try Self.topic(.registrationRequest, configuration)
        let session = try Self.makeSession(SessionConfiguration(
            clientID: configuration.mqttClientID, keepAliveSeconds: configuration.keepAliveSeconds,
            userName: configuration.userName, password: configuration.password), configuration.capacities)
        self.requestTopic = request
        self.registrationTopic = registration
        self.mqtt = MQTTClient(session: session, transport: transport, clock: clock, reconnectPolicy: reconnectPolicy)
        self.wallClock = wallClock
        scratch = UnsafeMutableRawPointer.allocate(byteCount: Self.scratchBytes, alignment: 8)
        // An empty record is all zero bits (`PendingRequest()`): one zero fill, not a loop of stores.
        let slots = configuration.maximumPendingRequests, bytes = MemoryLayout<PendingRequest>.stride * slots
        let table = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: MemoryLayout<PendingRequest>.alignment)
        table.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pending = UnsafeMutableBufferPointer(start: table.bindMemory(to: PendingRequest.self, capacity: slots), count: slots)
        var seed = UInt64(bitPattern: wallClock.unixMicroseconds()) ^ UInt64(truncatingIfNeeded: clock.nowMilliseconds()) &* 0x9E37_79B9_7F4A_7C15
        for b in configuration.originator { seed = (seed ^ UInt64(b)) &* 0x100_0000_01B3 }
        salt = UInt32(truncatingIfNeeded: seed >> 32)
        self.configuration = configuration  // its last use: moved, not copied
    }

    static func makeSession(_ c: SessionConfiguration, _ capacities: SessionCapacities) throws(OneM2MClientError) -> MQTTSession {
        do { return try MQTTSession(configuration: c, capacities: capacities) } catch { throw .mqtt(.session(error)) }
    }

    deinit {
        scratch.deallocate()
        pending.deallocate()
    }

    /// This AE's originator (its AE-ID after registration).
    public var originator: [UInt8] { configuration.originator }

    /// Requests awaiting responses.
    public var pendingRequestCount: Int {
        var n = 0
        for p in pending where p.active { n += 1 }
        return n
    }

    mutating func rebuildTopics() throws(OneM2MClientError) {
        requestTopic = try Self.topic(.request, configuration)
        registrationTopic = try Self.topic(.registrationRequest, configuration)
    }

    #if hasFeature(Embedded)
    @inline(never)  // one copy in Embedded builds (size)
    #endif
    static func topic(_ kind: TopicKind, _ c: OneM2MConfiguration) throws(OneM2MClientError) -> [UInt8] {
        let suffix: TopicFilterSuffix
        if let s = c.serialization { suffix = .serialization(s) } else { suffix = .none }
        return try filter(kind, c, mine: true, suffix: suffix)
    }

    /// `/oneM2M/<kind>/<me>/<cse><suffix>` (`mine`) or `/oneM2M/<kind>/+/<me><suffix>`: the
    /// topics and the subscription filters, through one copy of the buffer handling.
    @inline(never)
    static func filter(_ kind: TopicKind, _ c: OneM2MConfiguration, mine: Bool, suffix: TopicFilterSuffix) throws(OneM2MClientError) -> [UInt8] {
        // Written in place into an array of the largest size, whose count is then set: no zero
        // fill, no trimming afterwards.
        var failure: OneM2MError? = nil
        let out = [UInt8](unsafeUninitializedCapacity: 32 + c.originator.count + c.cseID.count) { buf, n in
            n = 0
            c.originator.withUnsafeBytes { o in
                c.cseID.withUnsafeBytes { r in
                    do throws(OneM2MError) {
                        n = try OneM2MTopic.writeFilter(
                            kind: kind, originator: mine ? ByteString(o) : nil, receiver: mine ? ByteString(r) : ByteString(o),
                            suffix: suffix, into: UnsafeMutableRawBufferPointer(buf))
                    } catch { failure = error }
                }
            }
        }
        if let failure { throw .encoding(failure) }
        return out
    }

    /// The subscriptions TS-0010 6.4.5 needs: requests addressed to me from anyone, and
    /// responses to my requests (and registration responses when registering that way).
    /// `mutating` only so that `self` is passed by address: called from `poll`, the
    /// non-mutating form copied the whole client (456 B on armv7) first.
    mutating func subscriptionFilters() throws(OneM2MClientError) -> [TopicSubscription] {
        var filters: [TopicSubscription] = []
        // req/+/<me>/#, resp/<me>/<cse>/# and (registering there) reg_resp/<me>/<cse>/#
        var raw = TopicKind.request.rawValue
        while let kind = TopicKind(rawValue: raw) {
            raw &+= 1  // at most 4
            if kind == .registrationRequest || (kind == .registrationResponse && !configuration.registerOnRegistrationTopic) { continue }
            let f = try Self.filter(kind, configuration, mine: kind != .request, suffix: .anyLevels)
            filters.append(TopicSubscription(filter: f, qos: .atLeastOnce))
        }
        return filters
    }

    // MARK: - Connection

    /// TS-0010 6.3: connects with client id `A::<originator>`, Clean Session 0, no Will, then
    /// subscribes to the request and response topics of 6.4.5. Returns the session-present flag.
    @discardableResult
    public mutating func connect(timeoutMilliseconds: Int = 10_000) throws(OneM2MClientError) -> Bool {
        mqtt.session.configuration.clientID = configuration.mqttClientID
        let present: Bool
        do { present = try mqtt.connect(timeoutMilliseconds: timeoutMilliseconds) { _ in } } catch { throw .mqtt(error) }
        try subscribeTopics(timeoutMilliseconds: timeoutMilliseconds)
        return present
    }

    mutating func subscribeTopics(timeoutMilliseconds: Int) throws(OneM2MClientError) {
        let filters = try subscriptionFilters()
        let granted: [UInt8]
        do { granted = try mqtt.subscribeAndWait(filters, timeoutMilliseconds: timeoutMilliseconds) { _ in } } catch { throw .mqtt(error) }
        if granted.contains(0x80) { throw .mqtt(.session(.connectionRefused(.notAuthorized))) }
    }

    /// Deregistration (TS-0010 6.3): deletes the AE resource (`to` = its AE-ID), then the
    /// MQTT clean-up: disconnect, reconnect with Clean Session 1, disconnect. Events that
    /// arrive while waiting for the DELETE's answer (responses to earlier requests,
    /// notifications) go to `onEvent`, whose return value answers incoming requests.
    public mutating func deregister(
        timeoutMilliseconds: Int = 10_000, onEvent: (OneM2MEvent) -> ResponseStatusCode?
    ) throws(OneM2MClientError) -> OneM2MResponse {
        let me = configuration.originator
        let response = try withBytes(me) { (to) throws(OneM2MClientError) -> OneM2MResponse in
            let id = try send(.delete, to: ByteString(to))
            return try awaitResponse(id, timeoutMilliseconds: timeoutMilliseconds, onEvent: onEvent)
        }
        do { try mqtt.cleanUpSession(timeoutMilliseconds: timeoutMilliseconds) { _ in } } catch { throw .mqtt(error) }
        return response
    }

    /// `deregister(timeoutMilliseconds:onEvent:)` answering incoming requests with the defaults
    /// (NOTIFY 2000) and not reporting other events.
    public mutating func deregister(timeoutMilliseconds: Int = 10_000) throws(OneM2MClientError) -> OneM2MResponse {
        try deregister(timeoutMilliseconds: timeoutMilliseconds) { _ in nil }
    }

    /// Disconnects without deleting anything (the AE stays registered; the broker keeps our
    /// session and queues requests for us).
    public mutating func disconnect() {
        mqtt.disconnect()
    }

    // MARK: - Requests

    /// Sends a request primitive without content and returns at once; the response comes
    /// through `poll` as `.response(id, view)` (or `.requestTimedOut(id)`).
    @discardableResult
    public mutating func send(_ operation: OneM2M.Operation, to: ByteString, resultContent: ResultContent? = nil, expiration: RequestExpiration? = nil) throws(OneM2MClientError) -> RequestID {
        try send(operation, to: to, resourceType: nil, resultContent: resultContent, expiration: expiration, registration: false, hasContent: false) { (_: inout JSONWriter) throws(OneM2MError) in }
    }

    /// Sends a request primitive whose `pc` value `content` writes into the outgoing MQTT
    /// buffer (no copy, no allocation). `registration` sends it on `reg_req` (TS-0010 6.4.4).
    @discardableResult
    public mutating func send(
        _ operation: OneM2M.Operation, to: ByteString, resourceType: ResourceType?, resultContent: ResultContent? = nil,
        expiration: RequestExpiration? = nil, registration: Bool = false,
        content: (inout JSONWriter) throws(OneM2MError) -> Void
    ) throws(OneM2MClientError) -> RequestID {
        try send(operation, to: to, resourceType: resourceType, resultContent: resultContent, expiration: expiration, registration: registration, hasContent: true, content: content)
    }

    mutating func send(
        _ operation: OneM2M.Operation, to: ByteString, resourceType: ResourceType?, resultContent: ResultContent?,
        expiration: RequestExpiration?, registration: Bool, hasContent: Bool,
        content: (inout JSONWriter) throws(OneM2MError) -> Void
    ) throws(OneM2MClientError) -> RequestID {
        // Only the content call depends on the closure; the halves around it exist once.
        var request = try beginRequest(
            operation, to: to, resourceType: resourceType, resultContent: resultContent, expiration: expiration,
            registration: registration, hasContent: hasContent)
        if hasContent && request.failure == nil {
            // Straight into the writer, not through `JSONWriter.content` (whose save, watch and
            // restore were inlined into every typed request): after the `pc` key the writer itself
            // rejects no value or a second one (`invalidWriterState`, from the next value or from
            // `finishRequest`'s `endObject`), and a failed primitive is abandoned as a whole.
            do throws(OneM2MError) { try content(&request.writer) } catch { request.failure = error }
        }
        return try finishRequest(&request)
    }

    /// A request primitive being written straight into the MQTT transmit buffer.
    struct OutgoingRequest {
        let staging: MQTTSession.PublishStaging
        var writer: JSONWriter
        /// The first encoding failure, if any.
        var failure: OneM2MError?
        let number: UInt32
        let slot: Int
        let registration: Bool
    }

    /// Stages the PUBLISH and writes the primitive's parameters (and the `pc` key).
    @inline(never)
    mutating func beginRequest(
        _ operation: OneM2M.Operation, to: ByteString, resourceType: ResourceType?, resultContent: ResultContent?,
        expiration: RequestExpiration?, registration: Bool, hasContent: Bool
    ) throws(OneM2MClientError) -> OutgoingRequest {
        var slot = 0
        while slot < pending.count && pending[slot].active { slot += 1 }  // a plain loop: no generic algorithm on the hot path
        if slot == pending.count { throw .tooManyPendingRequests }
        let number = counter &+ 1
        let rqiLength = writeRequestIdentifier(number)
        let rqi = ByteString(UnsafeRawBufferPointer(start: scratch, count: rqiLength))
        let useRegistration = registration && configuration.registerOnRegistrationTopic
        let staging = try withBytes(useRegistration ? registrationTopic : requestTopic) { (t) throws(OneM2MClientError) in try stagePrimitive(topic: t) }
        var w = JSONWriter(buffer: staging.payloadSpace)
        let failure = withBytes(configuration.originator) { me -> OneM2MError? in
            let primitive = RequestPrimitive(
                operation: operation, to: to, from: ByteString(me), requestIdentifier: rqi,
                releaseVersion: configuration.releaseVersion, resourceType: resourceType,
                requestExpiration: expiration, resultContent: resultContent)
            do throws(OneM2MError) {
                try w.beginObject()
                try primitive.writeParameters(into: &w)
                if hasContent { try w.key(name: "pc") }
            } catch { return error }
            return nil
        }
        return OutgoingRequest(staging: staging, writer: w, failure: failure, number: number, slot: slot, registration: useRegistration)
    }

    /// Closes the primitive, completes the PUBLISH and records the pending request.
    @inline(never)
    mutating func finishRequest(_ r: inout OutgoingRequest) throws(OneM2MClientError) -> RequestID {
        if r.failure == nil {
            do throws(OneM2MError) { try r.writer.endObject() } catch { r.failure = error }
        }
        let (staging, writer, failure) = (r.staging, r.writer, r.failure)
        let outcome = withBytes(r.registration ? registrationTopic : requestTopic) { t in
            finishPrimitive(staging, topic: t, written: writer.count, failure: failure)
        }
        if let outcome { throw outcome }
        counter = r.number
        let deadline = requestDeadline()
        pending[r.slot] = PendingRequest(active: true, number: r.number, deadline: deadline)
        earliestDeadline = earlier(earliestDeadline, deadline)
        return RequestID(value: r.number)
    }

    /// When a request sent (or replayed) now times out, its timeout bounded as the session's
    /// (`boundedTimeout`), so a huge one ("never") does not wrap into the past.
    mutating func requestDeadline() -> Int {
        mqtt.clock.nowMilliseconds() &+ boundedTimeout(configuration.requestTimeoutMilliseconds)
    }

    /// Writes the `rqi` for `number` at the start of `scratch`; returns its length.
    func writeRequestIdentifier(_ number: UInt32) -> Int {
        RequestIdentifier.write(salt: salt, number: number, into: UnsafeMutableRawBufferPointer(start: scratch, count: Self.scratchBytes))
    }

    /// The request number an `rqi` of ours carries, or nil if it is not one of ours.
    func requestNumber(_ rqi: ByteString) -> UInt32? {
        RequestIdentifier.number(in: rqi, salt: salt)
    }

    // MARK: - The loop

    /// Waits up to `timeoutMilliseconds` for something to happen and hands every event to
    /// `handler` (see `OneM2MEvent`): responses, timeouts, incoming requests (the handler's
    /// return value is the answer's `rsc`), connection events. Reconnects by itself.
    /// Acknowledgements of what it delivers leave with the next publish (an answer, the next
    /// request) or at the start of the next `poll`, in one write.
    public mutating func poll(timeoutMilliseconds: Int, _ handler: (OneM2MEvent) -> ResponseStatusCode?) throws(OneM2MClientError) {
        // Wrapping, as in `MQTTClient.nextEvent`: readings and deadlines are compared by their
        // difference (`millisecondsLeft`), right even where a 32-bit board's clock wraps.
        let deadline = mqtt.clock.nowMilliseconds() &+ max(0, timeoutMilliseconds)
        var delivered = false
        while true {
            let now = mqtt.clock.nowMilliseconds()
            // Request timeouts run only while connected: a request queued or in flight during an
            // outage is replayed after the reconnect, and its time starts again then.
            let connected = mqtt.isConnected
            if connected, let due = earliestDeadline, millisecondsLeft(from: now, until: due) == 0 {
                // Rescan: time out what is due, and find the next deadline.
                earliestDeadline = nil
                var i = 0
                while i < pending.count {  // a plain loop: no range checks
                    if pending[i].active {
                        if millisecondsLeft(from: now, until: pending[i].deadline) == 0 {
                            pending[i].active = false
                            delivered = true
                            _ = handler(.requestTimedOut(RequestID(value: pending[i].number)))
                        } else {
                            earliestDeadline = earlier(earliestDeadline, pending[i].deadline)
                        }
                    }
                    i &+= 1
                }
            }
            // Once something was delivered, only what is already received follows (no system
            // call); acknowledgements wait for the next publish or poll, so they share its write.
            let event: ClientEvent?
            if delivered {
                event = mqtt.nextBufferedEvent()
            } else {
                var wait = millisecondsLeft(from: now, until: deadline)
                if connected, let due = earliestDeadline { wait = min(wait, millisecondsLeft(from: now, until: due)) }
                do { event = try mqtt.nextEvent(timeoutMilliseconds: wait) } catch { throw .mqtt(error) }
            }
            guard let event else {
                if delivered || millisecondsLeft(from: mqtt.clock.nowMilliseconds(), until: deadline) == 0 { return }
                continue
            }
            delivered = true
            dispatch(event, handler)
        }
    }

    mutating func dispatch(_ event: ClientEvent, _ handler: (OneM2MEvent) -> ResponseStatusCode?) {
        switch event {
        case .session(.message(let p)):
            guard let topic = try? OneM2MTopic.parse(p.topic) else {
                _ = handler(.mqtt(event))
                return
            }
            if topic.kind.carriesRequest {
                serve(topic: topic, payload: p.payload, handler)
            } else {
                receiveResponse(p.payload, handler)
            }
        case .session(.connected(let present)):
            let restart = requestDeadline()
            for i in pending.slots where pending[i].active { pending[i].deadline = restart }
            earliestDeadline = restart
            if !present {
                // The broker lost our subscriptions (TS-0010 6.4.5): subscribe again.
                if let filters = try? subscriptionFilters(), let id = try? mqtt.subscribe(filters) { subscribePacketID = id }
            }
            _ = handler(.mqtt(event))
        default:
            _ = handler(.mqtt(event))
        }
    }

    mutating func receiveResponse(_ payload: UnsafeRawBufferPointer, _ handler: (OneM2MEvent) -> ResponseStatusCode?) {
        guard let view = try? ResponsePrimitiveView(decoding: payload) else {
            _ = handler(.unmatchedResponse(nil))
            return
        }
        if let rqi = view.requestIdentifier, let number = requestNumber(rqi) {
            for i in pending.slots where pending[i].active && pending[i].number == number {
                pending[i].active = false
                _ = handler(.response(RequestID(value: number), view))
                return
            }
        }
        _ = handler(.unmatchedResponse(view))
    }

    /// TS-0010 6.4.3: decode, check `rqet`, let the app decide, answer on the response topic.
    /// One `answer` call for all three outcomes (inlined, each call was a copy of the encoder).
    mutating func serve(topic: TopicView, payload: UnsafeRawBufferPointer, _ handler: (OneM2MEvent) -> ResponseStatusCode?) {
        let status: ResponseStatusCode
        let rqi: ByteString?, rvi: ByteString?, to: ByteString?
        var rejected = true
        do {
            let request = try RequestPrimitiveView(decoding: payload)
            (rqi, rvi, to) = (request.requestIdentifier, request.releaseVersionText, request.from)
            let now = wallClock.unixMicroseconds()
            if request.hasExpired(now: now, receivedAt: now) {
                // TS-0010 6.4.3: an expired request is answered 4008 and not processed.
                status = .requestTimeout
            } else {
                rejected = false
                let decided = handler(.request(IncomingRequest(primitive: request, topic: topic)))
                status = decided ?? (request.operation == .notify ? .ok : .operationNotAllowed)
            }
        } catch {
            // Malformed: answer 4000 with whatever rqi can be salvaged.
            (rqi, rvi, to) = (RequestPrimitiveView.salvageRequestIdentifier(from: payload), nil, nil)
            status = .badRequest
        }
        answer(topic: topic, status: status, rqi: rqi, rvi: rvi, to: to, handler)
        if rejected { _ = handler(.requestRejected(status)) }
    }

    /// Publishes `{"rsc":..,"rqi":..,"rvi":..,"fr":<me>,"to":<their fr>}` on the response topic
    /// built from the request topic's originator level (ACME copies it verbatim too).
    mutating func answer(topic: TopicView, status: ResponseStatusCode, rqi: ByteString?, rvi: ByteString?, to: ByteString?, _ handler: (OneM2MEvent) -> ResponseStatusCode?) {
        let topicLength: Int
        do { topicLength = try topic.writeResponseTopic(into: UnsafeMutableRawBufferPointer(start: scratch, count: Self.scratchBytes)) } catch {
            _ = handler(.answerFailed(.encoding(error)))
            return
        }
        let responseTopic = UnsafeRawBufferPointer(start: scratch, count: topicLength)
        let releaseVersion = rvi.flatMap { ReleaseVersion(text: $0) } ?? configuration.releaseVersion
        let staging: MQTTSession.PublishStaging
        do { staging = try stagePrimitive(topic: responseTopic) } catch {
            _ = handler(.answerFailed(error))
            return
        }
        var w = JSONWriter(buffer: staging.payloadSpace)
        let encoding = withBytes(configuration.originator) { me -> OneM2MError? in
            let response = ResponsePrimitive(statusCode: status, requestIdentifier: rqi, releaseVersion: releaseVersion, from: ByteString(me), to: to)
            // Not `encode` (which saves and restores the writer for atomicity): on a failure the
            // whole publish is abandoned anyway.
            do throws(OneM2MError) {
                try w.beginObject()
                try response.writeParameters(into: &w)
                try w.endObject()
            } catch { return error }
            return nil
        }
        if let failure = finishPrimitive(staging, topic: responseTopic, written: w.count, failure: encoding) {
            _ = handler(.answerFailed(failure))
        }
    }

    /// Runs `body` with output held: the requests it sends are queued and leave together when
    /// it returns (see `MQTTClient.holdingOutput`), one write for a burst instead of one each.
    public mutating func holdingOutput<R, E: Error>(_ body: (inout Self) throws(E) -> R) throws(E) -> R {
        let outer = mqtt.isHoldingOutput
        mqtt.setHoldingOutput(true)
        defer {
            mqtt.setHoldingOutput(outer)
            mqtt.writeUnlessHeld()
        }
        return try body(&self)
    }

    /// Stages a QoS 1 PUBLISH of a primitive on `topic` (see `MQTTSession.stagePublish`).
    mutating func stagePrimitive(topic: UnsafeRawBufferPointer) throws(OneM2MClientError) -> MQTTSession.PublishStaging {
        do { return try mqtt.session.stagePublish(topic: topic, qos: .atLeastOnce) } catch { throw .mqtt(.session(error)) }
    }

    /// Completes a primitive written into `staging` (`written` bytes, or the encoding `failure`)
    /// and writes it out as far as the transport takes it. Returns nil on success. One copy in
    /// Embedded builds (requests and answers share it); inlined on hosts.
    #if hasFeature(Embedded)
    @inline(never)
    #endif
    mutating func finishPrimitive(_ staging: MQTTSession.PublishStaging, topic: UnsafeRawBufferPointer, written: Int, failure: OneM2MError?) -> OneM2MClientError? {
        // A primitive that did not fit gets the session's busy/too-large verdict; any other
        // encoding failure is the caller's input.
        if let failure, failure != .bufferTooSmall { return .encoding(failure) }
        do {
            _ = try mqtt.session.finishPublish(
                staging, topic: topic, qos: .atLeastOnce, retain: false, written: failure == nil ? written : nil,
                now: mqtt.clock.nowMilliseconds())
        } catch { return .mqtt(.session(error)) }
        mqtt.writeUnlessHeld()
        return nil
    }

    /// Polls until the response to `id` arrives and returns a copy of it. Other events that
    /// arrive meanwhile go to `onEvent` (whose return value answers incoming requests).
    /// Out of line: inlined into an application, it took `poll` and `serve` along (twice).
    @inline(never)
    public mutating func awaitResponse(
        _ id: RequestID, timeoutMilliseconds: Int? = nil, onEvent: (OneM2MEvent) -> ResponseStatusCode?
    ) throws(OneM2MClientError) -> OneM2MResponse {
        let deadline = timeoutMilliseconds.map { mqtt.clock.nowMilliseconds() &+ $0 } ?? requestDeadline()
        var result: OneM2MResponse? = nil
        var timedOut = false
        while result == nil && !timedOut {
            let left = millisecondsLeft(from: mqtt.clock.nowMilliseconds(), until: deadline)
            if left <= 0 { timedOut = true; break }
            try poll(timeoutMilliseconds: left) { e in
                switch e {
                case .response(let rid, let view) where rid == id:
                    result = OneM2MResponse(statusCode: view.statusCode, payload: Array(view.document.bytes))
                    return nil
                case .requestTimedOut(let rid) where rid == id:
                    timedOut = true
                    return nil
                default:
                    return onEvent(e)
                }
            }
        }
        if let result { return result }
        forget(id)
        throw .timedOut
    }

    /// Stops waiting for a response (it will be reported as unmatched if it still comes).
    public mutating func forget(_ id: RequestID) {
        for i in pending.slots where pending[i].active && pending[i].number == id.value { pending[i].active = false }
    }

    /// Adopts a new originator (the AE-ID a CSE assigned at registration): topics, MQTT client
    /// id for the next connection, and subscriptions to the new request/response topics.
    public mutating func adoptOriginator(_ aeID: [UInt8], timeoutMilliseconds: Int = 10_000) throws(OneM2MClientError) {
        guard aeID != configuration.originator else { return }
        configuration.originator = aeID
        configuration.registerOnRegistrationTopic = false
        try rebuildTopics()
        mqtt.session.configuration.clientID = configuration.mqttClientID
        if mqtt.isConnected { try subscribeTopics(timeoutMilliseconds: timeoutMilliseconds) }
    }
}

@inline(__always)
func withBytes<R, E: Error>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    // Through the array's span, whose `withUnsafeBytes` throws the closure's error type (the
    // array's own rethrows an untyped one: the error went through a `Result`).
    try a.span.withUnsafeBytes(body)
}

/// The earlier of two deadlines (`a` nil: none), by their difference: clock readings wrap on
/// 32-bit boards, so the numerically smaller one is not always the earlier.
func earlier(_ a: Int?, _ b: Int) -> Int {
    guard let a else { return b }
    return a &- b < 0 ? a : b
}
