public import MetricsEndpoint
public import ServiceMonitor

/// `--metrics-address` names a port this host will not give (taken, not its address,
/// privileged): the host's configuration, 78.
extension MetricsEndpointError: ExitStatusConvertible {
    public var exitStatus: ExitStatus { .configuration }

    public var exitMessage: String { "--metrics-address: \(message)" }
}
