public import DynamoDB
public import ServiceMonitor

/// service-monitor's state in one DynamoDB table, laid out as ``TableLayout`` says: records
/// with an expiry their watchers renew, the startup semaphore as queue and holder items with a
/// guarded holder count, and polling (consistent reads every `pollInterval`) where etcd watches.
public struct DynamoDBBackend: StoreBackend {
    public let registry: DynamoDBInstanceRegistry
    public let semaphore: DynamoDBStartupSemaphore
    let store: DynamoDBStore

    public var name: String { "DynamoDB" }

    /// `requestTimeout` bounds each request, retries included; `pollInterval` is how often
    /// `hosts --wait/--watch` and waiters read again.
    public init(client: DynamoDBClient, layout: TableLayout, requestTimeout: Duration, pollInterval: Duration = .seconds(1)) {
        store = DynamoDBStore(client: client, layout: layout, requestTimeout: requestTimeout, pollInterval: pollInterval)
        registry = DynamoDBInstanceRegistry(store: store)
        semaphore = DynamoDBStartupSemaphore(store: store)
    }

    public func isPermanent(_ error: any Error) -> Bool {
        guard let error = error as? DynamoDBError else { return false }
        return error.exitStatus != .unavailable
    }

    /// The labels from their list (or only `label`), then each label's partition in one
    /// consistent query: instances, holders and waiters, expired ones dropped.
    public func status(of label: Label?) async throws -> StatusReport {
        let labels: [Label]
        if let label {
            labels = [label]
        } else {
            let listed = try await store.liveItems(in: store.layout.labelsPartition, sortPrefix: "label#")
            labels = listed.compactMap { $0.string(TableLayout.Attribute.label).flatMap { try? Label($0) } }
        }
        var report: [StatusReport.LabelStatus] = []
        for label in labels.sorted(by: { $0.rawValue < $1.rawValue }) {
            let items = try await store.liveItems(in: store.layout.partition(label), sortPrefix: nil)
            let instances = InstanceSet(items.filter { $0.sortKey?.hasPrefix(TableLayout.instancePrefix) == true }).all
            let startup = StartupSnapshot(items)
            let now = DynamoDBStore.nowMilliseconds
            let holders = startup.holders.filter { $0.ends > now }.map {
                StatusReport.Holder(serviceID: $0.serviceID, secondsLeft: ($0.ends - now) / 1000)
            }
            let queue = startup.queue.map(\.serviceID)
            guard !instances.isEmpty || !holders.isEmpty || !queue.isEmpty else { continue }
            report.append(StatusReport.LabelStatus(label: label.rawValue, instances: instances, startup: .init(holders: holders, queue: queue)))
        }
        return StatusReport(labels: report)
    }
}
