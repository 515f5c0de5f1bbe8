public import Logging
public import ServiceMonitor

/// The startup semaphore in etcd: a FIFO semaphore whose slots outlive the process that took
/// them.
///
/// Holders live at `startup/holders/<id>` on a lease of `--lease-timeout` that nobody renews;
/// waiters at `startup/queue/<id>` on a short lease the waiting process keeps alive, ordered by
/// create revision. Promotion from queue to holder is one transaction guarded by the
/// `startup/admissions` counter; a waiter is woken by a watch on the one key it waits behind.
/// With one slot, the head of the queue is promoted at its wake-up by a transaction guarded by
/// the state itself (its entry, no holder), on a holder lease it was granted while it waited.
public struct EtcdStartupSemaphore: StartupSemaphore {
    let store: EtcdStateStore
    let layout: KeyLayout

    /// A killed or cut-off waiter stops blocking the queue this long after its last renewal:
    /// 9 s, so that with etcd's expiry check (every 500 ms) the queue moves on within 10 s of
    /// the waiter's end (10.1 s measured with 10 s).
    public static var queueEntryTTL: Duration { .seconds(9) }

    /// The idempotent path: an id that holds gets its slot re-bound to a fresh lease of the full
    /// `--lease-timeout` (same key, same create revision, so its place among holders is kept).
    public func renew(_ serviceID: ServiceID, of label: Label, leaseTimeout: Duration) async throws -> Bool {
        let holderKey = layout.startupHolder(label, serviceID)
        guard let held = try await store.entry(at: holderKey) else { return false }
        let lease = try await store.grantLease(ttl: leaseTimeout)
        let renewed = try await store.commit(
            if: [.createRevision(key: holderKey, equals: held.createRevision), .lease(key: holderKey, equals: held.lease)],
            then: [.put(key: holderKey, value: held.value, lease: lease)]
        )
        // The old lease (renewed) or the new one (the slot ended meanwhile) now binds nothing.
        try? await store.revokeLease(renewed ? held.lease : lease)
        return renewed
    }

    public func enqueue(_ serviceID: ServiceID, of label: Label, entry: StartupEntryValue, logger: Logger) async throws -> EtcdStartupTicket {
        let ticket = EtcdStartupTicket(
            store: store, layout: layout, label: label, serviceID: serviceID, value: try entry.encoded(),
            queueLease: try await store.grantLease(ttl: Self.queueEntryTTL), logger: logger
        )
        do {
            // A re-put of an entry left by an earlier, killed attempt keeps its create revision,
            // hence its place in line.
            try await store.put(ticket.queueKey, value: ticket.value, lease: ticket.queueLease)
        } catch {
            try? await ticket.leave()
            throw error
        }
        return ticket
    }

    public func holds(_ serviceID: ServiceID, of label: Label) async throws -> Bool {
        try await store.entry(at: layout.startupHolder(label, serviceID)) != nil
    }

    public func release(_ serviceID: ServiceID, of label: Label) async throws -> Bool {
        let holderKey = layout.startupHolder(label, serviceID)
        // Retried only when the holder key changed between the read and the delete (re-acquired).
        for _ in 0..<5 {
            guard let held = try await store.entry(at: holderKey) else { return false }
            let deleted: Bool
            do {
                deleted = try await store.commit(
                    if: [.createRevision(key: holderKey, equals: held.createRevision), .lease(key: holderKey, equals: held.lease)],
                    then: [.delete(key: holderKey)]
                )
            } catch {
                // The outcome may be unknown (a member died with the request in flight): a read
                // settles it. Gone means released; still there means not applied: try again.
                guard !(error is CancellationError), let after = await store.settledEntry(at: holderKey) else { throw error }
                if after != nil { continue }
                deleted = true
            }
            guard deleted else { continue }
            // The key is gone; the lease held nothing else. Revoking is tidiness, not correctness.
            if held.lease != 0 { try? await store.revokeLease(held.lease) }
            return true
        }
        return false
    }
}

/// A waiter's queue entry and the lease it keeps alive.
public struct EtcdStartupTicket: StartupTicket {
    let store: EtcdStateStore
    let layout: KeyLayout
    let label: Label
    let serviceID: ServiceID
    let value: [UInt8]
    let queueLease: Int64
    let logger: Logger

    var holderKey: String { layout.startupHolder(label, serviceID) }
    var queueKey: String { layout.startupQueueEntry(label, serviceID) }

    public func keepAlive() async throws -> Never {
        try await store.keepAlive(lease: queueLease, ttl: EtcdStartupSemaphore.queueEntryTTL)
    }

    /// Revoking the queue lease removes the entry. Once promoted, the entry is gone and the
    /// lease binds nothing: it ends by itself within the queue TTL, so a promoted waiter does
    /// not revoke it (a round trip kept off the hand-off).
    public func leave() async throws {
        try await store.revokeLease(queueLease)
    }

    /// Reads, decides, and either promotes this waiter or sleeps on one watch; until promoted.
    public func waitForSlot(slots: Int, leaseTimeout: Duration, report: @escaping @Sendable (StartupQueueReport) async -> Void) async throws {
        var lastReport: WaitReport?
        var failedPromotions = 0
        var holderLeft = false
        // With one slot, the head's holder lease, granted while it waits (see promoteAtWake).
        var aheadLease: Int64?
        while true {
            try Task.checkCancellation()
            // Woken because a holder left, the head of the queue is nearly always admitted: its
            // holder lease is granted while the queue is read instead of after, one round trip
            // off the hand-off. A lease the read shows is not needed is revoked; one left by an
            // error binds nothing and runs out.
            async let earlyLease: Int64? = holderLeft ? (try? store.grantLease(ttl: leaseTimeout)) : nil
            let snapshot = StartupSnapshot(listing: try await store.list(prefix: layout.startup(label)), layout: layout, label: label)
            let decision = snapshot.decision(for: queueKey, slots: slots)
            let granted = await earlyLease
            holderLeft = false
            if case .promote = decision {} else if let granted {
                try? await store.revokeLease(granted)
            }
            switch decision {
            case .promote(let queueCreateRevision, let admissionsVersion):
                do {
                    if try await promote(
                        leaseTimeout: leaseTimeout, queueCreateRevision: queueCreateRevision, admissionsVersion: admissionsVersion,
                        granted: granted
                    ) {
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
                lastReport = try await self.report(snapshot, after: lastReport, to: report)
                if slots == 1, aheadLease == nil {
                    aheadLease = try? await store.grantLease(ttl: leaseTimeout)
                }
                try await untilDeleted(in: .prefix(layout.startupHolders(label)), after: snapshot.revision)
                logWake("a holder left")
                if let lease = aheadLease, let entry = snapshot.queue.first, entry.key == queueKey {
                    // Whatever the outcome, the lease is used up: bound to our holder key, or
                    // revoked, or gone.
                    aheadLease = nil
                    do {
                        if try await promoteAtWake(holderLease: lease, queueCreateRevision: entry.createRevision) { return }
                    } catch let failed as PromotionNotApplied {
                        logger.debug("the promotion of \(serviceID) at its wake-up failed without effect: \(failed.cause)")
                    }
                }
                holderLeft = true
            case .waitForPredecessor(let key):
                lastReport = try await self.report(snapshot, after: lastReport, to: report)
                try await untilDeleted(in: .key(key), after: snapshot.revision)
                logWake("\(snapshot.serviceID(ofKey: key)) left the queue ahead")
            }
        }
    }

    /// Moves this waiter from queue to holder after a read that showed a free slot: provided its
    /// queue entry is the one read and nobody was admitted since the read (the counter's version).
    ///
    /// `granted` is a holder lease granted with the read (see ``waitForSlot``); without one, it
    /// is granted here.
    private func promote(leaseTimeout: Duration, queueCreateRevision: Int64, admissionsVersion: Int64, granted: Int64?) async throws -> Bool {
        // Granted now (or with the read just made), not earlier: the slot's lifetime starts when
        // it is taken. A failed grant changes nothing that matters (a lease granted anyway binds
        // nothing and runs out).
        let holderLease: Int64
        do {
            if let granted {
                holderLease = granted
            } else {
                holderLease = try await store.grantLease(ttl: leaseTimeout)
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PromotionNotApplied(cause: error)
        }
        return try await commitPromotion(
            holderLease: holderLease, queueCreateRevision: queueCreateRevision,
            slotFree: .version(key: layout.startupAdmissions(label), equals: admissionsVersion)
        )
    }

    /// The head's promotion when a holder of its one slot leaves, without reading the queue first:
    /// taken only if no key is left under `holders/`. Its holder lease was granted while it
    /// waited, and is renewed in the same moment, so the slot's time still starts when it is
    /// taken. A read and a grant fewer between a release and the next start (bench/RESULTS.md,
    /// (ac)).
    ///
    /// Returns false when the slot was taken meanwhile (the caller reads the queue again).
    /// ``PromotionNotApplied`` when nothing changed for want of a connection or of the lease
    /// (it ran out: the head waited longer than `--lease-timeout`).
    private func promoteAtWake(holderLease: Int64, queueCreateRevision: Int64) async throws -> Bool {
        async let renewal: (any Error)? = {
            do {
                try await store.renewLease(holderLease)
                return nil
            } catch {
                return error
            }
        }()
        let promoted = try await commitPromotion(
            holderLease: holderLease, queueCreateRevision: queueCreateRevision, slotFree: .noKeys(prefix: layout.startupHolders(label))
        )
        if promoted, let failed = await renewal {
            // The transaction found the lease alive, so this failure is the connection's: the
            // slot ends earlier than `--lease-timeout` by the time this waiter was first in line.
            logger.warning(
                "could not restart the startup lease of \(serviceID) when it was taken; it ends early by the time it waited first in line",
                metadata: ["service_monitor.error": "\(failed)"]
            )
        }
        return promoted
    }

    /// Moves this waiter from queue to holder on `holderLease` in one transaction, provided its
    /// queue entry is still the one created at `queueCreateRevision` and `slotFree` holds. The
    /// lease is revoked when the transaction is not taken.
    ///
    /// When the transaction fails, its outcome may be unknown (the member — the leader, say —
    /// died with it in flight), so a linearizable read settles it: our holder key on our lease
    /// means promoted; otherwise it was not applied and ``PromotionNotApplied`` is thrown.
    private func commitPromotion(holderLease: Int64, queueCreateRevision: Int64, slotFree: StoreCondition) async throws -> Bool {
        let promoted: Bool
        do {
            promoted = try await store.commit(
                if: [.createRevision(key: queueKey, equals: queueCreateRevision), slotFree],
                then: [
                    .put(key: holderKey, value: value, lease: holderLease),
                    .delete(key: queueKey),
                    .put(key: layout.startupAdmissions(label), value: Array(serviceID.rawValue.utf8), lease: 0),
                ]
            )
        } catch {
            let settled = await store.settledEntry(at: holderKey)
            if let held = settled ?? nil, held.lease == holderLease {
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

    struct WaitReport: Equatable {
        var position: Int
        var queueLength: Int
        var holders: [String]
    }

    /// Reports the position and the holders (with time left) when they differ from the last report.
    private func report(
        _ snapshot: StartupSnapshot, after last: WaitReport?, to report: @Sendable (StartupQueueReport) async -> Void
    ) async throws -> WaitReport {
        let current = WaitReport(
            position: snapshot.position(of: queueKey) ?? 0, queueLength: snapshot.queue.count, holders: snapshot.holderIDs
        )
        guard current != last else { return current }
        var holders: [StartupQueueReport.Holder] = []
        for holder in snapshot.holders {
            let left = holder.lease == 0 ? nil : try await store.timeToLive(lease: holder.lease)
            holders.append(StartupQueueReport.Holder(serviceID: snapshot.serviceID(ofKey: holder.key), timeLeft: left))
        }
        await report(StartupQueueReport(position: current.position, queueLength: current.queueLength, holders: holders))
        return current
    }

    /// One line per wake-up: shows (and lets tests count) that a release wakes one waiter only.
    private func logWake(_ reason: String) {
        logger.info("woken: \(reason)", metadata: ["service_monitor.wake": "\(reason)"])
    }
}
