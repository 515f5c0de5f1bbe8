public import Logging
public import Systemd

/// The startup lease of one label, as one service id sees it: an etcd-backed FIFO semaphore
/// whose slots outlive the process that took them (docs/store-layout.md, docs/commands.md).
///
/// Holders live at `startup/holders/<id>` on a lease of `--lease-timeout` that nobody renews;
/// waiters at `startup/queue/<id>` on a short lease the waiting process keeps alive, ordered by
/// create revision. Promotion from queue to holder is one transaction guarded by the
/// `startup/admissions` counter; a waiter is woken by a watch on the one key it waits behind.
public struct StartupLease<Store: StateStore>: Sendable {
    public let store: Store
    public let layout: KeyLayout
    public let label: Label
    public let serviceID: ServiceID
    public var logger: Logger
    public var notifier: Notifier

    /// A killed waiter stops blocking the queue this long after its last renewal.
    public static var queueEntryTTL: Duration { .seconds(10) }
    /// Under a notify socket, how often and by how much the unit's start timeout is extended
    /// while waiting, so `TimeoutStartSec=` can stay finite.
    static var extendEvery: Duration { .seconds(5) }
    static var extendBy: Duration { .seconds(15) }

    public init(store: Store, layout: KeyLayout, label: Label, serviceID: ServiceID, logger: Logger, notifier: Notifier = Notifier()) {
        self.store = store
        self.layout = layout
        self.label = label
        self.serviceID = serviceID
        self.notifier = notifier
        self.logger = logger.withInstanceContext(label: label, serviceID: serviceID)
    }

    var holderKey: String { layout.startupHolder(label, serviceID) }
    var queueKey: String { layout.startupQueueEntry(label, serviceID) }

    // MARK: Release

    /// Gives this id's slot back, if it holds one; returns whether it did. Never touches another
    /// id's slot. `release-lease` and `watch` (at the first up) both come here.
    public func release() async throws -> Bool {
        // Retried only when the holder key changed between the read and the delete (re-acquired).
        for _ in 0..<5 {
            let listing = try await store.list(prefix: holderKey)
            guard let held = listing.entries.first(where: { $0.key == holderKey }) else {
                logger.debug("\(serviceID) held no startup lease of \(label)")
                return false
            }
            let deleted: Bool
            do {
                deleted = try await store.commit(
                    if: [.createRevision(key: holderKey, equals: held.createRevision), .lease(key: holderKey, equals: held.lease)],
                    then: [.delete(key: holderKey)]
                )
            } catch {
                // The outcome may be unknown (a member died with the request in flight): a read
                // settles it. Gone means released; still there means not applied: try again.
                guard !(error is CancellationError), let after = try? await store.list(prefix: holderKey) else { throw error }
                if after.entries.contains(where: { $0.key == holderKey }) { continue }
                deleted = true
            }
            guard deleted else { continue }
            // The key is gone; the lease held nothing else. Revoking is tidiness, not correctness.
            if held.lease != 0 { try? await store.revokeLease(held.lease) }
            logger.notice(
                "released the startup lease of \(label) held by \(serviceID)",
                metadata: ["message_id": "\(MessageID.startupLeaseReleased)"]
            )
            return true
        }
        return false
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
        let value = try StartupEntryValue(serviceID: serviceID.rawValue, host: request.host, askedAt: InstanceRecord.timestamp()).encoded()
        if try await renewIfHeld(request) {
            logger.notice(
                "\(serviceID) already holds the startup lease of \(label); renewed to \(request.leaseTimeout.operatorDescription)",
                metadata: ["message_id": "\(MessageID.startupLeaseAcquired)"]
            )
            return .alreadyHeld
        }

        let queueLease = try await store.grantLease(ttl: Self.queueEntryTTL)
        let outcome: AcquireOutcome
        do {
            // A re-put of an entry left by an earlier, killed attempt keeps its create revision,
            // hence its place in line.
            try await store.put(queueKey, value: value, lease: queueLease)
            outcome = try await withThrowingTaskGroup(of: AcquireOutcome?.self) { group in
                group.addTask { try await store.keepAlive(lease: queueLease, ttl: Self.queueEntryTTL) }
                group.addTask {
                    try await waitForSlot(request, value: value, queueLease: queueLease)
                    return .acquired(waited: clock.now - started)
                }
                group.addTask {
                    try await clock.sleep(until: deadline)
                    return .timedOut
                }
                group.addTask {
                    await interrupted()
                    return Task.isCancelled ? nil : .interrupted
                }
                group.addTask {
                    await extendStartTimeout()
                    return nil
                }
                defer { group.cancelAll() }
                while let next = try await group.next() {
                    if let next { return next }
                }
                throw CancellationError()
            }
        } catch {
            try? await store.revokeLease(queueLease)
            throw error
        }
        // Acquired: the promotion deleted the queue entry, so its lease binds nothing and ends
        // by itself within queueEntryTTL; not revoking it keeps a round trip off the hand-off.
        // Otherwise revoking removes the entry now.
        if case .acquired = outcome {} else { try? await store.revokeLease(queueLease) }
        let settled = await settle(outcome, waited: clock.now - started)
        log(settled, request)
        return settled
    }

    /// A promotion in flight when the deadline or a signal ended the wait may have committed
    /// anyway. Past the deadline the slot is kept (it was won in time); after a signal it is
    /// given back, so nobody waits on a slot whose owner is stopping.
    private func settle(_ outcome: AcquireOutcome, waited: Duration) async -> AcquireOutcome {
        guard outcome == .timedOut || outcome == .interrupted,
              let listing = try? await store.list(prefix: holderKey),
              listing.entries.contains(where: { $0.key == holderKey })
        else { return outcome }
        if outcome == .timedOut { return .acquired(waited: waited) }
        _ = try? await release()
        return outcome
    }

    /// The idempotent path: an id that holds gets its slot re-bound to a fresh lease of the full
    /// `--lease-timeout` (same key, same create revision, so its place among holders is kept).
    private func renewIfHeld(_ request: AcquireRequest) async throws -> Bool {
        let listing = try await store.list(prefix: holderKey)
        guard let held = listing.entries.first(where: { $0.key == holderKey }) else { return false }
        let lease = try await store.grantLease(ttl: request.leaseTimeout)
        let renewed = try await store.commit(
            if: [.createRevision(key: holderKey, equals: held.createRevision), .lease(key: holderKey, equals: held.lease)],
            then: [.put(key: holderKey, value: held.value, lease: lease)]
        )
        // The old lease (renewed) or the new one (the slot ended meanwhile) now binds nothing.
        try? await store.revokeLease(renewed ? held.lease : lease)
        return renewed
    }

    /// Reads, decides, and either promotes this waiter or sleeps on one watch; until promoted.
    private func waitForSlot(_ request: AcquireRequest, value: [UInt8], queueLease: Int64) async throws {
        var lastReport: WaitReport?
        var failedPromotions = 0
        while true {
            try Task.checkCancellation()
            let snapshot = StartupSnapshot(listing: try await store.list(prefix: layout.startup(label)), layout: layout, label: label)
            switch snapshot.decision(for: queueKey, slots: request.slots) {
            case .promote(let queueCreateRevision, let admissionsVersion):
                do {
                    if try await promote(request, value: value, queueCreateRevision: queueCreateRevision, admissionsVersion: admissionsVersion) {
                        return
                    }
                    // Someone else was admitted since the read: read again.
                } catch let failed as PromotionNotApplied {
                    // A member died with the request in flight; nothing was applied: read again
                    // (that read fails, ending the wait, if etcd is really gone).
                    failedPromotions += 1
                    guard failedPromotions < 3 else { throw failed.cause }
                    logger.warning(
                        "the promotion of \(serviceID) failed without effect; trying again",
                        metadata: ["service_monitor.error": "\(failed.cause)"]
                    )
                }
            case .notQueued:
                logger.warning("the queue entry of \(serviceID) vanished; queueing again")
                try await store.put(queueKey, value: value, lease: queueLease)
            case .waitForHolders:
                lastReport = try await report(snapshot, request, after: lastReport)
                try await untilDeleted(in: .prefix(layout.startupHolders(label)), after: snapshot.revision)
                logWake("a holder left")
            case .waitForPredecessor(let key):
                lastReport = try await report(snapshot, request, after: lastReport)
                try await untilDeleted(in: .key(key), after: snapshot.revision)
                logWake("\(StartupSnapshot.serviceID(ofKey: key)) left the queue ahead")
            }
        }
    }

    /// Moves this waiter from queue to holder in one transaction, provided its queue entry is
    /// the one read and nobody was admitted since the read (the counter's version).
    ///
    /// When the transaction fails, its outcome may be unknown (the member — the leader, say —
    /// died with it in flight), so a linearizable read settles it: our holder key on our lease
    /// means promoted; otherwise it was not applied and ``PromotionNotApplied`` is thrown.
    private func promote(_ request: AcquireRequest, value: [UInt8], queueCreateRevision: Int64, admissionsVersion: Int64) async throws -> Bool {
        // Granted now, not earlier: the slot's lifetime starts when it is taken. A failed grant
        // changes nothing that matters (a lease granted anyway binds nothing and runs out).
        let holderLease: Int64
        do {
            holderLease = try await store.grantLease(ttl: request.leaseTimeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PromotionNotApplied(cause: error)
        }
        let admissions = layout.startupAdmissions(label)
        let promoted: Bool
        do {
            promoted = try await store.commit(
                if: [.createRevision(key: queueKey, equals: queueCreateRevision), .version(key: admissions, equals: admissionsVersion)],
                then: [
                    .put(key: holderKey, value: value, lease: holderLease),
                    .delete(key: queueKey),
                    .put(key: admissions, value: Array(serviceID.rawValue.utf8), lease: 0),
                ]
            )
        } catch {
            let settled = try? await store.list(prefix: holderKey)
            if settled?.entries.contains(where: { $0.key == holderKey && $0.lease == holderLease }) == true {
                return true
            }
            try? await store.revokeLease(holderLease)
            guard settled != nil, !(error is CancellationError) else { throw error }
            throw PromotionNotApplied(cause: error)
        }
        if !promoted { try? await store.revokeLease(holderLease) }
        return promoted
    }

    /// A promotion that failed and certainly changed nothing.
    struct PromotionNotApplied: Error {
        var cause: any Error
    }

    enum WatchedRange {
        case prefix(String)
        case key(String)
    }

    /// Returns once a key in `range` is deleted after `revision` (or the revision was compacted:
    /// the caller reads again either way).
    private func untilDeleted(in range: WatchedRange, after revision: Int64) async throws {
        let sawDeletion: @Sendable ([StoreChange]) async throws -> Bool = { changes in
            !changes.contains { if case .delete = $0 { true } else { false } }
        }
        do {
            switch range {
            case .prefix(let prefix): try await store.watch(prefix: prefix, after: revision, sawDeletion)
            case .key(let key): try await store.watch(key: key, after: revision, sawDeletion)
            }
        } catch is StoreCompactedError {
            return
        }
        // A watch cut short by cancellation (timeout, signal) is not a wake-up.
        try Task.checkCancellation()
    }

    // MARK: Reporting

    struct WaitReport: Equatable {
        var position: Int
        var queueLength: Int
        var holders: [String]
    }

    /// Logs the position and the holders (with time left) when they differ from the last report.
    private func report(_ snapshot: StartupSnapshot, _ request: AcquireRequest, after last: WaitReport?) async throws -> WaitReport {
        let current = WaitReport(
            position: snapshot.position(of: queueKey) ?? 0, queueLength: snapshot.queue.count, holders: snapshot.holderIDs
        )
        guard current != last else { return current }
        var described: [String] = []
        for holder in snapshot.holders {
            let left = holder.lease == 0 ? nil : try await store.timeToLive(lease: holder.lease)
            described.append(StartupSnapshot.serviceID(ofKey: holder.key) + (left.map { " (\($0.operatorDescription) left)" } ?? " (ending)"))
        }
        let holders = described.isEmpty ? "nobody" : described.joined(separator: ", ")
        let ahead = current.position == 0 ? "first in line" : "\(current.position) ahead in the queue"
        let line = "waiting for the startup lease of \(label): \(ahead); held by \(holders) (\(request.slots) slot\(request.slots == 1 ? "" : "s"))"
        logger.info(Logger.Message(stringLiteral: line), metadata: [
            "message_id": "\(MessageID.startupLeaseWaiting)",
            "service_monitor.queue_position": "\(current.position)",
            "service_monitor.queue_length": "\(current.queueLength)",
            "service_monitor.holders": "\(holders)",
        ])
        _ = try? notifier.notify([.status(line)])
        return current
    }

    /// One line per wake-up: shows (and lets tests count) that a release wakes one waiter only.
    private func logWake(_ reason: String) {
        logger.info("woken: \(reason)", metadata: ["service_monitor.wake": "\(reason)"])
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
