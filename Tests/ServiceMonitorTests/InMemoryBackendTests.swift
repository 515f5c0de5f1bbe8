import Logging
import ServiceMonitor
import Synchronization
import Systemd
import Testing
import TestSupport

/// The core's logic — the monitor, discovery and the startup lease — in process, over the
/// in-memory backend (the conformance suite holds every backend to the same semantics).
@Suite("Monitor, discovery and startup lease over the in-memory backend", .tags(.fast), .timeLimit(.minutes(1)))
struct InMemoryBackendTests {
    let label = try! Label("memory")
    let logger = Logger(label: "in-memory-test")

    static func record(_ id: String, _ state: InstanceRecord.State, detail: String = "test") -> InstanceRecord {
        InstanceRecord(
            serviceID: id, host: "127.0.0.1", state: state, since: InstanceRecord.timestamp(), detail: detail,
            info: try! ServiceInfo(parsing: "{\"name\": \"\(id)\"}")
        )
    }

    @Test func aMonitorRegistersItsInstanceUpReleasesItsStartupLeaseAndDeregistersWhenStopped() async throws {
        let backend = InMemoryBackend()
        let id = try ServiceID("web-1")
        // This id holds the startup lease, as acquire-lease left it before the service started.
        let ticket = try await backend.semaphore.enqueue(id, of: label, entry: .init(serviceID: "web-1", host: nil, askedAt: "now"), logger: logger)
        try await ticket.waitForSlot(slots: 1, leaseTimeout: .seconds(240)) { _ in }
        #expect(try await backend.semaphore.holds(id, of: label))

        try await withLoopbackHTTPServer(responding: .init(status: 200)) { server in
            let configuration = try MonitorConfiguration(
                label: label, serviceID: id, host: "127.0.0.1", info: .defaultInfo(for: id),
                targets: [try CheckTarget(parsing: server.baseURL + "/health")], checks: .init(timeout: .milliseconds(100)),
                interval: .milliseconds(200), ttl: .seconds(5), readyWhen: .started, commandTimeout: .seconds(2)
            )
            try await withHealthCheckSet(targets: configuration.targets, configuration: configuration.checks) { checks in
                let progress = ProgressSignal()
                let stagesEnded = Mutex(0)
                let monitor = Monitor(
                    configuration: configuration, checks: checks, backend: backend, progress: progress, logger: logger,
                    startupStageEnded: { stagesEnded.withLock { $0 += 1 } }
                )
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await monitor.run() }
                    try await untilInstances(of: backend) { $0.map(\.state) == [.up] }
                    let record = try #require(try await backend.registry.instances(of: label).first)
                    #expect(record.serviceID == "web-1")
                    #expect(record.host == "127.0.0.1")
                    #expect(record.detail.hasPrefix("HTTP 200"))
                    // Released once the up record was stored.
                    try await eventually("the startup lease released", timeout: .seconds(10), every: .milliseconds(20)) {
                        try await !backend.semaphore.holds(id, of: label)
                    }
                    // Start-up ended twice, after the first check round and once registered; two
                    // more rounds end nothing more.
                    for _ in 1...2 {
                        let last = progress.lastProgress
                        try await eventually("another check round", timeout: .seconds(5), every: .milliseconds(20)) {
                            progress.lastProgress > last
                        }
                    }
                    #expect(stagesEnded.withLock { $0 } == 2)
                    group.cancelAll()
                }
            }
        }
        #expect(try await backend.registry.instances(of: label).isEmpty)
    }

    @Test func discoveryHandsOverOnlyInstancesThatAreUpAndOnlyWhenThatSetChanges() async throws {
        let backend = InMemoryBackend()
        let discovery = Discovery(registry: backend.registry, label: label)
        let a = try await backend.registry.register(try ServiceID("a"), of: label, ttl: .seconds(10))
        let aUp = Self.record("a", .up)
        try await a.publish(aUp)
        let b = try await backend.registry.register(try ServiceID("b"), of: label, ttl: .seconds(10))
        try await b.publish(Self.record("b", .down))
        #expect(try await discovery.current().map(\.serviceID) == ["a"])

        let delivered = Delivered()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (first, firstDelivered) = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                try await discovery.follow { up in
                    delivered.sets.withLock { $0.append(up.map(\.serviceID)) }
                    firstDelivered.yield()
                    return up.count < 2
                }
            }
            for await _ in first { break }
            // A rewrite that leaves the set of up instances as it was is not delivered. (The same
            // record: one with another detail is another set, which `--format json` prints.)
            try await a.publish(aUp)
            try await b.publish(Self.record("b", .up))
            try await group.waitForAll()
        }
        #expect(delivered.sets.withLock { $0 } == [["a"], ["a", "b"]])
    }

    @Test func expiryFollowsTheInjectedClockNotTheWallClock() async throws {
        let clock = ManualClock()
        let backend = InMemoryBackend(clock: clock)
        let registration = try await backend.registry.register(try ServiceID("gone"), of: label, ttl: .seconds(15))
        try await registration.publish(Self.record("gone", .up))
        clock.advance(by: .seconds(14))
        #expect(try await backend.registry.instances(of: label).count == 1)
        clock.advance(by: .seconds(1))
        #expect(try await backend.registry.instances(of: label).isEmpty)

        // A holder that never releases blocks the queue for its lease timeout, and no longer.
        let holder = try await backend.semaphore.enqueue(try ServiceID("holder"), of: label, entry: .init(serviceID: "holder", host: nil, askedAt: "t"), logger: logger)
        try await holder.waitForSlot(slots: 1, leaseTimeout: .seconds(240)) { _ in }
        let next = try await backend.semaphore.enqueue(try ServiceID("next"), of: label, entry: .init(serviceID: "next", host: nil, askedAt: "t"), logger: logger)
        let reports = Reports()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (waiting, reported) = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                try await next.waitForSlot(slots: 1, leaseTimeout: .seconds(240)) { report in
                    reports.reports.withLock { $0.append(report) }
                    reported.yield()
                }
            }
            for await _ in waiting { break }
            clock.advance(by: .seconds(239))
            #expect(try await backend.semaphore.holds(try ServiceID("holder"), of: label))
            clock.advance(by: .seconds(1))
            try await group.waitForAll()
        }
        #expect(try await backend.semaphore.holds(try ServiceID("next"), of: label))
        #expect(reports.reports.withLock { $0 } == [
            StartupQueueReport(position: 0, queueLength: 1, holders: [.init(serviceID: "holder", timeLeft: .seconds(240))]),
        ])
    }

    @Test func acquireGivesUpAtItsTimeoutHavingLeftTheQueueAndRenewsASlotItHolds() async throws {
        let backend = InMemoryBackend()
        let first = StartupLease(semaphore: backend.semaphore, label: label, serviceID: try ServiceID("first"), logger: logger)
        let second = StartupLease(semaphore: backend.semaphore, label: label, serviceID: try ServiceID("second"), logger: logger)
        let request = try AcquireRequest(leaseTimeout: .seconds(60), acquireTimeout: .milliseconds(300), slots: 1, host: nil)
        #expect(try await first.acquire(request) { await Self.never() }.isAcquired)
        #expect(try await first.acquire(request) { await Self.never() } == .alreadyHeld)
        #expect(try await second.acquire(request) { await Self.never() } == .timedOut)
        #expect(try await backend.status(of: label).labels.first?.startup.queue == [])
        #expect(try await first.release())
        #expect(try await !first.release())
        #expect(try await second.acquire(request) { await Self.never() }.isAcquired)
    }

    // MARK: Helpers

    static func never() async {
        let (stream, _) = AsyncStream.makeStream(of: Void.self)
        for await _ in stream {}
    }

    private func untilInstances(of backend: InMemoryBackend<ContinuousClock>, _ done: @escaping @Sendable ([InstanceRecord]) -> Bool) async throws {
        try await backend.registry.follow(label) { !done($0) }
    }
}

private final class Delivered: Sendable {
    let sets = Mutex<[[String]]>([])
}

private final class Reports: Sendable {
    let reports = Mutex<[StartupQueueReport]>([])
}

extension AcquireOutcome {
    var isAcquired: Bool {
        if case .acquired = self { true } else { false }
    }
}
