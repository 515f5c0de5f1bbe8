public import Etcd
public import ServiceMonitor

/// How an etcd failure ends a command (docs/commands.md, exit codes): refused credentials 77, a TLS or client
/// configuration the operator must fix 78, anything else means etcd could not serve it, 69 (its
/// NOSPACE alarm too: etcd is there, but cannot take the write).
extension EtcdError: ExitStatusConvertible {
    public var exitStatus: ExitStatus {
        switch code {
        case .permissionDenied, .authenticationFailed: .permissionDenied
        case .invalidConfiguration, .tlsFailure: .configuration
        default: .unavailable
        }
    }

    public var exitMessage: String {
        let what = code == .noSpace ? "\(message); compact and defragment it, then disarm the alarm" : "etcd: \(code): \(message)"
        return what + (endpoint.map { " (\($0))" } ?? "")
    }
}
