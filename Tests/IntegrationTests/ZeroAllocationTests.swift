import Foundation
import MQTTClient
import MQTTPacket
import OneM2M
import OneM2MClient
import PosixTransport
import Testing
import TestSupport

/// Steady-state heap allocations on the calling thread, counted by the interposed allocator
/// (CAllocCounter), over the real TCP path to real peers. Warm-up rounds run first: the Swift
/// runtime allocates metadata on the first use of some generic types.
@Suite("Zero allocation on the hot path")
struct ZeroAllocationTests {
    @Test func mqttPublishAndReceiveQoS1AllocateNothing() throws {
        #expect(allocationCounterIsActive)
        let broker = try Mosquitto()
        var client = try makeClient("alloc-\(UInt16.random(in: 1...9999))", port: broker.port)
        try client.connect(cleanSession: true) { _ in }
        _ = try client.subscribeAndWait([TopicSubscription("alloc/echo", qos: .atLeastOnce)]) { _ in }
        let topic: [UInt8] = Array("alloc/echo".utf8)
        let payload: [UInt8] = Array(repeating: 0x41, count: 200)

        // One round: a QoS 1 PUBLISH out with its PUBACK in, and the same message delivered
        // back to us (QoS 1) with our PUBACK out.
        func round(_ client: inout TCPClient) throws -> (acked: Bool, received: Bool) {
            var acked = false, received = false
            topic.withUnsafeBytes { t in
                payload.withUnsafeBytes { p in _ = try? client.publish(topic: t, payload: p, qos: .atLeastOnce) }
            }
            var polls = 0
            while !(acked && received) && polls < 1000 {
                polls += 1
                try client.poll(timeoutMilliseconds: 1000) { e in
                    switch e {
                    case .session(.published): acked = true
                    case .session(.message(let m)): received = m.payload.count == 200
                    default: break
                    }
                }
            }
            try client.flush(timeoutMilliseconds: 1000)  // our PUBACK goes out
            return (acked, received)
        }
        for _ in 0..<20 { _ = try round(&client) }
        var ok = 0
        let rounds = 500
        let before = threadAllocationCount()
        for _ in 0..<rounds {
            let r = try round(&client)
            if r.acked && r.received { ok += 1 }
        }
        let allocated = threadAllocationCount() - before
        #expect(ok == rounds)
        #expect(allocated == 0, "\(allocated) allocations in \(rounds) publish+PUBACK / receive+PUBACK rounds")
        client.disconnect()
    }

    @Test(.timeLimit(.minutes(3)))
    func oneM2MCreateContentInstanceAndServedNotificationAllocateNothing() throws {
        #expect(allocationCounterIsActive)
        let env = try CSEEnvironment()
        let aeID = uniqueName("Calloc")
        let aeName = uniqueName("alloc-")
        var ae = try env.client(aeID)
        try ae.connect()
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.registerAE(appID: "Nalloc", name: aeName, pointOfAccess: [env.poa]) }.statusCode == .created)
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.createContainer(under: "cse-in/\(aeName)", name: "data") }.statusCode == .created)
        // Notifications to ourselves (nu = our AE-ID: no verification request).
        #expect(try ae.perform { c throws(OneM2MClientError) in try c.createSubscription(under: "cse-in/\(aeName)/data", name: "self", notificationURIs: [aeID]) }.statusCode == .created)

        let path: [UInt8] = Array("cse-in/\(aeName)/data".utf8)
        let content: [UInt8] = Array(#"{"t":21.5,"seq":1}"#.utf8)

        // One round: CREATE <contentInstance> out, its 2001 in, and the NOTIFY ACME sends for
        // it served (handed to us, answered 2000).
        func round(_ ae: inout PosixOneM2MClient) throws -> (created: Bool, notified: Bool) {
            var created = false, notified = false
            var failure: OneM2MClientError? = nil
            path.withUnsafeBytes { p in
                content.withUnsafeBytes { c in
                    do throws(OneM2MClientError) { try ae.createContentInstance(in: ByteString(p), content: ByteString(c)) } catch { failure = error }
                }
            }
            if failure != nil { return (false, false) }
            var polls = 0
            while !(created && notified) && polls < 1000 {
                polls += 1
                try ae.poll(timeoutMilliseconds: 2000) { e in
                    switch e {
                    case .response(_, let v): created = v.statusCode == .created
                    case .request(let r): notified = r.notification?.eventRepresentation != nil
                    default: break
                    }
                    return nil
                }
            }
            try ae.mqtt.flush(timeoutMilliseconds: 1000)
            return (created, notified)
        }
        for _ in 0..<5 { _ = try round(&ae) }
        let rounds = 50
        var ok = 0
        let before = threadAllocationCount()
        for _ in 0..<rounds {
            let r = try round(&ae)
            if r.created && r.notified { ok += 1 }
        }
        let allocated = threadAllocationCount() - before
        #expect(ok == rounds)
        #expect(allocated == 0, "\(allocated) allocations in \(rounds) create-contentInstance + notification rounds")
        #expect(try ae.deregister().statusCode == .deleted)
    }
}
