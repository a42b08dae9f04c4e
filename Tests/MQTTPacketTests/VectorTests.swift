import MQTTPacket
import Testing

/// Byte-exact vectors written out by hand from the MQTT 3.1.1 specification (OASIS, 2014),
/// checked both ways: our encoder must produce them and our decoder must read them back.
@Suite("MQTT 3.1.1 test vectors")
struct VectorTests {
    // MARK: CONNECT (3.1)

    @Test func connectCleanSessionKeepAlive60() throws {
        // 10 | RL 15 | "MQTT" | level 4 | flags 0000_0010 | keep-alive 60 | "abc"
        let wire = hex("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63")
        let c = Decoded.Connect(clientID: utf8("abc"), cleanSession: true, keepAlive: 60)
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectPersistentSession() throws {
        // Clean Session 0, keep-alive 300 = 0x012C, client id "A::ae1" (TS-0010 6.3 style)
        let wire = hex("10 12 00 04 4D 51 54 54 04 00 01 2C 00 06 41 3A 3A 61 65 31")
        let c = Decoded.Connect(clientID: utf8("A::ae1"), cleanSession: false, keepAlive: 300)
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectEmptyClientIDAndZeroKeepAlive() throws {
        let wire = hex("10 0C 00 04 4D 51 54 54 04 02 00 00 00 00")
        let c = Decoded.Connect(clientID: [], cleanSession: true, keepAlive: 0)
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectUserNameAndPassword() throws {
        // flags 1100_0000: user name + password; payload order: client id, user, password
        let wire = hex("10 14 00 04 4D 51 54 54 04 C0 00 0A 00 01 63 00 01 75 00 02 70 77")
        let c = Decoded.Connect(clientID: utf8("c"), cleanSession: false, keepAlive: 10, userName: utf8("u"), password: utf8("pw"))
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectUserNameOnly() throws {
        let wire = hex("10 10 00 04 4D 51 54 54 04 82 00 0A 00 01 63 00 01 75")
        let c = Decoded.Connect(clientID: utf8("c"), cleanSession: true, keepAlive: 10, userName: utf8("u"))
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectWill() throws {
        // flags 0010_1110: will retain, will QoS 1, will flag, clean session
        let wire = hex("10 17 00 04 4D 51 54 54 04 2E 00 05 00 01 63 00 03 77 2F 74 00 03 62 79 65")
        let c = Decoded.Connect(
            clientID: utf8("c"), cleanSession: true, keepAlive: 5, willTopic: utf8("w/t"), willMessage: utf8("bye"),
            willQoS: .atLeastOnce, willRetain: true)
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectWillQoS2WithCredentials() throws {
        // flags 1101_0100: user, password, will QoS 2, will flag; will before user/password
        let wire = hex("10 1B 00 04 4D 51 54 54 04 D4 00 05 00 01 63 00 01 74 00 02 6D 31 00 01 75 00 02 70 77")
        let c = Decoded.Connect(
            clientID: utf8("c"), cleanSession: false, keepAlive: 5, willTopic: utf8("t"), willMessage: utf8("m1"),
            willQoS: .exactlyOnce, willRetain: false, userName: utf8("u"), password: utf8("pw"))
        #expect(try encodeConnect(c) == wire)
        #expect(try decodeOne(wire) == .connect(c))
    }

    @Test func connectRejectsBadFields() {
        let base = "10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63"
        #expect(thrownError { try decodeFirst(hex(base.replacingFirst("04 02 00 3C", "04 03 00 3C"))) } == .reservedBitsSet)  // reserved flag bit 0
        #expect(thrownError { try decodeFirst(hex(base.replacingFirst("54 04 02", "54 03 02"))) } == .unsupportedProtocol)  // level 3
        #expect(thrownError { try decodeFirst(hex(base.replacingFirst("4D 51 54 54", "4D 51 54 58"))) } == .unsupportedProtocol)  // "MQTX"
        #expect(thrownError { try decodeFirst(hex(base.replacingFirst("04 02 00 3C", "04 42 00 3C"))) } == .reservedBitsSet)  // password w/o user
        #expect(thrownError { try decodeFirst(hex(base.replacingFirst("04 02 00 3C", "04 0A 00 3C"))) } == .reservedBitsSet)  // will QoS w/o will
        #expect(thrownError { try decodeFirst(hex(base.replacingFirst("04 02 00 3C", "04 22 00 3C"))) } == .reservedBitsSet)  // will retain w/o will
        #expect(thrownError { try decodeFirst(hex("10 17 00 04 4D 51 54 54 04 1E 00 05 00 01 63 00 03 77 2F 74 00 03 62 79 65")) } == .invalidQoS)  // will QoS 3
        #expect(thrownError { try decodeFirst(hex("10 17 00 04 4D 51 54 54 04 0E 00 05 00 01 63 00 03 77 2F 2B 00 03 62 79 65")) } == .wildcardInTopicName)
        // MQIsdp / level 3 (MQTT 3.1)
        #expect(thrownError { try decodeFirst(hex("10 11 00 06 4D 51 49 73 64 70 03 02 00 3C 00 03 61 62 63")) } == .unsupportedProtocol)
        // client id with U+0000
        #expect(thrownError { try decodeFirst(hex("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 00 63")) } == .nullCharacter)
        // trailing byte inside the remaining length
        #expect(thrownError { try decodeFirst(hex("10 10 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63 FF")) } == .lengthMismatch)
        // client id length runs past the body
        #expect(thrownError { try decodeFirst(hex("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 04 61 62 63")) } == .truncated)
        // user flag set but no user name
        #expect(thrownError { try decodeFirst(hex("10 0F 00 04 4D 51 54 54 04 82 00 3C 00 03 61 62 63")) } == .truncated)
    }

    @Test func connectEncoderRejectsBadStrings() {
        #expect(thrownError { try encodeConnect(.init(clientID: [0x61, 0xC0, 0xAF], cleanSession: true, keepAlive: 0)) } == .invalidUTF8)
        #expect(thrownError { try encodeConnect(.init(clientID: utf8("c"), cleanSession: true, keepAlive: 0, willTopic: utf8("a/#"), willMessage: [])) } == .wildcardInTopicName)
        #expect(thrownError { try encodeConnect(.init(clientID: utf8("c"), cleanSession: true, keepAlive: 0), capacity: 13) } == .bufferTooSmall(needed: 15))
    }

    // MARK: CONNACK (3.2)

    @Test(arguments: [
        (UInt8(0), ConnectReturnCode.accepted), (1, .unacceptableProtocolVersion), (2, .identifierRejected),
        (3, .serverUnavailable), (4, .badUserNameOrPassword), (5, .notAuthorized),
    ])
    func connackReturnCodes(code: UInt8, expected: ConnectReturnCode) throws {
        let wire: [UInt8] = [0x20, 0x02, 0x00, code]
        #expect(try decodeOne(wire) == .connack(sessionPresent: false, returnCode: expected))
        #expect(try encode { (b) throws(PacketError) in try PacketEncoder.connack(sessionPresent: false, returnCode: code, into: b) } == wire)
    }

    @Test func connackSessionPresent() throws {
        #expect(try decodeOne(hex("20 02 01 00")) == .connack(sessionPresent: true, returnCode: .accepted))
        #expect(try encode { (b) throws(PacketError) in try PacketEncoder.connack(sessionPresent: true, returnCode: 0, into: b) } == hex("20 02 01 00"))
    }

    @Test func connackRejects() {
        #expect(thrownError { try decodeFirst(hex("20 02 00 06")) } == .invalidReturnCode(6))
        #expect(thrownError { try decodeFirst(hex("20 02 02 00")) } == .reservedBitsSet)  // ack flags bit 1
        #expect(thrownError { try decodeFirst(hex("20 02 80 00")) } == .reservedBitsSet)
        #expect(thrownError { try decodeFirst(hex("20 02 01 05")) } == .reservedBitsSet)  // MQTT 3.2.2-4: refused => SP 0
        #expect(thrownError { try decodeFirst(hex("20 03 00 00 00")) } == .lengthMismatch)
        #expect(thrownError { try decodeFirst(hex("20 01 00")) } == .lengthMismatch)
        #expect(thrownError { try decodeFirst(hex("21 02 00 00")) } == .invalidFlags(type: 2, flags: 1))
    }

    // MARK: PUBLISH (3.3)

    @Test func publishQoS0() throws {
        let wire = hex("30 07 00 03 61 2F 62 68 69")
        let p = Decoded.Publish(topic: utf8("a/b"), payload: utf8("hi"), qos: .atMostOnce)
        #expect(try encodePublish(utf8("a/b"), utf8("hi"), qos: .atMostOnce) == wire)
        #expect(try decodeOne(wire) == .publish(p))
    }

    @Test func publishQoS1RetainDup() throws {
        let retained = hex("33 09 00 03 61 2F 62 00 0A 68 69")
        #expect(try encodePublish(utf8("a/b"), utf8("hi"), qos: .atLeastOnce, retain: true, id: 10) == retained)
        #expect(try decodeOne(retained) == .publish(.init(topic: utf8("a/b"), payload: utf8("hi"), qos: .atLeastOnce, retain: true, packetID: 10)))

        let dup = hex("3A 09 00 03 61 2F 62 FF FE 68 69")
        #expect(try encodePublish(utf8("a/b"), utf8("hi"), qos: .atLeastOnce, dup: true, id: 0xFFFE) == dup)
        #expect(try decodeOne(dup) == .publish(.init(topic: utf8("a/b"), payload: utf8("hi"), qos: .atLeastOnce, dup: true, packetID: 0xFFFE)))

        let both = hex("3B 09 00 03 61 2F 62 00 01 68 69")
        #expect(try encodePublish(utf8("a/b"), utf8("hi"), qos: .atLeastOnce, retain: true, dup: true, id: 1) == both)
        #expect(try decodeOne(both) == .publish(.init(topic: utf8("a/b"), payload: utf8("hi"), qos: .atLeastOnce, dup: true, retain: true, packetID: 1)))

        let retain0 = hex("31 03 00 01 74")
        #expect(try encodePublish(utf8("t"), [], qos: .atMostOnce, retain: true) == retain0)
        #expect(try decodeOne(retain0) == .publish(.init(topic: utf8("t"), payload: [], qos: .atMostOnce, retain: true)))
    }

    @Test func publishQoS2() throws {
        let wire = hex("34 07 00 01 74 12 34 4F 4B")
        #expect(try encodePublish(utf8("t"), utf8("OK"), qos: .exactlyOnce, id: 0x1234) == wire)
        #expect(try decodeOne(wire) == .publish(.init(topic: utf8("t"), payload: utf8("OK"), qos: .exactlyOnce, packetID: 0x1234)))
    }

    @Test func publishEmptyPayload() throws {
        #expect(try encodePublish(utf8("t"), [], qos: .atMostOnce) == hex("30 03 00 01 74"))
        #expect(try decodeOne(hex("30 03 00 01 74")) == .publish(.init(topic: utf8("t"), payload: [], qos: .atMostOnce)))
        #expect(try encodePublish(utf8("t"), [], qos: .atLeastOnce, id: 1) == hex("32 05 00 01 74 00 01"))
        #expect(try decodeOne(hex("32 05 00 01 74 00 01")) == .publish(.init(topic: utf8("t"), payload: [], qos: .atLeastOnce, packetID: 1)))
    }

    @Test func publishMultiByteUTF8Topic() throws {
        // "é/€/😀" = C3 A9 / E2 82 AC / F0 9F 98 80
        let topic = hex("C3 A9 2F E2 82 AC 2F F0 9F 98 80")
        #expect(topic == utf8("é/€/😀"))
        let wire = hex("30 0D 00 0B C3 A9 2F E2 82 AC 2F F0 9F 98 80")
        #expect(try encodePublish(topic, [], qos: .atMostOnce) == wire)
        #expect(try decodeOne(wire) == .publish(.init(topic: topic, payload: [], qos: .atMostOnce)))
    }

    /// Remaining Length boundaries (MQTT 2.2.3 table 2.4): 127 | 128 | 16383 | 16384.
    @Test(arguments: [
        (127, "7F"), (128, "80 01"), (16_383, "FF 7F"), (16_384, "80 80 01"),
    ])
    func publishRemainingLengthBoundaries(remaining: Int, lengthHex: String) throws {
        // QoS 0, topic "t": remaining = 2 + 1 + payload
        let payload0 = (0..<(remaining - 3)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let wire0 = hex("30 " + lengthHex + " 00 01 74") + payload0
        #expect(wire0.count == 1 + hex(lengthHex).count + remaining)
        #expect(try encodePublish(utf8("t"), payload0, qos: .atMostOnce) == wire0)
        #expect(try decodeOne(wire0) == .publish(.init(topic: utf8("t"), payload: payload0, qos: .atMostOnce)))
        #expect(PacketEncoder.publishSize(topicLength: 1, payloadLength: payload0.count, qos: .atMostOnce) == wire0.count)

        // QoS 1, topic "t", id 0x0102: remaining = 2 + 1 + 2 + payload
        let payload1 = Array(payload0.dropLast(2))
        let wire1 = hex("32 " + lengthHex + " 00 01 74 01 02") + payload1
        #expect(try encodePublish(utf8("t"), payload1, qos: .atLeastOnce, id: 0x0102) == wire1)
        #expect(try decodeOne(wire1) == .publish(.init(topic: utf8("t"), payload: payload1, qos: .atLeastOnce, packetID: 0x0102)))

        // One byte short of a whole packet is incomplete, not an error.
        #expect(try decodeFirst(Array(wire1.dropLast())) == nil)
        // The encoder reports the exact size it needs.
        #expect(thrownError { try encodePublish(utf8("t"), payload1, qos: .atLeastOnce, id: 0x0102, capacity: wire1.count - 1) } == .bufferTooSmall(needed: wire1.count))
        #expect(try encodePublish(utf8("t"), payload1, qos: .atLeastOnce, id: 0x0102, capacity: wire1.count) == wire1)
    }

    @Test func remainingLengthFieldBoundaries() throws {
        func header(_ b: [UInt8]) throws(PacketError) -> FixedHeader? {
            let r: Result<FixedHeader?, PacketError> = b.withUnsafeBytes { p in
                do throws(PacketError) { return .success(try PacketDecoder.fixedHeader(p)) } catch { return .failure(error) }
            }
            return try r.get()
        }
        func fields(_ h: FixedHeader?) -> [Int]? { h.map { [Int($0.typeCode), Int($0.flags), $0.remainingLength, $0.headerLength, $0.packetLength] } }
        #expect(fields(try header(hex("30 00"))) == [3, 0, 0, 2, 2])
        #expect(fields(try header(hex("62 02"))) == [6, 2, 2, 2, 4])
        #expect(try header(hex("62 02"))?.type == .pubrel)
        #expect(try header(hex("30 FF FF 7F"))?.remainingLength == 2_097_151)
        #expect(fields(try header(hex("30 80 80 80 01"))) == [3, 0, 2_097_152, 5, 2_097_157])
        #expect(fields(try header(hex("3B FF FF FF 7F"))) == [3, 0xB, 268_435_455, 5, 268_435_460])
        #expect(try header(hex("30 FF FF FF")) == nil)  // incomplete, not yet malformed
        #expect(try header([]) == nil)
        #expect(try header(hex("30")) == nil)
        // A fifth length byte is malformed as soon as the fourth has its continuation bit.
        #expect(thrownError { try header(hex("30 FF FF FF FF")) } == .malformedRemainingLength)
        #expect(thrownError { try header(hex("30 80 80 80 80 01")) } == .malformedRemainingLength)
        #expect(thrownError { try decodeFirst(hex("30 FF FF FF FF 7F")) } == .malformedRemainingLength)
        #expect(remainingLengthSize(0) == 1)
        #expect(remainingLengthSize(127) == 1)
        #expect(remainingLengthSize(128) == 2)
        #expect(remainingLengthSize(16_383) == 2)
        #expect(remainingLengthSize(16_384) == 3)
        #expect(remainingLengthSize(2_097_151) == 3)
        #expect(remainingLengthSize(2_097_152) == 4)
        #expect(remainingLengthSize(268_435_455) == 4)
    }

    @Test func publishRejects() {
        #expect(thrownError { try decodeFirst(hex("32 05 00 01 74 00 00")) } == .zeroPacketIdentifier)
        #expect(thrownError { try decodeFirst(hex("34 05 00 01 74 00 00")) } == .zeroPacketIdentifier)
        #expect(thrownError { try decodeFirst(hex("36 05 00 01 74 00 01")) } == .invalidQoS)  // QoS 3
        #expect(thrownError { try decodeFirst(hex("3F 05 00 01 74 00 01")) } == .invalidQoS)
        #expect(thrownError { try decodeFirst(hex("36")) } == .invalidQoS)  // known from the first byte
        #expect(thrownError { try decodeFirst(hex("38 03 00 01 74")) } == .invalidQoS)  // DUP with QoS 0
        #expect(thrownError { try decodeFirst(hex("30 02 00 00")) } == .emptyTopic)
        #expect(thrownError { try decodeFirst(hex("30 03 00 05 61")) } == .truncated)  // topic past the end
        #expect(thrownError { try decodeFirst(hex("30 01 00")) } == .truncated)
        #expect(thrownError { try decodeFirst(hex("30 00")) } == .truncated)
        #expect(thrownError { try decodeFirst(hex("32 03 00 01 74")) } == .truncated)  // no packet id
        #expect(thrownError { try decodeFirst(hex("32 04 00 01 74 00")) } == .truncated)
        #expect(thrownError { try decodeFirst(hex("30 05 00 03 61 2F 2B")) } == .wildcardInTopicName)
        #expect(thrownError { try decodeFirst(hex("30 03 00 01 23")) } == .wildcardInTopicName)
        #expect(thrownError { try decodeFirst(hex("30 05 00 03 61 00 62")) } == .nullCharacter)
    }

    @Test func publishEncoderRejects() {
        #expect(thrownError { try encodePublish(utf8("t"), [], qos: .atLeastOnce, id: 0) } == .zeroPacketIdentifier)
        #expect(thrownError { try encodePublish(utf8("t"), [], qos: .atMostOnce, dup: true) } == .invalidQoS)
        #expect(thrownError { try encodePublish(utf8("a/+"), [], qos: .atMostOnce) } == .wildcardInTopicName)
        #expect(thrownError { try encodePublish([], [], qos: .atMostOnce) } == .emptyTopic)
        #expect(thrownError { try encodePublish(hex("61 ED A0 80"), [], qos: .atMostOnce) } == .invalidUTF8)
        #expect(thrownError { try encodePublish(utf8("t"), [1, 2], qos: .atMostOnce, capacity: 6) } == .bufferTooSmall(needed: 7))
    }

    // MARK: PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK (3.4-3.7, 3.11)

    @Test func identifierOnlyPackets() throws {
        let cases: [(PacketType, String, Decoded)] = [
            (.puback, "40 02 00 0A", .puback(10)),
            (.pubrec, "50 02 12 34", .pubrec(0x1234)),
            (.pubrel, "62 02 FF FF", .pubrel(0xFFFF)),  // MQTT 3.6.1: flags 0010
            (.pubcomp, "70 02 00 01", .pubcomp(1)),
            (.unsuback, "B0 02 00 07", .unsuback(7)),
        ]
        for (type, h, decoded) in cases {
            let wire = hex(h)
            let id: UInt16 = UInt16(wire[2]) << 8 | UInt16(wire[3])
            #expect(try encode { (b) throws(PacketError) in try PacketEncoder.ack(type, packetID: id, into: b) } == wire)
            #expect(try decodeOne(wire) == decoded)
            #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.ack(type, packetID: 0, into: b) } } == .zeroPacketIdentifier)
            #expect(thrownError { try encode(capacity: 3) { (b) throws(PacketError) in try PacketEncoder.ack(type, packetID: 1, into: b) } } == .bufferTooSmall(needed: 4))
        }
        #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.ack(.publish, packetID: 1, into: b) } } != nil)
    }

    @Test func identifierOnlyPacketsRejects() {
        #expect(thrownError { try decodeFirst(hex("60 02 00 01")) } == .invalidFlags(type: 6, flags: 0))  // PUBREL needs 0010
        #expect(thrownError { try decodeFirst(hex("63 02 00 01")) } == .invalidFlags(type: 6, flags: 3))
        #expect(thrownError { try decodeFirst(hex("42 02 00 01")) } == .invalidFlags(type: 4, flags: 2))
        #expect(thrownError { try decodeFirst(hex("41 02 00 01")) } == .invalidFlags(type: 4, flags: 1))
        #expect(thrownError { try decodeFirst(hex("52 02 00 01")) } == .invalidFlags(type: 5, flags: 2))
        #expect(thrownError { try decodeFirst(hex("72 02 00 01")) } == .invalidFlags(type: 7, flags: 2))
        #expect(thrownError { try decodeFirst(hex("B2 02 00 01")) } == .invalidFlags(type: 11, flags: 2))
        for first: UInt8 in [0x40, 0x50, 0x62, 0x70, 0xB0] {
            #expect(thrownError { try decodeFirst([first, 2, 0, 0]) } == .zeroPacketIdentifier)
            #expect(thrownError { try decodeFirst([first, 3, 0, 1, 0]) } == .lengthMismatch)  // trailing byte
            #expect(thrownError { try decodeFirst([first, 1, 1]) } == .lengthMismatch)
            #expect(thrownError { try decodeFirst([first, 0]) } == .lengthMismatch)
        }
    }

    // MARK: SUBSCRIBE / SUBACK (3.8, 3.9)

    @Test func subscribeSeveralFilters() throws {
        // id 0x1234; "a/+/c" QoS 1, "#" QoS 0, "s/x/#" QoS 2
        let wire = hex("82 16 12 34 00 05 61 2F 2B 2F 63 01 00 01 23 00 00 05 73 2F 78 2F 23 02")
        let subs = [TopicSubscription("a/+/c", qos: .atLeastOnce), TopicSubscription("#", qos: .atMostOnce), TopicSubscription("s/x/#", qos: .exactlyOnce)]
        #expect(try encode { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: 0x1234, filters: subs, into: b) } == wire)
        #expect(try decodeOne(wire) == .subscribe(0x1234, [.init(filter: utf8("a/+/c"), qos: .atLeastOnce), .init(filter: utf8("#"), qos: .atMostOnce), .init(filter: utf8("s/x/#"), qos: .exactlyOnce)]))
    }

    @Test func subscribeOneFilter() throws {
        // TS-0010 request filter "/oneM2M/req/+/ae1/#" at QoS 1
        let f = "/oneM2M/req/+/ae1/#"
        let wire = hex("82 18 00 01 00 13") + utf8(f) + [0x01]
        #expect(try encode { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: 1, filters: [TopicSubscription(f)], into: b) } == wire)
        #expect(try decodeOne(wire) == .subscribe(1, [.init(filter: utf8(f), qos: .atLeastOnce)]))
    }

    @Test func subscribeRejects() {
        #expect(thrownError { try decodeFirst(hex("80 06 00 01 00 01 23 00")) } == .invalidFlags(type: 8, flags: 0))
        #expect(thrownError { try decodeFirst(hex("83 06 00 01 00 01 23 00")) } == .invalidFlags(type: 8, flags: 3))
        #expect(thrownError { try decodeFirst(hex("82 06 00 00 00 01 23 00")) } == .zeroPacketIdentifier)
        #expect(thrownError { try decodeFirst(hex("82 06 00 01 00 01 23 03")) } == .invalidQoS)  // requested QoS 3
        #expect(thrownError { try decodeFirst(hex("82 06 00 01 00 01 23 81")) } == .invalidQoS)  // reserved bits
        #expect(thrownError { try decodeFirst(hex("82 02 00 01")) } == .emptyPayload)
        #expect(thrownError { try decodeFirst(hex("82 01 00")) } == .truncated)
        #expect(thrownError { try decodeFirst(hex("82 06 00 01 00 02 61 62")) } == .truncated)  // no QoS byte
        #expect(thrownError { try decodeFirst(hex("82 09 00 01 00 04 61 2F 62 23 00")) } == .invalidTopicFilter)  // a/b#
        #expect(thrownError { try decodeFirst(hex("82 05 00 01 00 00 00")) } == .emptyTopic)
        #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: 1, filters: [], into: b) } } == .emptyPayload)
        #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: 0, filters: [TopicSubscription("#")], into: b) } } == .zeroPacketIdentifier)
        #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: 1, filters: [TopicSubscription("a+/b")], into: b) } } == .invalidTopicFilter)
        #expect(thrownError { try encode(capacity: 7) { (b) throws(PacketError) in try PacketEncoder.subscribe(packetID: 1, filters: [TopicSubscription("#")], into: b) } } == .bufferTooSmall(needed: 8))
    }

    @Test func suback() throws {
        let wire = hex("90 06 12 34 00 01 02 80")
        #expect(try decodeOne(wire) == .suback(0x1234, [0, 1, 2, 0x80]))
        let codes: [UInt8] = [0, 1, 2, 0x80]
        #expect(try withBytes(codes) { (c) throws(PacketError) in try encode { (b) throws(PacketError) in try PacketEncoder.suback(packetID: 0x1234, codes: c!, into: b) } } == wire)
        #expect(try decodeOne(hex("90 03 00 01 80")) == .suback(1, [0x80]))
    }

    @Test func subackRejects() {
        #expect(thrownError { try decodeFirst(hex("90 03 00 01 03")) } == .invalidSubackCode(3))
        #expect(thrownError { try decodeFirst(hex("90 04 00 01 00 81")) } == .invalidSubackCode(0x81))
        #expect(thrownError { try decodeFirst(hex("90 02 00 01")) } == .emptyPayload)
        #expect(thrownError { try decodeFirst(hex("90 03 00 00 00")) } == .zeroPacketIdentifier)
        #expect(thrownError { try decodeFirst(hex("92 03 00 01 00")) } == .invalidFlags(type: 9, flags: 2))
        #expect(thrownError { try decodeFirst(hex("90 01 00")) } == .truncated)
    }

    // MARK: UNSUBSCRIBE (3.10)

    @Test func unsubscribe() throws {
        let wire = hex("A2 0C 00 07 00 03 61 2F 2B 00 03 62 2F 23")
        #expect(try encode { (b) throws(PacketError) in try PacketEncoder.unsubscribe(packetID: 7, filters: [TopicSubscription("a/+"), TopicSubscription("b/#")], into: b) } == wire)
        #expect(try decodeOne(wire) == .unsubscribe(7, [utf8("a/+"), utf8("b/#")]))
    }

    @Test func unsubscribeRejects() {
        #expect(thrownError { try decodeFirst(hex("A0 05 00 07 00 01 23")) } == .invalidFlags(type: 10, flags: 0))
        #expect(thrownError { try decodeFirst(hex("A2 02 00 07")) } == .emptyPayload)
        #expect(thrownError { try decodeFirst(hex("A2 05 00 00 00 01 23")) } == .zeroPacketIdentifier)
        #expect(thrownError { try decodeFirst(hex("A2 06 00 07 00 02 23 2F")) } == .invalidTopicFilter)  // "#/"
        #expect(thrownError { try decodeFirst(hex("A2 05 00 07 00 03 23")) } == .truncated)
        #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.unsubscribe(packetID: 7, filters: [], into: b) } } == .emptyPayload)
    }

    // MARK: PINGREQ, PINGRESP, DISCONNECT (3.12-3.14)

    @Test func emptyPackets() throws {
        for (type, first, decoded) in [(PacketType.pingreq, UInt8(0xC0), Decoded.pingreq), (.pingresp, 0xD0, .pingresp), (.disconnect, 0xE0, .disconnect)] {
            #expect(try encode { (b) throws(PacketError) in try PacketEncoder.empty(type, into: b) } == [first, 0])
            #expect(try decodeOne([first, 0]) == decoded)
            #expect(thrownError { try decodeFirst([first, 1, 0]) } == .lengthMismatch)
            #expect(thrownError { try decodeFirst([first | 1, 0]) } == .invalidFlags(type: first >> 4, flags: 1))
            #expect(thrownError { try decodeFirst([first | 8, 0]) } == .invalidFlags(type: first >> 4, flags: 8))
            #expect(thrownError { try encode(capacity: 1) { (b) throws(PacketError) in try PacketEncoder.empty(type, into: b) } } == .bufferTooSmall(needed: 2))
        }
        #expect(thrownError { try encode { (b) throws(PacketError) in try PacketEncoder.empty(.connect, into: b) } } != nil)
    }

    // MARK: Fixed header

    @Test func reservedPacketTypes() {
        #expect(thrownError { try decodeFirst(hex("00 00")) } == .reservedPacketType(0))
        #expect(thrownError { try decodeFirst(hex("0F 00")) } == .reservedPacketType(0))
        #expect(thrownError { try decodeFirst(hex("F0 00")) } == .reservedPacketType(15))
        #expect(thrownError { try decodeFirst(hex("F0")) } == .reservedPacketType(15))
    }

    /// MQTT 2.2.2 table 2.2: every type and every flag nibble.
    @Test func fixedHeaderFlagsForEveryType() {
        for type: UInt8 in 1...14 {
            for flags: UInt8 in 0...15 {
                let allowed: Bool
                switch type {
                case 3: allowed = flags & 0x06 != 0x06
                case 6, 8, 10: allowed = flags == 2
                default: allowed = flags == 0
                }
                let r: Result<FixedHeader?, PacketError> = [(type << 4) | flags, 0x7F].withUnsafeBytes { b in
                    do throws(PacketError) { return .success(try PacketDecoder.fixedHeader(b)) } catch { return .failure(error) }
                }
                switch r {
                case .success(let h):
                    #expect(allowed, "type \(type) flags \(flags) accepted")
                    #expect(h?.typeCode == type && h?.flags == flags && h?.remainingLength == 127)
                case .failure(let e):
                    #expect(!allowed, "type \(type) flags \(flags) rejected: \(e)")
                    if type == 3 { #expect(e == .invalidQoS) } else { #expect(e == .invalidFlags(type: type, flags: flags)) }
                }
            }
        }
    }

    // MARK: decodeFirst framing

    static let validPackets: [[UInt8]] = [
        hex("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63"),
        hex("10 1B 00 04 4D 51 54 54 04 D4 00 05 00 01 63 00 01 74 00 02 6D 31 00 01 75 00 02 70 77"),
        hex("20 02 01 00"), hex("20 02 00 05"),
        hex("30 07 00 03 61 2F 62 68 69"), hex("3B 09 00 03 61 2F 62 00 01 68 69"), hex("34 07 00 01 74 12 34 4F 4B"),
        hex("30 80 01 00 01 74") + [UInt8](repeating: 0x55, count: 125),
        hex("40 02 00 0A"), hex("50 02 12 34"), hex("62 02 FF FF"), hex("70 02 00 01"),
        hex("82 16 12 34 00 05 61 2F 2B 2F 63 01 00 01 23 00 00 05 73 2F 78 2F 23 02"),
        hex("90 06 12 34 00 01 02 80"),
        hex("A2 0C 00 07 00 03 61 2F 2B 00 03 62 2F 23"), hex("B0 02 00 07"),
        hex("C0 00"), hex("D0 00"), hex("E0 00"),
    ]

    @Test func everyPrefixOfAValidPacketIsIncomplete() throws {
        for packet in Self.validPackets {
            for n in 0..<packet.count {
                let prefix = Array(packet[0..<n])
                #expect(thrownError { try decodeFirst(prefix) } == nil, "prefix \(n) of \(packet.prefix(2)) threw")
                #expect(try decodeFirst(prefix) == nil, "prefix \(n) of \(packet.prefix(2)) decoded")
            }
            let whole = try decodeFirst(packet)
            #expect(whole?.length == packet.count)
        }
    }

    @Test func decodeFirstTakesOnlyTheFirstPacket() throws {
        let stream = hex("40 02 00 0A") + hex("C0 00") + hex("30 07 00 03 61 2F 62")  // last one incomplete
        let first = try decodeFirst(stream)
        #expect(first?.packet == .puback(10))
        #expect(first?.length == 4)
        let second = try decodeFirst(Array(stream[4...]))
        #expect(second?.packet == .pingreq)
        #expect(second?.length == 2)
        #expect(try decodeFirst(Array(stream[6...])) == nil)
    }

    /// `decodeFromServer` (the flat form a client session uses) on one packet of each kind.
    @Test func flatServerPacketFields() throws {
        func flat(_ h: String) throws(PacketError) -> (ServerPacket, [UInt8], [UInt8])? {
            let r: Result<(ServerPacket, [UInt8], [UInt8])?, PacketError> = hex(h).withUnsafeBytes { b in
                do throws(PacketError) {
                    guard let header = try PacketDecoder.fixedHeader(b) else { return .success(nil) }
                    let body = UnsafeRawBufferPointer(rebasing: b[header.headerLength..<header.packetLength])
                    guard let p = try PacketDecoder.decodeFromServer(header: header, body: body) else { return .success(nil) }
                    return .success((p, Array(p.message.topic), Array(p.message.payload)))
                } catch { return .failure(error) }
            }
            return try r.get()
        }
        let connack = try #require(try flat("20 02 01 00")).0
        #expect(connack.typeCode == 2 && connack.sessionPresent && connack.returnCode == .accepted && connack.packetID == 0)
        let refused = try #require(try flat("20 02 00 05")).0
        #expect(!refused.sessionPresent && refused.returnCode == .notAuthorized)
        let (publish, topic, payload) = try #require(try flat("3B 09 00 03 61 2F 62 12 34 68 69"))
        #expect(publish.typeCode == 3 && topic == utf8("a/b") && payload == utf8("hi"))
        #expect(publish.message.qos == .atLeastOnce && publish.message.dup && publish.message.retain && publish.packetID == 0x1234)
        let (suback, _, codes) = try #require(try flat("90 05 00 07 00 02 80"))
        #expect(suback.typeCode == 9 && suback.packetID == 7 && codes == [0x00, 0x02, 0x80])
        for (h, type) in [("40 02 00 0A", 4), ("50 02 00 0A", 5), ("62 02 00 0A", 6), ("70 02 00 0A", 7), ("B0 02 00 0A", 11)] {
            let p = try #require(try flat(h)).0
            #expect(p.typeCode == UInt8(type) && p.packetID == 10, "\(h)")
        }
        #expect(try #require(try flat("D0 00")).0.typeCode == 13)
        // The packets only a client sends are not decoded; malformed ones throw as in `decode`.
        #expect(try flat("10 0C 00 04 4D 51 54 54 04 02 00 3C 00 00") == nil)
        #expect(try flat("82 06 00 01 00 01 61 01") == nil)
        #expect(thrownError { try flat("40 02 00 00") } == .zeroPacketIdentifier)
        #expect(thrownError { try flat("90 03 00 07 03") } == .invalidSubackCode(3))
        #expect(thrownError { try flat("D0 01 00") } == .lengthMismatch)
    }

    @Test func decodeRejectsBodyOfWrongSize() {
        let r: PacketError? = hex("40 02 00 0A").withUnsafeBytes { b in
            do throws(PacketError) {
                guard let h = try PacketDecoder.fixedHeader(b) else { return nil }
                _ = try PacketDecoder.decode(header: h, body: UnsafeRawBufferPointer(rebasing: b[2..<3]))
                return nil
            } catch { return error }
        }
        #expect(r == .lengthMismatch)
    }
}

extension String {
    /// The hex string with the first occurrence of `target` replaced (both hex strings).
    func replacingFirst(_ target: String, _ replacement: String) -> String {
        let a = hex(self), t = hex(target), r = hex(replacement)
        for i in 0...(a.count - t.count) where Array(a[i..<(i + t.count)]) == t {
            let out = Array(a[..<i]) + r + Array(a[(i + t.count)...])
            return out.map { b in let s = String(b, radix: 16, uppercase: true); return s.count == 1 ? "0" + s : s }.joined(separator: " ")
        }
        fatalError("\(target) not in \(self)")
    }
}
