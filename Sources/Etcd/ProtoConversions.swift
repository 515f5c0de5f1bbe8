import FoundationEssentials

// Conversions between the generated (internal) protobuf types and the public value types.

extension KeyValue {
    init(_ proto: Mvccpb_KeyValue) {
        self.init(
            key: Array(proto.key),
            value: Array(proto.value),
            createRevision: proto.createRevision,
            modRevision: proto.modRevision,
            version: proto.version,
            lease: proto.lease
        )
    }
}

extension ResponseHeader {
    init(_ proto: Etcdserverpb_ResponseHeader) {
        self.init(
            revision: proto.revision,
            raftTerm: proto.raftTerm,
            clusterID: proto.clusterID,
            memberID: proto.memberID
        )
    }
}

extension RangeResponse {
    init(_ proto: Etcdserverpb_RangeResponse) {
        self.init(
            header: ResponseHeader(proto.header),
            kvs: proto.kvs.map(KeyValue.init),
            count: proto.count,
            more: proto.more
        )
    }
}

extension PutResponse {
    init(_ proto: Etcdserverpb_PutResponse) {
        self.init(header: ResponseHeader(proto.header), prevKV: proto.hasPrevKv ? KeyValue(proto.prevKv) : nil)
    }
}

extension DeleteResponse {
    init(_ proto: Etcdserverpb_DeleteRangeResponse) {
        self.init(header: ResponseHeader(proto.header), deleted: proto.deleted, prevKVs: proto.prevKvs.map(KeyValue.init))
    }
}

extension Etcdserverpb_RangeRequest {
    init(_ range: KeyRange, options: RangeOptions) {
        self.init()
        self.key = Data(range.key)
        self.rangeEnd = Data(range.rangeEnd)
        self.limit = options.limit
        self.keysOnly = options.keysOnly
        self.countOnly = options.countOnly
        self.revision = options.revision
        self.serializable = options.serializable
        if let sort = options.sort {
            self.sortOrder = sort.order == .ascending ? .ascend : .descend
            switch sort.target {
            case .key: self.sortTarget = .key
            case .version: self.sortTarget = .version
            case .createRevision: self.sortTarget = .create
            case .modRevision: self.sortTarget = .mod
            case .value: self.sortTarget = .value
            }
        }
    }
}

extension Etcdserverpb_PutRequest {
    init(key: [UInt8], value: [UInt8], lease: Int64, prevKV: Bool) {
        self.init()
        self.key = Data(key)
        self.value = Data(value)
        self.lease = lease
        self.prevKv = prevKV
    }
}

extension Etcdserverpb_DeleteRangeRequest {
    init(_ range: KeyRange, prevKV: Bool) {
        self.init()
        self.key = Data(range.key)
        self.rangeEnd = Data(range.rangeEnd)
        self.prevKv = prevKV
    }
}
