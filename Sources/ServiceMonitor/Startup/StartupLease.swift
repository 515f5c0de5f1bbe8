public import Logging
import Racing
public import Systemd

/// The startup lease of one label, as one service id sees it: acquiring (FIFO, with progress
/// reports, `EXTEND_TIMEOUT_USEC` and the acquire timeout) and releasing, over any backend's
/// ``StartupSemaphore``.
public struct StartupLease<Semaphore: StartupSemaphore>: Sendable {
    public let semaphore: Semaphore
    public let label: Label
    public let serviceID: ServiceID
    public var logger: Logger
    public var notifier: Notifier

    /// Under a notify socket, how often and by how much the unit's start timeout is extended
    /// while waiting, so `TimeoutStartSec=` can stay finite.
    static var extendEvery: Duration { .seconds(5) }
    static var extendBy: Duration { .seconds(15) }

    public init(semaphore: Semaphore, label: Label, serviceID: ServiceID, logger: Logger, notifier: Notifier = Notifier()) {
        self.semaphore = semaphore
        self.label = label
        self.serviceID = serviceID
        self.notifier = notifier
        self.logger = logger.withInstanceContext(label: label, serviceID: serviceID)
    }

    // MARK: Release

    /// Gives this id's slot back, if it holds one; returns whether it did. Never touches another
    /// id's slot. `release-lease` and `watch` (at the first up) both come here.
    public func release() async throws -> Bool {
        let released = try await semaphore.release(serviceID, of: label)
        if released {
            logger.notice(
                "released the startup lease of \(label) held by \(serviceID)",
                metadata: ["message_id": "\(MessageID.startupLeaseReleased)"]
            )
        } else {
            logger.debug("\(serviceID) held no startup lease of \(label)")
        }
        return released
    }

    // MARK: Acquire

    /// Waits until this id holds one of `request.slots` slots, `request.acquireTimeout` passes,
    /// or `interrupted` returns (the caller's SIGTERM/SIGINT); in the last two cases the queue
    /// entry is removed before returning.
    public func acquire(
        _ request: AcquireRequest,
        interrupted: @escaping @Sendable () async -> Void
    ) async throws -> AcquireOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started.advanced(by: request.acquireTimeout)
        if try await semaphore.renew(serviceID, of: label, leaseTimeout: request.leaseTimeout) {
            logger.notice(
                "\(serviceID) already holds the startup lease of \(label); renewed to \(request.leaseTimeout.operatorDescription)",
                metadata: ["message_id": "\(MessageID.startupLeaseAcquired)"]
            )
            return .alreadyHeld
        }

        let entry = StartupEntryValue(serviceID: serviceID.rawValue, host: request.host, askedAt: InstanceRecord.timestamp())
        let ticket = try await semaphore.enqueue(serviceID, of: label, entry: entry, logger: logger)
        let outcome: AcquireOutcome
        do {
            let decided = try await race(
                { () async throws -> AcquireOutcome? in try await ticket.keepAlive() },
                {
                    try await ticket.waitForSlot(slots: request.slots, leaseTimeout: request.leaseTimeout) { report in
                        self.report(report, request)
                    }
                    return .acquired(waited: clock.now - started)
                },
                {
                    try await clock.sleep(until: deadline)
                    return .timedOut
                },
                {
                    await interrupted()
                    return Task.isCancelled ? nil : .interrupted
                },
                {
                    await extendStartTimeout()
                    return nil
                }
            )
            guard let decided else { throw CancellationError() }
            outcome = decided
        } catch {
            try? await ticket.leave()
            throw error
        }
        // Acquired: the promotion took the entry out of the queue. Otherwise leave it now.
        if case .acquired = outcome {} else { try? await ticket.leave() }
        let settled = await settle(outcome, waited: clock.now - started)
        log(settled, request)
        return settled
    }

    /// A promotion in flight when the deadline or a signal ended the wait may have committed
    /// anyway. Past the deadline the slot is kept (it was won in time); after a signal it is
    /// given back, so nobody waits on a slot whose owner is stopping.
    private func settle(_ outcome: AcquireOutcome, waited: Duration) async -> AcquireOutcome {
        guard outcome == .timedOut || outcome == .interrupted,
              (try? await semaphore.holds(serviceID, of: label)) == true
        else { return outcome }
        if outcome == .timedOut { return .acquired(waited: waited) }
        _ = try? await release()
        return outcome
    }

    // MARK: Reporting

    /// Logs the position and the holders (with time left); the ticket reports only changes.
    private func report(_ report: StartupQueueReport, _ request: AcquireRequest) {
        let described = report.holders.map { holder in
            holder.serviceID + (holder.timeLeft.map { " (\($0.operatorDescription) left)" } ?? " (ending)")
        }
        let holders = described.isEmpty ? "nobody" : described.joined(separator: ", ")
        let ahead = report.position == 0 ? "first in line" : "\(report.position) ahead in the queue"
        let line = "waiting for the startup lease of \(label): \(ahead); held by \(holders) (\(request.slots) slot\(request.slots == 1 ? "" : "s"))"
        logger.info(Logger.Message(stringLiteral: line), metadata: [
            "message_id": "\(MessageID.startupLeaseWaiting)",
            "service_monitor.queue_position": "\(report.position)",
            "service_monitor.queue_length": "\(report.queueLength)",
            "service_monitor.holders": "\(holders)",
        ])
        _ = try? notifier.notify([.status(line)])
    }

    private func log(_ outcome: AcquireOutcome, _ request: AcquireRequest) {
        switch outcome {
        case .acquired(let waited):
            logger.notice(
                "acquired the startup lease of \(label) for \(serviceID) after \(waited.roundedToMilliseconds.operatorDescription); it ends at release, first healthy check or in \(request.leaseTimeout.operatorDescription)",
                metadata: ["message_id": "\(MessageID.startupLeaseAcquired)", "service_monitor.waited_usec": "\(waited.microseconds)"]
            )
        case .timedOut:
            logger.warning(
                "gave up waiting for the startup lease of \(label) after \(request.acquireTimeout.operatorDescription); left the queue",
                metadata: ["message_id": "\(MessageID.startupLeaseTimedOut)"]
            )
        case .interrupted:
            logger.warning("interrupted while waiting for the startup lease of \(label); left the queue")
        case .alreadyHeld:
            break
        }
    }

    /// Sends `EXTEND_TIMEOUT_USEC` regularly while waiting; returns at once without a notify socket.
    private func extendStartTimeout() async {
        guard Notifier.isSupervised else { return }
        while !Task.isCancelled {
            _ = try? notifier.notify([.extendTimeout(by: Self.extendBy)])
            do {
                try await Task.sleep(for: Self.extendEvery)
            } catch {
                return
            }
        }
    }
}

extension Duration {
    var roundedToMilliseconds: Duration {
        .milliseconds(microseconds / 1000)
    }
}
