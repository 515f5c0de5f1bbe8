/// When `watch` tells systemd it is ready (`--ready-when`).
public enum ReadyWhen: String, Sendable, CaseIterable {
    /// Once running and registered in etcd.
    case started
    /// At the first up: lets other units order `After=` the monitor and start only once the
    /// service is healthy.
    case healthy
}

/// Everything `watch` was asked to do, validated.
public struct MonitorConfiguration: Sendable {
    public var label: Label
    public var serviceID: ServiceID
    public var host: String
    public var info: ServiceInfo
    /// Between check starts.
    public var interval: Duration
    /// Consecutive results that flip the state.
    public var rise: Int
    public var fall: Int
    /// Lifetime of the registration lease without renewals.
    public var ttl: Duration
    public var readyWhen: ReadyWhen
    /// Bound on one store call at shutdown (deregistration).
    public var commandTimeout: Duration
    /// Give back this service id's startup lease at the first up (off: `--no-release-lease`).
    public var releasesStartupLease: Bool

    public init(
        label: Label, serviceID: ServiceID, host: String, info: ServiceInfo,
        interval: Duration, rise: Int, fall: Int, ttl: Duration, readyWhen: ReadyWhen, commandTimeout: Duration,
        releasesStartupLease: Bool = true
    ) {
        self.label = label
        self.serviceID = serviceID
        self.host = host
        self.info = info
        self.interval = interval
        self.rise = rise
        self.fall = fall
        self.ttl = ttl
        self.readyWhen = readyWhen
        self.commandTimeout = commandTimeout
        self.releasesStartupLease = releasesStartupLease
    }
}
