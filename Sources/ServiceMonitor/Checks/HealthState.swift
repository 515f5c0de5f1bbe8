/// What the monitor currently believes about the service.
public enum Health: String, Sendable, Hashable, CustomStringConvertible {
    /// No verdict yet: fewer than `rise` consecutive ups or `fall` consecutive downs so far.
    case unknown
    case up
    case down

    public var description: String { self.rawValue }
}

/// A change of ``Health``, reported by ``HealthState/record(_:)`` when the state flips.
public struct HealthTransition: Sendable, Hashable, CustomStringConvertible {
    public var from: Health
    public var to: Health

    public init(from: Health, to: Health) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(self.from) -> \(self.to)" }
}

/// The rise/fall state machine: `rise` consecutive up results make the state up, `fall`
/// consecutive down results make it down. Pure and synchronous, so it is tested exhaustively
/// without any server.
///
/// It starts ``Health/unknown``; the first verdict also needs `rise` (or `fall`) consecutive
/// results, so one lucky answer from a booting service does not count as up when `--rise 3`.
public struct HealthState: Sendable, Hashable {
    /// Consecutive ups needed to become up.
    public let rise: Int
    /// Consecutive downs needed to become down.
    public let fall: Int
    /// The current verdict.
    public private(set) var current: Health = .unknown
    /// Length of the current run of identical results, capped at `max(rise, fall)` (beyond that
    /// only "enough" matters, and a months-long steady state cannot overflow it).
    public private(set) var streak: Int = 0
    /// Whether the current run is of up results; `nil` before the first result.
    public private(set) var streakIsUp: Bool?

    /// - Throws: ``HealthCheckError/Code/invalidThreshold`` when `rise` or `fall` is below 1.
    public init(rise: Int = 1, fall: Int = 1) throws(HealthCheckError) {
        guard rise >= 1 else {
            throw .badValue(.invalidThreshold, option: "--rise", value: String(rise), "must be at least 1")
        }
        guard fall >= 1 else {
            throw .badValue(.invalidThreshold, option: "--fall", value: String(fall), "must be at least 1")
        }
        self.rise = rise
        self.fall = fall
    }

    /// Feeds one check result; returns the transition when this result flips the state.
    @discardableResult
    public mutating func record(_ result: CheckResult) -> HealthTransition? {
        self.record(isUp: result.isUp)
    }

    /// Feeds one up/down outcome; returns the transition when it flips the state.
    @discardableResult
    public mutating func record(isUp: Bool) -> HealthTransition? {
        if self.streakIsUp == isUp {
            // Saturate: only reaching the threshold matters, and this never overflows.
            self.streak = min(self.streak + 1, max(self.rise, self.fall))
        } else {
            self.streakIsUp = isUp
            self.streak = 1
        }
        let target: Health = isUp ? .up : .down
        let needed = isUp ? self.rise : self.fall
        guard self.current != target, self.streak >= needed else { return nil }
        let transition = HealthTransition(from: self.current, to: target)
        self.current = target
        return transition
    }
}
