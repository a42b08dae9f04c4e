import MQTTPacket

/// MQTT 3.1.1 wire format: byte-exact vectors both ways, and the strict validation rules.
func packetChecks(_ c: inout Checks) {
    c.group = "packet"

    // CONNECT (3.1): clean session, keep-alive 60, client id "abc".
    let connectWire = hex("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63")
    let connect = withLiteral("abc") { id in
        encodedBytes { (b) throws(PacketError) in
            try PacketEncoder.connect(ConnectOptions(clientID: id, cleanSession: true, keepAliveSeconds: 60), into: b)
        }
    }
    c.expect(connect == connectWire, "CONNECT clean/keep-alive 60 encodes byte-exact")
    c.expect(withDecoded(connectWire) { r in
        guard case .success(.connect(let v)) = r else { return false }
        return same(v.clientID, bytes("abc")) && v.cleanSession && v.keepAliveSeconds == 60 && v.userName == nil
    }, "CONNECT decodes back")

    // CONNECT with user name and password (flags 1100_0000).
    let credentials = withLiteral("c") { id in
        withLiteral("u") { u in
            withLiteral("pw") { p in
                encodedBytes { (b) throws(PacketError) in
                    try PacketEncoder.connect(ConnectOptions(clientID: id, cleanSession: false, keepAliveSeconds: 10, userName: u, password: p), into: b)
                }
            }
        }
    }
    c.expect(credentials == hex("10 14 00 04 4D 51 54 54 04 C0 00 0A 00 01 63 00 01 75 00 02 70 77"), "CONNECT with credentials encodes byte-exact")
    c.expect(decodeError(hex("10 0F 00 04 4D 51 54 54 03 02 00 3C 00 03 61 62 63")) == .unsupportedProtocol, "CONNECT level 3 is rejected")

    // CONNACK (3.2).
    c.expect(withDecoded(hex("20 02 01 00")) { r in
        guard case .success(.connack(let sp, let rc)) = r else { return false }
        return sp && rc == .accepted
    }, "CONNACK session present decodes")
    c.expect(decodeError(hex("20 02 00 06")) == .invalidReturnCode(6), "CONNACK return code 6 is rejected")
    c.expect(decodeError(hex("20 02 01 05")) == .reservedBitsSet, "refused CONNACK with session present is rejected")

    // PUBLISH (3.3).
    let publishWire = hex("32 09 00 03 61 2F 62 00 0A 68 69")
    let publish = withLiteral("a/b") { t in
        withLiteral("hi") { p in
            encodedBytes { (b) throws(PacketError) in try PacketEncoder.publish(topic: t, payload: p, qos: .atLeastOnce, packetID: 10, into: b) }
        }
    }
    c.expect(publish == publishWire, "PUBLISH QoS 1 encodes byte-exact")
    c.expect(withDecoded(publishWire) { r in
        guard case .success(.publish(let v)) = r else { return false }
        return same(v.topic, bytes("a/b")) && same(v.payload, bytes("hi")) && v.qos == .atLeastOnce && v.packetID == 10 && !v.dup
    }, "PUBLISH QoS 1 decodes back")
    c.expect(decodeError(hex("38 05 00 03 61 2F 62")) == .invalidQoS, "PUBLISH QoS 0 with DUP is rejected")
    c.expect(decodeError(hex("32 07 00 03 61 2F 62 00 00")) == .zeroPacketIdentifier, "PUBLISH packet id 0 is rejected")
    c.expect(decodeError(hex("30 05 00 03 61 2F 2B")) == .wildcardInTopicName, "PUBLISH to a wildcard topic is rejected")

    // Acknowledgements and two-byte packets.
    c.expect(encodedBytes { (b) throws(PacketError) in try PacketEncoder.ack(.puback, packetID: 10, into: b) } == hex("40 02 00 0A"), "PUBACK encodes")
    c.expect(encodedBytes { (b) throws(PacketError) in try PacketEncoder.ack(.pubrel, packetID: 0x1234, into: b) } == hex("62 02 12 34"), "PUBREL carries flags 0010")
    c.expect(encodedBytes { (b) throws(PacketError) in try PacketEncoder.empty(.pingreq, into: b) } == hex("C0 00"), "PINGREQ encodes")
    c.expect(encodedBytes { (b) throws(PacketError) in try PacketEncoder.empty(.disconnect, into: b) } == hex("E0 00"), "DISCONNECT encodes")

    // SUBSCRIBE / SUBACK (3.8, 3.9).
    let subscribe = encodedBytes { (b) throws(PacketError) in
        try PacketEncoder.subscribe(packetID: 1, filters: [TopicSubscription(filter: bytes("a/#"), qos: .atLeastOnce)], into: b)
    }
    c.expect(subscribe == hex("82 08 00 01 00 03 61 2F 23 01"), "SUBSCRIBE encodes byte-exact")
    c.expect(withDecoded(hex("90 04 00 01 01 80")) { r in
        guard case .success(.suback(let id, let codes)) = r else { return false }
        return id == 1 && same(codes, [0x01, 0x80])
    }, "SUBACK with a refused filter decodes")
    c.expect(decodeError(hex("90 03 00 01 03")) == .invalidSubackCode(3), "SUBACK code 3 is rejected")
    c.expect(encodeError { (b) throws(PacketError) in
        try PacketEncoder.subscribe(packetID: 2, filters: [TopicSubscription(filter: bytes("a/b#"), qos: .atLeastOnce)], into: b)
    } == .invalidTopicFilter, "SUBSCRIBE with a malformed filter is refused")

    // Remaining Length (2.2.3).
    let big = [UInt8](repeating: 0x78, count: 126)  // 2 + 1 + 126 = 129 bytes remaining
    let long = withLiteral("t") { t in
        big.withUnsafeBytes { p in
            encodedBytes { (b) throws(PacketError) in try PacketEncoder.publish(topic: t, payload: p, qos: .atMostOnce, into: b) }
        }
    }
    c.expect(long.count == 132 && long[1] == 0x81 && long[2] == 0x01, "Remaining Length 129 uses two bytes (81 01)")
    c.expect(decodeError(hex("30 FF FF FF FF 01")) == .malformedRemainingLength, "a fifth Remaining Length byte is rejected")
    c.expect(hex("30 80").withUnsafeBytes { b in (try? PacketDecoder.fixedHeader(b)) == .some(nil) }, "an incomplete fixed header asks for more bytes")
    c.expect(encodeError(capacity: 13) { (b) throws(PacketError) in
        try withLiteral("c") { (id) throws(PacketError) in try PacketEncoder.connect(ConnectOptions(clientID: id, cleanSession: true, keepAliveSeconds: 0), into: b) }
    } == .bufferTooSmall(needed: 15), "a short buffer reports the packet's full size")

    // Strings and topics (1.5.3, 4.7).
    c.expect(hex("C0 AF").withUnsafeBytes { b in (try? validateMQTTString(b)) == nil }, "overlong UTF-8 is rejected")
    c.expect(hex("61 00").withUnsafeBytes { b in (try? validateMQTTString(b)) == nil }, "U+0000 is rejected")
    c.expect(hex("C3 A9 E2 82 AC F0 9F 98 80").withUnsafeBytes { b in (try? validateMQTTString(b)) != nil }, "2-, 3- and 4-byte UTF-8 pass")
    c.expect(withLiteral("a/+/c") { f in withLiteral("a/b/c") { t in topicMatches(filter: f, topic: t) } }, "a/+/c matches a/b/c")
    c.expect(withLiteral("a/#") { f in withLiteral("a") { t in topicMatches(filter: f, topic: t) } }, "a/# matches its parent a")
    c.expect(!withLiteral("#") { f in withLiteral("$SYS/x") { t in topicMatches(filter: f, topic: t) } }, "# does not match $SYS topics")
}
