/// `status`: every label's instances and startup lease, from one read of the prefix.
public struct StatusReport: Sendable, Encodable {
    public struct LabelStatus: Sendable, Encodable {
        public var label: String
        public var instances: [InstanceRecord]
        public var startup: StartupStatus
    }

    public struct StartupStatus: Sendable, Encodable {
        public var holders: [Holder]
        /// Waiters in the order they asked.
        public var queue: [String]
    }

    public struct Holder: Sendable, Encodable {
        public var serviceID: String
        /// Seconds until the holder's lease ends on its own; `nil` when it has just ended.
        public var secondsLeft: Int64?

        enum CodingKeys: String, CodingKey {
            case serviceID = "service_id"
            case secondsLeft = "seconds_left"
        }
    }

    public var labels: [LabelStatus]

    /// Reads everything under the prefix (or one label) at once, then each holder's lease.
    public static func read(from store: some StateStore, layout: KeyLayout, label: Label?) async throws -> StatusReport {
        let prefix = label.map(layout.label) ?? layout.root
        let listing = try await store.list(prefix: prefix)
        var byLabel: [String: (instances: [StoreEntry], holders: [StoreEntry], queue: [StoreEntry])] = [:]
        for entry in listing.entries {
            // <prefix>/<label>/<kind…>/<service-id>
            let relative = entry.key.dropFirst(layout.root.count).split(separator: "/", omittingEmptySubsequences: false)
            guard relative.count >= 3 else { continue }
            let name = String(relative[0])
            let kind = relative.dropFirst().dropLast().joined(separator: "/")
            switch kind {
            case "instances": byLabel[name, default: ([], [], [])].instances.append(entry)
            case "startup/holders": byLabel[name, default: ([], [], [])].holders.append(entry)
            case "startup/queue": byLabel[name, default: ([], [], [])].queue.append(entry)
            default: continue
            }
        }
        var labels: [LabelStatus] = []
        for (name, entries) in byLabel.sorted(by: { $0.key < $1.key }) {
            let instances = entries.instances
                .sorted { $0.createRevision < $1.createRevision }
                .compactMap { try? InstanceRecord.decode($0.value) }
            var holders: [Holder] = []
            for holder in entries.holders.sorted(by: { $0.createRevision < $1.createRevision }) {
                let left = holder.lease == 0 ? nil : try await store.timeToLive(lease: holder.lease)
                holders.append(Holder(serviceID: Self.serviceID(of: holder), secondsLeft: left?.components.seconds))
            }
            let queue = entries.queue.sorted { $0.createRevision < $1.createRevision }.map(Self.serviceID)
            labels.append(LabelStatus(label: name, instances: instances, startup: StartupStatus(holders: holders, queue: queue)))
        }
        return StatusReport(labels: labels)
    }

    private static func serviceID(of entry: StoreEntry) -> String {
        String(entry.key.split(separator: "/").last ?? "")
    }

    public func json() throws -> String {
        try JSONCoding.encodeString(self) + "\n"
    }

    /// The table for people: one block per label.
    public func table() -> String {
        guard !labels.isEmpty else { return "no labels registered\n" }
        var output = ""
        for label in labels {
            output += "\(label.label)\n"
            let header = ["SERVICE-ID", "HOST", "STATE", "SINCE", "DETAIL"]
            let rows = label.instances.map { [$0.serviceID, $0.host, $0.state.rawValue, $0.since, $0.detail] }
            if rows.isEmpty {
                output += "  no instances\n"
            } else {
                let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
                for row in [header] + rows {
                    let cells = row.enumerated().map { index, cell in
                        index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
                    }
                    output += "  " + cells.joined(separator: "  ") + "\n"
                }
            }
            let holders = label.startup.holders.map { holder in
                holder.serviceID + (holder.secondsLeft.map { " (\($0)s left)" } ?? " (ending)")
            }
            output += "  startup lease: " + (holders.isEmpty ? "free" : "held by " + holders.joined(separator: ", "))
            output += "; queue: " + (label.startup.queue.isEmpty ? "empty" : label.startup.queue.joined(separator: ", ")) + "\n"
        }
        return output
    }
}
