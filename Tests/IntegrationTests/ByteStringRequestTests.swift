import MQTTPacket
import OneM2M
import OneM2MClient
import Testing
import TestSupport

// Every request of OneM2MClient has a ByteString form (what an Embedded program without String
// uses) and a String form (which now goes through it): both must put the same bytes on the wire.

@Suite("OneM2MClient ByteString and String requests (scripted broker)")
struct ByteStringRequestTests {
    /// The PUBLISH packets a fresh client (same clocks and originator, so the same `rqi`s)
    /// writes for `requests` after connecting.
    func published(_ requests: (inout ScriptedOneM2MClient) throws -> Void) throws -> [[UInt8]] {
        let clock = ManualClock(startMilliseconds: 1_000)
        let peer = ScriptedPeer(clock: clock)
        var c = try scriptedClient(OneM2MConfiguration(originator: "Cbytes"), peer: peer, clock: clock)
        try c.connect()
        try requests(&c)
        return peer.frames(onConnection: 0).filter { $0.first.map { $0 >> 4 == 3 } ?? false }
    }

    @Test func everyRequestWritesTheSameBytesFromStringsAndByteStrings() throws {
        let json = Array(#"{"m2m:cnt":{"mni":3}}"#.utf8)
        let fromStrings = try published { c in
            try c.registerAE(appID: "Nsensor", name: "sensor-1", pointOfAccess: ["mqtt://127.0.0.1:1883", "mqtt://[::1]:1883"])
            try c.registerAE(appID: "Nsensor", name: "sensor-2", requestReachable: false)
            try c.createContainer(under: "cse-in/sensor-1", name: "readings", maxInstances: 5)
            try c.createContainer(under: "cse-in/sensor-1", name: "no-limit")
            try c.createContentInstance(in: "cse-in/sensor-1/readings", content: "21.5")
            try c.createSubscription(under: "cse-in/sensor-1/readings", name: "sub", notificationURIs: ["Cbytes", "Cother"], eventTypes: [1, 3])
            try c.create(under: "cse-in/sensor-1", type: .container, contentJSON: json)
            try c.retrieve("cse-in/sensor-1/readings/la", resultContent: .attributes)
            try c.update("cse-in/sensor-1/readings", contentJSON: json)
            try c.delete("cse-in/sensor-1")
        }
        let fromBytes = try published { c in
            try c.registerAE(appID: ByteString("Nsensor"), name: "sensor-1", pointOfAccess: ["mqtt://127.0.0.1:1883", "mqtt://[::1]:1883"])
            try c.registerAE(appID: ByteString("Nsensor"), name: "sensor-2", requestReachable: false)
            try c.createContainer(under: ByteString("cse-in/sensor-1"), name: "readings", maxInstances: 5)
            try c.createContainer(under: ByteString("cse-in/sensor-1"), name: "no-limit")
            try c.createContentInstance(in: ByteString("cse-in/sensor-1/readings"), content: "21.5")
            try c.createSubscription(under: ByteString("cse-in/sensor-1/readings"), name: "sub", notificationURIs: ["Cbytes", "Cother"], eventTypes: [1, 3])
            try json.withUnsafeBytes { pc in
                _ = try c.create(under: ByteString("cse-in/sensor-1"), type: .container, contentJSON: pc)
                _ = try c.retrieve(ByteString("cse-in/sensor-1/readings/la"), resultContent: .attributes)
                _ = try c.update(ByteString("cse-in/sensor-1/readings"), contentJSON: pc)
            }
            try c.delete(ByteString("cse-in/sensor-1"))
        }
        #expect(fromStrings.count == 10)
        #expect(fromStrings == fromBytes)
        // And they are the requests asked for (spot checks of the String form's payloads).
        let text = fromStrings.map { String(decoding: $0, as: UTF8.self) }
        #expect(text[0].contains(#""rn":"sensor-1","api":"Nsensor","rr":true"#))
        #expect(text[0].contains(#""poa":["mqtt://127.0.0.1:1883","mqtt://[::1]:1883"]"#))
        #expect(text[1].contains(#""rr":false"#) && !text[1].contains("poa"))
        #expect(text[2].contains(#"{"m2m:cnt":{"rn":"readings","mni":5}}"#))
        #expect(text[3].contains(#"{"m2m:cnt":{"rn":"no-limit"}}"#))
        #expect(text[5].contains(#""nu":["Cbytes","Cother"],"enc":{"net":[1,3]}"#))
        #expect(text[7].contains(#""to":"cse-in/sensor-1/readings/la""#))
        #expect(text[9].contains(#""op":4"#))
    }

    @Test func configurationFromBytesEqualsConfigurationFromStrings() {
        let s = OneM2MConfiguration(cseID: "id-x", cseName: "cse-x", originator: "Cabc")
        let b = OneM2MConfiguration(cseID: ByteString("id-x"), cseName: ByteString("cse-x"), originator: ByteString("Cabc"))
        #expect(s.cseID == b.cseID && s.cseName == b.cseName && s.originator == b.originator)
        let defaults = OneM2MConfiguration(originator: ByteString("Cabc"))
        #expect(defaults.cseID == Array("id-in".utf8) && defaults.cseName == Array("cse-in".utf8))
        #expect(defaults.mqttClientID == Array("A::Cabc".utf8))
    }
}
