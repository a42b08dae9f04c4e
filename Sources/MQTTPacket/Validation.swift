/// Checks that `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF) without U+0000, as MQTT 1.5.3 requires of every string.
@inlinable
public func validateMQTTString(_ bytes: UnsafeRawBufferPointer) throws(PacketError) {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 {
            if b0 == 0 { throw .nullCharacter }
            i += 1
            continue
        }
        // Lead bytes C2...F4 (C0, C1 and F5 up only start overlong or out-of-range forms); the
        // second byte's range narrows after E0 (overlong), ED (UTF-16 surrogates), F0 (overlong)
        // and F4 (above U+10FFFF).
        if b0 < 0xC2 || b0 > 0xF4 { throw .invalidUTF8 }
        let need = b0 < 0xE0 ? 1 : b0 < 0xF0 ? 2 : 3
        let lower: UInt8 = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80
        let upper: UInt8 = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF
        if i + need >= n { throw .invalidUTF8 }  // sequence cut off by the end
        let b1 = bytes[i + 1]
        if b1 < lower || b1 > upper { throw .invalidUTF8 }
        var k = 2
        while k <= need {
            let b = bytes[i + k]
            if b < 0x80 || b > 0xBF { throw .invalidUTF8 }
            k += 1
        }
        i += need + 1
    }
}

/// Checks an MQTT topic name: non-empty, valid string, no wildcards (MQTT 4.7).
@inlinable
public func validateTopicName(_ bytes: UnsafeRawBufferPointer) throws(PacketError) {
    if bytes.isEmpty { throw .emptyTopic }
    for b in bytes where b == UInt8(ascii: "+") || b == UInt8(ascii: "#") {
        throw .wildcardInTopicName
    }
    try validateMQTTString(bytes)
}

/// Checks an MQTT topic filter: non-empty, valid string, `+` only as a whole level, `#` only
/// as the whole last level (MQTT 4.7.1).
@inlinable
public func validateTopicFilter(_ bytes: UnsafeRawBufferPointer) throws(PacketError) {
    if bytes.isEmpty { throw .emptyTopic }
    let n = bytes.count
    for i in 0..<n {
        let b = bytes[i]
        if b == UInt8(ascii: "+") || b == UInt8(ascii: "#") {
            // 0 <= i < n: the neighbours' indices cannot overflow (`&-`, `&+`).
            let last = i == n &- 1
            let startsLevel = i == 0 || bytes[i &- 1] == UInt8(ascii: "/")
            let endsLevel = last || bytes[i &+ 1] == UInt8(ascii: "/")
            if !startsLevel || !endsLevel { throw .invalidTopicFilter }
            if b == UInt8(ascii: "#") && !last { throw .invalidTopicFilter }
        }
    }
    try validateMQTTString(bytes)
}

/// Whether a topic name matches a topic filter (MQTT 4.7: `+` one level, `#` the rest;
/// topics starting with `$` are not matched by a leading wildcard).
public func topicMatches(filter: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer) -> Bool {
    if !topic.isEmpty, topic[0] == UInt8(ascii: "$"), !filter.isEmpty,
        filter[0] == UInt8(ascii: "+") || filter[0] == UInt8(ascii: "#")
    {
        return false
    }
    var fi = 0
    var ti = 0
    let fn = filter.count
    let tn = topic.count
    while fi < fn {
        let fb = filter[fi]
        if fb == UInt8(ascii: "#") { return true }
        if fb == UInt8(ascii: "+") {
            while ti < tn && topic[ti] != UInt8(ascii: "/") { ti += 1 }
            fi += 1
            continue
        }
        if ti >= tn {
            // "a/#" matches "a": the filter's remaining "/#" stands for the parent level.
            return fi + 1 < fn && filter[fi] == UInt8(ascii: "/") && filter[fi + 1] == UInt8(ascii: "#") && fi + 2 == fn
        }
        if fb != topic[ti] { return false }
        fi += 1
        ti += 1
    }
    return ti == tn
}
