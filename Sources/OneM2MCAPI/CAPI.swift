// The oneM2M C API (include/onem2m.h in COneM2M), implemented over the sans-I/O core: an
// MQTTClient over TCP (mqtt://) or TLS (mqtts://, TLSTransport over mbedTLS) whose session lives
// in the caller's arena, and the OneM2M primitives, topics and JSON writer/reader. Exported with
// @_cdecl; builds in Embedded Swift and in normal Swift. One blocking request at a time;
// notifications are served while waiting. The TLS-specific parts are in TLS.swift.
import COneM2M
import MQTTClient
import MQTTPacket
@_spi(Templates) import OneM2M
import PosixTransport
import TLSTransport

/// The broker connection: TCP for `mqtt://`, TLS for `mqtts://`. Both concrete transports, one
/// of them set, with each call forwarded to it in place (as OneM2MSecure's
/// `PointOfAccessTransport` forwards per case), so the client stays generic over one concrete
/// type: no existential, no dynamic dispatch. Not an enum: its payload was copied out and stored
/// back with the case around every call. The calls are kept out of line: inlined, both branches
/// would be copied into each of MQTTClient's call sites (flush, writeSome, nextEvent, ...).
struct CTransport: Transport {
    /// The connection of an `mqtt://` URL (nil for `mqtts://`).
    var tcp: TCPTransport?
    /// The connection of an `mqtts://` URL (nil for `mqtt://`).
    var tls: TLSTransport?

    static func mqtt(_ t: TCPTransport) -> CTransport { CTransport(tcp: t, tls: nil) }
    static func mqtts(_ t: TLSTransport) -> CTransport { CTransport(tcp: nil, tls: t) }

    // Each call goes to the connection in place: an enum's payload was copied out and stored
    // back with its case (spare-bit masks) around every call.
    @inline(never)
    mutating func open(timeoutMilliseconds: Int) throws(TransportError) {
        if tls != nil { try tls!.open(timeoutMilliseconds: timeoutMilliseconds) } else { try tcp!.open(timeoutMilliseconds: timeoutMilliseconds) }
    }

    @inline(never)
    mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int {
        if tls != nil { return try tls!.send(bytes) }
        return try tcp!.send(bytes)
    }

    @inline(never)
    mutating func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        if tls != nil { return try tls!.receive(into: buffer) }
        return try tcp!.receive(into: buffer)
    }

    @inline(never)
    mutating func wait(for interest: TransportReadiness, timeoutMilliseconds: Int) throws(TransportError) -> TransportReadiness {
        if tls != nil { return try tls!.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds) }
        return try tcp!.wait(for: interest, timeoutMilliseconds: timeoutMilliseconds)
    }

    @inline(never)
    mutating func close() {
        if tls != nil { tls!.close() } else { tcp!.close() }
    }
}

/// Where the pieces of a client sit in the caller's arena.
struct CLayout {
    static let idBytes = ONEM2M_MAX_ID + 1
    static let urlBytes = 256
    static let scratchBytes = 512
    var state = 0, session = 0, ids = 0, url = 0, scratch = 0, total = 0

    /// Wrapping arithmetic, as in `SessionLayout`: for valid capacities (the only ones laid out)
    /// the arena is below 1.6 * 2^30 bytes and the rest a few KB, so nothing wraps even with a
    /// 32-bit `Int`.
    init(_ caps: SessionCapacities) {
        var offset = 0
        func place(_ bytes: Int, align: Int) -> Int {  // `align` is a power of two
            offset = (offset &+ align &- 1) & (0 &- align)
            defer { offset = offset &+ bytes }
            return offset
        }
        state = place(MemoryLayout<CClient>.size, align: max(8, MemoryLayout<CClient>.alignment))
        session = place(caps.arenaBytes, align: 8)
        ids = place(3 * Int(CLayout.idBytes), align: 8)
        url = place(CLayout.urlBytes, align: 8)
        scratch = place(CLayout.scratchBytes, align: 8)
        total = offset
    }
}

func capacities(_ c: onem2m_config) -> SessionCapacities {
    SessionCapacities(
        transmitBytes: Int(c.tx_bytes), receiveBytes: Int(c.rx_bytes), storeBytes: Int(c.store_bytes),
        inflight: Int(c.inflight), inboundHistory: 16, pendingSubscriptions: 2)
}

/// Length of a NUL-terminated string, or nil if it is longer than `limit`.
func cLength(_ s: UnsafePointer<CChar>, limit: Int) -> Int? {
    var n = 0
    while s[n] != 0 {
        n += 1
        if n > limit { return nil }
    }
    return n
}

/// One copy in Embedded builds: inlined, it was repeated for every string argument of the
/// exported functions.
#if hasFeature(Embedded)
@inline(never)
#endif
func cBytes(_ s: UnsafePointer<CChar>?, limit: Int = 4096) -> ByteString? {
    guard let s, let n = cLength(s, limit: limit), n > 0 else { return nil }
    return ByteString(UnsafeRawBufferPointer(start: UnsafeRawPointer(s), count: n))
}

/// The length of an optional string setting of `onem2m_config`: `absent` for NULL, -1 if it is
/// empty or longer than `limit`. Out of line: one copy for the four settings `onem2m_create` reads.
@inline(never)
func settingLength(_ s: UnsafePointer<CChar>?, limit: Int, absent: Int) -> Int {
    guard let s else { return absent }
    guard let n = cLength(s, limit: limit), n > 0 else { return -1 }
    return n
}

let clientMagic: UInt32 = 0x4F4E_454D  // "ONEM"

/// The `pc` of a request: a `ContentTemplate` and the strings for its `%`s, or no template for
/// a request without `pc`. Data, not an enum per request kind or a closure: exactly one closure
/// reaches `MQTTClient.publish(writePayload:)` (the optimizer clones that function and
/// `MQTTSession.publish`, ~1.2 KB on Thumb-2, once per distinct closure), and a struct needs
/// neither a switch to write it nor tag stores to build it (the enum cost about 400 B).
struct Content {
    var template: StaticString? = nil
    var s0 = ByteString.empty, s1 = ByteString.empty, s2 = ByteString.empty
}

/// What goes out, by address: one of our requests with its content, or (`request` nil) our
/// answer to a request. Pointers, not an enum of the primitives: storing such an enum's case
/// (the payloads' spare bits) and copying it were about 300 B. One object around the parameters
/// (`encode` per kind was three copies of it). Not atomic like `encode`: on an error the whole
/// publish is abandoned anyway; and the `pc` is one `fill`, so it needs no `JSONWriter.content` check.
/// The C API's primitives never carry `ot`, `rqet` or `rcn`: `writeFixedParameters` writes all
/// they have and links no timestamp code.
func writePrimitive(
    _ request: UnsafePointer<RequestPrimitive>?, _ content: UnsafePointer<Content>?, _ response: UnsafePointer<ResponsePrimitive>?,
    into w: inout JSONWriter
) throws(OneM2MError) {
    try w.beginObject()
    if let r = request {
        try r.pointee.writeFixedParameters(into: &w)
        if let c = content, let template = c.pointee.template {
            try w.key("pc")
            try w.fill(template: template, c.pointee.s0, c.pointee.s1, c.pointee.s2)
        }
    } else if let r = response {
        try r.pointee.writeFixedParameters(into: &w)
    }
    try w.endObject()
}

/// The client state, placed at the start of the arena.
struct CClient: ~Copyable {
    var magic = clientMagic
    var mqtt: MQTTClient<CTransport, PosixMonotonicClock>
    /// For mqtts://, built from the config's tls_* fields by onem2m_create.
    let tls: TLSConfiguration
    /// The config's point_of_access (a heap copy, freed by onem2m_destroy), or nil.
    let pointOfAccessCopy: UnsafeMutableRawBufferPointer?
    /// Regions of the arena (sizes in `CLayout`). Plain pointers: a buffer pointer's base is
    /// optional, and each slice of one tested it and its bounds again.
    let ids: UnsafeMutableRawPointer
    let urlBuffer: UnsafeMutableRawPointer
    let scratch: UnsafeMutableRawPointer
    var aeLength = 0, cseIDLength = 0, cseNameLength = 0, urlLength = 0
    var requestTimeout: Int
    var counter: UInt32 = 0
    var salt: UInt32
    var notify: onem2m_notify_fn? = nil
    var context: UnsafeMutableRawPointer? = nil
    var everConnected = false
    /// The request number awaiting its response (0: none) and the status that answered it.
    var awaiting: UInt32 = 0
    var answer: ResponseStatusCode? = nil
    var answerMalformed = false
    var delivered = 0

    // The accessors and helpers below are `mutating` only so that `self` is passed by address:
    // a non-mutating call on this ~Copyable struct, where not inlined, copied all of it (512 B
    // on armv7) first.
    var ae: ByteString { mutating get { ByteString(UnsafeRawBufferPointer(start: ids, count: aeLength)) } }
    var cseID: ByteString {
        mutating get { ByteString(UnsafeRawBufferPointer(start: ids + Int(CLayout.idBytes), count: cseIDLength)) }
    }
    var cseName: ByteString {
        mutating get { ByteString(UnsafeRawBufferPointer(start: ids + 2 * Int(CLayout.idBytes), count: cseNameLength)) }
    }
    var url: ByteString { mutating get { ByteString(UnsafeRawBufferPointer(start: urlBuffer, count: urlLength)) } }
    /// What onem2m_register_ae registers: the config's point_of_access, or the connect URL.
    var pointOfAccess: ByteString { mutating get { pointOfAccessCopy.map { ByteString(UnsafeRawBufferPointer($0)) } ?? url } }

    /// Scratch regions: the `rqi` of the request being sent, and a topic.
    var rqiSpace: UnsafeMutableRawBufferPointer { mutating get { UnsafeMutableRawBufferPointer(start: scratch, count: 32) } }
    var topicSpace: UnsafeMutableRawBufferPointer {
        mutating get { UnsafeMutableRawBufferPointer(start: scratch + 32, count: CLayout.scratchBytes - 32) }
    }

    // MARK: Connecting

    mutating func connect(url text: ByteString, timeout: Int) -> Int32 {
        guard let n = try? text.copy(into: UnsafeMutableRawBufferPointer(start: urlBuffer, count: CLayout.urlBytes)), n > 0 else {
            return ONEM2M_EURL.rawValue
        }
        urlLength = n
        let view = UnsafeRawBufferPointer(start: urlBuffer, count: n)
        guard let poa = try? PointOfAccess.parse(view), poa.scheme == .mqtt || poa.scheme == .mqtts else { return ONEM2M_EURL.rawValue }
        // Verification is on unless tls_insecure: without a CA or a PSK nothing could pass it.
        if poa.scheme == .mqtts && !tls.canAuthenticateServer { return ONEM2M_ETLSNOAUTH.rawValue }
        hangUp()
        let host = poa.host
        // Field by field: one transport set, the other cleared.
        if poa.scheme == .mqtt {
            mqtt.transport.tls = nil
            mqtt.transport.tcp = TCPTransport(host: host, port: poa.port)
        } else {
            mqtt.transport.tcp = nil
            mqtt.transport.tls = TLSTransport.make(host: host, port: poa.port, configuration: tls)
        }
        do throws(ClientError) {
            try mqtt.connect(timeoutMilliseconds: timeout) { _ in }
        } catch { return connectionCode(error) }
        everConnected = true
        guard let filters = subscriptionFilters() else { return ONEM2M_EINVAL.rawValue }
        do throws(ClientError) {
            let granted = try mqtt.subscribeAndWait(filters, timeoutMilliseconds: timeout) { _ in }
            if granted.contains(0x80) { return ONEM2M_EREFUSED.rawValue }
        } catch { return code(error) }
        return ONEM2M_OK.rawValue
    }

    /// Ends an open connection (DISCONNECT, waiting up to a second for it to leave). One copy
    /// for onem2m_connect and onem2m_destroy (the inlined disconnect was one each).
    @inline(never)
    mutating func hangUp() {
        if mqtt.isOpen { mqtt.disconnect(timeoutMilliseconds: 1_000) }
    }

    /// The C result code of an error from opening the connection: TLS failures are told apart
    /// by what the transport recorded. (Once connected, the client reconnects by itself and
    /// reports no transport errors.)
    @inline(never)
    mutating func connectionCode(_ e: ClientError) -> Int32 {
        if case .transport(.tls) = e { return TLSFailure.code(of: &mqtt.transport) }
        return code(e)
    }

    /// TS-0010 6.4.5: requests to me from anyone, and responses to my requests.
    mutating func subscriptionFilters() -> [TopicSubscription]? {
        let me = ae, cse = cseID, space = topicSpace
        guard let a = try? OneM2MTopic.writeFilter(kind: .request, originator: nil, receiver: me, suffix: .anyLevels, into: space) else { return nil }
        let requests = Array(UnsafeRawBufferPointer(rebasing: space[0..<a]))
        guard let b = try? OneM2MTopic.writeFilter(kind: .response, originator: me, receiver: cse, suffix: .anyLevels, into: space) else { return nil }
        let responses = Array(UnsafeRawBufferPointer(rebasing: space[0..<b]))
        return [TopicSubscription(filter: requests, qos: .atLeastOnce), TopicSubscription(filter: responses, qos: .atLeastOnce)]
    }

    // MARK: Requests

    /// `rqi` for `number` (`RequestIdentifier`: 8 hex digits of salt, `-`, the number).
    mutating func writeRequestIdentifier(_ number: UInt32) -> ByteString {
        let n = RequestIdentifier.write(salt: salt, number: number, into: rqiSpace)
        return ByteString(UnsafeRawBufferPointer(rebasing: rqiSpace[0..<n]))
    }

    /// The request number of one of our `rqi`s, or nil.
    mutating func requestNumber(_ rqi: ByteString) -> UInt32? {
        RequestIdentifier.number(in: rqi, salt: salt)
    }

    /// Publishes a primitive at QoS 1 on `topic` (the only call of `mqtt.publish`). Returns nil
    /// or a C result code.
    @inline(never)
    mutating func publishJSON(
        _ topic: UnsafeRawBufferPointer, _ request: UnsafePointer<RequestPrimitive>?, _ content: UnsafePointer<Content>?,
        _ response: UnsafePointer<ResponsePrimitive>?
    ) -> Int32? {
        var encodeError: OneM2MError? = nil
        do throws(ClientError) {
            try mqtt.publish(topic: topic, qos: .atLeastOnce) { space in
                var w = JSONWriter(buffer: space)
                do throws(OneM2MError) { try writePrimitive(request, content, response, into: &w) } catch {
                    encodeError = error
                    return nil
                }
                return w.count
            }
        } catch {
            if let e = encodeError, e != .bufferTooSmall { return ONEM2M_EINVAL.rawValue }
            return code(error)
        }
        return nil
    }

    /// Sends one request and waits for its response.
    mutating func request(
        _ operation: OneM2M.Operation, to: ByteString, type: ResourceType?, timeout: Int, rsc: UnsafeMutablePointer<Int32>?,
        _ content: Content
    ) -> Int32 {
        rsc?.pointee = 0
        guard everConnected else { return ONEM2M_ENOTCONN.rawValue }
        let number = counter &+ 1 == 0 ? 1 : counter &+ 1
        var content = content
        let me = ae
        var primitive = RequestPrimitive(
            operation: operation, to: to, from: me, requestIdentifier: writeRequestIdentifier(number), resourceType: type)
        guard let topicLength = try? OneM2MTopic.write(kind: .request, originator: me, receiver: cseID, serialization: .json, into: topicSpace) else {
            return ONEM2M_EINVAL.rawValue
        }
        if let failed = publishJSON(UnsafeRawBufferPointer(rebasing: topicSpace[0..<topicLength]), &primitive, &content, nil) {
            return failed
        }
        counter = number
        awaiting = number
        answer = nil
        answerMalformed = false
        // Wrapping: only its difference from later readings counts (`millisecondsLeft`).
        let deadline = mqtt.clock.nowMilliseconds() &+ timeout
        defer { awaiting = 0 }
        while answer == nil {
            let left = millisecondsLeft(from: mqtt.clock.nowMilliseconds(), until: deadline)
            if left <= 0 { return answerMalformed ? ONEM2M_EBADRESPONSE.rawValue : ONEM2M_ETIMEDOUT.rawValue }
            let event: ClientEvent?
            do throws(ClientError) { event = try mqtt.nextEvent(timeoutMilliseconds: left) } catch { return code(error) }
            if let event { handle(event) }
        }
        let status = answer!
        rsc?.pointee = Int32(status.rawValue)
        return status.isSuccess ? ONEM2M_OK.rawValue : ONEM2M_EREJECTED.rawValue
    }

    // MARK: Incoming traffic

    mutating func poll(timeout: Int) -> Int32 {
        guard everConnected else { return ONEM2M_ENOTCONN.rawValue }
        delivered = 0
        let deadline = mqtt.clock.nowMilliseconds() &+ timeout  // wrapping, as in `request`
        var wait = timeout
        while true {
            let event: ClientEvent?
            do throws(ClientError) { event = try mqtt.nextEvent(timeoutMilliseconds: wait) } catch { return code(error) }
            guard let event else {
                if wait == 0 { break }
                wait = millisecondsLeft(from: mqtt.clock.nowMilliseconds(), until: deadline)
                if wait == 0 { break }  // the deadline has passed
                continue
            }
            handle(event)
            wait = 0  // drain what is ready, then return
        }
        return Int32(truncatingIfNeeded: delivered)
    }

    /// Out of line: `poll` and `request` share it.
    @inline(never)
    mutating func handle(_ event: ClientEvent) {
        switch event {
        case .session(.message(let p)):
            guard let topic = try? OneM2MTopic.parse(p.topic) else { return }
            if topic.kind.carriesRequest {
                serve(topic, p.payload)
            } else {
                receiveResponse(p.payload)
            }
        case .session(.connected(let present)):
            // The broker lost our subscriptions (TS-0010 6.4.5): subscribe again.
            if !present, let filters = subscriptionFilters() { _ = try? mqtt.subscribe(filters) }
        default:
            break
        }
    }

    mutating func receiveResponse(_ payload: UnsafeRawBufferPointer) {
        guard awaiting != 0 else { return }
        guard let view = try? ResponsePrimitiveView(decoding: payload) else {
            answerMalformed = true
            return
        }
        if let rqi = view.requestIdentifier, requestNumber(rqi) == awaiting { answer = view.statusCode }
    }

    /// TS-0010 6.4.3: answer every request addressed to us; NOTIFY goes to the callback.
    /// One `respond` call for every outcome (inlined, each call was a copy of the encoding).
    mutating func serve(_ topic: TopicView, _ payload: UnsafeRawBufferPointer) {
        let status: ResponseStatusCode
        let rqi: ByteString?, rvi: ByteString?, to: ByteString?
        if let request = try? RequestPrimitiveView(decoding: payload) {
            (rqi, rvi, to) = (request.requestIdentifier, request.releaseVersionText, request.from)
            let now = PosixWallClock().unixMicroseconds()
            if request.hasExpired(now: now, receivedAt: now) {
                status = .requestTimeout
            } else if request.operation != .notify {
                status = .operationNotAllowed
            } else {
                if let fn = notify {
                    let pc = request.content?.rawBytes ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    fn(pc.baseAddress?.assumingMemoryBound(to: CChar.self), pc.count, context)
                }
                delivered += 1
                status = .ok
            }
        } else {
            (rqi, rvi, to) = (RequestPrimitiveView.salvageRequestIdentifier(from: payload), nil, nil)
            status = .badRequest
        }
        respond(topic, status, rqi: rqi, rvi: rvi, to: to)
    }

    mutating func respond(_ topic: TopicView, _ status: ResponseStatusCode, rqi: ByteString?, rvi: ByteString?, to: ByteString?) {
        guard let n = try? topic.writeResponseTopic(into: topicSpace) else { return }
        let responseTopic = UnsafeRawBufferPointer(rebasing: topicSpace[0..<n])
        let version = rvi.flatMap { ReleaseVersion(text: $0) } ?? .r3
        var response = ResponsePrimitive(statusCode: status, requestIdentifier: rqi, releaseVersion: version, from: ae, to: to)
        _ = publishJSON(responseTopic, nil, nil, &response)
    }
}

/// Maps the client's typed errors onto the C result codes.
@inline(never)
func code(_ e: ClientError) -> Int32 {
    switch e {
    case .transport(let t):
        switch t {
        case .resolveFailed: return ONEM2M_ERESOLVE.rawValue
        case .refused, .unreachable: return ONEM2M_ECONNECT.rawValue
        case .timedOut: return ONEM2M_ETIMEDOUT.rawValue
        case .reset, .closed: return ONEM2M_ECLOSED.rawValue
        case .notConnected: return ONEM2M_ENOTCONN.rawValue
        case .invalidEndpoint: return ONEM2M_EURL.rawValue
        case .tls, .system: return ONEM2M_EIO.rawValue  // .tls: CClient.connectionCode tells TLS failures apart
        }
    case .session(let s):
        switch s {
        case .busy: return ONEM2M_EBUSY.rawValue
        case .packetTooLarge: return ONEM2M_ETOOBIG.rawValue
        case .notConnected: return ONEM2M_ENOTCONN.rawValue
        case .alreadyConnected: return ONEM2M_ESTATE.rawValue
        case .invalidArgument: return ONEM2M_EINVAL.rawValue
        case .protocolViolation, .unexpectedPacket: return ONEM2M_EPROTOCOL.rawValue
        case .connectionRefused: return ONEM2M_EREFUSED.rawValue
        case .connectTimedOut, .pingTimedOut: return ONEM2M_ETIMEDOUT.rawValue
        case .invalidCapacities: return ONEM2M_EARENA.rawValue
        }
    case .timedOut: return ONEM2M_ETIMEDOUT.rawValue
    case .notConnected: return ONEM2M_ENOTCONN.rawValue
    }
}

/// The client behind a handle, or nil for NULL / a pointer that is not a live client.
#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#endif
func client(_ handle: OpaquePointer?) -> UnsafeMutablePointer<CClient>? {
    guard let handle else { return nil }
    let p = UnsafeMutablePointer<CClient>(handle)
    return p.pointee.magic == clientMagic ? p : nil
}

#if hasFeature(Embedded)
@inline(never)  // one copy in Embedded builds (size)
#endif
func timeout(_ p: UnsafeMutablePointer<CClient>, _ ms: UInt32) -> Int {
    ms == 0 ? p.pointee.requestTimeout : Int(ms)
}

// MARK: - Exported functions

@_cdecl("onem2m_config_init")
public func onem2mConfigInit(_ cfg: UnsafeMutablePointer<onem2m_config>?) {
    guard let cfg else { return }
    var c = onem2m_config()  // every pointer NULL, every number 0: no TLS credentials, tls_insecure 0
    c.request_timeout_ms = 10_000
    c.keep_alive_s = 60
    c.inflight = 8
    c.tx_bytes = 2048
    c.rx_bytes = 2048
    c.store_bytes = 4096
    cfg.pointee = c
}

@_cdecl("onem2m_arena_size")
public func onem2mArenaSize(_ cfg: UnsafePointer<onem2m_config>?) -> Int {
    guard let cfg else { return 0 }
    let caps = capacities(cfg.pointee)
    guard caps.isValid else { return 0 }
    return CLayout(caps).total
}

@_cdecl("onem2m_create")
public func onem2mCreate(
    _ cfg: UnsafePointer<onem2m_config>?, _ arena: UnsafeMutableRawPointer?, _ arenaLength: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guard let cfg, let out else { return ONEM2M_EINVAL.rawValue }
    out.pointee = nil
    let c = cfg.pointee
    let limit = Int(ONEM2M_MAX_ID)
    // Every string setting measured by one call each (`ae_id` is required: absent is -1).
    let aeLength = settingLength(c.ae_id, limit: limit, absent: -1)
    let cseIDLength = settingLength(c.cse_id, limit: limit, absent: 5)
    let cseNameLength = settingLength(c.cse_name, limit: limit, absent: 6)
    let poaLength = settingLength(c.point_of_access, limit: Int(ONEM2M_MAX_TLS_STRING), absent: 0)
    guard aeLength > 0 && cseIDLength > 0 && cseNameLength > 0 && poaLength >= 0 else { return ONEM2M_EINVAL.rawValue }
    let caps = capacities(c)
    guard caps.isValid else { return ONEM2M_EINVAL.rawValue }
    guard let tls = TLSConfiguration(c) else { return ONEM2M_EINVAL.rawValue }
    let layout = CLayout(caps)
    guard let arena, arenaLength >= layout.total, UInt(bitPattern: arena) % 8 == 0 else { return ONEM2M_EARENA.rawValue }

    let ids = arena + layout.ids  // 3 * CLayout.idBytes
    func store(_ s: UnsafePointer<CChar>?, _ fallback: StaticString, _ n: Int, at slot: Int) {
        // The source picked first: one copy call, not one per branch (three stores inlined).
        let source = s.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(fallback.utf8Start)
        (ids + slot * Int(CLayout.idBytes)).copyMemory(from: source, byteCount: n)
    }
    store(c.ae_id, "", aeLength, at: 0)
    store(c.cse_id, "id-in", cseIDLength, at: 1)
    store(c.cse_name, "cse-in", cseNameLength, at: 2)

    // TS-0010 6.3: client ID "A::<AE-ID>", Clean Session 0.
    let clientID = [UInt8](unsafeUninitializedCapacity: aeLength + 3) { out, n in  // one allocation, no append
        out[0] = UInt8(ascii: "A"); out[1] = UInt8(ascii: ":"); out[2] = UInt8(ascii: ":")
        UnsafeMutableRawPointer(out.baseAddress! + 3).copyMemory(from: ids, byteCount: aeLength)
        n = aeLength + 3
    }
    let session: MQTTSession
    do throws(SessionError) {
        session = try MQTTSession(
            configuration: SessionConfiguration(clientID: clientID, keepAliveSeconds: c.keep_alive_s),
            capacities: caps, arena: UnsafeMutableRawBufferPointer(start: arena + layout.session, count: caps.arenaBytes))
    } catch { return ONEM2M_EARENA.rawValue }
    let clock = PosixMonotonicClock()
    let salt = UInt32(truncatingIfNeeded: PosixWallClock().unixMicroseconds() &* 0x9E37_79B9 ^ Int64(clock.nowMilliseconds()))
    var poa: UnsafeMutableRawBufferPointer? = nil
    if let s = c.point_of_access {
        poa = UnsafeMutableRawBufferPointer.allocate(byteCount: poaLength, alignment: 1)
        poa!.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(s), count: poaLength))
    }
    let p = (arena + layout.state).bindMemory(to: CClient.self, capacity: 1)
    p.initialize(to: CClient(  // in place: no copy of the whole state on the stack first
        mqtt: MQTTClient(session: session, transport: .mqtt(TCPTransport(host: UnsafeRawBufferPointer(start: nil, count: 0), port: 0)), clock: clock),
        tls: tls,
        pointOfAccessCopy: poa,
        ids: ids,
        urlBuffer: arena + layout.url,
        scratch: arena + layout.scratch,
        requestTimeout: Int(c.request_timeout_ms == 0 ? 10_000 : c.request_timeout_ms),
        salt: salt | 0x1000_0000))
    p.pointee.aeLength = aeLength
    p.pointee.cseIDLength = cseIDLength
    p.pointee.cseNameLength = cseNameLength
    out.pointee = OpaquePointer(p)
    return ONEM2M_OK.rawValue
}

@_cdecl("onem2m_set_notify_callback")
public func onem2mSetNotifyCallback(_ handle: OpaquePointer?, _ fn: onem2m_notify_fn?, _ ctx: UnsafeMutableRawPointer?) -> Int32 {
    guard let p = client(handle) else { return ONEM2M_EINVAL.rawValue }
    p.pointee.notify = fn
    p.pointee.context = ctx
    return ONEM2M_OK.rawValue
}

@_cdecl("onem2m_connect")
public func onem2mConnect(_ handle: OpaquePointer?, _ url: UnsafePointer<CChar>?, _ timeoutMs: UInt32) -> Int32 {
    guard let p = client(handle) else { return ONEM2M_EINVAL.rawValue }
    guard let text = cBytes(url, limit: CLayout.urlBytes) else { return ONEM2M_EURL.rawValue }
    return p.pointee.connect(url: text, timeout: timeout(p, timeoutMs))
}

@_cdecl("onem2m_register_ae")
public func onem2mRegisterAE(
    _ handle: OpaquePointer?, _ appID: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?, _ timeoutMs: UInt32,
    _ rsc: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let p = client(handle), let api = cBytes(appID), let rn = cBytes(name) else { return ONEM2M_EINVAL.rawValue }
    let poa = p.pointee.pointOfAccess
    return p.pointee.request(.create, to: p.pointee.cseName, type: .ae, timeout: timeout(p, timeoutMs), rsc: rsc,
                             Content(template: poa.isEmpty ? ContentTemplate.ae : ContentTemplate.aeWithPointOfAccess, s0: rn, s1: api, s2: poa))
}

@_cdecl("onem2m_create_container")
public func onem2mCreateContainer(
    _ handle: OpaquePointer?, _ parent: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?, _ timeoutMs: UInt32,
    _ rsc: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let p = client(handle), let to = cBytes(parent), let rn = cBytes(name) else { return ONEM2M_EINVAL.rawValue }
    return p.pointee.request(.create, to: to, type: .container, timeout: timeout(p, timeoutMs), rsc: rsc, Content(template: ContentTemplate.container, s0: rn))
}

@_cdecl("onem2m_create_content_instance")
public func onem2mCreateContentInstance(
    _ handle: OpaquePointer?, _ container: UnsafePointer<CChar>?, _ content: UnsafePointer<CChar>?, _ contentLength: Int,
    _ timeoutMs: UInt32, _ rsc: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let p = client(handle), let to = cBytes(container), contentLength >= 0, content != nil || contentLength == 0 else {
        return ONEM2M_EINVAL.rawValue
    }
    let con = ByteString(UnsafeRawBufferPointer(start: UnsafeRawPointer(content), count: contentLength))
    return p.pointee.request(.create, to: to, type: .contentInstance, timeout: timeout(p, timeoutMs), rsc: rsc, Content(template: ContentTemplate.contentInstance, s0: con))
}

@_cdecl("onem2m_create_subscription")
public func onem2mCreateSubscription(
    _ handle: OpaquePointer?, _ parent: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?, _ timeoutMs: UInt32,
    _ rsc: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let p = client(handle), let to = cBytes(parent), let rn = cBytes(name) else { return ONEM2M_EINVAL.rawValue }
    let me = p.pointee.ae
    return p.pointee.request(.create, to: to, type: .subscription, timeout: timeout(p, timeoutMs), rsc: rsc, Content(template: ContentTemplate.subscription, s0: rn, s1: me))
}

@_cdecl("onem2m_poll")
public func onem2mPoll(_ handle: OpaquePointer?, _ timeoutMs: UInt32) -> Int32 {
    guard let p = client(handle) else { return ONEM2M_EINVAL.rawValue }
    return p.pointee.poll(timeout: Int(timeoutMs))
}

@_cdecl("onem2m_deregister")
public func onem2mDeregister(_ handle: OpaquePointer?, _ timeoutMs: UInt32, _ rsc: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let p = client(handle) else { return ONEM2M_EINVAL.rawValue }
    let limit = timeout(p, timeoutMs)
    let status = p.pointee.request(.delete, to: p.pointee.ae, type: nil, timeout: limit, rsc: rsc, Content())
    // TS-0010 6.3 clean-up: the broker discards our session and subscriptions.
    do throws(ClientError) {
        try p.pointee.mqtt.cleanUpSession(timeoutMilliseconds: limit) { _ in }
    } catch {
        return status == ONEM2M_OK.rawValue ? p.pointee.connectionCode(error) : status
    }
    p.pointee.everConnected = false
    return status
}

@_cdecl("onem2m_destroy")
public func onem2mDestroy(_ handle: OpaquePointer?) {
    guard let p = client(handle) else { return }
    p.pointee.hangUp()
    p.pointee.magic = 0
    p.pointee.pointOfAccessCopy?.deallocate()
    p.deinitialize(count: 1)  // frees the TLS context (TLSTransport) and the copied settings
}

@_cdecl("onem2m_tls_detail")
public func onem2mTLSDetail(_ handle: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int) -> Int {
    guard let buffer, length > 0 else { return 0 }
    buffer[0] = 0
    guard let p = client(handle) else { return 0 }
    return TLSTransport.writeDetail(of: &p.pointee.mqtt.transport, into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
}
