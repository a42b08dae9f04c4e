// The JSON pair (Sources/JSONPair: encode a create-contentInstance request, decode ACME's 2001
// response) three ways, ours against Foundation's Codable and JSONSerialization.
//
// Timing benchmarks use scalingFactor .kilo (one iteration = 1000 pairs; the exported figures
// are per pair, rounded to whole ns and whole allocations); the `allocs.*` benchmarks run one
// pair per iteration, so their mallocCountTotal is the exact count per pair.
// BENCH_SHORT=1 in the environment: 0.1 s per benchmark (a smoke run).

import Benchmark
import Foundation
import JSONPair

let benchmarks: @Sendable () -> Void = {
    let short = ProcessInfo.processInfo.environment["BENCH_SHORT"] == "1"
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: short ? 1 : 3,
        scalingFactor: .kilo,
        maxDuration: short ? .milliseconds(100) : .seconds(1),
        maxIterations: short ? 5 : 1000
    )

    let ours = Ours()
    let codable = WithCodable()
    let serialization = WithJSONSerialization()
    // Same facts out of all three (and a sanity check of the sizes: ours is the compact form).
    precondition(ours.decode() == codable.decode() && codable.decode() == serialization.decode())

    Benchmark("pair.ours") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ours.encode() &+ ours.decode()) }
    }
    Benchmark("pair.codable") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(codable.encode() &+ codable.decode()) }
    }
    Benchmark("pair.jsonserialization") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(serialization.encode() &+ serialization.decode()) }
    }
    // Exact heap allocations per pair (one pair per iteration, no rounding).
    let exact = Benchmark.Configuration(
        metrics: [.mallocCountTotal], warmupIterations: 1, scalingFactor: .one,
        maxDuration: short ? .milliseconds(100) : .seconds(1), maxIterations: short ? 10 : 1000)
    Benchmark("allocs.ours", configuration: exact) { _ in blackHole(ours.encode() &+ ours.decode()) }
    Benchmark("allocs.codable", configuration: exact) { _ in blackHole(codable.encode() &+ codable.decode()) }
    Benchmark("allocs.jsonserialization", configuration: exact) { _ in
        blackHole(serialization.encode() &+ serialization.decode())
    }
    Benchmark("encode.ours") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ours.encode()) }
    }
    Benchmark("decode.ours") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ours.decode()) }
    }
    Benchmark("encode.codable") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(codable.encode()) }
    }
    Benchmark("decode.codable") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(codable.decode()) }
    }
    Benchmark("encode.jsonserialization") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(serialization.encode()) }
    }
    Benchmark("decode.jsonserialization") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(serialization.decode()) }
    }
}
