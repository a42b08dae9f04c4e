import MQTTPacket

/// Runs `body` over a string's UTF-8 bytes without copying when the string is native.
@inlinable
public func withUTF8Bytes<R>(_ string: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let r = string.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return r }
    var copy = string
    copy.makeContiguousUTF8()
    return copy.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) })!
}


extension MQTTClient {
    /// Publishes `payload` on `topic` (strings and arrays; no allocation for native strings).
    @discardableResult
    public mutating func publish(_ topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false) throws(ClientError) -> UInt16 {
        var result: Result<UInt16, ClientError> = .failure(.notConnected)
        withUTF8Bytes(topic) { t in
            payload.withUnsafeBytes { p in
                do throws(ClientError) {
                    result = .success(try publish(topic: t, payload: p, qos: qos, retain: retain))
                } catch { result = .failure(error) }
            }
        }
        return try result.get()
    }
}
