public import ServiceMonitor

/// Where service-monitor keeps its state in etcd (docs/store-layout.md):
///
///     <prefix>/<label>/instances/<service-id>   instance record (JSON), on the watcher's lease
///     <prefix>/<label>/startup/holders/<id>      startup-lease holders, on a --lease-timeout lease
///     <prefix>/<label>/startup/queue/<id>        waiters, on a short keep-alive lease
///     <prefix>/<label>/startup/admissions        counter bumped by every promotion to holder
public struct KeyLayout: Sendable, Hashable {
    /// The root, without a trailing slash (`/service-monitor`).
    public let prefix: String

    public init(prefix: String) throws(BadInput) {
        var trimmed = Substring(prefix)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty, !prefix.contains(where: \.isNewline) else {
            throw BadInput(option: "--prefix", message: "\(prefix.quotedForError): must be a non-empty key prefix such as /service-monitor")
        }
        let segments = trimmed.split(separator: "/", omittingEmptySubsequences: false).dropFirst(trimmed.hasPrefix("/") ? 1 : 0)
        guard !segments.contains(where: { $0 == "." || $0 == ".." || $0.isEmpty }) else {
            throw BadInput(option: "--prefix", message: "\(prefix.quotedForError): empty, . or .. path segments are not allowed")
        }
        self.prefix = String(trimmed)
    }

    /// Everything of every label: `<prefix>/`.
    public var root: String { prefix + "/" }

    /// Everything of one label: `<prefix>/<label>/`.
    public func label(_ label: Label) -> String { "\(prefix)/\(label.rawValue)/" }

    public func instances(_ label: Label) -> String { self.label(label) + "instances/" }

    public func instance(_ label: Label, _ id: ServiceID) -> String { instances(label) + id.rawValue }

    /// The whole startup lease of a label: holders, queue and admissions counter.
    public func startup(_ label: Label) -> String { self.label(label) + "startup/" }

    /// Rewritten by every promotion from queue to holder, which compares its version: two
    /// promotions decided on the same read cannot both succeed, so the slots never over-fill.
    public func startupAdmissions(_ label: Label) -> String { startup(label) + "admissions" }

    public func startupHolders(_ label: Label) -> String { startup(label) + "holders/" }

    public func startupHolder(_ label: Label, _ id: ServiceID) -> String { startupHolders(label) + id.rawValue }

    public func startupQueue(_ label: Label) -> String { startup(label) + "queue/" }

    public func startupQueueEntry(_ label: Label, _ id: ServiceID) -> String { startupQueue(label) + id.rawValue }

    /// What a key under the prefix is, as ``label(_:)`` and the functions after it build them;
    /// `nil` for any other key.
    public func entry(at key: String) -> Entry? {
        guard key.hasPrefix(root) else { return nil }
        let parts = key.dropFirst(root.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, !parts[0].isEmpty else { return nil }
        let label = String(parts[0])
        switch (parts.count, parts[1], parts[2]) {
        case (3, "instances", let id): return .instance(label: label, serviceID: String(id))
        case (3, "startup", "admissions"): return .startupAdmissions(label: label)
        case (4, "startup", "holders"): return .startupHolder(label: label, serviceID: String(parts[3]))
        case (4, "startup", "queue"): return .startupQueueEntry(label: label, serviceID: String(parts[3]))
        default: return nil
        }
    }

    /// A key of the layout, parsed.
    public enum Entry: Sendable, Hashable {
        case instance(label: String, serviceID: String)
        case startupHolder(label: String, serviceID: String)
        case startupQueueEntry(label: String, serviceID: String)
        case startupAdmissions(label: String)

        public var label: String {
            switch self {
            case .instance(let label, _), .startupHolder(let label, _), .startupQueueEntry(let label, _), .startupAdmissions(let label):
                label
            }
        }

        /// The service id of an instance, holder or waiter key.
        public var serviceID: String? {
            switch self {
            case .instance(_, let id), .startupHolder(_, let id), .startupQueueEntry(_, let id): id
            case .startupAdmissions: nil
            }
        }
    }
}
