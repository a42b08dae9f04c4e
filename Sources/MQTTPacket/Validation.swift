/// Checks that `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF) without U+0000, as MQTT 1.5.3 requires of every string.
@inlinable
public func validateMQTTString(_ bytes: UnsafeRawBufferPointer) throws(PacketError) {
    // Plain loads from the base address (nil only when there are no bytes): the buffer
    // pointer's subscript tested it for nil at every byte. `i` stays below `n` (a sequence is
    // taken only when all of it lies before `n`), so the index sums cannot overflow: they wrap
    // (`&+`), with no overflow check each.
    guard let p = bytes.baseAddress else { return }
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = p.load(fromByteOffset: i, as: UInt8.self)
        if b0 < 0x80 {
            if b0 == 0 { throw .nullCharacter }
            i &+= 1
            continue
        }
        // Lead bytes C2...F4 (C0, C1 and F5 up only start overlong or out-of-range forms),
        // then continuation bytes 80...BF; the second byte's range is narrower after E0
        // (overlong), ED (UTF-16 surrogates), F0 (overlong) and F4 (above U+10FFFF). Every
        // failure is the same error, so the checks' order does not matter.
        if b0 < 0xC2 || b0 > 0xF4 { throw .invalidUTF8 }
        let need = b0 < 0xE0 ? 1 : b0 < 0xF0 ? 2 : 3
        if need >= n &- i { throw .invalidUTF8 }  // sequence cut off by the end
        var k = 1
        while k <= need {
            if p.load(fromByteOffset: i &+ k, as: UInt8.self) & 0xC0 != 0x80 { throw .invalidUTF8 }
            k &+= 1
        }
        let b1 = p.load(fromByteOffset: i &+ 1, as: UInt8.self)
        if b0 == 0xE0 && b1 < 0xA0 || b0 == 0xED && b1 > 0x9F || b0 == 0xF0 && b1 < 0x90 || b0 == 0xF4 && b1 > 0x8F {
            throw .invalidUTF8
        }
        i &+= need &+ 1
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
