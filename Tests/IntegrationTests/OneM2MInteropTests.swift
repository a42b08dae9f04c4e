import Foundation
import MQTTClient
import MQTTPacket
import OneM2M
import OneM2MClient
import PosixTransport
import Testing
import TestSupport

/// A broker and an ACME CSE for one test, stopped when it ends.
final class CSEEnvironment {
    let broker: Mosquitto
    let acme: ACMEServer
    init() throws {
        broker = try Mosquitto()
        acme = try ACMEServer(brokerPort: broker.port)
    }
    deinit { acme.stop() }

    func client(_ originator: String, registerOnRegistrationTopic: Bool = false) throws -> PosixOneM2MClient {
        var c = OneM2MConfiguration(cseID: acme.cseID, cseName: acme.cseName, originator: originator)
        c.registerOnRegistrationTopic = registerOnRegistrationTopic
        return try PosixOneM2MClient(configuration: c, host: "127.0.0.1", port: broker.port)
    }

    var poa: String { "mqtt://127.0.0.1:\(broker.port)" }
}

func text(_ r: OneM2MResponse) -> String { String(decoding: r.payload, as: UTF8.self) }

func json(_ r: OneM2MResponse) throws -> [String: Any] {
    let o = try JSONSerialization.jsonObject(with: Data(r.payload)) as? [String: Any]
    return try #require(o)
}

func uniqueName(_ prefix: String) -> String { "\(prefix)\(UInt32.random(in: 100_000...999_999))" }

@Suite("oneM2M AE against a real ACME CSE over mosquitto")
struct OneM2MInteropTests {
    @Test(.timeLimit(.minutes(3)))
    func wholeAEFlow() throws {
        let env = try CSEEnvironment()
        let aeID = uniqueName("Csensor")
        let aeName = uniqueName("sensor-")
        var ae = try env.client(aeID)
        try ae.connect()

        // Register (TS-0010 6.4.2: on req, fr = the AE-ID we want).
        let reg = try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nsensor", name: aeName, pointOfAccess: [env.poa]) }
        #expect(reg.statusCode == .created, "\(text(reg))")
        let regAE = try #require(try json(reg)["pc"] as? [String: Any])["m2m:ae"] as? [String: Any]
        #expect(regAE?["aei"] as? String == aeID)

        // Container and a reading.
        let cnt = try ae.perform { c throws(OneM2MClientError) in try c.createContainer(under: "cse-in/\(aeName)", name: "temperature") }
        #expect(cnt.statusCode == .created, "\(text(cnt))")
        let cin = try ae.perform { c throws(OneM2MClientError) in try c.createContentInstance(in: "cse-in/\(aeName)/temperature", content: "21.5") }
        #expect(cin.statusCode == .created, "\(text(cin))")

        // Retrieve by path and via la.
        let byPath = try ae.perform { c throws(OneM2MClientError) in try c.retrieve("cse-in/\(aeName)/temperature") }
        #expect(byPath.statusCode == .ok)
        #expect(((try json(byPath)["pc"] as? [String: Any])?["m2m:cnt"] as? [String: Any])?["cni"] as? Int == 1)
        let latest = try ae.perform { c throws(OneM2MClientError) in try c.retrieve("cse-in/\(aeName)/temperature/la") }
        #expect(latest.statusCode == .ok)
        #expect(((try json(latest)["pc"] as? [String: Any])?["m2m:cin"] as? [String: Any])?["con"] as? String == "21.5")

        // Update.
        let upd = try ae.perform { c throws(OneM2MClientError) in try c.update("cse-in/\(aeName)/temperature", contentJSON: Array(#"{"m2m:cnt":{"mni":10}}"#.utf8)) }
        #expect(upd.statusCode == .updated, "\(text(upd))")
        #expect(((try json(upd)["pc"] as? [String: Any])?["m2m:cnt"] as? [String: Any])?["mni"] as? Int == 10)

        // A second AE receives the notifications; ACME verifies it first (vrq).
        let listenerID = uniqueName("Clistener")
        var listener = try env.client(listenerID)
        try listener.connect()
        let reg2 = try listener.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nlistener", name: uniqueName("listener-"), pointOfAccess: [env.poa]) }
        #expect(reg2.statusCode == .created, "\(text(reg2))")

        let subID = try ae.createSubscription(under: "cse-in/\(aeName)/temperature", name: "watch", notificationURIs: [listenerID], eventTypes: [3])
        var verifications = 0
        var subResponse: ResponseStatusCode? = nil
        let deadline = Date().addingTimeInterval(20)
        while subResponse == nil && Date() < deadline {
            try listener.poll(timeoutMilliseconds: 20) { e in
                if case .request(let r) = e, r.isVerificationRequest { verifications += 1 }
                return nil  // NOTIFY → 2000
            }
            try ae.poll(timeoutMilliseconds: 20) { e in
                if case .response(let id, let v) = e, id == subID { subResponse = v.statusCode }
                return nil
            }
        }
        #expect(verifications == 1)
        #expect(subResponse == .created)

        // A new reading is notified to the listener, which answers 2000.
        try ae.createContentInstance(in: "cse-in/\(aeName)/temperature", content: "22.0")
        var notified: String? = nil
        var created: ResponseStatusCode? = nil
        let until = Date().addingTimeInterval(20)
        while (notified == nil || created == nil) && Date() < until {
            try listener.poll(timeoutMilliseconds: 20) { e in
                if case .request(let r) = e, let rep = r.notification?.eventRepresentation,
                    let con = rep.member(named: "m2m:cin")?.member(named: "con")?.text
                {
                    notified = String(decoding: Array(con), as: UTF8.self)
                    return .ok
                }
                return nil
            }
            try ae.poll(timeoutMilliseconds: 20) { e in
                if case .response(_, let v) = e { created = v.statusCode }
                return nil
            }
        }
        #expect(notified == "22.0")
        #expect(created == .created)
        let delivered = listener.mqtt.session.statistics.messagesDelivered
        #expect(delivered >= 2)

        // Delete the container, then deregister both (DELETE AE + TS-0010 6.3 clean-up).
        let del = try ae.perform { c throws(OneM2MClientError) in try c.delete("cse-in/\(aeName)/temperature") }
        #expect(del.statusCode == .deleted)
        let gone = try ae.perform { c throws(OneM2MClientError) in try c.retrieve("cse-in/\(aeName)/temperature") }
        #expect(gone.statusCode == .notFound)
        let dereg = try ae.deregister()
        #expect(dereg.statusCode == .deleted, "\(text(dereg))")
        let stillConnected = ae.mqtt.isConnected
        #expect(!stillConnected)
        let dereg2 = try listener.deregister()
        #expect(dereg2.statusCode == .deleted)
    }

    @Test(.timeLimit(.minutes(3)))
    func registrationWithCredentialOnRegReqTopic() throws {
        let env = try CSEEnvironment()
        // TS-0010 6.4.4: the AE-ID is not known; register on reg_req under a credential ID.
        let credential = uniqueName("Ccred")
        var ae = try env.client(credential, registerOnRegistrationTopic: true)
        try ae.connect()
        let reg = try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Ncred", name: uniqueName("cred-"), pointOfAccess: [env.poa]) }
        #expect(reg.statusCode == .created, "\(text(reg))")
        let aei = try #require(((try json(reg)["pc"] as? [String: Any])?["m2m:ae"] as? [String: Any])?["aei"] as? String)
        try ae.adoptOriginator(Array(aei.utf8))
        let me = try ae.perform { c throws(OneM2MClientError) in try c.retrieve(aei) }
        #expect(me.statusCode == .ok, "\(text(me))")
        let dereg = try ae.deregister()
        #expect(dereg.statusCode == .deleted)
    }

    @Test(.timeLimit(.minutes(3)))
    func errorPaths() throws {
        let env = try CSEEnvironment()
        let aeID = uniqueName("Cerr")
        let aeName = uniqueName("err-")
        var ae = try env.client(aeID)
        try ae.connect()
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nerr", name: aeName) }.statusCode == .created)
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.createContainer(under: "cse-in/\(aeName)", name: "c") }.statusCode == .created)
        // Duplicate name.
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.createContainer(under: "cse-in/\(aeName)", name: "c") }.statusCode == .conflict)
        // Not found.
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.retrieve("cse-in/\(aeName)/nothing-here") }.statusCode == .notFound)
        // ACME refuses a request whose rqet has passed (4008).
        let expired = try ae.perform { c throws(OneM2MClientError) in
            try withUTF8Bytes("cse-in/\(aeName)") { p in
                Result { () throws(OneM2MClientError) in try c.send(.retrieve, to: ByteString(p), expiration: .absolute(unixMicroseconds: 1_577_836_800_000_000)) }
            }.get()
        }
        #expect(expired.statusCode == .requestTimeout, "\(text(expired))")
        // An originator ACME does not allow for AEs.
        var bad = try env.client(uniqueName("Xbad"))
        try bad.connect()
        #expect(try bad.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nbad", name: uniqueName("bad-")) }.statusCode == .securityAssociationRequired)
        bad.disconnect()

        // Requests *to* the AE: an expired one is answered 4008, a malformed one 4000, neither
        // reaches the app; a good one does.
        var peer = try makeClient(uniqueName("peer"), port: env.broker.port)
        try peer.connect(cleanSession: true) { _ in }
        _ = try peer.subscribeAndWait([TopicSubscription("/oneM2M/resp/id-in/\(aeID)/#")]) { _ in }
        let requestTopic = "/oneM2M/req/id-in/\(aeID)/json"
        try peer.publish(requestTopic, payload: Array(#"{"op":5,"to":"\#(aeID)","fr":"/id-in","rqi":"old-1","rvi":"3","rqet":"20200101T000000","pc":{"m2m:sgn":{"vrq":true}}}"#.utf8))
        try peer.publish(requestTopic, payload: Array(#"{"op":5,"to":"#.utf8))
        try peer.publish(requestTopic, payload: Array(#"{"op":5,"to":"\#(aeID)","fr":"/id-in","rqi":"good-1","rvi":"3","pc":{"m2m:sgn":{"vrq":true}}}"#.utf8))
        var answers: [[String: Any]] = []
        var rejected: [ResponseStatusCode] = []
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(15)
        while answers.count < 3 && Date() < deadline {
            try ae.poll(timeoutMilliseconds: 20) { e in
                switch e {
                case .requestRejected(let s): rejected.append(s)
                case .request(let r): seen.append(String(decoding: Array(r.primitive.requestIdentifier), as: UTF8.self))
                default: break
                }
                return nil
            }
            try peer.poll(timeoutMilliseconds: 20) { e in
                if case .session(.message(let p)) = e, let o = try? JSONSerialization.jsonObject(with: Data(Array(p.payload))) as? [String: Any] { answers.append(o) }
            }
        }
        #expect(rejected == [.requestTimeout, .badRequest])
        #expect(seen == ["good-1"])
        #expect(answers.map { $0["rsc"] as? Int } == [4008, 4000, 2000])
        #expect(answers.map { $0["rqi"] as? String } == ["old-1", nil, "good-1"])
        #expect(answers.allSatisfy { $0["rvi"] as? String == "3" })
        peer.disconnect()
        #expect(try ae.deregister().statusCode == .deleted)
    }
}
