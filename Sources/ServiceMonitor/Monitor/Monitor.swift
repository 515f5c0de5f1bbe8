public import Logging
public import ServiceLifecycle
public import Systemd

/// `watch`: checks the service every interval, flips its up/down state after `rise`/`fall`
/// consecutive results, and keeps its record in the store current — written on registration,
/// on each transition and after a lost lease is re-established, never merely because a check ran.
///
/// Two loops run side by side so a store outage never stops the checks: the check loop (which
/// feeds the watchdog's ``ProgressSignal``) and the registrar (registration, keep-alive, writes).
/// On graceful shutdown it sends `STOPPING=1` and ends its registration, which removes the record
/// at once (etcd: revoking the lease).
public struct Monitor<Backend: StoreBackend>: Service {
    public let configuration: MonitorConfiguration
    /// The instance's checks; one round of them is one result.
    public let checks: HealthCheckSet
    public let backend: Backend
    public let progress: ProgressSignal
    /// Where the checks, transitions and store outcomes are counted (docs/metrics.md).
    public let metrics: MonitorMetrics
    public var notifier: Notifier
    public var logger: Logger
    /// Runs at the end of each stage of start-up that first uses much of the program, the first
    /// check round and the first registration; after them only the steady loop runs. (The CLI
    /// gives back the pages of the program that start-up alone read.)
    public let startupStageEnded: @Sendable () -> Void

    public init(
        configuration: MonitorConfiguration,
        checks: HealthCheckSet,
        backend: Backend,
        progress: ProgressSignal,
        metrics: MonitorMetrics? = nil,
        notifier: Notifier = Notifier(),
        logger: Logger,
        startupStageEnded: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.checks = checks
        self.backend = backend
        self.progress = progress
        self.metrics = metrics ?? .disabled(for: configuration)
        self.notifier = notifier
        self.startupStageEnded = startupStageEnded
        self.logger = logger.withInstanceContext(
            label: configuration.label, serviceID: configuration.serviceID, host: configuration.host
        )
    }

    public func run() async throws {
        let status = MonitorStatus(host: configuration.host, storeName: backend.name)
        let (firstUp, reachedUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // A store error retrying cannot cure (credentials, permissions, TLS) ends the group and
        // the process, with that error's exit status.
        var permanentError: (any Error)?
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { await checkLoop(status: status) }
                    group.addTask { try await registrar(status: status, storedUp: reachedUp) }
                    if configuration.releasesStartupLease {
                        group.addTask { await releaseStartupLease(after: firstUp) }
                    }
                }
            }
        } catch {
            permanentError = error
        }
        reachedUp.finish()
        await deregister(status: status)
        if let permanentError { throw permanentError }
    }

    // MARK: Checks

    private func checkLoop(status: MonitorStatus) async {
        var health = HealthState(configuration.thresholds)
        var firstCheck = true
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            let round = await checks.checkRound()
            let result = round.combined
            progress.beat()
            metrics.record(round)
            let transition = health.record(result)
            let current = health.current
            status.update { snapshot in
                snapshot.lastResult = result
                if transition != nil {
                    snapshot.health = current
                    snapshot.healthSince = .now
                    snapshot.transitionResult = result
                    snapshot.generation += 1
                }
            }
            // The first result registers the instance even before rise/fall give a verdict
            // (as down, "starting: …"); after that only transitions are written.
            if transition != nil || firstCheck {
                // The first round ends a stage of start-up: before the registrar, woken next,
                // first uses the store's code.
                if firstCheck { startupStageEnded() }
                firstCheck = false
                status.signalChange()
            }
            if let transition {
                metrics.recordTransition()
                log(transition, result)
            }
            notify([.status(status.statusLine())])
            do {
                try await clock.sleep(until: started.advanced(by: configuration.interval))
            } catch {
                return
            }
        }
    }

    private func log(_ transition: HealthTransition, _ result: CheckResult) {
        var metadata: Logger.Metadata = [
            "service_monitor.state": "\(transition.to)",
            "service_monitor.previous_state": "\(transition.from)",
            "service_monitor.latency_usec": "\(result.latency.microseconds)",
            "service_monitor.detail": "\(result.detail)",
        ]
        if let status = result.httpStatus { metadata["service_monitor.http_status"] = "\(status)" }
        if let failure = result.failure { metadata["service_monitor.error"] = "\(failure.kind.rawValue)" }
        if transition.to == .up {
            metadata["message_id"] = "\(MessageID.instanceUp)"
            logger.notice("\(configuration.serviceID) is up: \(result.detail)", metadata: metadata)
        } else {
            metadata["message_id"] = "\(MessageID.instanceDown)"
            logger.warning("\(configuration.serviceID) is down: \(result.detail)", metadata: metadata)
        }
    }

    // MARK: Registration

    /// Keeps a registration and the record on it. Waits for the first check's result (the first check
    /// runs at once), so the first write already carries a real result.
    /// `storedUp` is signalled once an "up" record is stored — not merely seen by a check — so the
    /// next instance, let in by the startup-lease release, already finds this one in `hosts`.
    /// Throws only an error the store calls permanent.
    private func registrar(status: MonitorStatus, storedUp: AsyncStream<Void>.Continuation) async throws {
        let initialRetryDelay = Duration.milliseconds(250)
        var retryDelay = initialRetryDelay
        var lostSince: TimeOfDay?
        var registeredAt: ContinuousClock.Instant?
        var everRegistered = false
        let firstResult = status.changes()
        if status.snapshot.lastResult == nil {
            for await _ in firstResult {
                break
            }
        }
        while !Task.isCancelled {
            do {
                let registration = try await backend.registry.register(
                    configuration.serviceID, of: configuration.label, ttl: configuration.ttl
                )
                status.update { $0.openRegistration = registration }
                metrics.recordRegistered()
                // Subscribed before the write: a transition during it is written right after.
                let changes = status.changes()
                let generation = try await write(status: status, to: registration, storedUp: storedUp)
                status.update { $0.registration = .registered }
                registeredAt = .now
                logRegistered(registration, restoredAfter: lostSince)
                lostSince = nil
                notify([.status(status.statusLine())] + (configuration.readyWhen == .started ? [.ready] : []))
                if !everRegistered { startupStageEnded() }
                everRegistered = true
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await registration.keepAlive() }
                    group.addTask {
                        var written = generation
                        for await _ in changes {
                            written = try await writeUntilStored(status: status, to: registration, after: written, storedUp: storedUp)
                        }
                        // The stream ends at shutdown; stop the keep-alive with us.
                        throw CancellationError()
                    }
                }
            } catch {
                // Only our own cancellation (shutdown) ends registration; any other error,
                // a CancellationError from inside a broken stream included, is retried.
                guard !Task.isCancelled else { return }
                status.update { $0.openRegistration = nil }
                metrics.recordStoreError()
                if backend.isPermanent(error) { throw error }
                // A full store refuses a new instance outright (exit 69); one already registered
                // waits for the operator to free space, checking meanwhile.
                let outOfSpace = backend.isOutOfSpace(error)
                if outOfSpace && !everRegistered { throw error }
                // Only a registration that lasted resets the back-off: one lost at once again
                // must not turn into a loop of grants and writes.
                var lostAtOnce = false
                if let registeredAt {
                    if ContinuousClock.now - registeredAt >= configuration.ttl {
                        retryDelay = initialRetryDelay
                    } else {
                        lostAtOnce = true
                    }
                }
                registeredAt = nil
                let since = lostSince ?? .now
                if lostSince == nil {
                    lostSince = since
                    logger.warning(
                        "\(backend.name) unreachable or registration lost; checks continue and registration is retried",
                        metadata: ["message_id": "\(MessageID.etcdLost)", "service_monitor.error": "\(error)"]
                    )
                }
                status.update {
                    $0.registration = outOfSpace ? .outOfSpace(since: since) : .degraded(since: since, reason: Self.shortReason(error))
                }
                notify([.status(status.statusLine())])
                do {
                    try await Task.sleep(for: retryDelay)
                } catch {
                    return
                }
                // A store that does not answer is retried at least every 500 ms (each try at a silent
                // member ends after --dial-timeout), so a healed partition is met within a second;
                // only a registration lost at once again backs off further, to 2 s.
                retryDelay = min(retryDelay * 2, lostAtOnce ? .seconds(2) : .milliseconds(500))
            }
        }
    }

    /// Writes the current record; returns the generation written.
    private func write(
        status: MonitorStatus, to registration: some InstanceRegistration, storedUp: AsyncStream<Void>.Continuation
    ) async throws -> Int {
        let snapshot = status.snapshot
        let record = InstanceRecord(
            serviceID: configuration.serviceID.rawValue,
            host: configuration.host,
            state: snapshot.health == .up ? .up : .down,
            since: snapshot.healthSince.timestamp,
            detail: snapshot.health == .unknown
                ? "starting: " + (snapshot.lastResult?.detail ?? "no check yet")
                : (snapshot.transitionResult ?? snapshot.lastResult)?.detail ?? "",
            info: configuration.info
        )
        try await registration.publish(record)
        metrics.recordStored(record.state)
        if record.state == .up {
            // Only the first matters; yields to the finished stream do nothing.
            storedUp.yield()
            storedUp.finish()
            // `--ready-when healthy` (and `run`): ready once the up record is stored, so a unit
            // ordered After= this one already finds the instance in `hosts`.
            let sendReady = configuration.readyWhen == .healthy && status.update { snapshot in
                defer { snapshot.readySent = true }
                return !snapshot.readySent
            }
            if sendReady { notify([.ready, .status(status.statusLine())]) }
        }
        return snapshot.generation
    }

    /// Writes after a transition, retrying while the store is briefly unreachable; a lost lease
    /// ends the keep-alive task, which cancels this and re-registers.
    private func writeUntilStored(
        status: MonitorStatus, to registration: some InstanceRegistration, after written: Int,
        storedUp: AsyncStream<Void>.Continuation
    ) async throws -> Int {
        guard status.snapshot.generation != written else { return written }
        var failedSince: TimeOfDay?
        while true {
            do {
                let stored = try await write(status: status, to: registration, storedUp: storedUp)
                if failedSince != nil {
                    status.update { $0.registration = .registered }
                    notify([.status(status.statusLine())])
                }
                return stored
            } catch is CancellationError {
                throw CancellationError()
            } catch where backend.isPermanent(error) {
                throw error
            } catch {
                metrics.recordStoreError()
                // One warning per streak of failures, and STATUS= says why while it lasts.
                if failedSince == nil {
                    let since = TimeOfDay.now
                    failedSince = since
                    logger.warning("could not store the new state; retrying", metadata: ["service_monitor.error": "\(error)"])
                    if backend.isOutOfSpace(error) {
                        status.update { $0.registration = .outOfSpace(since: since) }
                        notify([.status(status.statusLine())])
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func logRegistered(_ registration: some InstanceRegistration, restoredAfter lostSince: TimeOfDay?) {
        if let lostSince {
            logger.notice(
                "\(backend.name) reachable again; registered anew",
                metadata: ["message_id": "\(MessageID.etcdRestored)", "service_monitor.lost_since": "\(lostSince.timestamp)"]
            )
        }
        logger.info(
            "registered \(configuration.serviceID) at \(registration.location)",
            metadata: ["message_id": "\(MessageID.registered)", "service_monitor.lease": "\(registration.handle)"]
        )
    }

    // MARK: Startup lease

    /// At the first up, gives back this id's startup lease so the next instance may start.
    /// Best effort: a failure is logged and the lease ends at its own timeout.
    private func releaseStartupLease(after firstUp: AsyncStream<Void>) async {
        for await _ in firstUp {
            let lease = StartupLease(
                semaphore: backend.semaphore, label: configuration.label, serviceID: configuration.serviceID,
                logger: logger, notifier: notifier
            )
            for attempt in 1...3 {
                do {
                    _ = try await lease.release()
                    metrics.recordStartupLease(held: false)
                    return
                } catch {
                    guard !Task.isCancelled else { return }
                    logger.warning(
                        "could not release the startup lease (attempt \(attempt) of 3); it ends at its --lease-timeout",
                        metadata: ["service_monitor.error": "\(error)"]
                    )
                    do { try await Task.sleep(for: .seconds(1)) } catch { return }
                }
            }
            return
        }
    }

    // MARK: Shutdown

    private func deregister(status: MonitorStatus) async {
        notify([.stopping, .status("stopping: deregistering")])
        // Stopped between the write and its acknowledgement, the record may exist already.
        let snapshot = status.snapshot
        guard let registration = snapshot.openRegistration else {
            logger.info("stopping; nothing registered to remove")
            return
        }
        do {
            try await registration.end()
            logger.info("deregistered \(configuration.serviceID)", metadata: ["message_id": "\(MessageID.deregistered)"])
        } catch {
            logger.warning(
                "could not deregister; the record expires with its lease within \(configuration.ttl.operatorDescription)",
                metadata: ["service_monitor.error": "\(error)"]
            )
        }
    }

    private func notify(_ assignments: [NotifyAssignment]) {
        do {
            try notifier.notify(assignments)
        } catch {
            logger.error("sd_notify failed", metadata: ["service_monitor.error": "\(error)"])
        }
    }

    private static func shortReason(_ error: any Error) -> String {
        let text = "\(error)"
        return text.count > 120 ? String(text.prefix(117)) + "…" : text
    }
}

extension Duration {
    var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }

    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
