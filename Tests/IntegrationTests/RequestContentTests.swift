import MQTTPacket
import OneM2MClient
import Testing
import TestSupport

// The `pc` a content closure of OneM2MClient.send writes: exactly one value, else the request
// fails with `.encoding(.invalidWriterState)` and nothing is left pending.

@Suite("OneM2MClient request content (scripted broker)")
struct RequestContentTests {
    @Test func contentMustBeExactlyOneValue() throws {
        let clock = ManualClock(startMilliseconds: 1_000)
        var c = try scriptedClient(OneM2MConfiguration(originator: "Ccontent"), peer: ScriptedPeer(clock: clock), clock: clock)
        try c.connect()
        // No value, two values, a member without an object, closing the primitive, a body's own error.
        #expect(outcome(&c) { (_: inout JSONWriter) throws(OneM2MError) in } == .encoding(.invalidWriterState))
        #expect(outcome(&c) { (w: inout JSONWriter) throws(OneM2MError) in try w.integer(1); try w.integer(2) } == .encoding(.invalidWriterState))
        #expect(outcome(&c) { (w: inout JSONWriter) throws(OneM2MError) in try w.key("a"); try w.integer(1) } == .encoding(.invalidWriterState))
        #expect(outcome(&c) { (w: inout JSONWriter) throws(OneM2MError) in try w.integer(1); try w.endObject() } == .encoding(.invalidWriterState))
        #expect(outcome(&c) { (_: inout JSONWriter) throws(OneM2MError) in throw .notAnInteger } == .encoding(.notAnInteger))
        #expect(c.pendingRequestCount == 0)
        // One value (an object or a scalar) is a request, and the client is still usable.
        _ = try c.send(.create, to: "cse-in", resourceType: .container) { (w: inout JSONWriter) throws(OneM2MError) in
            try w.beginObject()
            try w.endObject()
        }
        _ = try c.send(.update, to: "cse-in/x", resourceType: nil) { (w: inout JSONWriter) throws(OneM2MError) in try w.integer(7) }
        #expect(c.pendingRequestCount == 2)
    }
}

/// The error of a CREATE whose `pc` `body` writes, or nil if it was sent.
func outcome(_ c: inout ScriptedOneM2MClient, _ body: (inout JSONWriter) throws(OneM2MError) -> Void) -> OneM2MClientError? {
    do throws(OneM2MClientError) {
        _ = try c.send(.create, to: "cse-in", resourceType: .container, content: body)
        return nil
    } catch { return error }
}
