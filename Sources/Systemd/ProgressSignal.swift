import Synchronization

/// A heartbeat that a loop bumps each time it makes progress; ``WatchdogPinger`` reads it to
/// decide whether the loop is alive.
public final class ProgressSignal: Sendable {
    private let lastBeat: Mutex<ContinuousClock.Instant>

    public init() {
        lastBeat = Mutex(.now)
    }

    /// Records progress now.
    public func beat() {
        let now = ContinuousClock.now
        lastBeat.withLock { $0 = now }
    }

    /// When progress was last recorded (creation counts as progress).
    public var lastProgress: ContinuousClock.Instant {
        lastBeat.withLock { $0 }
    }
}
