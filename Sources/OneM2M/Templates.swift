// The fixed `pc` shapes the SDK writes for its typed requests, as `JSONWriter.fill(template:)`
// templates: `%` is a string argument. One place, so the Swift client and the
// C API send the same JSON (JSONTemplateTests checks each is JSON once filled in).

/// `pc` templates of the typed requests (see `JSONWriter.fill(template:)`).
@_spi(Templates)
public enum ContentTemplate {
    /// `{"m2m:cin":{"cnf":"text/plain:0","con":%}}`: a contentInstance with text content.
    public static let contentInstance: StaticString = #"{"m2m:cin":{"cnf":"text/plain:0","con":%}}"#
    /// A named contentInstance: `rn`, then the content.
    public static let namedContentInstance: StaticString = #"{"m2m:cin":{"rn":%,"cnf":"text/plain:0","con":%}}"#
    /// A container named `rn`.
    public static let container: StaticString = #"{"m2m:cnt":{"rn":%}}"#
    /// An AE (C API): `rn`, `api`, request reachable, release 3.
    public static let ae: StaticString = #"{"m2m:ae":{"rn":%,"api":%,"rr":true,"srv":["3"]}}"#
    /// An AE with one point of access (C API).
    public static let aeWithPointOfAccess: StaticString = #"{"m2m:ae":{"rn":%,"api":%,"rr":true,"srv":["3"],"poa":[%]}}"#
    /// A subscription `rn` notifying `nu` of child creation (C API).
    public static let subscription: StaticString = #"{"m2m:sub":{"rn":%,"nu":[%],"enc":{"net":[3]}}}"#
    /// An empty object.
    public static let empty: StaticString = "{}"
}
