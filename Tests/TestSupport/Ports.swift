import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read what the kernel chose,
/// close. (A tiny race with other processes remains; fixtures retry on "address in use".)
public func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket() failed")
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp -> Bool in
            bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
        }
    }
    precondition(ok, "bind/getsockname on 127.0.0.1 failed")
    return UInt16(bigEndian: addr.sin_port)
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, by trying to connect
/// (a readiness condition, not a sleep). Returns false if `deadline` passes first or `alive()`
/// turns false (the server process died).
public func waitForTCPListener(port: UInt16, timeout: Double = 20, alive: () -> Bool = { true }) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if !alive() { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { return false }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        close(fd)
        if rc == 0 { return true }
        // Back off briefly between attempts; the loop condition is the listener, not the time.
        usleep(20_000)
    }
    return false
}
