// The core's checks as a plain Embedded Swift executable (runs natively and under qemu).
//   EmbeddedRunner            run every group; prints "N passed, N failed"; exit 1 on failure
import MQTTPacket
import MQTTSession

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var c = Checks()
    packetChecks(&c)
    sessionChecks(&c)
    clockWrapChecks(&c)
    clientChecks(&c)
    backoffChecks(&c)
    oneM2MChecks(&c)
    print("session arena (default capacities): \(SessionCapacities().arenaBytes) bytes")
    print("\(c.passed) passed, \(c.failed) failed")
    return c.failed == 0 && c.passed > 0 ? 0 : 1
}
