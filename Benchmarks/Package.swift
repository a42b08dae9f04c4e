// swift-tools-version: 6.1
// Benchmarks of the SDK, in their own package so the root package's `swift test` never builds
// package-benchmark. Run through `make bench` (scripts/bench.sh), or by hand:
//
//   swift package --package-path Benchmarks --scratch-path .build-bench-pkg --disable-sandbox benchmark
//   swift run --package-path Benchmarks --scratch-path .build-bench-pkg -c release StaticRAM
import PackageDescription

import class Foundation.ProcessInfo
import struct Foundation.URL

// A path dependency's identity is its directory's name (`main` in /work/main, something else
// in another checkout), so derive it instead of hard-coding it.
let rootIdentity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "OneM2MBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        // Only the MallocInterposer trait (mallocCountTotal); the default RuntimeInterposer
        // trait needs a repository that is not needed here.
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The JSON pair measured by JSONBench and JSONLoop: ours, Codable, JSONSerialization.
        .target(
            name: "JSONPair",
            dependencies: [.product(name: "OneM2MClient", package: rootIdentity)],
            path: "Sources/JSONPair",
            swiftSettings: [.enableExperimentalFeature("Lifetimes")]
        ),
        // Our JSON writer/reader against Foundation's Codable and JSONSerialization.
        .executableTarget(
            name: "JSONBench",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                "JSONPair",
            ],
            path: "Benchmarks/JSONBench",
            swiftSettings: [.enableExperimentalFeature("Lifetimes")],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // The static RAM of one client with default capacities, from the code's own numbers.
        .executableTarget(
            name: "StaticRAM",
            dependencies: [.product(name: "OneM2MClient", package: rootIdentity)],
            path: "Sources/StaticRAM",
            swiftSettings: [.enableExperimentalFeature("Lifetimes")]
        ),
        // A plain loop over our encoder/decoder, for profilers (valgrind --tool=callgrind).
        .executableTarget(
            name: "JSONLoop",
            dependencies: ["JSONPair", .product(name: "OneM2MClient", package: rootIdentity)],
            path: "Sources/JSONLoop",
            swiftSettings: [.enableExperimentalFeature("Lifetimes")]
        ),
    ]
)
