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

/// `--rise` and `--fall`, validated once: each between 1 and ``range``.
public struct HealthThresholds: Sendable, Hashable {
    /// Consecutive ups needed to become up.
    public let rise: Int
    /// Consecutive downs needed to become down.
    public let fall: Int

    /// The counts accepted; beyond 100 checks a flip would take longer than anyone waits.
    public static let range = 1...100
    /// One result flips the state either way.
    public static let defaults = HealthThresholds(validatedRise: 1, fall: 1)

    private init(validatedRise rise: Int, fall: Int) {
        self.rise = rise
        self.fall = fall
    }

    public init(rise: Int, fall: Int) throws(BadInput) {
        for (option, value) in [("--rise", rise), ("--fall", fall)] where !Self.range.contains(value) {
            throw BadInput(option: option, message: "\(value): must be between \(Self.range.lowerBound) and \(Self.range.upperBound)")
        }
        self.init(validatedRise: rise, fall: fall)
    }
}

/// The rise/fall state machine: `rise` consecutive up results make the state up, `fall`
/// consecutive down results make it down. Pure and synchronous, so it is tested exhaustively
/// without any server.
///
/// It starts ``Health/unknown``; the first verdict also needs `rise` (or `fall`) consecutive
/// results, so one lucky answer from a booting service does not count as up when `--rise 3`.
public struct HealthState: Sendable, Hashable {
    /// How many consecutive results flip the state.
    public let thresholds: HealthThresholds
    /// The current verdict.
    public private(set) var current: Health = .unknown
    /// Length of the current run of identical results, capped at `max(rise, fall)` (beyond that
    /// only "enough" matters, and a months-long steady state cannot overflow it).
    public private(set) var streak: Int = 0
    /// Whether the current run is of up results; `nil` before the first result.
    public private(set) var streakIsUp: Bool?

    public init(_ thresholds: HealthThresholds = .defaults) {
        self.thresholds = thresholds
    }

    /// Consecutive ups needed to become up.
    public var rise: Int { thresholds.rise }
    /// Consecutive downs needed to become down.
    public var fall: Int { thresholds.fall }

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
