// One import gives an application the whole device API: the oneM2M types (ByteString,
// ResponseStatusCode, ...) and the MQTT client underneath (ReconnectPolicy, withUTF8Bytes, ...).
@_exported import MQTTClient
@_exported import OneM2M
