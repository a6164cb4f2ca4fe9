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
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
        // Layered settings (flags > GATEWAY_* > config file > defaults) for `gatewayd serve`.
        .package(url: "https://github.com/apple/swift-configuration", exact: "1.4.0"),
        // Tests only: reads openapi.yaml so API tests can check answers against the contract.
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        // /metrics: swift-metrics handles over a Prometheus registry; HDR histograms for percentiles.
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        // A heap of lanes waiting for a time (the dispatcher's sleeping lanes).
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
    ],
    targets: [
        // libcurl through pkg-config, plus typed wrappers for its variadic setopt calls.
        .systemLibrary(
            name: "CLibcurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CCurl", dependencies: ["CLibcurl"]),
        // libpq, PostgreSQL's C client, for cluster mode (`--database-url`).
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // A small synchronous PostgreSQL client over libpq: connections, binary parameters
        // and results, transactions, notifications. No gateway types.
        .target(name: "Postgres", dependencies: ["CLibpq"], swiftSettings: strictSettings),
        // epoll, eventfd, accept4, thread names and CRC-32C, which Swift's Glibc module lacks.
        .target(name: "CPlatform"),
        // The shared low-level runtime: system calls with EINTR retry, threads, work queues,
        // clocks, chunked collections, Base64, constant-time comparison.
        .target(name: "Runtime", dependencies: ["CPlatform"], swiftSettings: strictSettings),
        // Strict RFC 8259 JSON: scanner, parser, tree, writer. No gateway types.
        .target(name: "JSON", swiftSettings: strictSettings),
        // JSON Schema draft 2020-12 (the subset openapi.yaml documents) over JSON's tree.
        .target(name: "JSONSchema", dependencies: ["JSON"], swiftSettings: strictSettings),
        // Where webhooks may go: the SSRF address policy, shared by the API (refusing a URL
        // when it is set) and the transport (checking the address it connects to).
        .target(name: "TargetPolicy", swiftSettings: strictSettings),
        .target(
            name: "HTTPServer",
            dependencies: [
                "CPlatform",
                "Runtime",
                "JSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "Runtime",
                "JSON",
                "JSONSchema",
                "TargetPolicy",
                "HTTPServer",
                "CPlatform",
                "Postgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Delivery",
            dependencies: [
                "Gateway",
                "Runtime",
                "JSON",
                "TargetPolicy",
                "CCurl",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Prometheus metrics: the registry and every metric handle, fed by the observer
        // seams of HTTPServer, Gateway and Delivery (none of which knows about metrics), and
        // the `GET /metrics` route.
        .target(
            name: "GatewayMetrics",
            dependencies: [
                "Gateway",
                "Delivery",
                "HTTPServer",
                "Runtime",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "gatewayd",
            dependencies: [
                "Gateway",
                "Delivery",
                "GatewayMetrics",
                "HTTPServer",
                "Runtime",
                "TargetPolicy",
                "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
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
            dependencies: ["HTTPServer", "Gateway", "JSON", "Runtime", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/BenchReceiver",
            swiftSettings: strictSettings
        ),
        // Benchmarks/: what metrics cost on the hot paths (Benchmarks/metrics_cost.sh).
        .executableTarget(
            name: "bench-metrics",
            dependencies: [
                "GatewayMetrics", "Gateway", "Delivery", "HTTPServer",
            ],
            path: "Benchmarks/MetricsCost",
            swiftSettings: strictSettings
        ),
        // What the test targets share: waiting helpers that keep Swift Testing's few threads
        // free, an HTTP client on raw sockets, a seeded random generator, JSON literals, and
        // openapi.yaml as a checker of real answers.
        .target(
            name: "TestSupport",
            dependencies: [
                "JSON", "JSONSchema", "Runtime", "HTTPServer",
                .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "JSONTests", dependencies: ["JSON", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "JSONSchemaTests", dependencies: ["JSONSchema", "JSON", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "TargetPolicyTests", dependencies: ["TargetPolicy", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "HTTPServer", "JSON", "Runtime", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            // Signed provider requests and the script that makes them, read by path.
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "Gateway", "HTTPServer", "JSON", "Runtime", "TargetPolicy", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "GatewayMetricsTests",
            dependencies: ["GatewayMetrics", "Gateway", "Delivery", "HTTPServer", "TestSupport",
                           .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "GatewaydTests", dependencies: ["gatewayd", "TargetPolicy", "TestSupport"], swiftSettings: strictSettings),
    ]
)
