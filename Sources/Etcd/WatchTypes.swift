/// How to watch.
public struct WatchOptions: Sendable, Hashable {
    /// First revision to deliver; 0 starts after the store's current revision (read when the
    /// watch starts). To see a consistent picture, read the range and watch from its
    /// revision + 1.
    public var startRevision: Int64
    /// Include each key's previous state in its events.
    public var prevKV: Bool
    /// Ask etcd for periodic empty batches that carry the current revision while nothing
    /// changes (every ten minutes by default; etcd's `--experimental-watch-progress-notify-interval`).
    public var progressNotify: Bool

    public init(startRevision: Int64 = 0, prevKV: Bool = false, progressNotify: Bool = false) {
        self.startRevision = startRevision
        self.prevKV = prevKV
        self.progressNotify = progressNotify
    }
}

/// One change to one key.
public struct WatchEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case put, delete
    }

    public var kind: Kind
    /// The key after the change; for a delete only `key` and `modRevision` are meaningful.
    public var kv: KeyValue
    /// The key before the change, when ``WatchOptions/prevKV`` was set and it existed.
    public var prevKV: KeyValue?

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }

    /// The revision of the change.
    public var revision: Int64 { self.kv.modRevision }
}

/// Events delivered together, in revision order. Empty for a progress notification.
public struct WatchBatch: Sendable, Hashable {
    public var header: ResponseHeader
    public var events: [WatchEvent]

    public init(header: ResponseHeader, events: [WatchEvent]) {
        self.header = header
        self.events = events
    }

    /// The store's revision when the batch was sent (≥ every event's revision).
    public var revision: Int64 { self.header.revision }
}

/// The batches of a watch, in revision order, without gaps or repeats across reconnections.
///
/// Iteration throws ``EtcdError`` when the watch cannot go on — notably
/// ``EtcdError/Code-swift.struct/compacted`` when the next revision to deliver has been
/// compacted (re-list, then watch again from the list's revision + 1).
public struct WatchBatches: AsyncSequence, Sendable {
    public typealias Element = WatchBatch
    public typealias Failure = any Error

    let stream: AsyncThrowingStream<WatchBatch, any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<WatchBatch, any Error>.AsyncIterator

        public mutating func next() async throws -> WatchBatch? {
            try await self.base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.stream.makeAsyncIterator())
    }
}

extension WatchEvent {
    init(_ proto: Mvccpb_Event) {
        self.init(
            kind: proto.type == .delete ? .delete : .put,
            kv: KeyValue(proto.kv),
            prevKV: proto.hasPrevKv ? KeyValue(proto.prevKv) : nil
        )
    }
}
