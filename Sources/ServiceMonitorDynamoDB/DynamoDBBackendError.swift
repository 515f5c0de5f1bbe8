public import ServiceMonitor

/// Why a registration or queue entry can no longer be used: its item expired, was ended, or
/// was taken over by another process with the same id.
public struct DynamoDBBackendError: Error, Sendable, Hashable, CustomStringConvertible, ExitStatusConvertible {
    public enum Code: Sendable, Hashable {
        case registrationLost
        case queueEntryLost
    }

    public var code: Code
    public var description: String {
        switch code {
        case .registrationLost: "DynamoDB: the registration expired or was ended"
        case .queueEntryLost: "DynamoDB: the queue entry expired or was removed"
        }
    }

    public var exitStatus: ExitStatus { .unavailable }
}
