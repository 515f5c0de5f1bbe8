import DynamoDB
import Etcd
import Logging
import ServiceMonitor
import ServiceMonitorDynamoDB
import ServiceMonitorEtcd
import Synchronization
import Testing
import TestSupport

/// The backends every test here runs on.
enum BackendUnderTest: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory = "in-memory"
    case etcd = "etcd, one member"
    case etcdCluster = "etcd, three members"
    case dynamoDB = "DynamoDB (moto)"

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty backend of this kind.
    func with<Result: Sendable>(_ body: (any StoreBackend) async throws -> Result) async throws -> Result {
        switch self {
        case .inMemory:
            return try await body(InMemoryBackend())
        case .etcd, .etcdCluster:
            return try await EtcdCluster.with(members: self == .etcd ? 1 : 3) { cluster in
                let configuration = EtcdClient.Configuration(
                    endpoints: cluster.clientURLs, dialTimeout: .seconds(2), requestTimeout: .seconds(5)
                )
                return try await withEtcdClient(configuration) { client in
                    try await body(EtcdBackend(client: client, layout: try KeyLayout(prefix: "/conformance")))
                }
            }
        case .dynamoDB:
            return try await MotoServer.with { moto in
                let client = try DynamoDBClient(
                    region: "us-east-1", endpoint: moto.endpoint,
                    credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: "AKIDCONFORMANCE", secretAccessKey: "moto-accepts-any"))
                )
                let layout = try TableLayout(table: "service-monitor", prefix: "/conformance")
                _ = try await client.createTable(
                    CreateTable(tableName: layout.table, attributeDefinitions: layout.attributeDefinitions, keySchema: layout.keySchema),
                    deadline: .now + .seconds(30)
                )
                // A short poll interval: the suite's waits are seconds.
                return try await body(DynamoDBBackend(client: client, layout: layout, requestTimeout: .seconds(5), pollInterval: .milliseconds(100)))
            }
        }
    }
}

/// What every ``StoreBackend`` must do, as the commands rely on it: registration order, expiry
/// and end of registrations, follow, and the FIFO startup semaphore with slots and timeouts.
@Suite("Backend conformance", .timeLimit(.minutes(2)))
struct BackendConformanceTests {
    let label = try! Label("conformance")
    let logger = Logger(label: "conformance")

    static func record(_ id: String, _ state: InstanceRecord.State = .up) -> InstanceRecord {
        InstanceRecord(
            serviceID: id, host: "127.0.0.1", state: state, since: InstanceRecord.timestamp(), detail: "test",
            info: try! ServiceInfo(parsing: "{\"name\": \"\(id)\"}")
        )
    }

    static func id(_ name: String) -> ServiceID { try! ServiceID(name) }

    // MARK: Registry

    /// c-1 (up), a-2 (down) and b-3 (up), registered in that order, each on its own host.
    private func publishThree(_ registry: some InstanceRegistry) async throws -> [any InstanceRegistration] {
        var registrations: [any InstanceRegistration] = []
        for (index, (name, state)) in [("c-1", InstanceRecord.State.up), ("a-2", .down), ("b-3", .up)].enumerated() {
            let registration = try await registry.register(Self.id(name), of: label, ttl: .seconds(10))
            var record = Self.record(name, state)
            record.host = "127.0.0.\(index + 1)"
            try await registration.publish(record)
            registrations.append(registration)
        }
        return registrations
    }

    @Test(arguments: BackendUnderTest.allCases)
    func instancesAreListedInRegistrationOrderAndKeepTheirPlace(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let registry = backend.registry
            let registrations = try await publishThree(registry)
            #expect(try await registry.instances(of: label).map(\.serviceID) == ["c-1", "a-2", "b-3"])
            #expect(try await registry.instances(of: label).map(\.state) == [.up, .down, .up])
            // Rewriting the first keeps it first.
            try await registrations[0].publish(Self.record("c-1", .down))
            #expect(try await registry.instances(of: label).map(\.serviceID) == ["c-1", "a-2", "b-3"])
            #expect(try await registry.instances(of: label).first?.state == .down)
            #expect(try await registry.instances(of: try Label("other")).isEmpty)
            for registration in registrations { try await registration.end() }
        }
    }

    /// A listing for some fields has what a whole one has in those fields, in the same order.
    @Test(arguments: BackendUnderTest.allCases)
    func aListingForSomeFieldsAgreesWithAWholeOneOnThem(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let registry = backend.registry
            let registrations = try await publishThree(registry)
            let whole = try await registry.instances(of: label)
            let hosts = try await registry.instances(of: label, keeping: [.host, .state])
            #expect(hosts.map(\.host) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
            #expect(hosts.map(\.host) == whole.map(\.host))
            #expect(hosts.map(\.state) == whole.map(\.state))
            let withInfo = try await registry.instances(of: label, keeping: [.serviceID, .host, .state, .info])
            #expect(withInfo.map(\.serviceID) == ["c-1", "a-2", "b-3"])
            #expect(withInfo.map(\.info) == whole.map(\.info))
            #expect(try await registry.instances(of: label, keeping: .all) == whole)
            for registration in registrations { try await registration.end() }
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func anInstanceIsVisibleOnlyFromItsFirstPublishUntilItsEnd(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let registration = try await backend.registry.register(Self.id("one"), of: label, ttl: .seconds(10))
            #expect(try await backend.registry.instances(of: label).isEmpty)
            try await registration.publish(Self.record("one"))
            #expect(try await backend.registry.instances(of: label).map(\.serviceID) == ["one"])
            try await registration.end()
            #expect(try await backend.registry.instances(of: label).isEmpty)
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func aRegistrationLivesWhileKeptAliveAndExpiresAfterwards(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let registry = backend.registry
            // 3 s: renewals every second leave room for a loaded machine.
            let registration = try await registry.register(Self.id("kept"), of: label, ttl: .seconds(3))
            try await registration.publish(Self.record("kept"))
            let clock = ContinuousClock()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await registration.keepAlive() }
                // Twice the ttl: only renewals keep it.
                try await clock.sleep(for: .seconds(6))
                #expect(try await registry.instances(of: label).map(\.serviceID) == ["kept"])
                group.cancelAll()
            }
            let stopped = clock.now
            // etcd rounds leases up to whole seconds and expires them on its leader's tick.
            try await until(registry, within: .seconds(5) + LoadedRun.lateness) { $0.isEmpty }
            #expect(clock.now - stopped <= .seconds(5) + LoadedRun.lateness)
            await #expect(throws: (any Error).self) { try await registration.publish(Self.record("kept")) }
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func followDeliversTheLatestSetAfterChangesUntilTold(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let registry = backend.registry
            let seen = Sets()
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
                group.addTask {
                    try await registry.follow(label) { instances in
                        let ids = instances.map(\.serviceID)
                        seen.sets.withLock { $0.append(ids) }
                        startedContinuation.yield()
                        return ids != ["b"]
                    }
                }
                for await _ in started { break }
                let a = try await registry.register(Self.id("a"), of: label, ttl: .seconds(10))
                try await a.publish(Self.record("a"))
                let b = try await registry.register(Self.id("b"), of: label, ttl: .seconds(10))
                try await b.publish(Self.record("b", .down))
                try await a.end()
                try await group.waitForAll()
                try await b.end()
            }
            let sets = seen.sets.withLock { $0 }
            #expect(sets.first == [])
            #expect(sets.last == ["b"])
            // Each set delivered is one the label went through, in order: a backend may hand over
            // only the latest of changes that came faster than `body` ran, or a set unchanged.
            let history = [[], ["a"], ["a", "b"], ["b"]]
            var position = 0
            for set in sets {
                let found = try #require(history[position...].firstIndex(of: set), "\(set) after \(history[position])")
                position = found
            }
        }
    }

    // MARK: Startup semaphore

    @Test(arguments: BackendUnderTest.allCases)
    func oneSlotAdmitsWaitersInTheOrderTheyQueued(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let semaphore = backend.semaphore
            let order = Names()
            try await take(semaphore, "first", slots: 1, order: order)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in ["second", "third", "fourth"] {
                    // Queued one after the other: each waits (reports) before the next asks.
                    let waiting = try await queue(semaphore, name, slots: 1, order: order, in: &group)
                    #expect(waiting.position == ["second", "third", "fourth"].firstIndex(of: name))
                }
                for holder in ["first", "second", "third"] {
                    #expect(try await semaphore.release(Self.id(holder), of: label))
                    let next = next(after: holder)
                    try await eventually("\(next) to get the slot", timeout: .seconds(10), every: .milliseconds(20)) {
                        try await semaphore.holds(Self.id(next), of: label)
                    }
                }
                try await group.waitForAll()
            }
            #expect(order.names.withLock { $0 } == ["first", "second", "third", "fourth"])
            #expect(try await backend.status(of: label).labels.first?.startup.holders.map(\.serviceID) == ["fourth"])
        }

        func next(after holder: String) -> String {
            let names = ["first", "second", "third", "fourth"]
            return names[names.firstIndex(of: holder)! + 1]
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func severalSlotsAdmitThatManyAtOnce(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let semaphore = backend.semaphore
            let order = Names()
            try await take(semaphore, "a", slots: 2, order: order)
            try await take(semaphore, "b", slots: 2, order: order)
            try await withThrowingTaskGroup(of: Void.self) { group in
                let waiting = try await queue(semaphore, "c", slots: 2, order: order, in: &group)
                #expect(waiting.holders.map(\.serviceID) == ["a", "b"])
                #expect(try await semaphore.holds(Self.id("c"), of: label) == false)
                #expect(try await semaphore.release(Self.id("b"), of: label))
                try await group.waitForAll()
            }
            #expect(try await semaphore.holds(Self.id("a"), of: label))
            #expect(try await semaphore.holds(Self.id("c"), of: label))
            #expect(try await semaphore.holds(Self.id("b"), of: label) == false)
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func aSlotNobodyReleasesEndsAtItsLeaseTimeout(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let semaphore = backend.semaphore
            let order = Names()
            try await take(semaphore, "stuck", slots: 1, leaseTimeout: .seconds(2), order: order)
            let clock = ContinuousClock()
            let asked = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                let waiting = try await queue(semaphore, "next", slots: 1, order: order, in: &group)
                #expect(waiting.holders.map(\.serviceID) == ["stuck"])
                // Whole seconds in etcd: nil once under one second is left ("ending").
                #expect(waiting.holders.first?.timeLeft.map { $0 <= .seconds(2) } ?? true)
                try await group.waitForAll()
            }
            #expect(clock.now - asked <= .seconds(5))
            #expect(try await semaphore.holds(Self.id("stuck"), of: label) == false)
            #expect(order.names.withLock { $0 } == ["stuck", "next"])
        }
    }

    /// However long a waiter was first in line, its slot's `--lease-timeout` starts when it takes
    /// the slot; and a waiter first in line for longer than its own lease timeout is still admitted
    /// (whatever it prepared for its slot while it waited has run out by then).
    @Test(arguments: BackendUnderTest.allCases)
    func aSlotsTimeStartsWhenItIsTakenHoweverLongItsTakerWaited(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let semaphore = backend.semaphore
            let order = Names()
            try await take(semaphore, "first", slots: 1, order: order)
            // First in line for 4 s, with a 10 s lease timeout: ~10 s left once admitted, not ~6.
            try await admit(semaphore, "second", leaseTimeout: .seconds(10), firstInLineFor: .seconds(4), behind: "first", order: order)
            let left = try #require(try await backend.status(of: label).labels.first?.startup.holders.first?.secondsLeft)
            #expect(left >= 8, "\(left) s left")
            try await admit(semaphore, "third", leaseTimeout: .seconds(2), firstInLineFor: .seconds(3), behind: "second", order: order)
            #expect(try await semaphore.holds(Self.id("third"), of: label))
            #expect(order.names.withLock { $0 } == ["first", "second", "third"])
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func aWaiterThatLeavesNoLongerBlocksTheOnesBehindIt(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let semaphore = backend.semaphore
            let order = Names()
            try await take(semaphore, "holder", slots: 1, order: order)
            let leaving = try await semaphore.enqueue(Self.id("leaving"), of: label, entry: Self.entry("leaving"), logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                let waiting = try await queue(semaphore, "behind", slots: 1, order: order, in: &group)
                #expect(waiting.position == 1)
                try await leaving.leave()
                #expect(try await backend.status(of: label).labels.first?.startup.queue == ["behind"])
                #expect(try await semaphore.release(Self.id("holder"), of: label))
                try await group.waitForAll()
            }
            #expect(order.names.withLock { $0 } == ["holder", "behind"])
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func renewAndReleaseTouchOnlyTheirOwnSlot(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let semaphore = backend.semaphore
            #expect(try await semaphore.renew(Self.id("mine"), of: label, leaseTimeout: .seconds(60)) == false)
            try await take(semaphore, "mine", slots: 1, leaseTimeout: .seconds(3), order: Names())
            #expect(try await semaphore.renew(Self.id("mine"), of: label, leaseTimeout: .seconds(60)))
            let left = try #require(try await backend.status(of: label).labels.first?.startup.holders.first?.secondsLeft)
            #expect(left > 50)
            #expect(try await semaphore.release(Self.id("other"), of: label) == false)
            #expect(try await semaphore.holds(Self.id("mine"), of: label))
            #expect(try await semaphore.release(Self.id("mine"), of: label))
            #expect(try await semaphore.release(Self.id("mine"), of: label) == false)
        }
    }

    @Test(arguments: BackendUnderTest.allCases)
    func statusShowsEveryLabelsInstancesHoldersAndQueue(kind: BackendUnderTest) async throws {
        try await kind.with { backend in
            let other = try Label("another")
            let registration = try await backend.registry.register(Self.id("web-1"), of: other, ttl: .seconds(10))
            try await registration.publish(Self.record("web-1", .down))
            try await take(backend.semaphore, "holder", slots: 1, order: Names())
            let waiter = try await backend.semaphore.enqueue(Self.id("waiter"), of: label, entry: Self.entry("waiter"), logger: logger)
            let report = try await backend.status(of: nil)
            #expect(report.labels.map(\.label) == ["another", "conformance"])
            #expect(report.labels[0].instances.map(\.serviceID) == ["web-1"])
            #expect(report.labels[0].instances.first?.state == .down)
            #expect(report.labels[1].startup.holders.map(\.serviceID) == ["holder"])
            #expect(report.labels[1].startup.queue == ["waiter"])
            #expect(try await backend.status(of: other).labels.map(\.label) == ["another"])
            try await waiter.leave()
            try await registration.end()
        }
    }

    // MARK: Helpers

    static func entry(_ id: String) -> StartupEntryValue {
        StartupEntryValue(serviceID: id, host: "127.0.0.1", askedAt: InstanceRecord.timestamp())
    }

    /// Queues `name` and waits until it holds a slot (it must be free).
    private func take(
        _ semaphore: some StartupSemaphore, _ name: String, slots: Int, leaseTimeout: Duration = .seconds(60), order: Names
    ) async throws {
        let ticket = try await semaphore.enqueue(Self.id(name), of: label, entry: Self.entry(name), logger: logger)
        try await withTimeout(.seconds(10), "\(name) taking a free slot") {
            try await ticket.waitForSlot(slots: slots, leaseTimeout: leaseTimeout) { _ in }
        }
        order.names.withLock { $0.append(name) }
    }

    /// Queues `name` in a child task of `group` that records its admission in `order`; returns
    /// its first report, once it waits.
    private func queue(
        _ semaphore: some StartupSemaphore, _ name: String, slots: Int, leaseTimeout: Duration = .seconds(60), order: Names,
        in group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws -> StartupQueueReport {
        let ticket = try await semaphore.enqueue(Self.id(name), of: label, entry: Self.entry(name), logger: logger)
        let (reports, reported) = AsyncStream.makeStream(of: StartupQueueReport.self)
        group.addTask {
            try await withTimeout(.seconds(20), "\(name) waiting for a slot") {
                try await ticket.waitForSlot(slots: slots, leaseTimeout: leaseTimeout) { reported.yield($0) }
            }
            order.names.withLock { $0.append(name) }
            reported.finish()
        }
        for await report in reports { return report }
        throw TestFailure("\(name) was admitted at once instead of waiting")
    }

    /// Queues `name` behind `holder`, the one slot's holder, keeps it first in line for `waiting`,
    /// then releases `holder` and waits until `name` is admitted.
    private func admit(
        _ semaphore: some StartupSemaphore, _ name: String, leaseTimeout: Duration, firstInLineFor waiting: Duration, behind holder: String,
        order: Names, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            _ = try await queue(semaphore, name, slots: 1, leaseTimeout: leaseTimeout, order: order, in: &group)
            try await Task.sleep(for: waiting)
            #expect(try await semaphore.release(Self.id(holder), of: label), sourceLocation: sourceLocation)
            try await group.waitForAll()
        }
    }

    /// Follows the label until `done` holds for its instances.
    private func until(_ registry: some InstanceRegistry, within limit: Duration, _ done: @escaping @Sendable ([InstanceRecord]) -> Bool) async throws {
        try await withTimeout(limit, "the instances of \(label) to change") {
            try await registry.follow(label) { !done($0) }
        }
    }
}

/// Names in the order something happened to them, shared with child tasks.
final class Names: Sendable {
    let names = Mutex<[String]>([])
}

final class Sets: Sendable {
    let sets = Mutex<[[String]]>([])
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
