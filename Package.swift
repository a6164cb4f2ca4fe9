// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "webhook-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatewayd", targets: ["gatewayd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
    ],
    targets: [
        // libcurl through pkg-config, plus typed wrappers for its variadic setopt calls.
        .systemLibrary(
            name: "CLibcurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CCurl", dependencies: ["CLibcurl"]),
        // epoll, eventfd and accept4, which Swift's Glibc module does not expose.
        .target(name: "CSystem"),
        .target(
            name: "HTTPServer",
            dependencies: [
                "CSystem",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "HTTPServer",
                "CSystem",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Delivery",
            dependencies: [
                "Gateway",
                "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "gatewayd",
            dependencies: [
                "Gateway",
                "Delivery",
                "HTTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmarks/: the HTTP ceiling server that Benchmarks/http_vs_nginx.sh measures.
        .executableTarget(
            name: "bench-server",
            dependencies: ["HTTPServer", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/BenchServer",
            swiftSettings: strictSettings
        ),
        // Benchmarks/: the latency benchmark's receiver (Benchmarks/latency.sh).
        .executableTarget(
            name: "bench-receiver",
            dependencies: ["HTTPServer", "Gateway", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/BenchReceiver",
            swiftSettings: strictSettings
        ),
        // Waiting helpers the test targets share (they keep Swift Testing's few threads free).
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strictSettings),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "HTTPServer", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "HTTPServer", "TestSupport"], swiftSettings: strictSettings),
    ]
)
