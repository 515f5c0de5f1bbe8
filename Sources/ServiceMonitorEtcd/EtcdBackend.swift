public import Etcd
public import ServiceMonitor

/// service-monitor's state in etcd v3, laid out as ``KeyLayout`` says: records on the watcher's
/// keep-alive lease, the startup semaphore as holder and queue keys on leases, ordered by
/// create revision, and watches that resume after member loss and re-list after compaction.
public struct EtcdBackend: StoreBackend {
    public let registry: EtcdInstanceRegistry
    public let semaphore: EtcdStartupSemaphore
    let store: EtcdStateStore
    let layout: KeyLayout

    public var name: String { "etcd" }

    public init(client: EtcdClient, layout: KeyLayout) {
        store = EtcdStateStore(client: client)
        self.layout = layout
        registry = EtcdInstanceRegistry(store: store, layout: layout)
        semaphore = EtcdStartupSemaphore(store: store, layout: layout)
    }

    public func isPermanent(_ error: any Error) -> Bool {
        store.isPermanent(error)
    }

    public func isOutOfSpace(_ error: any Error) -> Bool {
        store.isOutOfSpace(error)
    }

    /// Reads everything under the prefix (or one label) at once, then each holder's lease.
    public func status(of label: Label?) async throws -> StatusReport {
        let listing = try await store.list(prefix: label.map(layout.label) ?? layout.root)
        // Each key parsed once; holders and waiters keep the service id their key names.
        typealias Named = (serviceID: String, entry: StoreEntry)
        var byLabel: [String: (instances: [StoreEntry], holders: [Named], queue: [Named])] = [:]
        for entry in listing.entries {
            switch layout.entry(at: entry.key) {
            case .instance(let name, _): byLabel[name, default: ([], [], [])].instances.append(entry)
            case .startupHolder(let name, let id): byLabel[name, default: ([], [], [])].holders.append((id, entry))
            case .startupQueueEntry(let name, let id): byLabel[name, default: ([], [], [])].queue.append((id, entry))
            case .startupAdmissions, nil: continue
            }
        }
        var labels: [StatusReport.LabelStatus] = []
        for (name, entries) in byLabel.sorted(by: { $0.key < $1.key }) {
            let instances = entries.instances
                .sorted { $0.createRevision < $1.createRevision }
                .compactMap { try? InstanceRecord.decode($0.value) }
            var holders: [StatusReport.Holder] = []
            for holder in entries.holders.sorted(by: { $0.entry.createRevision < $1.entry.createRevision }) {
                let left = holder.entry.lease == 0 ? nil : try await store.timeToLive(lease: holder.entry.lease)
                holders.append(StatusReport.Holder(serviceID: holder.serviceID, secondsLeft: left?.components.seconds))
            }
            let queue = entries.queue.sorted { $0.entry.createRevision < $1.entry.createRevision }.map(\.serviceID)
            labels.append(StatusReport.LabelStatus(
                label: name, instances: instances, startup: StatusReport.StartupStatus(holders: holders, queue: queue)
            ))
        }
        return StatusReport(labels: labels)
    }
}
