import MQTTClient
@_spi(Templates) import OneM2M
import PosixTransport

extension PosixWallClock: WallClock {}

/// The device client most programs use: TCP (or TLS) transport, POSIX clocks.
public typealias PosixOneM2MClient = OneM2MClient<TCPTransport, PosixMonotonicClock, PosixWallClock>

extension OneM2MClient where T == TCPTransport, Clock == PosixMonotonicClock, Wall == PosixWallClock {
    /// A client connecting over TCP to `host:port` with the POSIX clocks.
    public init(configuration: consuming OneM2MConfiguration, host: String, port: UInt16, reconnectPolicy: ReconnectPolicy = ReconnectPolicy()) throws(OneM2MClientError) {
        try self.init(configuration: configuration, transport: TCPTransport(host: host, port: port), clock: PosixMonotonicClock(), wallClock: PosixWallClock(), reconnectPolicy: reconnectPolicy)
    }

    /// `init(configuration:host:port:)` with the host as bytes (no `String`: an Embedded AE
    /// that uses only the `ByteString` API links none of the standard library's `String` code).
    public init(configuration: consuming OneM2MConfiguration, host: ByteString, port: UInt16, reconnectPolicy: ReconnectPolicy = ReconnectPolicy()) throws(OneM2MClientError) {
        let transport = Array(host).withUnsafeBytes { TCPTransport(host: $0, port: port) }
        try self.init(configuration: configuration, transport: transport, clock: PosixMonotonicClock(), wallClock: PosixWallClock(), reconnectPolicy: reconnectPolicy)
    }
}

extension OneM2MClient {
    // MARK: - Typed requests (each returns at once; the response arrives through `poll`)

    /// CREATE `<AE>` (TS-0004 7.4.5; ACME needs `api`, `rr` and `srv`): `to` is the CSE
    /// resource name. `appID` must start with `N` (or `R` + dotted parts). With
    /// `registerOnRegistrationTopic` it goes on `reg_req` (TS-0010 6.4.4).
    ///
    /// Every request has a `ByteString` form and a `String` form; the `ByteString` one links
    /// no `String` code into an Embedded program (docs/size.md).
    @discardableResult
    public mutating func registerAE(appID: ByteString, name: ByteString, pointOfAccess: [ByteString] = [], requestReachable: Bool = true) throws(OneM2MClientError) -> RequestID {
        try sendRegistration(appID: appID, name: name, requestReachable: requestReachable, pointOfAccess: pointOfAccess.isEmpty ? nil : { (w: inout JSONWriter) throws(OneM2MError) in
            for p in pointOfAccess { try w.string(p) }
        })
    }

    /// `registerAE` with strings.
    @discardableResult
    public mutating func registerAE(appID: String, name: String, pointOfAccess: [String] = [], requestReachable: Bool = true) throws(OneM2MClientError) -> RequestID {
        try withPath(appID) { (api) throws(OneM2MClientError) -> RequestID in
            try withPath(name) { (rn) throws(OneM2MClientError) -> RequestID in
                try sendRegistration(appID: api, name: rn, requestReachable: requestReachable, pointOfAccess: pointOfAccess.isEmpty ? nil : { (w: inout JSONWriter) throws(OneM2MError) in
                    for p in pointOfAccess { try w.writeString(p) }
                })
            }
        }
    }

    mutating func sendRegistration(
        appID: ByteString, name: ByteString, requestReachable: Bool, pointOfAccess: ((inout JSONWriter) throws(OneM2MError) -> Void)?
    ) throws(OneM2MClientError) -> RequestID {
        let cse = configuration.cseName
        let version = configuration.releaseVersion
        return try withBytes(cse) { (to) throws(OneM2MClientError) -> RequestID in
            try send(.create, to: ByteString(to), resourceType: .ae, registration: true) { (w: inout JSONWriter) throws(OneM2MError) in
                try w.beginObject()
                try w.key(name: "m2m:ae")
                try w.beginObject()
                try w.member(name: "rn", name)
                try w.member(name: "api", appID)
                try w.key(name: "rr")  // key + value: a failed request is abandoned whole, no save/restore needed
                try w.bool(requestReachable)
                try w.key(name: "srv")
                try w.fill(template: "[%]", ByteString(version.text))  // one call for the array of one string
                if let pointOfAccess {
                    try w.key(name: "poa")
                    try w.beginArray()
                    try pointOfAccess(&w)
                    try w.endArray()
                }
                try w.endObject()
                try w.endObject()
            }
        }
    }

    /// CREATE `<container>` named `name` under `parent` (a structured path like `cse-in/myAE`).
    @discardableResult
    public mutating func createContainer(under parent: ByteString, name: ByteString, maxInstances: Int? = nil) throws(OneM2MClientError) -> RequestID {
        try send(.create, to: parent, resourceType: .container) { (w: inout JSONWriter) throws(OneM2MError) in
            try w.beginObject()
            try w.key(name: "m2m:cnt")
            try w.beginObject()
            try w.member(name: "rn", name)
            if let mni = maxInstances { try w.member(name: "mni", integer: mni) }
            try w.endObject()
            try w.endObject()
        }
    }

    /// `createContainer` with strings.
    @discardableResult
    public mutating func createContainer(under parent: String, name: String, maxInstances: Int? = nil) throws(OneM2MClientError) -> RequestID {
        try withPath(parent) { (to) throws(OneM2MClientError) -> RequestID in
            try withPath(name) { (rn) throws(OneM2MClientError) -> RequestID in
                try createContainer(under: to, name: rn, maxInstances: maxInstances)
            }
        }
    }

    /// CREATE `<contentInstance>` with `con` = `content` (a string) in `container`. The hot
    /// path: no allocation, the primitive is written straight into the MQTT transmit buffer.
    @discardableResult
    public mutating func createContentInstance(in container: ByteString, content: ByteString, name: ByteString? = nil) throws(OneM2MClientError) -> RequestID {
        // One `fill` call: the template and its strings picked first (two calls were two copies).
        let (template, s0, s1) = name.map { (ContentTemplate.namedContentInstance, $0, content) }
            ?? (ContentTemplate.contentInstance, content, ByteString.empty)
        return try send(.create, to: container, resourceType: .contentInstance) { (w: inout JSONWriter) throws(OneM2MError) in
            try w.fill(template: template, s0, s1)
        }
    }

    /// `createContentInstance` with strings.
    @discardableResult
    public mutating func createContentInstance(in container: String, content: String) throws(OneM2MClientError) -> RequestID {
        try withPath(container) { (to) throws(OneM2MClientError) -> RequestID in
            try withPath(content) { (con) throws(OneM2MClientError) -> RequestID in
                try createContentInstance(in: to, content: con)
            }
        }
    }

    /// CREATE `<subscription>` under `parent`: notifications go to `notificationURIs` (use the
    /// AE-ID itself, plain: ACME then publishes to `/oneM2M/req/<cse>/<AE-ID>/json`; an
    /// SP-relative `/id-in/<AE-ID>` loops inside ACME). `eventTypes` (`net`): 1 update,
    /// 2 delete, 3 create of a child, 4 delete of a child.
    @discardableResult
    public mutating func createSubscription(under parent: ByteString, name: ByteString, notificationURIs: [ByteString], eventTypes: [Int] = [3]) throws(OneM2MClientError) -> RequestID {
        try sendSubscription(under: parent, name: name, eventTypes: eventTypes) { (w: inout JSONWriter) throws(OneM2MError) in
            for u in notificationURIs { try w.string(u) }
        }
    }

    /// `createSubscription` with strings.
    @discardableResult
    public mutating func createSubscription(under parent: String, name: String, notificationURIs: [String], eventTypes: [Int] = [3]) throws(OneM2MClientError) -> RequestID {
        try withPath(parent) { (to) throws(OneM2MClientError) -> RequestID in
            try withPath(name) { (rn) throws(OneM2MClientError) -> RequestID in
                try sendSubscription(under: to, name: rn, eventTypes: eventTypes) { (w: inout JSONWriter) throws(OneM2MError) in
                    for u in notificationURIs { try w.writeString(u) }
                }
            }
        }
    }

    mutating func sendSubscription(
        under parent: ByteString, name: ByteString, eventTypes: [Int], notificationURIs: (inout JSONWriter) throws(OneM2MError) -> Void
    ) throws(OneM2MClientError) -> RequestID {
        try send(.create, to: parent, resourceType: .subscription) { (w: inout JSONWriter) throws(OneM2MError) in
            try w.beginObject()
            try w.key(name: "m2m:sub")
            try w.beginObject()
            try w.member(name: "rn", name)
            try w.key(name: "nu")
            try w.beginArray()
            try notificationURIs(&w)
            try w.endArray()
            try w.key(name: "enc")
            try w.beginObject()
            try w.key(name: "net")
            try w.beginArray()
            for n in eventTypes { try w.integer(n) }
            try w.endArray()
            try w.endObject()
            try w.endObject()
            try w.endObject()
        }
    }

    /// CREATE of any resource type with `pc` given as JSON text (validated, copied in place).
    @discardableResult
    public mutating func create(under parent: ByteString, type: ResourceType, contentJSON: UnsafeRawBufferPointer) throws(OneM2MClientError) -> RequestID {
        try send(.create, to: parent, resourceType: type) { (w: inout JSONWriter) throws(OneM2MError) in try w.rawJSON(contentJSON) }
    }

    /// `create` with a string path and the JSON in an array.
    @discardableResult
    public mutating func create(under parent: String, type: ResourceType, contentJSON: [UInt8]) throws(OneM2MClientError) -> RequestID {
        try withPath(parent) { (to) throws(OneM2MClientError) -> RequestID in
            try withBytes(contentJSON) { (pc) throws(OneM2MClientError) -> RequestID in try create(under: to, type: type, contentJSON: pc) }
        }
    }

    /// RETRIEVE `path` (structured like `cse-in/ae/cnt/la`, or an unstructured ri).
    @discardableResult
    public mutating func retrieve(_ path: ByteString, resultContent: ResultContent? = nil) throws(OneM2MClientError) -> RequestID {
        try send(.retrieve, to: path, resultContent: resultContent)
    }

    /// `retrieve` with a string path.
    @discardableResult
    public mutating func retrieve(_ path: String, resultContent: ResultContent? = nil) throws(OneM2MClientError) -> RequestID {
        try withPath(path) { (to) throws(OneM2MClientError) -> RequestID in try send(.retrieve, to: to, resultContent: resultContent) }
    }

    /// UPDATE `path` with `pc` given as JSON text, e.g. `{"m2m:cnt":{"mni":10}}`.
    @discardableResult
    public mutating func update(_ path: ByteString, contentJSON: UnsafeRawBufferPointer) throws(OneM2MClientError) -> RequestID {
        try send(.update, to: path, resourceType: nil) { (w: inout JSONWriter) throws(OneM2MError) in try w.rawJSON(contentJSON) }
    }

    /// `update` with a string path and the JSON in an array.
    @discardableResult
    public mutating func update(_ path: String, contentJSON: [UInt8]) throws(OneM2MClientError) -> RequestID {
        try withPath(path) { (to) throws(OneM2MClientError) -> RequestID in
            try withBytes(contentJSON) { (pc) throws(OneM2MClientError) -> RequestID in try update(to, contentJSON: pc) }
        }
    }

    /// DELETE `path`.
    @discardableResult
    public mutating func delete(_ path: ByteString) throws(OneM2MClientError) -> RequestID {
        try send(.delete, to: path)
    }

    /// `delete` with a string path.
    @discardableResult
    public mutating func delete(_ path: String) throws(OneM2MClientError) -> RequestID {
        try withPath(path) { (to) throws(OneM2MClientError) -> RequestID in try send(.delete, to: to) }
    }

    /// Sends any request and waits for its response (a blocking helper for tools and set-up
    /// code; it copies the response). Events meanwhile go to `onEvent`.
    public mutating func perform(
        _ send: (inout Self) throws(OneM2MClientError) -> RequestID, onEvent: (OneM2MEvent) -> ResponseStatusCode? = { _ in nil }
    ) throws(OneM2MClientError) -> OneM2MResponse {
        let id = try send(&self)
        return try awaitResponse(id, onEvent: onEvent)
    }
}

/// Runs a request-sending `body` over a path's UTF-8 bytes. Not generic, out of line: one copy
/// for every String-taking request.
@inline(never)
func withPath(_ s: String, _ body: (ByteString) throws(OneM2MClientError) -> RequestID) throws(OneM2MClientError) -> RequestID {
    var r: Result<RequestID, OneM2MClientError> = .failure(.timedOut)  // always replaced: withUTF8 calls its body once
    withUTF8(s) { b in
        do throws(OneM2MClientError) { r = .success(try body(ByteString(b))) } catch { r = .failure(error) }
    }
    return try r.get()
}

/// Every `String` the client reads goes through this one non-generic function: one copy of
/// the stdlib's contiguous-UTF-8 access instead of one per result type and call site.
@inline(never)
func withUTF8(_ s: String, _ body: (UnsafeRawBufferPointer) -> Void) {
    withUTF8Bytes(s, body)
}

extension JSONWriter {
    /// Writes a String value (its UTF-8 bytes, escaped). Out of line: each use inlined was a
    /// closure context and an error check.
    @inline(never)
    mutating func writeString(_ s: String) throws(OneM2MError) {
        var failure: OneM2MError? = nil
        withUTF8(s) { b in
            do throws(OneM2MError) { try string(bytes: b) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
