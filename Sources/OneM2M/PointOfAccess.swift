// TS-0010 6.6: pointOfAccess strings `mqtt://<authority>` and `mqtts://<authority>` (and, for a
// WebSocket transport, `ws://` / `wss://` with an optional path).

/// The scheme of a pointOfAccess URI.
public enum PointOfAccessScheme: UInt8, Sendable, CaseIterable {
    /// `mqtt://` over TCP (default port 1883).
    case mqtt
    /// `mqtts://` over TLS (default port 8883; TS-0010 6.6: the server requires TLS).
    case mqtts
    /// `ws://` MQTT over WebSocket (default port 80).
    case ws
    /// `wss://` MQTT over WebSocket over TLS (default port 443).
    case wss

    /// The scheme name, lower case.
    public var name: StaticString {
        switch self {
        case .mqtt: return "mqtt"
        case .mqtts: return "mqtts"
        case .ws: return "ws"
        case .wss: return "wss"
        }
    }

    /// TS-0010 6.6: the IANA port assumed when the authority has none (1883, 8883, 80, 443).
    public var defaultPort: UInt16 {
        switch self {
        case .mqtt: return 1883
        case .mqtts: return 8883
        case .ws: return 80
        case .wss: return 443
        }
    }

    /// True for `mqtts` and `wss`.
    public var usesTLS: Bool { self == .mqtts || self == .wss }

    /// True for `ws` and `wss`.
    public var isWebSocket: Bool { self == .ws || self == .wss }
}

/// A parsed pointOfAccess URI; `host` and `path` are views into the parsed bytes.
public struct PointOfAccess {
    /// The scheme.
    public let scheme: PointOfAccessScheme
    /// The host name or IP address, without brackets for an IPv6 literal.
    public let host: UnsafeRawBufferPointer
    /// The explicit port, or the scheme's default port.
    public let port: UInt16
    /// True when the URI named a port.
    public let hasExplicitPort: Bool
    /// True when the host was an IPv6 literal in brackets (`[::1]`).
    public let isIPv6Literal: Bool
    /// For `ws`/`wss`: the path (and query) starting with `/` or `?`, or empty. Always empty for `mqtt`/`mqtts`.
    public let path: UnsafeRawBufferPointer

    /// Parses `scheme://host[:port][path]`. The scheme is case-insensitive; `mqtt`/`mqtts`
    /// allow no path (a single trailing `/` is tolerated); `ws`/`wss` allow a path. No user
    /// info. Errors: `unknownScheme`, `missingHost`, `invalidPort` (empty, non-digits, 0,
    /// >65535), `unbalancedBracket`, `invalidHostCharacter`, `userInfoNotAllowed`, `invalidPath`.
    public static func parse(_ uri: UnsafeRawBufferPointer) throws(OneM2MError) -> PointOfAccess {
        let n = uri.count
        // Every index below stays within 0 ... n (each scan stops at n, and `s + 3 <= n` is
        // checked before the bytes after `s` are read): `&+` needs no overflow check.
        // Scheme up to "://".
        var s = 0
        while s < n && uri[s] != UInt8(ascii: ":") { s &+= 1 }
        guard s &+ 3 <= n, uri[s &+ 1] == UInt8(ascii: "/"), uri[s &+ 2] == UInt8(ascii: "/") else {
            throw .invalidPointOfAccess(.unknownScheme)
        }
        var scheme: PointOfAccessScheme? = nil
        let schemeBytes = UnsafeRawBufferPointer(rebasing: uri[0..<s])
        var raw: UInt8 = 0
        while let c = PointOfAccessScheme(rawValue: raw) {  // not `allCases`: that builds an Array
            if asciiCaseInsensitiveEqual(schemeBytes, staticBytes(c.name)) { scheme = c }
            raw &+= 1
        }
        guard let scheme else { throw .invalidPointOfAccess(.unknownScheme) }
        // Authority up to the first '/', '?' or '#'.
        let a = s &+ 3
        var e = a
        while e < n && uri[e] != UInt8(ascii: "/") && uri[e] != UInt8(ascii: "?") && uri[e] != UInt8(ascii: "#") { e &+= 1 }
        var k = a
        while k < e {
            if uri[k] == UInt8(ascii: "@") { throw .invalidPointOfAccess(.userInfoNotAllowed) }
            k &+= 1
        }
        var host: UnsafeRawBufferPointer
        var portStart: Int? = nil
        var ipv6 = false
        if a < e && uri[a] == UInt8(ascii: "[") {
            var close = a &+ 1
            while close < e && uri[close] != UInt8(ascii: "]") { close &+= 1 }
            guard close < e else { throw .invalidPointOfAccess(.unbalancedBracket) }
            host = UnsafeRawBufferPointer(rebasing: uri[(a &+ 1)..<close])
            guard !host.isEmpty else { throw .invalidPointOfAccess(.missingHost) }
            try validateIPv6Literal(host)
            ipv6 = true
            let after = close &+ 1
            if after < e {
                guard uri[after] == UInt8(ascii: ":") else {
                    throw uri[after] == UInt8(ascii: "]") ? .invalidPointOfAccess(.unbalancedBracket)
                                                          : .invalidPointOfAccess(.invalidHostCharacter)
                }
                portStart = after &+ 1
            }
        } else {
            var c = a
            while c < e && uri[c] != UInt8(ascii: ":") { c &+= 1 }
            host = UnsafeRawBufferPointer(rebasing: uri[a..<c])
            if c < e { portStart = c &+ 1 }
            guard !host.isEmpty else { throw .invalidPointOfAccess(.missingHost) }
            try validateRegName(host)
        }
        // TS-0010 6.6: without a port the IANA MQTT ports (1883 / 8883) are assumed.
        var port = scheme.defaultPort
        if let p = portStart {
            port = try parsePort(UnsafeRawBufferPointer(rebasing: uri[p..<e]))
        }
        var path = UnsafeRawBufferPointer(rebasing: uri[e..<n])
        if scheme.isWebSocket {
            for b in path where b <= 0x20 || b == 0x7F || b == UInt8(ascii: "#") {
                throw .invalidPointOfAccess(.invalidPath)
            }
        } else {
            guard path.isEmpty || (path.count == 1 && path[0] == UInt8(ascii: "/")) else {
                throw .invalidPointOfAccess(.invalidPath)
            }
            path = UnsafeRawBufferPointer(rebasing: uri[n..<n])
        }
        return PointOfAccess(scheme: scheme, host: host, port: port, hasExplicitPort: portStart != nil,
                             isIPv6Literal: ipv6, path: path)
    }

    /// Writes `scheme://host[:port][path]`; returns its length. A host containing `:` is
    /// written in brackets; `port == nil` omits the port. `path` is only allowed for `ws`/`wss`
    /// and must start with `/` or `?`. Validates like `parse`.
    public static func write(scheme: PointOfAccessScheme, host: ByteString, port: UInt16?,
                             path: ByteString = .empty, into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        guard !host.isEmpty else { throw .invalidPointOfAccess(.missingHost) }
        if port == 0 { throw .invalidPointOfAccess(.invalidPort) }
        var sink = ByteSink(buffer)
        try sink.append(scheme.name)
        try sink.append("://")
        var ipv6 = false
        for b in host where b == UInt8(ascii: ":") { ipv6 = true; break }
        if ipv6 { try sink.append(UInt8(ascii: "[")) }
        let hostStart = sink.count
        for b in host { try sink.append(b) }
        let written = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[hostStart..<sink.count])
        if ipv6 { try validateIPv6Literal(written) } else { try validateRegName(written) }
        if ipv6 { try sink.append(UInt8(ascii: "]")) }
        if let p = port {
            try sink.append(UInt8(ascii: ":"))
            guard let d = writeDecimal(UInt64(p), buffer, sink.count) else { throw .bufferTooSmall }
            sink.count += d
        }
        if !path.isEmpty {
            guard scheme.isWebSocket else { throw .invalidPointOfAccess(.invalidPath) }
            var first = true
            for b in path {
                if first && b != UInt8(ascii: "/") && b != UInt8(ascii: "?") { throw .invalidPointOfAccess(.invalidPath) }
                first = false
                if b <= 0x20 || b == 0x7F || b == UInt8(ascii: "#") { throw .invalidPointOfAccess(.invalidPath) }
                try sink.append(b)
            }
        }
        return sink.count
    }

    /// Writes this pointOfAccess back as a URI, always with an explicit port.
    public func write(into buffer: UnsafeMutableRawBufferPointer) throws(OneM2MError) -> Int {
        try PointOfAccess.write(scheme: scheme, host: ByteString(host), port: port, path: ByteString(path), into: buffer)
    }
}

func asciiCaseInsensitiveEqual(_ a: UnsafeRawBufferPointer, _ lower: UnsafeRawBufferPointer) -> Bool {
    guard a.count == lower.count else { return false }
    var i = 0
    while i < a.count {
        var c = a[i]
        if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { c &+= 32 }  // c <= 90: no overflow
        if c != lower[i] { return false }
        i &+= 1  // i < a.count
    }
    return true
}

/// Port: 1...5 decimal digits, value 1...65535.
func parsePort(_ p: UnsafeRawBufferPointer) throws(OneM2MError) -> UInt16 {
    guard !p.isEmpty, p.count <= 5 else { throw .invalidPointOfAccess(.invalidPort) }
    var v = 0
    for b in p {
        guard isDigit(b) else { throw .invalidPointOfAccess(.invalidPort) }
        v = v &* 10 &+ Int(b &- UInt8(ascii: "0"))  // at most 5 digits: v < 100,000
    }
    guard v >= 1 && v <= 65535 else { throw .invalidPointOfAccess(.invalidPort) }
    return UInt16(v)
}

/// RFC 3986 reg-name / IPv4: unreserved, pct-encoded and sub-delims, ASCII only.
func validateRegName(_ host: UnsafeRawBufferPointer) throws(OneM2MError) {
    for b in host {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: "!"),
             UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","),
             UInt8(ascii: ";"), UInt8(ascii: "="):
            continue
        case UInt8(ascii: "["), UInt8(ascii: "]"):
            throw .invalidPointOfAccess(.unbalancedBracket)
        default:
            throw .invalidPointOfAccess(.invalidHostCharacter)
        }
    }
}

/// IPv6 literal (inside the brackets): hex digits, `:` and `.`, with at least one `:`, plus an
/// optional zone `%25<zone>` (RFC 6874) of unreserved characters.
func validateIPv6Literal(_ host: UnsafeRawBufferPointer) throws(OneM2MError) {
    var colons = 0
    var inZone = false
    for b in host {
        if inZone {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"):
                continue
            default:
                throw .invalidPointOfAccess(.invalidHostCharacter)
            }
        }
        if b == UInt8(ascii: ":") { colons += 1; continue }
        if b == UInt8(ascii: ".") || hexValue(b) != nil { continue }
        if b == UInt8(ascii: "%") { inZone = true; continue }
        if b == UInt8(ascii: "[") || b == UInt8(ascii: "]") { throw .invalidPointOfAccess(.unbalancedBracket) }
        throw .invalidPointOfAccess(.invalidHostCharacter)
    }
    guard colons >= 2 else { throw .invalidPointOfAccess(.invalidHostCharacter) }
}
