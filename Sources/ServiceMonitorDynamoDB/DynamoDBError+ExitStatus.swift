public import DynamoDB
public import ServiceMonitor

/// How a DynamoDB failure ends a command (docs/commands.md, exit codes): refused credentials or
/// permissions 77; a missing table, unusable credentials or region, or a request the table
/// rejects (another key schema) 78 — the operator must fix those; anything else means DynamoDB
/// could not serve it (unreachable, throttled, 5xx), 69.
extension DynamoDBError: ExitStatusConvertible {
    public var exitStatus: ExitStatus {
        switch code {
        case .accessDenied: .permissionDenied
        case .resourceNotFound, .credentialsFileUnusable, .credentialsUnavailable, .validation: .configuration
        default: .unavailable
        }
    }

    public var exitMessage: String {
        switch code {
        case .resourceNotFound: "\(self); create it with service-monitor create-table --backend dynamodb"
        default: "\(self)"
        }
    }
}
