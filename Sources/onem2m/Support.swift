import ArgumentParser
import MQTTClient
import OneM2M
import OneM2MClient
import OneM2MSecure
import TLSTransport
import WebSocketTransport
import PosixTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Exit codes

/// The exit statuses of `onem2m` (docs/cli.md).
enum Status {
    /// Success (the CSE answered 2xxx; listen stopped cleanly).
    static let ok: Int32 = 0
    /// The CSE answered with a non-2xxx `rsc`.
    static let rejected: Int32 = 1
    /// Bad command line (unknown option, bad value, missing argument, invalid JSON).
    static let usage: Int32 = 2
    /// Connection failure or timeout (broker unreachable, refused, lost; no response in time;
    /// transport not available in this build).
    static let connection: Int32 = 3
}

/// A failure that ends the command: one line on stderr, a non-zero exit.
struct CLIError: Error {
    let status: Int32
    let message: String

    static func usage(_ m: String) -> CLIError { CLIError(status: Status.usage, message: m) }
    static func connection(_ m: String) -> CLIError { CLIError(status: Status.connection, message: m) }

    /// Maps an SDK error; `what` says what was being done ("connecting to mqtt://...").
    init(_ e: OneM2MClientError, while what: String, timeoutMilliseconds: Int) {
        let seconds = formatSeconds(timeoutMilliseconds)
        switch e {
        case .mqtt(.transport(let t)):
            self = .connection("\(what): \(t.summary)")
        case .mqtt(.timedOut), .mqtt(.session(.connectTimedOut)):
            self = .connection("\(what): no answer from the broker within \(seconds) s")
        case .mqtt(.notConnected):
            self = .connection("\(what): the connection to the broker was lost")
        case .mqtt(.session(.packetTooLarge(let needed))):
            self = .usage("\(what): the request is too large (\(needed) bytes)")
        case .mqtt(.session(.invalidArgument)):
            self = .usage("\(what): invalid MQTT topic (check --origin and --cse-id: no '/', '+', '#')")
        case .mqtt(let m):
            self = .connection("\(what): \(m.summary)")
        case .encoding(let enc):
            self = .usage("\(what): the request cannot be encoded: \(describe(enc))")
        case .timedOut:
            self = .connection("\(what): no response within \(seconds) s (is the CSE connected to the broker? are --cse-id and --suffix right?)")
        case .tooManyPendingRequests:
            self = .connection("\(what): too many requests awaiting responses")
        case .rejected(let rsc):
            self = CLIError(status: Status.rejected, message: "\(what): rsc \(rsc.rawValue)")
        case .malformedResponse(let m):
            self = .connection("\(what): malformed response: \(describe(m))")
        }
    }

    /// The same error with more detail appended.
    func adding(_ detail: String) -> CLIError { CLIError(status: status, message: message + " (" + detail + ")") }

    private init(status: Int32, message: String) {
        self.status = status
        self.message = message
    }
}

/// `exit(3)` (inside a ParsableCommand, `exit` names ArgumentParser's method).
func exitProcess(_ status: Int32) -> Never { exit(status) }

func formatSeconds(_ ms: Int) -> String {
    ms % 1000 == 0 ? String(ms / 1000) : String(Double(ms) / 1000)
}

func describe(_ e: OneM2MError) -> String {
    switch e {
    case .bufferTooSmall: return "too large for the buffer"
    case .invalidWriterState: return "invalid JSON structure"
    case .nestingTooDeep: return "JSON nested too deeply"
    case .invalidUTF8Input: return "text is not valid UTF-8"
    case .malformedJSON(let s, let offset): return "invalid JSON at byte \(offset) (\(s))"
    case .typeMismatch(let k): return "expected a JSON \(k)"
    case .notAnInteger: return "not an integer"
    case .integerOutOfRange: return "integer out of range"
    case .invalidTimestamp(let t): return "invalid timestamp (\(t))"
    case .invalidTopic(let t): return "invalid topic (\(t))"
    case .invalidPointOfAccess(let p):
        switch p {
        case .unknownScheme: return "unknown scheme"
        case .missingHost: return "missing host"
        case .invalidPort: return "invalid port"
        case .unbalancedBracket: return "unbalanced bracket"
        case .invalidHostCharacter: return "invalid character in host"
        case .userInfoNotAllowed: return "user info not allowed"
        case .invalidPath: return "no path allowed"
        }
    case .notAPrimitive: return "not a primitive"
    case .missingParameter(let p): return "missing parameter \(p.shortName)"
    case .invalidParameter(let p): return "invalid parameter \(p.shortName)"
    case .notANotification: return "not a notification"
    }
}

/// TS-0004 6.6.3.9 names for the messages of exit status 1.
func statusName(_ code: UInt16) -> String? {
    switch code {
    case 1000: return "ACCEPTED"
    case 2000: return "OK"
    case 2001: return "CREATED"
    case 2002: return "DELETED"
    case 2004: return "UPDATED"
    case 4000: return "BAD_REQUEST"
    case 4001: return "RELEASE_VERSION_NOT_SUPPORTED"
    case 4004: return "NOT_FOUND"
    case 4005: return "OPERATION_NOT_ALLOWED"
    case 4008: return "REQUEST_TIMEOUT"
    case 4015: return "UNSUPPORTED_MEDIA_TYPE"
    case 4101: return "SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE"
    case 4102: return "CONTENTS_UNACCEPTABLE"
    case 4103: return "ORIGINATOR_HAS_NO_PRIVILEGE"
    case 4105: return "CONFLICT"
    case 4106: return "ORIGINATOR_HAS_NOT_REGISTERED"
    case 4107: return "SECURITY_ASSOCIATION_REQUIRED"
    case 4108: return "INVALID_CHILD_RESOURCE_TYPE"
    case 4109: return "NO_MEMBERS"
    case 4110: return "GROUP_MEMBER_TYPE_INCONSISTENT"
    case 4111: return "ESPRIM_UNSUPPORTED_OPTION"
    case 4116: return "ESPRIM_UNKNOWN_KEY_ID"
    case 4117: return "ORIGINATOR_ALREADY_REGISTERED"
    case 5000: return "INTERNAL_SERVER_ERROR"
    case 5001: return "NOT_IMPLEMENTED"
    case 5103: return "TARGET_NOT_REACHABLE"
    case 5105: return "RECEIVER_HAS_NO_PRIVILEGES"
    case 5106: return "ALREADY_EXISTS"
    case 5203: return "TARGET_NOT_SUBSCRIBABLE"
    case 5204: return "SUBSCRIPTION_VERIFICATION_INITIATION_FAILED"
    case 5205: return "SUBSCRIPTION_HOST_HAS_NO_PRIVILEGE"
    case 5207: return "NOT_ACCEPTABLE"
    case 6003: return "EXTERNAL_OBJECT_NOT_REACHABLE"
    case 6005: return "EXTERNAL_OBJECT_NOT_FOUND"
    default: return nil
    }
}

// MARK: - Output

/// Writes all bytes to a file descriptor, unbuffered (each line reaches a pipe at once).
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            return
        }
        offset += n
    }
}

func writeOut(_ text: String) {
    var t = text
    t.withUTF8 { writeAll(1, UnsafeRawBufferPointer($0)) }
}

func writeErr(_ text: String) {
    var t = text
    t.withUTF8 { writeAll(2, UnsafeRawBufferPointer($0)) }
}

/// Prints a JSON document as exactly one line: a raw CR or LF can only be whitespace in valid
/// JSON (inside strings they must be escaped), so turning them into spaces keeps the meaning.
func printJSONLine(_ bytes: UnsafeRawBufferPointer) {
    var line = [UInt8](repeating: 0, count: bytes.count + 1)
    for i in 0..<bytes.count {
        let b = bytes[i]
        line[i] = (b == 0x0A || b == 0x0D) ? 0x20 : b
    }
    line[bytes.count] = 0x0A
    line.withUnsafeBytes { writeAll(1, $0) }
}

func text(_ s: ByteString?) -> String? {
    guard let s else { return nil }
    return String(decoding: Array(s), as: UTF8.self)
}

/// Prints a response primitive and turns its `rsc` into the exit status (1 + a stderr line for
/// anything but 2xxx).
func report(_ response: OneM2MResponse, _ what: String) -> Int32 {
    response.payload.withUnsafeBytes { printJSONLine($0) }
    let rsc = response.statusCode
    if rsc.isSuccess { return Status.ok }
    let name = statusName(rsc.rawValue).map { " \($0)" } ?? ""
    let dbg = response.withView { text($0.debugMessage) } ?? nil
    let detail = dbg.map { ": \(oneLine($0))" } ?? ""
    writeErr("onem2m: error: \(what): rsc \(rsc.rawValue)\(name)\(detail)\n")
    return Status.rejected
}

func oneLine(_ s: String) -> String {
    String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
}

// MARK: - JSON text helpers (for building `pc` values)

/// A JSON string literal for `s` (RFC 8259 escaping).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

/// Checks that `text` is one JSON object (for `--pc`); returns its UTF-8 bytes.
func validatedJSONObject(_ text: String, option: String) throws(CLIError) -> [UInt8] {
    var bytes = Array(text.utf8)
    let check: OneM2MError?? = bytes.withUnsafeMutableBytes { b in
        do throws(OneM2MError) {
            let doc = try JSONDocument(validating: UnsafeRawBufferPointer(b), maxDepth: JSONDocument.maxSupportedDepth)
            return doc.root.kind == .object ? .some(nil) : nil
        } catch { return .some(error) }
    }
    switch check {
    case .none: throw .usage("\(option) must be a JSON object, like {\"m2m:cnt\":{\"mni\":10}}")
    case .some(.some(let e)): throw .usage("\(option) is not valid JSON: \(describe(e))")
    case .some(.none): return bytes
    }
}

// MARK: - Running a client

/// The client type every command works with: any transport (TCP today, TLS when it exists),
/// POSIX clocks.
typealias CLIClient<T: Transport> = OneM2MClient<T, PosixMonotonicClock, PosixWallClock>

/// What a command does once connected. Generic over the transport, so a TLS transport plugs in
/// at one place (`withConnectedClient`) without touching the commands.
protocol ClientJob {
    /// Reconnect by itself after a lost connection (the long-running `listen`).
    var reconnects: Bool { get }
    /// Adjusts the SDK configuration before the client is made (e.g. `bench` sizes its tables).
    func configure(_ configuration: inout OneM2MConfiguration)
    /// Runs against a connected client; returns the exit status.
    mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32
}

extension ClientJob {
    var reconnects: Bool { false }
    func configure(_ configuration: inout OneM2MConfiguration) {}
}

struct JobContext {
    let options: CommonOptions
    let endpoint: BrokerEndpoint
    var timeoutMilliseconds: Int { options.timeoutMilliseconds }

    /// Maps an SDK error that happened while doing `what`.
    func fail(_ e: OneM2MClientError, _ what: String) -> CLIError {
        CLIError(e, while: what, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// Makes the client for `--broker`, connects (TS-0010 6.3 client id `A::<origin>`, subscribes
/// to the request/response topics), runs `job`, disconnects.
func withConnectedClient<J: ClientJob>(_ options: CommonOptions, _ job: inout J) throws(CLIError) -> Int32 {
    let endpoint = try options.endpoint()
    var configuration = options.configuration()
    job.configure(&configuration)
    let context = JobContext(options: options, endpoint: endpoint)
    let policy = ReconnectPolicy(enabled: job.reconnects, connectTimeoutMilliseconds: options.timeoutMilliseconds)
    switch endpoint.scheme {
    case .mqtt:
        var client: PosixOneM2MClient
        do {
            client = try PosixOneM2MClient(configuration: configuration, host: endpoint.host, port: endpoint.port, reconnectPolicy: policy)
        } catch {
            throw context.fail(error, "cannot set up the client for origin '\(options.originator)'")
        }
        return try connectAndRun(&client, &job, context)
    case .mqtts, .ws, .wss:
        // TS-0010 6.2/7.3: TLS (mbedTLS) and WebSocket transports, chosen by the URL's scheme.
        if options.insecure && endpoint.scheme != .ws {
            writeErr("onem2m: WARNING: --insecure: the broker's certificate is NOT verified; anyone on the path can read and change this traffic\n")
        }
        let transport = PointOfAccessTransport(
            scheme: endpoint.scheme, host: endpoint.host, port: endpoint.port, path: endpoint.path, tls: options.tlsConfiguration())
        var client: CLIClient<PointOfAccessTransport>
        do {
            client = try CLIClient(configuration: configuration, transport: transport, clock: PosixMonotonicClock(), wallClock: PosixWallClock(), reconnectPolicy: policy)
        } catch {
            throw context.fail(error, "cannot set up the client for origin '\(options.originator)'")
        }
        return try connectAndRun(&client, &job, context)
    }
}

/// What a secure transport knows about why it failed (certificate flags, mbedTLS text).
func transportDetail<T: Transport>(_ transport: T) -> String? {
    guard let p = transport as? PointOfAccessTransport else { return nil }
    var parts: [String] = []
    if let f = p.tlsFailure { parts.append(f.summary.description) }
    if let tls = p.tls {
        let flags = tls.lastVerificationFlags.text
        if !flags.isEmpty { parts.append(flags) }
        if tls.lastErrorCode != 0 { parts.append(TLSTransport.errorText(code: tls.lastErrorCode)) }
    }
    if let w = p.webSocketFailure { parts.append(w.summary.description) }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
}

func connectAndRun<T: Transport, J: ClientJob>(_ client: inout CLIClient<T>, _ job: inout J, _ context: JobContext) throws(CLIError) -> Int32 {
    do {
        try client.connect(timeoutMilliseconds: context.timeoutMilliseconds)
    } catch {
        let detail = transportDetail(client.mqtt.transport)
        client.disconnect()
        var failure = context.fail(error, "cannot connect to \(context.endpoint.text)")
        if let detail { failure = failure.adding(detail) }
        throw failure
    }
    do {
        let status = try job.run(&client, context)
        client.disconnect()
        return status
    } catch {
        client.disconnect()
        throw error
    }
}

/// Runs `body` with the UTF-8 bytes of `s` as a `ByteString`.
func withByteString<R, E: Error>(_ s: String, _ body: (ByteString) throws(E) -> R) throws(E) -> R {
    // Through the array's span, whose `withUnsafeBytes` throws the closure's error type (as
    // OneM2MClient's `withBytes` does).
    try Array(s.utf8).span.withUnsafeBytes { (b) throws(E) -> R in try body(ByteString(b)) }
}
