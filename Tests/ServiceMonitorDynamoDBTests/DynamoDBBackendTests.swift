import DynamoDB
import Logging
import ServiceMonitor
@testable import ServiceMonitorDynamoDB
import Synchronization
import Testing
import TestSupport

/// What the DynamoDB backend does beyond the conformance suite, against moto: the holder count
/// under contention, expired holders removed with the count, a killed attempt's queue item and a
/// taken-over record keeping their places; and the table layout itself.
// The limit guards against a hang, not a slow run: on a fully loaded run, moto (one Python
// process per test, answering one request at a time) has taken these tests past two minutes.
@Suite("DynamoDB backend", .timeLimit(.minutes(4)))
struct DynamoDBBackendTests {
    let label = try! Label("dyn-backend")
    let logger = Logger(label: "dynamodb-backend-tests")

    static func id(_ name: String) -> ServiceID { try! ServiceID(name) }

    static func entry(_ id: String) -> StartupEntryValue {
        StartupEntryValue(serviceID: id, host: "127.0.0.1", askedAt: InstanceRecord.timestamp())
    }

    static func record(_ id: String, _ state: InstanceRecord.State = .up) -> InstanceRecord {
        InstanceRecord(
            serviceID: id, host: "127.0.0.1", state: state, since: InstanceRecord.timestamp(), detail: "test",
            info: try! ServiceInfo(parsing: "{\"name\": \"\(id)\"}")
        )
    }

    /// A fresh moto with the table, and a backend polling every 50 ms.
    static func withBackend<Result: Sendable>(_ body: (DynamoDBBackend, DynamoDBClient) async throws -> Result) async throws -> Result {
        try await MotoServer.with { moto in
            let client = try DynamoDBClient(
                region: "us-east-1", endpoint: moto.endpoint,
                credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: "AKIDBACKEND", secretAccessKey: "moto-accepts-any"))
            )
            let layout = try TableLayout(table: "service-monitor", prefix: "/tests")
            _ = try await client.createTable(
                CreateTable(tableName: layout.table, attributeDefinitions: layout.attributeDefinitions, keySchema: layout.keySchema),
                deadline: .now + .seconds(30)
            )
            return try await body(DynamoDBBackend(client: client, layout: layout, requestTimeout: .seconds(5), pollInterval: .milliseconds(50)), client)
        }
    }

    /// The `count` of `startup#count`, read consistently.
    func holderCount(_ backend: DynamoDBBackend, _ client: DynamoDBClient) async throws -> Int64 {
        let item = try await client.getItem(
            GetItem(tableName: "service-monitor", key: backend.store.layout.holderCount(label), consistentRead: true), deadline: .now + .seconds(5)
        ).item
        return item?["count"]?.int64Value ?? 0
    }

    @Test func eightWaitersRacingForThreeSlotsNeverHoldMoreThanThree() async throws {
        try await Self.withBackend { backend, client in
            let semaphore = backend.semaphore
            let (label, logger, holding) = (label, logger, Holding())
            let names = (0..<8).map { "r-\($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in names {
                    group.addTask {
                        let ticket = try await semaphore.enqueue(Self.id(name), of: label, entry: Self.entry(name), logger: logger)
                        try await withTimeout(.seconds(60), "\(name) to get a slot") {
                            try await ticket.waitForSlot(slots: 3, leaseTimeout: .seconds(60)) { _ in }
                        }
                        holding.state.withLock {
                            $0.now += 1
                            $0.most = max($0.most, $0.now)
                            $0.admitted.append(name)
                        }
                        try await Task.sleep(for: .milliseconds(300))
                        holding.state.withLock { $0.now -= 1 }
                        #expect(try await semaphore.release(Self.id(name), of: label))
                    }
                }
                try await group.waitForAll()
            }
            let final = holding.state.withLock { $0 }
            #expect(final.most <= 3)
            #expect(final.most >= 2, "the slots were used at once")
            #expect(Set(final.admitted) == Set(names))
            #expect(try await holderCount(backend, client) == 0, "the count follows the holder items")
        }
    }

    @Test func anExpiredHolderIsRemovedWithTheCountByTheNextWaiter() async throws {
        try await Self.withBackend { backend, client in
            let semaphore = backend.semaphore
            let stuck = try await semaphore.enqueue(Self.id("stuck"), of: label, entry: Self.entry("stuck"), logger: logger)
            try await stuck.waitForSlot(slots: 1, leaseTimeout: .seconds(1)) { _ in }
            #expect(try await holderCount(backend, client) == 1)
            // An expired slot is no slot: renew says so.
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await semaphore.renew(Self.id("stuck"), of: label, leaseTimeout: .seconds(60)) == false)
            #expect(try await semaphore.holds(Self.id("stuck"), of: label) == false)

            let next = try await semaphore.enqueue(Self.id("next"), of: label, entry: Self.entry("next"), logger: logger)
            try await withTimeout(.seconds(10), "next past the expired holder") {
                try await next.waitForSlot(slots: 1, leaseTimeout: .seconds(60)) { _ in }
            }
            #expect(try await holderCount(backend, client) == 1, "stuck's slot removed, next's counted")
            #expect(try await backend.status(of: label).labels.first?.startup.holders.map(\.serviceID) == ["next"])
        }
    }

    @Test func aKilledAttemptsLiveQueueItemKeepsItsPlaceInLine() async throws {
        try await Self.withBackend { backend, _ in
            let semaphore = backend.semaphore
            _ = try await semaphore.enqueue(Self.id("early"), of: label, entry: Self.entry("early"), logger: logger)
            _ = try await semaphore.enqueue(Self.id("later"), of: label, entry: Self.entry("later"), logger: logger)
            // "early" asks again (its first process was killed): same ticket, still first.
            let again = try await semaphore.enqueue(Self.id("early"), of: label, entry: Self.entry("early"), logger: logger)
            #expect(try await backend.status(of: label).labels.first?.startup.queue == ["early", "later"])
            try await withTimeout(.seconds(10), "early to get the slot") {
                try await again.waitForSlot(slots: 1, leaseTimeout: .seconds(60)) { _ in }
            }
            #expect(try await backend.status(of: label).labels.first?.startup.queue == ["later"])
        }
    }

    @Test func aSecondRegistrationOfAnIDTakesTheRecordOverInItsPlace() async throws {
        try await Self.withBackend { backend, _ in
            let registry = backend.registry
            let old = try await registry.register(Self.id("a"), of: label, ttl: .seconds(3))
            try await old.publish(Self.record("a", .down))
            let other = try await registry.register(Self.id("b"), of: label, ttl: .seconds(10))
            try await other.publish(Self.record("b"))
            // A restarted watcher of "a" before the old record expired: it keeps a's place.
            let new = try await registry.register(Self.id("a"), of: label, ttl: .seconds(10))
            try await new.publish(Self.record("a", .up))
            let instances = try await registry.instances(of: label)
            #expect(instances.map(\.serviceID) == ["a", "b"])
            #expect(instances.first?.state == .up)
            // The old registration lost it: its renewal fails, its end deletes nothing.
            await #expect(throws: DynamoDBBackendError.self) {
                try await withTimeout(.seconds(5), "the old keep-alive to fail") { try await old.keepAlive() }
            }
            try await old.end()
            #expect(try await registry.instances(of: label).map(\.serviceID) == ["a", "b"])
            try await new.end()
            try await other.end()
            #expect(try await registry.instances(of: label).isEmpty)
        }
    }

    @Test(.tags(.fast)) func theLayoutNamesItsKeysAsDocumented() throws {
        let layout = try TableLayout(table: "service-monitor", prefix: "/sm/")
        let web = try Label("Web")
        #expect(layout.instance(web, Self.id("web-1")) == ["pk": .s("/sm/web"), "sk": .s("instance#web-1")])
        #expect(layout.queueEntry(web, Self.id("w")) == ["pk": .s("/sm/web"), "sk": .s("startup#queue#w")])
        #expect(layout.holder(web, Self.id("h")) == ["pk": .s("/sm/web"), "sk": .s("startup#holder#h")])
        #expect(layout.holderCount(web) == ["pk": .s("/sm/web"), "sk": .s("startup#count")])
        #expect(layout.counter(web) == ["pk": .s("/sm/web"), "sk": .s("counter")])
        #expect(layout.labelEntry(web) == ["pk": .s("/sm"), "sk": .s("label#web")])
        #expect(TableLayout.entry(sortKey: "startup#holder#h") == .holder(serviceID: "h"))
        #expect(TableLayout.entry(sortKey: "counter") == nil)
        #expect(throws: BadInput.self) { try TableLayout(table: "a/b", prefix: "/sm") }
        #expect(throws: BadInput.self) { try TableLayout(table: "service-monitor", prefix: "///") }
    }
}

/// How many hold a slot now, the most at once, and who was admitted; shared with child tasks.
final class Holding: Sendable {
    let state = Mutex((now: 0, most: 0, admitted: [String]()))
}
