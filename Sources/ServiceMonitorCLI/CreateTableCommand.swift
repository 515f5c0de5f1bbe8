import ArgumentParser
import DynamoDB
import ServiceMonitor
import ServiceMonitorDynamoDB

/// `service-monitor create-table`: the DynamoDB table, its key schema and TTL, once.
struct CreateTableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-table",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Create the DynamoDB table (--backend dynamodb only): key schema pk/sk, on-demand billing, TTL on expires.",
        discussion: "Idempotent: a table that exists with this key schema is left as it is (TTL enabled if it was not); exits 0 either way."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let settings = try Settings(global, environment: Environment.current)
        guard settings.backend == .dynamodb else {
            throw BadInput(option: "--backend", message: "\(settings.backend.rawValue.quotedForError): create-table is for --backend dynamodb only")
        }
        let client = try settings.dynamoDBClient()
        let layout = settings.dynamoDB.layout
        // Creating and waiting for ACTIVE may take longer than one request: several timeouts.
        let deadline = ContinuousClock.now + settings.commandTimeout * 12
        let created = try await create(client, layout, deadline: deadline)
        let table = try await untilActive(client, layout, deadline: deadline)
        guard table.keySchema == layout.keySchema else {
            let schema = (table.keySchema ?? []).map { "\($0.attributeName) \($0.keyType.rawValue)" }.joined(separator: ", ")
            throw BadInput(.incompleteConfiguration, option: "--dynamodb-table", message: "\(layout.table.quotedForError): exists with the key schema [\(schema)], not [pk HASH, sk RANGE]")
        }
        let ttl = try await client.describeTimeToLive(DescribeTimeToLive(tableName: layout.table), deadline: deadline).timeToLiveDescription
        let ttlOn = ["ENABLED", "ENABLING"].contains(ttl?.timeToLiveStatus ?? "") && ttl?.attributeName == TableLayout.expiryAttribute
        if !ttlOn {
            _ = try await client.updateTimeToLive(
                UpdateTimeToLive(tableName: layout.table, timeToLiveSpecification: .init(attributeName: TableLayout.expiryAttribute, enabled: true)),
                deadline: deadline
            )
        }
        let what = created ? "created table \(layout.table)" : "table \(layout.table) exists"
        Output.write("\(what) in \(client.region) (pk/sk, TTL on \(TableLayout.expiryAttribute)\(ttlOn ? "" : ", enabled now"))\n")
    }

    /// `false` when it exists already (or is being created): checked afterwards.
    private func create(_ client: DynamoDBClient, _ layout: TableLayout, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> Bool {
        do {
            _ = try await client.createTable(
                CreateTable(tableName: layout.table, attributeDefinitions: layout.attributeDefinitions, keySchema: layout.keySchema),
                deadline: deadline
            )
            return true
        } catch {
            guard error.code == .resourceInUse else { throw error }
            return false
        }
    }

    private func untilActive(_ client: DynamoDBClient, _ layout: TableLayout, deadline: ContinuousClock.Instant) async throws -> TableDescription {
        while true {
            let table = try await client.describeTable(DescribeTable(tableName: layout.table), deadline: deadline).table
            if table.tableStatus == "ACTIVE" || ContinuousClock.now >= deadline { return table }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
