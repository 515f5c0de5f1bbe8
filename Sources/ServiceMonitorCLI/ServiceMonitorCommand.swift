public import ArgumentParser

/// `service-monitor`: the root command.
public struct ServiceMonitorCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "service-monitor",
        abstract: "Monitor a clustered service, publish which instances are healthy, and start instances one at a time — with etcd v3 or AWS DynamoDB as the shared store.",
        version: ServiceMonitorVersion.current,
        subcommands: [WatchCommand.self, HostsCommand.self, AcquireLeaseCommand.self, ReleaseLeaseCommand.self, RunCommand.self, StatusCommand.self, CreateTableCommand.self]
    )

    public init() {}
}

public enum ServiceMonitorVersion {
    public static let current = "0.1.0"
}
