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

    public init(client: EtcdClient, layout: KeyLayout) {
        store = EtcdStateStore(client: client)
        self.layout = layout
        registry = EtcdInstanceRegistry(store: store, layout: layout)
        semaphore = EtcdStartupSemaphore(store: store, layout: layout)
    }

    public func isPermanent(_ error: any Error) -> Bool {
        store.isPermanent(error)
    }

    /// Reads everything under the prefix (or one label) at once, then each holder's lease.
    public func status(of label: Label?) async throws -> StatusReport {
        let listing = try await store.list(prefix: label.map(layout.label) ?? layout.root)
        var byLabel: [String: (instances: [StoreEntry], holders: [StoreEntry], queue: [StoreEntry])] = [:]
        for entry in listing.entries {
            switch layout.entry(at: entry.key) {
            case .instance(let name, _): byLabel[name, default: ([], [], [])].instances.append(entry)
            case .startupHolder(let name, _): byLabel[name, default: ([], [], [])].holders.append(entry)
            case .startupQueueEntry(let name, _): byLabel[name, default: ([], [], [])].queue.append(entry)
            case .startupAdmissions, nil: continue
            }
        }
        var labels: [StatusReport.LabelStatus] = []
        for (name, entries) in byLabel.sorted(by: { $0.key < $1.key }) {
            let instances = entries.instances
                .sorted { $0.createRevision < $1.createRevision }
                .compactMap { try? InstanceRecord.decode($0.value) }
            var holders: [StatusReport.Holder] = []
            for holder in entries.holders.sorted(by: { $0.createRevision < $1.createRevision }) {
                let left = holder.lease == 0 ? nil : try await store.timeToLive(lease: holder.lease)
                holders.append(StatusReport.Holder(serviceID: serviceID(of: holder), secondsLeft: left?.components.seconds))
            }
            let queue = entries.queue.sorted { $0.createRevision < $1.createRevision }.map(serviceID)
            labels.append(StatusReport.LabelStatus(
                label: name, instances: instances, startup: StatusReport.StartupStatus(holders: holders, queue: queue)
            ))
        }
        return StatusReport(labels: labels)
    }

    private func serviceID(of entry: StoreEntry) -> String {
        layout.entry(at: entry.key)?.serviceID ?? entry.key
    }
}
