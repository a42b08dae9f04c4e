import COneM2M
import Foundation
import MQTTClient
import MQTTPacket
import OneM2MCAPI
import Testing
import TestSupport

/// What the notify callback saw (its `ctx`).
final class NotifyLog {
    var contents: [String] = []
}

@Suite("C API against mosquitto")
struct CAPITests {
    /// TS-0010 6.4.3 through the C API: every request to the AE is answered on the response
    /// topic (expired 4008, malformed 4000, not a NOTIFY 4005, NOTIFY 2000), and only the
    /// good NOTIFY reaches the callback and `onem2m_poll`'s count.
    @Test(.timeLimit(.minutes(3)))  // like the other broker tests: a loaded 2-core CI machine ran it for 111 s once
    func answersRequestsToTheAE() throws {
        let broker = try Mosquitto()
        let aeID = "Ccapi\(getpid())"
        var cfg = onem2m_config()
        onem2mConfigInit(&cfg)
        let ae = strdup(aeID)!
        defer { free(ae) }
        cfg.ae_id = UnsafePointer(ae)
        let size = onem2mArenaSize(&cfg)
        #expect(size > 0)
        let arena = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { arena.deallocate() }
        var handle: OpaquePointer? = nil
        #expect(onem2mCreate(&cfg, arena, size, &handle) == ONEM2M_OK.rawValue)
        defer { onem2mDestroy(handle) }
        let log = NotifyLog()
        let callback: onem2m_notify_fn = { json, length, ctx in
            let log = Unmanaged<NotifyLog>.fromOpaque(ctx!).takeUnretainedValue()
            log.contents.append(String(decoding: UnsafeRawBufferPointer(start: json, count: length), as: UTF8.self))
        }
        #expect(onem2mSetNotifyCallback(handle, callback, Unmanaged.passUnretained(log).toOpaque()) == ONEM2M_OK.rawValue)
        #expect(onem2mConnect(handle, "mqtt://127.0.0.1:\(broker.port)", 5_000) == ONEM2M_OK.rawValue)

        var peer = try makeClient("peer-\(aeID)", port: broker.port)
        try peer.connect(cleanSession: true) { _ in }
        _ = try peer.subscribeAndWait([TopicSubscription("/oneM2M/resp/id-in/\(aeID)/#")]) { _ in }
        let topic = "/oneM2M/req/id-in/\(aeID)/json"
        try peer.publish(topic, payload: Array(#"{"op":5,"to":"\#(aeID)","fr":"/id-in","rqi":"old-1","rvi":"3","rqet":"20200101T000000","pc":{"m2m:sgn":{"vrq":true}}}"#.utf8))
        try peer.publish(topic, payload: Array(#"{"op":5,"to":"#.utf8))
        try peer.publish(topic, payload: Array(#"{"op":2,"to":"\#(aeID)","fr":"/id-in","rqi":"get-1","rvi":"4"}"#.utf8))
        try peer.publish(topic, payload: Array(#"{"op":5,"to":"\#(aeID)","fr":"/id-in","rqi":"good-1","rvi":"3","pc":{"m2m:sgn":{"sur":"x"}}}"#.utf8))
        var answers: [[String: Any]] = []
        var delivered: Int32 = 0
        let deadline = Date().addingTimeInterval(15)
        while answers.count < 4 && Date() < deadline {
            let n = onem2mPoll(handle, 20)
            #expect(n >= 0)
            delivered += max(0, n)
            try peer.poll(timeoutMilliseconds: 20) { e in
                if case .session(.message(let p)) = e, let o = try? JSONSerialization.jsonObject(with: Data(Array(p.payload))) as? [String: Any] { answers.append(o) }
            }
        }
        #expect(answers.map { $0["rsc"] as? Int } == [4008, 4000, 4005, 2000])
        #expect(answers.map { $0["rqi"] as? String } == ["old-1", nil, "get-1", "good-1"])
        #expect(answers.map { $0["rvi"] as? String } == ["3", "3", "4", "3"])
        #expect(answers.map { $0["to"] as? String } == ["/id-in", nil, "/id-in", "/id-in"])
        #expect(answers.allSatisfy { $0["fr"] as? String == aeID })
        #expect(delivered == 1)
        #expect(log.contents == [#"{"m2m:sgn":{"sur":"x"}}"#])
        peer.disconnect()
    }
}
