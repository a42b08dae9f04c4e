// swift-tools-version: 6.1
import PackageDescription

// Core modules (MQTTPacket, MQTTSession, MQTTTransport, MQTTClient, PosixTransport, OneM2M,
// OneM2MClient) depend on nothing outside this package and also build in Embedded Swift mode
// (`make embedded`, scripts/embedded-check.sh). Host-only products (the CLI, examples) may use
// Foundation and swift-argument-parser.

let core: [SwiftSetting] = [
    .enableExperimentalFeature("Lifetimes"),
    .enableExperimentalFeature("Embedded", .when(traits: ["Embedded"])),
]

let package = Package(
    name: "OneM2MMQTT",
    products: [
        .library(name: "MQTTClient", targets: ["MQTTClient", "PosixTransport"]),
        .library(name: "OneM2MClient", targets: ["OneM2MClient"]),
        .library(name: "OneM2MSecure", targets: ["OneM2MSecure", "TLSTransport", "WebSocketTransport"]),
        .executable(name: "onem2m", targets: ["onem2m"]),
    ],
    traits: [
        .trait(name: "Embedded", description: "Build the core modules in Embedded Swift mode"),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MQTT 3.1.1 wire format: encode into caller buffers, decode from byte views.
        .target(name: "MQTTPacket", swiftSettings: core),
        // Sans-I/O QoS 1 session state machine.
        .target(name: "MQTTSession", dependencies: ["MQTTPacket"], swiftSettings: core),
        // The transport contract every shim implements.
        .target(name: "MQTTTransport", swiftSettings: core),
        // POSIX sockets, poll, getaddrinfo, clocks (C).
        .target(name: "CPosix"),
        // Non-blocking TCP transport over CPosix.
        .target(name: "PosixTransport", dependencies: ["CPosix", "MQTTTransport"], swiftSettings: core),
        // Single-threaded client loop over a session and a transport.
        .target(name: "MQTTClient", dependencies: ["MQTTSession", "MQTTTransport"], swiftSettings: core),
        // oneM2M TS-0010 sans-I/O: primitives, JSON, topics, pointOfAccess, timestamps.
        .target(name: "OneM2M", swiftSettings: core),
        // The AE device API.
        .target(name: "OneM2MClient", dependencies: ["OneM2M", "MQTTClient", "PosixTransport"], swiftSettings: core),
        // C API for firmware daemons: include/onem2m.h (COneM2M) implemented in Swift with @_cdecl
        // (OneM2MCAPI). scripts/cross.sh builds it in Embedded mode as libonem2m.a per target.
        .target(name: "COneM2M"),
        .target(name: "OneM2MCAPI", dependencies: ["COneM2M", "MQTTClient", "PosixTransport", "OneM2M", "TLSTransport"], swiftSettings: core),
        // mbedTLS client shim (C): one opaque context, BIO callbacks supplied by Swift.
        .target(
            name: "CMbedTLS",
            linkerSettings: [.linkedLibrary("mbedtls"), .linkedLibrary("mbedx509"), .linkedLibrary("mbedcrypto")]
        ),
        // Non-blocking TLS transport (mqtts://) over CMbedTLS + CPosix.
        .target(name: "TLSTransport", dependencies: ["CMbedTLS", "CPosix", "MQTTTransport", "PosixTransport"], swiftSettings: core),
        // RFC 6455 client framing over any inner Transport (ws:// over TCP, wss:// over TLS).
        .target(name: "WebSocketTransport", dependencies: ["CPosix", "MQTTTransport"], swiftSettings: core),
        // pointOfAccess → transport (mqtt/mqtts/ws/wss) and the secure AE client conveniences.
        .target(name: "OneM2MSecure", dependencies: ["OneM2MClient", "TLSTransport", "WebSocketTransport"], swiftSettings: core),
        // Command-line tool.
        .executableTarget(
            name: "onem2m",
            dependencies: [
                "OneM2MClient", "OneM2MSecure",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "RegisterAE", dependencies: ["OneM2MClient"], path: "Examples/RegisterAE"),
        .executableTarget(name: "SensorDaemon", dependencies: ["OneM2MClient"], path: "Examples/SensorDaemon"),
        .target(name: "CAllocCounter", path: "Tests/CAllocCounter"),
        .target(name: "TestSupport", dependencies: ["CAllocCounter", "MQTTTransport"], path: "Tests/TestSupport"),
        .testTarget(name: "MQTTPacketTests", dependencies: ["MQTTPacket", "TestSupport"], swiftSettings: [.enableExperimentalFeature("Lifetimes")]),
        .testTarget(name: "MQTTSessionTests", dependencies: ["MQTTSession", "MQTTClient", "TestSupport"], swiftSettings: [.enableExperimentalFeature("Lifetimes")]),
        .testTarget(name: "OneM2MTests", dependencies: ["OneM2M", "TestSupport"], swiftSettings: [.enableExperimentalFeature("Lifetimes")]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["MQTTClient", "PosixTransport", "OneM2MClient", "OneM2MCAPI", "TestSupport", "TLSTransport", "WebSocketTransport", "OneM2MSecure"],
            swiftSettings: [.enableExperimentalFeature("Lifetimes")]
        ),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: [.enableExperimentalFeature("Lifetimes")]),
    ]
)
