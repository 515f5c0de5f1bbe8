// swift-tools-version:6.1
import PackageDescription

/// Settings every target shares: Swift 6 mode comes from `swiftLanguageModes`; these add the
/// upcoming features we hold ourselves to.
let sharedSwiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "service-monitor",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "service-monitor", targets: ["service-monitor"]),
        .library(name: "Systemd", targets: ["Systemd"]),
        .library(name: "Etcd", targets: ["Etcd"]),
        .library(name: "ServiceMonitor", targets: ["ServiceMonitor"]),
        .library(name: "ServiceMonitorEtcd", targets: ["ServiceMonitorEtcd"]),
        .library(name: "MetricsEndpoint", targets: ["MetricsEndpoint"]),
        .library(name: "DynamoDB", targets: ["DynamoDB"]),
        .library(name: "ServiceMonitorDynamoDB", targets: ["ServiceMonitorDynamoDB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Runs --monitor-command checks; without its Foundation trait (no Foundation in product targets).
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        // --metrics-address: the core records through swift-metrics; swift-prometheus is the registry.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // HMAC-SHA256 and SHA-256 for the DynamoDB client's SigV4 (already in the graph through
        // swift-certificates; this names the version that resolves).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // C shim over libsystemd: prefixed static inline forwards, and CSystemd.c opening
        // libsystemd at the first call of one.
        .target(name: "CSystemd"),
        // C shim over the POSIX calls made directly (read, write, open, clocks, and for run's
        // child prctl and the signal mask): prefixed static inline forwards that return -errno
        // on failure; dl_iterate_phdr is forwarded from CPosix.c, which defines _GNU_SOURCE.
        .target(name: "CPosix"),
        // The Swift layer over CPosix: EINTR-safe descriptor and file loops, wall-clock
        // timestamps, every failure a PosixError.
        .target(
            name: "Posix",
            dependencies: ["CPosix"],
            swiftSettings: sharedSwiftSettings
        ),
        // Structured races: an operation against its time limit, or racers until one decides.
        .target(
            name: "Racing",
            swiftSettings: sharedSwiftSettings
        ),
        .target(
            name: "Systemd",
            dependencies: [
                "CSystemd",
                "Posix",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        .target(
            name: "Etcd",
            dependencies: [
                "Posix",
                "Racing",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                // The event loops the transport runs on, whose timers time each attempt.
                .product(name: "NIOPosix", package: "swift-nio"),
                // Only to recognise its error types (a TLS failure, a handshake cut short).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The standard gRPC health protocol (grpc.health.v1), generated from its health.proto by
        // scripts/generate-health-protos.sh and committed: messages, client and server stubs.
        // Generated code is public with plain imports, so no InternalImportsByDefault here.
        .target(
            name: "GRPCHealthProto",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["health.proto"]
        ),
        // Health checks, registration, discovery and the startup-lease semaphore, in the
        // product's terms: a store backend (instance registry + startup semaphore) and an
        // in-memory backend. No etcd or AWS types.
        .target(
            name: "ServiceMonitor",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                // grpc:// and grpcs:// checks.
                "GRPCHealthProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                "Systemd",
                "Posix",
                "Racing",
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The etcd backend: today's algorithms (FIFO by create revision, the admissions-guarded
        // promotion, watches that resume and re-list) over the Etcd client.
        .target(
            name: "ServiceMonitorEtcd",
            dependencies: [
                "ServiceMonitor",
                "Etcd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // `--metrics-address`: GET /metrics from a Prometheus registry over NIO HTTP/1, and the
        // swift-metrics factory that fills the registry with help texts and buckets.
        .target(
            name: "MetricsEndpoint",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // A small DynamoDB client: the JSON 1.0 protocol over AsyncHTTPClient, SigV4 signing, the
        // AWS SDKs' credential chain (environment, shared files, container, IMDSv2), typed
        // errors and retries with back-off. No AWS SDK, no full Foundation.
        .target(
            name: "DynamoDB",
            dependencies: [
                "Posix",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The DynamoDB backend: records with an expiry renewed on an owner token, the FIFO
        // semaphore as queue and holder items with a transaction-guarded holder count, polling
        // with consistent reads where etcd watches.
        .target(
            name: "ServiceMonitorDynamoDB",
            dependencies: [
                "ServiceMonitor",
                "DynamoDB",
                "Posix",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The command line: parsing, validation, exit codes, choosing the backend, and wiring
        // into a ServiceGroup.
        .target(
            name: "ServiceMonitorCLI",
            dependencies: [
                "ServiceMonitor",
                "ServiceMonitorEtcd",
                "Etcd",
                "ServiceMonitorDynamoDB",
                "DynamoDB",
                "Systemd",
                "Posix",
                "Racing",
                "MetricsEndpoint",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        .executableTarget(
            name: "service-monitor",
            dependencies: ["ServiceMonitorCLI"],
            swiftSettings: sharedSwiftSettings
        ),

        // Test support: launches and drives the real components (etcd, journald, systemd).
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: sharedSwiftSettings
        ),
        // A tiny notify/watchdog client run as a unit by the systemd tests.
        .executableTarget(
            name: "systemd-probe",
            dependencies: [
                "Systemd",
                "Posix",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Tests/Fixtures/systemd-probe",
            swiftSettings: sharedSwiftSettings
        ),
        // The watched service in tests and the demo: answers with a status it reads from a file.
        .executableTarget(
            name: "stand-in-service",
            dependencies: [
                "Posix",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Fixtures/stand-in-service",
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TestSupport", "Etcd", "service-monitor", "stand-in-service",
                // The IAM set-up of the SigV4 test in moto's IAM mode.
                "DynamoDBTestSupport", "DynamoDB",
            ],
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "SystemdTests",
            dependencies: ["Systemd", "TestSupport", "systemd-probe"],
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "ServiceMonitorTests",
            dependencies: [
                "ServiceMonitor",
                "TestSupport",
                // In-process HTTP(S), TCP and gRPC servers on loopback for the health-check tests.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "GRPCHealthProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The etcd backend's own logic (key layout, queue decisions) without a server.
        .testTarget(
            name: "ServiceMonitorEtcdTests",
            dependencies: ["ServiceMonitorEtcd", "ServiceMonitor", "TestSupport"],
            swiftSettings: sharedSwiftSettings
        ),
        // The DynamoDB backend beyond the conformance suite (contention, expiry, take-over), on moto.
        .testTarget(
            name: "ServiceMonitorDynamoDBTests",
            dependencies: [
                "ServiceMonitorDynamoDB",
                "ServiceMonitor",
                "DynamoDB",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // One suite every backend passes: in-memory, etcd with one member and with three, DynamoDB (moto).
        .testTarget(
            name: "BackendConformanceTests",
            dependencies: [
                "ServiceMonitor",
                "ServiceMonitorEtcd",
                "Etcd",
                "ServiceMonitorDynamoDB",
                "DynamoDB",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The DynamoDB client: the SigV4 test-suite vectors, the credential sources against
        // loopback HTTP servers, and every operation against moto in server mode.
        // A user and key in moto's IAM mode, signed with the client's own SigV4: for the DynamoDB
        // client's tests and the command line's.
        .target(
            name: "DynamoDBTestSupport",
            dependencies: [
                "TestSupport",
                "DynamoDB",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/DynamoDBTestSupport",
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "DynamoDBTests",
            dependencies: [
                "DynamoDB",
                "TestSupport",
                "DynamoDBTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "MetricsEndpointTests",
            dependencies: [
                "MetricsEndpoint",
                "TestSupport",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        // The command line's parsing: a subcommand parsed as the root parses as the root does.
        .testTarget(
            name: "ServiceMonitorCLITests",
            dependencies: [
                "ServiceMonitorCLI",
                "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "PosixTests",
            dependencies: ["Posix", "TestSupport"],
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "RacingTests",
            dependencies: ["Racing", "TestSupport"],
            swiftSettings: sharedSwiftSettings
        ),
        .testTarget(
            name: "EtcdTests",
            dependencies: [
                "Etcd",
                "Racing",
                "TestSupport",
                // The generated messages encode what RangeResponseDeserializerTests decode.
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: sharedSwiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
