import Synchronization

/// A value shared between the concurrent halves of a stream (request producer and response
/// handler), which gRPC requires to be `@Sendable` closures.
final class LockedValue<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try self.mutex.withLock { try body(&$0) }
    }

    var value: Value {
        self.mutex.withLock { $0 }
    }
}
