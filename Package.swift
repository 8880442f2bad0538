// swift-tools-version: 6.0
import PackageDescription

// Targets follow ../shared/design/ARCHITECTURE.md: lower rows never import higher rows.
let package = Package(
    name: "Hotline",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "hotline", targets: ["hotline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
    ],
    targets: [
        .target(name: "HotlineCore"),
        .target(name: "SIPMessages"),
        .target(name: "SDP"),
        .target(
            name: "SIPStack",
            dependencies: [
                "SIPMessages", "SDP", "HotlineCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "RTP"),
        // Debian's C libraries for codecs, DSP and sound files (libopus, spandsp, libsndfile).
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CSpanDSP", pkgConfig: "spandsp", providers: [.apt(["libspandsp-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .target(name: "AudioCodecs", dependencies: ["COpus", "CSpanDSP"]),
        .target(
            name: "Recording",
            dependencies: [
                "CSndFile",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Media",
            dependencies: [
                "RTP", "HotlineCore", "AudioCodecs", "Recording",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Queues and agents: the ACD's pure state machine (no I/O, virtual clock in tests).
        .target(name: "ACD"),
        // The IVR language: model, loader, validator, holiday calendar, interpreter (pure).
        .target(
            name: "Dialplan",
            dependencies: [
                "HotlineCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Calls",
            dependencies: [
                "HotlineCore", "SIPMessages", "SDP", "SIPStack", "RTP", "Media", "Recording", "Dialplan", "ACD",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Storage",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Events",
            dependencies: [
                "HotlineCore", "Storage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "API",
            dependencies: [
                "HotlineCore", "Events", "Calls", "ACD",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("openapi.yaml")]
        ),
        .executableTarget(
            name: "hotline",
            dependencies: [
                "HotlineCore", "SIPMessages", "SDP", "SIPStack", "Media", "Recording", "Calls", "Storage", "Events", "API", "Dialplan", "ACD",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // libFuzzer entry point for the SIP parser; see README "Fuzzing the SIP parser".
        .executableTarget(name: "SIPParserFuzzer", dependencies: ["SIPMessages"]),
        .testTarget(name: "SIPMessagesTests", dependencies: ["SIPMessages"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP"]),
        .testTarget(name: "SIPStackTests", dependencies: ["SIPStack", "SIPMessages"]),
        .testTarget(name: "RTPTests", dependencies: ["RTP"]),
        .testTarget(name: "ACDTests", dependencies: ["ACD"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "RTP", "AudioCodecs", "Recording"]),
        .testTarget(name: "AudioCodecsTests", dependencies: ["AudioCodecs"]),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "CSndFile"]),
        .testTarget(name: "CallsTests", dependencies: ["Calls", "SIPMessages", "SDP", "Media"]),
        .testTarget(name: "DialplanTests", dependencies: [
            "Dialplan", "HotlineCore", .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], exclude: ["Broken"]),
        .testTarget(
            name: "EventsTests",
            dependencies: [
                "Events", "Storage", "HotlineCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "Events", "Storage", "HotlineCore", "Calls",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
