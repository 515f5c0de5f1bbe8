public import Etcd
public import ServiceMonitor

/// How an etcd failure ends a command (docs/commands.md, exit codes): refused credentials 77, a TLS or client
/// configuration the operator must fix 78, anything else means etcd could not serve it, 69.
extension EtcdError: ExitStatusConvertible {
    public var exitStatus: ExitStatus {
        switch code {
        case .permissionDenied, .authenticationFailed: .permissionDenied
        case .invalidConfiguration, .tlsFailure: .configuration
        default: .unavailable
        }
    }

    public var exitMessage: String {
        "etcd: \(code): \(message)" + (endpoint.map { " (\($0))" } ?? "")
    }
}
