/// `status`: every label's instances and startup lease, as a backend read them at once
/// (``StoreBackend/status(of:)``).
public struct StatusReport: Sendable, Encodable {
    public struct LabelStatus: Sendable, Encodable {
        public var label: String
        /// Oldest registration first.
        public var instances: [InstanceRecord]
        public var startup: StartupStatus

        public init(label: String, instances: [InstanceRecord], startup: StartupStatus) {
            self.label = label
            self.instances = instances
            self.startup = startup
        }
    }

    public struct StartupStatus: Sendable, Encodable {
        /// Oldest first.
        public var holders: [Holder]
        /// Waiters in the order they asked.
        public var queue: [String]

        public init(holders: [Holder], queue: [String]) {
            self.holders = holders
            self.queue = queue
        }
    }

    public struct Holder: Sendable, Encodable {
        public var serviceID: String
        /// Seconds until the holder's lease ends on its own; `nil` when it has just ended.
        public var secondsLeft: Int64?

        public init(serviceID: String, secondsLeft: Int64?) {
            self.serviceID = serviceID
            self.secondsLeft = secondsLeft
        }

        enum CodingKeys: String, CodingKey {
            case serviceID = "service_id"
            case secondsLeft = "seconds_left"
        }
    }

    /// Sorted by label.
    public var labels: [LabelStatus]

    public init(labels: [LabelStatus]) {
        self.labels = labels
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
