@testable import DynamoDB
import DynamoDBTestSupport
import Foundation
import Testing
import TestSupport

/// Every operation the backend needs, against moto in server mode (a fresh server per test).
/// moto never expires TTL items, as it should not matter: readers filter on the expiry.
@Suite
struct MotoIntegrationTests {
    static var deadline: ContinuousClock.Instant { .now + .seconds(30) }
    static let anyCredentials = StaticCredentialsProvider(AWSCredentials(accessKeyID: "AKIDMOTO", secretAccessKey: "moto-accepts-any"))

    static func client(_ moto: MotoServer, credentials: any AWSCredentialsProvider = anyCredentials) throws -> DynamoDBClient {
        try DynamoDBClient(region: "us-east-1", endpoint: moto.endpoint, credentials: credentials)
    }

    /// The table shape the backend uses: partition key `pk`, sort key `sk`.
    static func createTable(_ client: DynamoDBClient, _ name: String = "service-monitor") async throws {
        _ = try await client.createTable(
            CreateTable(tableName: name, attributeDefinitions: [.init("pk", .string), .init("sk", .string)], keySchema: [.init("pk", .hash), .init("sk", .range)]),
            deadline: Self.deadline
        )
    }

    static func code(_ error: any Error) -> DynamoDBError.Code? { (error as? DynamoDBError)?.code }

    @Test
    func createTableIsIdempotentAndEnablesTTL() async throws {
        try await MotoServer.with { moto in
            let client = try Self.client(moto)
            await #expect { try await client.describeTable(DescribeTable(tableName: "service-monitor"), deadline: Self.deadline) } throws: { Self.code($0) == .resourceNotFound }
            try await Self.createTable(client)
            await #expect { try await Self.createTable(client) } throws: { Self.code($0) == .resourceInUse }
            let table = try await client.describeTable(DescribeTable(tableName: "service-monitor"), deadline: Self.deadline).table
            #expect(table.tableStatus == "ACTIVE")
            #expect(table.keySchema == [.init("pk", .hash), .init("sk", .range)])
            #expect(table.billingMode == "PAY_PER_REQUEST")

            let updated = try await client.updateTimeToLive(
                UpdateTimeToLive(tableName: "service-monitor", timeToLiveSpecification: .init(attributeName: "expires", enabled: true)), deadline: Self.deadline
            )
            #expect(updated.timeToLiveSpecification == .init(attributeName: "expires", enabled: true))
            let ttl = try await client.describeTimeToLive(DescribeTimeToLive(tableName: "service-monitor"), deadline: Self.deadline)
            #expect(ttl.timeToLiveDescription?.timeToLiveStatus == "ENABLED")
            #expect(ttl.timeToLiveDescription?.attributeName == "expires")
        }
    }

    @Test
    func conditionalWritesOnAnOwnerToken() async throws {
        try await MotoServer.with { moto in
            let client = try Self.client(moto)
            try await Self.createTable(client)
            let key: Item = ["pk": .s("instances/web"), "sk": .s("host-a")]
            let record = key.merging(["owner": .s("token-1"), "expires": .number(2_000_000_000)]) { $1 }
            try await client.putItem(PutItem(tableName: "service-monitor", item: record, conditionExpression: "attribute_not_exists(pk)"), deadline: Self.deadline)
            // The failure brings the item as it is when asked to (whose token holds it).
            await #expect {
                try await client.putItem(
                    PutItem(tableName: "service-monitor", item: record, conditionExpression: "attribute_not_exists(pk)", returnValuesOnConditionCheckFailure: .allOld),
                    deadline: Self.deadline
                )
            } throws: { error in
                guard let error = error as? DynamoDBError else { return false }
                return error.code == .conditionalCheckFailed && error.item?["owner"] == .s("token-1")
            }

            // Renewal by the owner succeeds, by another token fails and changes nothing.
            let renew = { (owner: String, expires: Int) in
                UpdateItem(
                    tableName: "service-monitor", key: key, updateExpression: "SET #e = :e", conditionExpression: "#o = :o",
                    expressionAttributeNames: ["#e": "expires", "#o": "owner"], expressionAttributeValues: [":e": .number(expires), ":o": .s(owner)],
                    returnValues: .allNew
                )
            }
            let renewed = try await client.updateItem(renew("token-1", 2_000_000_100), deadline: Self.deadline)
            #expect(renewed.attributes?["expires"] == .n("2000000100"))
            await #expect { try await client.updateItem(renew("token-2", 2_000_000_200), deadline: Self.deadline) } throws: { Self.code($0) == .conditionalCheckFailed }
            let read = try await client.getItem(GetItem(tableName: "service-monitor", key: key, consistentRead: true), deadline: Self.deadline)
            #expect(read.item?["expires"] == .n("2000000100"))

            await #expect {
                try await client.deleteItem(
                    DeleteItem(tableName: "service-monitor", key: key, conditionExpression: "#o = :o", expressionAttributeNames: ["#o": "owner"], expressionAttributeValues: [":o": .s("token-2")]),
                    deadline: Self.deadline
                )
            } throws: { Self.code($0) == .conditionalCheckFailed }
            let deleted = try await client.deleteItem(
                DeleteItem(
                    tableName: "service-monitor", key: key, conditionExpression: "#o = :o", expressionAttributeNames: ["#o": "owner"],
                    expressionAttributeValues: [":o": .s("token-1")], returnValues: .allOld
                ),
                deadline: Self.deadline
            )
            #expect(deleted.attributes?["owner"] == .s("token-1"))
            #expect(try await client.getItem(GetItem(tableName: "service-monitor", key: key, consistentRead: true), deadline: Self.deadline).item == nil)
        }
    }

    @Test
    func updateItemAddCountsTickets() async throws {
        try await MotoServer.with { moto in
            let client = try Self.client(moto)
            try await Self.createTable(client)
            var tickets: [Int64] = []
            for _ in 0..<3 {
                let output = try await client.updateItem(
                    UpdateItem(
                        tableName: "service-monitor", key: ["pk": .s("semaphore/web"), "sk": .s("counter")], updateExpression: "ADD #n :one",
                        expressionAttributeNames: ["#n": "next"], expressionAttributeValues: [":one": .number(1)], returnValues: .updatedNew
                    ),
                    deadline: Self.deadline
                )
                tickets.append(try #require(output.attributes?["next"]?.int64Value))
            }
            #expect(tickets == [1, 2, 3])
        }
    }

    @Test
    func queryFiltersExpiredItemsWithConsistentReadsAndPages() async throws {
        try await MotoServer.with { moto in
            let client = try Self.client(moto)
            try await Self.createTable(client)
            let now = 1_900_000_000
            for index in 0..<25 {
                // Every fifth one expired; they stay in the table (moto, like DynamoDB for days).
                let expires = index % 5 == 0 ? now - 10 : now + 60
                let item: Item = ["pk": .s("instances/web"), "sk": .s(String(format: "host-%02d", index)), "expires": .number(expires)]
                try await client.putItem(PutItem(tableName: "service-monitor", item: item), deadline: Self.deadline)
            }
            try await client.putItem(PutItem(tableName: "service-monitor", item: ["pk": .s("instances/db"), "sk": .s("host-x"), "expires": .number(now + 60)]), deadline: Self.deadline)
            let live = Query(
                tableName: "service-monitor", keyConditionExpression: "pk = :pk", filterExpression: "#e > :now",
                expressionAttributeNames: ["#e": "expires"], expressionAttributeValues: [":pk": .s("instances/web"), ":now": .number(now)], consistentRead: true
            )
            let all = try await client.queryAll(live, deadline: Self.deadline)
            #expect(all.count == 20)
            #expect(all.allSatisfy { $0["pk"] == .s("instances/web") && ($0["expires"]?.int64Value ?? 0) > Int64(now) })
            #expect(all.compactMap { $0["sk"]?.stringValue } == (0..<25).filter { $0 % 5 != 0 }.map { String(format: "host-%02d", $0) })

            // Pages of 4 evaluated items: a key to continue from, and the same items in the end.
            var paged = live
            paged.limit = 4
            let first = try await client.query(paged, deadline: Self.deadline)
            #expect(first.scannedCount == 4)
            #expect(first.lastEvaluatedKey?["sk"] == .s("host-03"))
            #expect(first.items.count == 3)  // host-00 expired
            #expect(try await client.queryAll(paged, deadline: Self.deadline).map { $0["sk"] } == all.map { $0["sk"] })
        }
    }

    @Test
    func transactionsApplyWhollyOrReportEachItemsReason() async throws {
        try await MotoServer.with { moto in
            let client = try Self.client(moto)
            try await Self.createTable(client)
            let holder: Item = ["pk": .s("semaphore/web"), "sk": .s("holder/a")]
            let counter: Item = ["pk": .s("semaphore/web"), "sk": .s("holders")]
            try await client.putItem(PutItem(tableName: "service-monitor", item: counter.merging(["count": .number(0)]) { $1 }), deadline: Self.deadline)
            let promote = { (slots: Int, name: String) in
                TransactWriteItems([
                    .put(PutItem(tableName: "service-monitor", item: ["pk": .s("semaphore/web"), "sk": .s("holder/\(name)")], conditionExpression: "attribute_not_exists(pk)")),
                    .update(
                        UpdateItem(
                            tableName: "service-monitor", key: counter, updateExpression: "ADD #c :one", conditionExpression: "#c < :slots",
                            expressionAttributeNames: ["#c": "count"], expressionAttributeValues: [":one": .number(1), ":slots": .number(slots)]
                        )
                    ),
                ])
            }
            try await client.transactWriteItems(promote(1, "a"), deadline: Self.deadline)
            #expect(try await client.getItem(GetItem(tableName: "service-monitor", key: holder, consistentRead: true), deadline: Self.deadline).item != nil)

            // The slot is taken: the counter's condition fails, the put of b is undone.
            await #expect { try await client.transactWriteItems(promote(1, "b"), deadline: Self.deadline) } throws: { error in
                guard case .transactionCanceled(let reasons) = Self.code(error) else { return false }
                return reasons.map(\.code) == ["None", "ConditionalCheckFailed"]
            }
            #expect(try await client.getItem(GetItem(tableName: "service-monitor", key: ["pk": .s("semaphore/web"), "sk": .s("holder/b")], consistentRead: true), deadline: Self.deadline).item == nil)

            // A condition check on its own item, and a delete, in one transaction.
            try await client.transactWriteItems(
                TransactWriteItems([
                    .conditionCheck(.init(tableName: "service-monitor", key: holder, conditionExpression: "attribute_exists(pk)")),
                    .delete(DeleteItem(tableName: "service-monitor", key: counter)),
                ]),
                deadline: Self.deadline
            )
            #expect(try await client.getItem(GetItem(tableName: "service-monitor", key: counter, consistentRead: true), deadline: Self.deadline).item == nil)
        }
    }

    /// What the semaphore relies on of the stand-in: a failing transaction undoes only itself.
    /// Bare moto puts back a copy of the whole table, taking with it counter increments that
    /// committed meanwhile (a large table widens the window); `MotoServer` runs it one request
    /// at a time so that it does not.
    @Test
    func writesCommittedBesideFailingTransactionsAreKept() async throws {
        try await MotoServer.with { moto in
            let client = try Self.client(moto)
            try await Self.createTable(client)
            let padding = String(repeating: "x", count: 200)
            for index in 0..<300 {
                try await client.putItem(PutItem(tableName: "service-monitor", item: ["pk": .s("pad"), "sk": .s("\(index)"), "v": .s(padding)]), deadline: Self.deadline)
            }
            let taken: Item = ["pk": .s("semaphore/web"), "sk": .s("taken")]
            try await client.putItem(PutItem(tableName: "service-monitor", item: taken), deadline: Self.deadline)
            let counter: Item = ["pk": .s("semaphore/web"), "sk": .s("counter")]
            let (tasks, rounds) = (4, 40)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<rounds {
                            try await client.updateItem(
                                UpdateItem(
                                    tableName: "service-monitor", key: counter, updateExpression: "ADD #n :one",
                                    expressionAttributeNames: ["#n": "n"], expressionAttributeValues: [":one": .number(1)]
                                ),
                                deadline: Self.deadline
                            )
                        }
                    }
                    group.addTask {
                        for _ in 0..<rounds {
                            await #expect {
                                try await client.transactWriteItems(
                                    TransactWriteItems([.put(PutItem(tableName: "service-monitor", item: taken, conditionExpression: "attribute_not_exists(sk)"))]),
                                    deadline: Self.deadline
                                )
                            } throws: { if case .transactionCanceled = Self.code($0) { true } else { false } }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let read = try await client.getItem(GetItem(tableName: "service-monitor", key: counter, consistentRead: true), deadline: Self.deadline)
            #expect(read.item?["n"]?.int64Value == Int64(tasks * rounds))
        }
    }

    // MARK: - SigV4 against moto's IAM mode


    @Test
    func signaturesAreCheckedInIAMMode() async throws {
        // The first three calls (the IAM set-up) need no authentication; every later one does.
        try await MotoServer.with(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"]) { moto in
            let user = try await moto.createIAMUser()
            let accessKeyID = user.accessKeyID, secret = user.secretAccessKey

            let right = try Self.client(moto, credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secret)))
            try await Self.createTable(right)
            #expect(try await right.describeTable(DescribeTable(tableName: "service-monitor"), deadline: Self.deadline).table.tableStatus == "ACTIVE")

            let wrongSecret = try Self.client(moto, credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: "not-" + secret)))
            await #expect { try await wrongSecret.describeTable(DescribeTable(tableName: "service-monitor"), deadline: Self.deadline) } throws: { error in
                guard let error = error as? DynamoDBError else { return false }
                return error.code == .accessDenied && !"\(error)".contains(secret)
            }
            let unknownKey = try Self.client(moto, credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: "AKIAUNKNOWNKEY000000", secretAccessKey: secret)))
            await #expect { try await unknownKey.describeTable(DescribeTable(tableName: "service-monitor"), deadline: Self.deadline) } throws: { Self.code($0) == .accessDenied }
        }
    }
}
