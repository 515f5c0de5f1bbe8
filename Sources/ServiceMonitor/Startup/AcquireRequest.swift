/// What `acquire-lease` was asked for, validated once, before anything touches the store.
public struct AcquireRequest: Sendable, Hashable {
    /// How long a slot is held without a release (the holder key's lease, never renewed).
    public var leaseTimeout: Duration
    /// How long to wait in the queue before giving up.
    public var acquireTimeout: Duration
    /// How many service ids may hold at once.
    public var slots: Int
    /// This host's address, recorded in the entries for people reading them; `nil` when unknown.
    public var host: String?

    public static let maximumSlots = 1000

    /// Durations are positive (the command line parses them with
    /// ``Swift/Duration/init(parsingPositive:option:)``); this checks the slot count.
    public init(leaseTimeout: Duration, acquireTimeout: Duration, slots: Int, host: String?) throws(BadInput) {
        guard (1...Self.maximumSlots).contains(slots) else {
            throw BadInput(option: "--slots", message: "\(slots): must be between 1 and \(Self.maximumSlots)")
        }
        self.leaseTimeout = leaseTimeout
        self.acquireTimeout = acquireTimeout
        self.slots = slots
        self.host = host
    }
}

/// How `acquire-lease` ended.
public enum AcquireOutcome: Sendable, Hashable {
    /// This id now holds a slot, after waiting `waited`.
    case acquired(waited: Duration)
    /// This id held a slot already; its lease was renewed to the full `--lease-timeout`.
    case alreadyHeld
    /// `--acquire-timeout` ran out; the queue entry is removed.
    case timedOut
    /// SIGTERM/SIGINT while waiting; the queue entry is removed.
    case interrupted
}
