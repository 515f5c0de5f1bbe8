/// Where service-monitor keeps its state in the store (docs/store-layout.md):
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
}
