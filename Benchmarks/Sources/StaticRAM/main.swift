// The RAM one AE client needs with the default capacities, from the code's own numbers, and
// what its construction really takes from the heap. Prints one JSON object.
//
// Code numbers (OneM2MClient.swift, Configuration.swift):
//   arena    SessionCapacities().arenaBytes: tx + rx + replay store + the QoS tables
//   pending  OneM2MConfiguration.maximumPendingRequests (16) x PendingRequest
//            {active: Bool, number: UInt32, deadline: Int64} (mirrored below: it is internal)
//   scratch  OneM2MClient.scratchBytes = 512 (internal; response topics and rqi text)
//   struct   MemoryLayout<PosixOneM2MClient>.size (the value itself, stack or static)
//
// Measured: run with LD_PRELOAD=libmallocount.so (bench/mallocount.c) and the bytes and
// allocations requested while the client is made are read through dlsym("mc_bytes"/"mc_allocs")
// (-1 without the counter).

import Glibc
import MQTTSession
import OneM2MClient

/// Mirror of OneM2MClient.PendingRequest (internal in the SDK).
struct PendingRequestMirror {
    var active = false
    var number: UInt32 = 0
    var deadline: Int64 = 0
}
let scratchBytes = 512

typealias Counter = @convention(c) () -> UInt64
func counter(_ name: String) -> Counter? {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }  // RTLD_DEFAULT
    return unsafeBitCast(sym, to: Counter.self)
}

let capacities = SessionCapacities()
let configuration = OneM2MConfiguration(originator: "Csensor1")
let arena = capacities.arenaBytes
let pending = configuration.maximumPendingRequests * MemoryLayout<PendingRequestMirror>.stride
let structBytes = MemoryLayout<PosixOneM2MClient>.size
let total = arena + pending + scratchBytes + structBytes

let bytesCounter = counter("mc_bytes"), allocsCounter = counter("mc_allocs")
var measuredBytes = -1, measuredAllocs = -1
do {
    let b0 = bytesCounter?() ?? 0, a0 = allocsCounter?() ?? 0
    let client = try PosixOneM2MClient(configuration: configuration, host: "127.0.0.1", port: 1883)
    if let bytesCounter, let allocsCounter {
        measuredBytes = Int(bytesCounter() - b0)
        measuredAllocs = Int(allocsCounter() - a0)
    }
    withExtendedLifetime(client) {}
} catch {
    print("StaticRAM: cannot make a client: \(error)")
    exit(1)
}

print("""
    {"transmitBytes":\(capacities.transmitBytes),"receiveBytes":\(capacities.receiveBytes),\
    "storeBytes":\(capacities.storeBytes),"inflight":\(capacities.inflight),\
    "inboundHistory":\(capacities.inboundHistory),"pendingSubscriptions":\(capacities.pendingSubscriptions),\
    "arenaBytes":\(arena),"pendingRequests":\(configuration.maximumPendingRequests),"pendingBytes":\(pending),\
    "scratchBytes":\(scratchBytes),"clientStructBytes":\(structBytes),"totalBytes":\(total),\
    "measuredHeapBytes":\(measuredBytes),"measuredHeapAllocations":\(measuredAllocs)}
    """)
