/// `hosts`: which instances of a label are up, once, until enough are, or on every change.
public struct Discovery<Registry: InstanceRegistry>: Sendable {
    public let registry: Registry
    public let label: Label

    public init(registry: Registry, label: Label) {
        self.registry = registry
        self.label = label
    }

    /// One linearizable read; fields outside `fields` may be left empty.
    public func current(keeping fields: InstanceRecord.Fields = .all) async throws -> [InstanceRecord] {
        // In place: a filtered copy retained every record that is up, grew its array by
        // doubling, then released the whole listing.
        var instances = try await registry.instances(of: label, keeping: fields)
        instances.removeAll { $0.state != .up }
        return instances
    }

    /// Calls `body` with the instances that are up now and again after every change of that
    /// set (not on writes that leave it as it was), until `body` returns `false`.
    public func follow(_ body: @escaping @Sendable ([InstanceRecord]) async throws -> Bool) async throws {
        let delivered = Delivered()
        try await registry.follow(label) { instances in
            let up = instances.filter { $0.state == .up }
            guard up != delivered.last else { return true }
            delivered.last = up
            return try await body(up)
        }
    }
}

/// The last set `follow` delivered; the registry calls back one change at a time, so nothing
/// touches it concurrently.
private final class Delivered: @unchecked Sendable {
    var last: [InstanceRecord]?
}
