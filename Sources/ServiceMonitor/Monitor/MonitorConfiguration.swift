/// When `watch` tells systemd it is ready (`--ready-when`).
public enum ReadyWhen: String, Sendable, CaseIterable {
    /// Once running and registered in etcd.
    case started
    /// At the first up: lets other units order `After=` the monitor and start only once the
    /// service is healthy.
    case healthy
}

/// Everything `watch` was asked to do, validated once: later code takes these values as they are.
public struct MonitorConfiguration: Sendable {
    public let label: Label
    public let serviceID: ServiceID
    public let host: String
    public let info: ServiceInfo
    /// What is checked, in the order given (at least one): up when every check is.
    public let targets: [CheckTarget]
    /// How each check is made; its timeout is shorter than ``interval``.
    public let checks: HealthChecker.Configuration
    /// Between check starts.
    public let interval: Duration
    /// Consecutive results that flip the state.
    public let thresholds: HealthThresholds
    /// Lifetime of the registration lease without renewals; at least ``minimumTTL``.
    public let ttl: Duration
    public let readyWhen: ReadyWhen
    /// Bound on one store call at shutdown (deregistration).
    public let commandTimeout: Duration
    /// Give back this service id's startup lease at the first up (off: `--no-release-lease`).
    public let releasesStartupLease: Bool

    /// The shortest `--ttl` a keep-alive renews in time.
    public static let minimumTTL = Duration.seconds(2)

    /// Refuses an instance without checks.
    public static func requireChecks(_ targets: [CheckTarget]) throws(BadInput) {
        guard targets.isEmpty else { return }
        throw BadInput(option: "--monitor-url", message: "missing: give --monitor-url or --monitor-command")
    }

    /// Durations are positive (the command line parses them so); this checks how they relate.
    public init(
        label: Label, serviceID: ServiceID, host: String, info: ServiceInfo,
        targets: [CheckTarget], checks: HealthChecker.Configuration = .defaults, interval: Duration, thresholds: HealthThresholds = .defaults,
        ttl: Duration, readyWhen: ReadyWhen, commandTimeout: Duration, releasesStartupLease: Bool = true
    ) throws(BadInput) {
        try Self.requireChecks(targets)
        guard checks.timeout < interval else {
            throw BadInput(
                option: "--timeout",
                message: "\(checks.timeout.operatorDescription.debugDescription) must be shorter than --interval \(interval.operatorDescription.debugDescription)"
            )
        }
        guard ttl >= Self.minimumTTL else {
            throw BadInput(
                option: "--ttl",
                message: "\(ttl.operatorDescription.debugDescription): at least \(Self.minimumTTL.operatorDescription), so the keep-alive can renew it in time"
            )
        }
        self.label = label
        self.serviceID = serviceID
        self.host = host
        self.info = info
        self.targets = targets
        self.checks = checks
        self.interval = interval
        self.thresholds = thresholds
        self.ttl = ttl
        self.readyWhen = readyWhen
        self.commandTimeout = commandTimeout
        self.releasesStartupLease = releasesStartupLease
    }
}
