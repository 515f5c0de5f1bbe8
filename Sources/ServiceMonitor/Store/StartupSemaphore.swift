public import Logging

/// The startup lease of every label: a FIFO semaphore of `slots` slots whose slots outlive the
/// process that took them. A slot ends on ``release(_:of:)``, or `leaseTimeout` after it was
/// taken (or last renewed); a waiter's place ends when it leaves or stops renewing it.
public protocol StartupSemaphore: Sendable {
    associatedtype Ticket: StartupTicket

    /// If `serviceID` holds a slot of `label`, extends it to a fresh `leaseTimeout` (keeping its
    /// place among the holders) and returns `true`; otherwise changes nothing.
    func renew(_ serviceID: ServiceID, of label: Label, leaseTimeout: Duration) async throws -> Bool

    /// Joins the queue of `label`; an entry of this id left by an earlier, killed attempt keeps
    /// its place in line. The entry stays only while the ticket is kept alive.
    func enqueue(_ serviceID: ServiceID, of label: Label, entry: StartupEntryValue, logger: Logger) async throws -> Ticket

    /// Whether `serviceID` holds a slot of `label` now (a read that sees every acknowledged write).
    func holds(_ serviceID: ServiceID, of label: Label) async throws -> Bool

    /// Gives this id's slot back, if it holds one; returns whether it did. Never touches
    /// another id's slot.
    func release(_ serviceID: ServiceID, of label: Label) async throws -> Bool
}

/// A waiter's place in a label's queue.
public protocol StartupTicket: Sendable {
    /// Renews the queue entry until the task is cancelled; throws once it is lost.
    func keepAlive() async throws -> Never

    /// Returns once this waiter holds one of `slots` slots, taken for `leaseTimeout`; waiters
    /// are admitted in the order they queued, a release waking one waiter, not all. Calls
    /// `report` with the position and holders whenever they differ from the last report.
    func waitForSlot(slots: Int, leaseTimeout: Duration, report: @escaping @Sendable (StartupQueueReport) async -> Void) async throws

    /// Leaves the queue now (no-op once promoted).
    func leave() async throws
}

/// Where a waiter stands, for its log lines and `STATUS=`.
public struct StartupQueueReport: Sendable, Hashable {
    public struct Holder: Sendable, Hashable {
        public var serviceID: String
        /// Until the slot ends on its own; `nil` when it is ending.
        public var timeLeft: Duration?

        public init(serviceID: String, timeLeft: Duration?) {
            self.serviceID = serviceID
            self.timeLeft = timeLeft
        }
    }

    /// Waiters ahead of this one.
    public var position: Int
    public var queueLength: Int
    /// Oldest first.
    public var holders: [Holder]

    public init(position: Int, queueLength: Int, holders: [Holder]) {
        self.position = position
        self.queueLength = queueLength
        self.holders = holders
    }
}
