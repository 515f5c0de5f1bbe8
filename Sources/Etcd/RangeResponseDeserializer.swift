import GRPCCore

/// Reads etcd's `RangeResponse` from the wire straight into ``RangeResponse``.
///
/// A listing is the one answer whose size grows with the fleet: through the generated message, a
/// `hosts` of 10 000 instances spent ~3 700 instructions and four allocations per key (each key
/// and value a `Data`, then copied into arrays); read here, each is one array. Everything else
/// etcd answers goes through the generated messages. Fields this does not know are skipped, as
/// protobuf requires.
struct RangeResponseDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> RangeResponse {
        let decoded: RangeResponse? = serializedMessageBytes.withUnsafeBytes { buffer in
            var reader = WireReader(buffer)
            return reader.rangeResponse()
        }
        guard let decoded else {
            throw RPCError(code: .invalidArgument, message: "Can't deserialize message from type \(RangeResponse.self)")
        }
        return decoded
    }
}

/// Protocol buffers' binary encoding over one buffer; every read answers `nil` for bytes that
/// are not a valid encoding (truncated, an over-long varint, a group or an unknown wire type).
private struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    private var atEnd: Bool { position == bytes.count }

    /// etcdserverpb.RangeResponse: header = 1, kvs = 2, more = 3, count = 4.
    mutating func rangeResponse() -> RangeResponse? {
        var response = RangeResponse(header: ResponseHeader(revision: 0), kvs: [], count: 0, more: false)
        while !atEnd {
            guard let (field, wireType) = tag() else { return nil }
            switch (field, wireType) {
            case (1, 2):
                guard let header = message({ reader in reader.responseHeader() }) else { return nil }
                response.header = header
            case (2, 2):
                guard let kv = message({ reader in reader.keyValue() }) else { return nil }
                response.kvs.append(kv)
            case (3, 0):
                guard let more = varint() else { return nil }
                response.more = more != 0
            case (4, 0):
                guard let count = varint() else { return nil }
                response.count = Int64(bitPattern: count)
            default:
                guard skip(wireType) else { return nil }
            }
        }
        return response
    }

    /// etcdserverpb.ResponseHeader: cluster_id = 1, member_id = 2, revision = 3, raft_term = 4.
    private mutating func responseHeader() -> ResponseHeader? {
        var header = ResponseHeader(revision: 0)
        while !atEnd {
            guard let (field, wireType) = tag() else { return nil }
            guard wireType == 0, (1...4).contains(field) else {
                guard skip(wireType) else { return nil }
                continue
            }
            guard let value = varint() else { return nil }
            switch field {
            case 1: header.clusterID = value
            case 2: header.memberID = value
            case 3: header.revision = Int64(bitPattern: value)
            default: header.raftTerm = value
            }
        }
        return header
    }

    /// mvccpb.KeyValue: key = 1, create_revision = 2, mod_revision = 3, version = 4, value = 5,
    /// lease = 6.
    private mutating func keyValue() -> KeyValue? {
        var kv = KeyValue(key: [], value: [])
        while !atEnd {
            guard let (field, wireType) = tag() else { return nil }
            switch (field, wireType) {
            case (1, 2), (5, 2):
                guard let range = lengthDelimited() else { return nil }
                let value = Array(UnsafeRawBufferPointer(rebasing: bytes[range]))
                if field == 1 { kv.key = value } else { kv.value = value }
            case (2, 0), (3, 0), (4, 0), (6, 0):
                guard let value = varint().map(Int64.init(bitPattern:)) else { return nil }
                switch field {
                case 2: kv.createRevision = value
                case 3: kv.modRevision = value
                case 4: kv.version = value
                default: kv.lease = value
                }
            default:
                guard skip(wireType) else { return nil }
            }
        }
        return kv
    }

    /// An embedded message (a length-delimited field) read by `body` as a whole buffer.
    private mutating func message<Message>(_ body: (inout WireReader) -> Message?) -> Message? {
        guard let range = lengthDelimited() else { return nil }
        var inner = WireReader(UnsafeRawBufferPointer(rebasing: bytes[range]))
        return body(&inner)
    }

    private mutating func tag() -> (field: UInt64, wireType: UInt64)? {
        guard let key = varint(), key >> 3 != 0 else { return nil }
        return (key >> 3, key & 7)
    }

    private mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    private mutating func lengthDelimited() -> Range<Int>? {
        guard let length = varint(), length <= UInt64(bytes.count - position) else { return nil }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    /// Skips a field this reader does not use.
    private mutating func skip(_ wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1: return advance(8)
        case 2: return lengthDelimited() != nil
        case 5: return advance(4)
        default: return false  // groups (3, 4) are not proto3; 6 and 7 do not exist
        }
    }

    private mutating func advance(_ count: Int) -> Bool {
        guard bytes.count - position >= count else { return false }
        position += count
        return true
    }
}
