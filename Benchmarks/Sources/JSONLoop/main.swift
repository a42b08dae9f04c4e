// A plain loop over our encoder or decoder (the same work as JSONBench's "ours"), for
// profilers: `valgrind --tool=callgrind JSONLoop decode 20000` shows where the time goes.
// `codable-pair` does JSONBench's Codable pair, for an instruction count to compare with.
//
//   JSONLoop encode|decode|validate|pair|codable-pair N     prints ns per operation (wall clock)

import Glibc
import JSONPair
import OneM2M

nonisolated(unsafe) let ours = Ours()
nonisolated(unsafe) let codable = WithCodable()
nonisolated(unsafe) let response = Array(responseText.utf8)

@inline(never)
func validateOnly() -> Int {
    response.withUnsafeBytes { b in
        guard let d = try? JSONDocument(validating: b) else { fatalError("invalid") }
        return d.root.end
    }
}

let args = CommandLine.arguments
guard args.count == 3, let n = Int(args[2]), n > 0 else {
    print("usage: JSONLoop encode|decode|validate|pair|codable-pair N")
    exit(2)
}
var ts0 = timespec(), ts1 = timespec()
var sink = 0
clock_gettime(CLOCK_MONOTONIC, &ts0)
switch args[1] {
case "encode": for _ in 0..<n { sink &+= ours.encode() }
case "decode": for _ in 0..<n { sink &+= ours.decode() }
case "validate": for _ in 0..<n { sink &+= validateOnly() }
case "codable-pair": for _ in 0..<n { sink &+= codable.encode() &+ codable.decode() }
default: for _ in 0..<n { sink &+= ours.encode() &+ ours.decode() }
}
clock_gettime(CLOCK_MONOTONIC, &ts1)
let ns = Double(ts1.tv_sec - ts0.tv_sec) * 1e9 + Double(ts1.tv_nsec - ts0.tv_nsec)
print("\(args[1]): \(Int(ns / Double(n))) ns per operation (\(sink & 1))")
