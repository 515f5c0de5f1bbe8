@testable import Etcd
import FoundationEssentials
import SwiftProtobuf
import Testing
import TestSupport

/// The listing decoder against swift-protobuf's, on the same bytes: the same answer, or both refuse.
@Suite("RangeResponse read off the wire", .tags(.fast))
struct RangeResponseDeserializerTests {
    /// What swift-protobuf makes of `bytes`, through the conversion every other answer takes.
    private func reference(_ bytes: [UInt8]) -> RangeResponse? {
        (try? Etcdserverpb_RangeResponse(serializedBytes: bytes)).map(RangeResponse.init)
    }

    private func ours(_ bytes: [UInt8]) -> RangeResponse? {
        (try? RangeDeserializer(read: { KeyValue($0) }).deserialize(bytes)).map { RangeResponse(header: $0.header, kvs: $0.entries, count: $0.count, more: $0.more) }
    }

    private func listing() throws -> [UInt8] {
        var response = Etcdserverpb_RangeResponse()
        response.header.clusterID = UInt64.max
        response.header.memberID = 42
        response.header.revision = 1_234_567
        response.header.raftTerm = 9
        response.kvs = [
            Self.kv("/service-monitor/es/instances/es-1", #"{"host":"10.0.0.5"}"#, create: 100, lease: 7_587_000_000_000_000_000),
            Self.kv("/service-monitor/es/instances/es-2", "", create: 101, lease: 0),
            Self.kv("/b\u{0}inary/\u{FF}", "\u{1}\u{2}", create: Int64.max, lease: -1),
        ]
        response.more = true
        response.count = 3
        return try response.serializedBytes()
    }

    private static func kv(_ key: String, _ value: String, create: Int64, lease: Int64) -> Mvccpb_KeyValue {
        var kv = Mvccpb_KeyValue()
        kv.key = Data(key.utf8)
        kv.value = Data(value.utf8)
        kv.createRevision = create
        kv.modRevision = create &+ 1  // Int64.max wraps to Int64.min: still a valid int64 on the wire
        kv.version = 3
        kv.lease = lease
        return kv
    }

    @Test func readsWhatSwiftProtobufReads() throws {
        let bytes = try listing()
        let decoded = try #require(ours(bytes))
        #expect(decoded == reference(bytes))
        #expect(decoded.kvs.count == 3 && decoded.more && decoded.count == 3 && decoded.header.revision == 1_234_567)
        #expect(decoded.kvs[2].lease == -1 && decoded.kvs[1].value.isEmpty)
        #expect(try ours(Etcdserverpb_RangeResponse().serializedBytes()) == reference([]))
    }

    @Test func skipsFieldsItDoesNotKnow() throws {
        // A newer etcd's fields of every wire type, at the top and inside a key-value.
        let unknown = Self.field(15, varint: 300) + Self.field(16, fixed64: 0x0102_0304_0506_0708)
            + Self.field(17, bytes: [1, 2, 3]) + Self.field(18, fixed32: 0xDEAD_BEEF)
        let kv = try Self.kv("/k", "v", create: 5, lease: 0).serializedBytes() + unknown
        let bytes = try listing() + unknown + Self.field(2, bytes: kv)
        let decoded = try #require(ours(bytes))
        #expect(decoded == reference(bytes))
        #expect(decoded.kvs.last?.key == Array("/k".utf8))
    }

    @Test func refusesWhatSwiftProtobufRefuses() throws {
        let bytes = try listing()
        // Every cut of a valid answer: read alike, or refused by both.
        for length in 0..<bytes.count {
            let cut = Array(bytes[..<length])
            #expect(ours(cut) == reference(cut), "cut at \(length) of \(bytes.count)")
        }
        for broken: [UInt8] in [[0x00], [0x0B], [0x08] + Array(repeating: 0xFF, count: 11), [0x12, 0x05, 0x0A]] {
            #expect(ours(broken) == nil, "\(broken)")
            #expect(reference(broken) == nil, "\(broken)")
        }
    }

    /// A reader of its own sees every key where it lies, with its revisions, and keeps only what
    /// it answers: the same keys as the whole listing, in its order.
    @Test func handsEachKeyToAReaderThatKeepsWhatItAnswers() throws {
        let bytes = try listing()
        let whole = try #require(reference(bytes))
        let read = try RangeDeserializer { kv -> String? in
            kv.lease == 0 ? nil : "\(String(decoding: kv.key, as: UTF8.self))@\(kv.createRevision)/\(kv.modRevision)/\(kv.version)=\(kv.value.count)"
        }.deserialize(bytes)
        #expect(read.entries == whole.kvs.filter { $0.lease != 0 }.map { "\($0.keyString)@\($0.createRevision)/\($0.modRevision)/\($0.version)=\($0.value.count)" })
        #expect(read.entries.count == 2 && read.count == 3 && read.more && read.header == whole.header)
    }

    private static func varint(_ value: UInt64) -> [UInt8] {
        var value = value, bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    private static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }

    private static func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }

    private static func field(_ number: UInt64, fixed64 value: UInt64) -> [UInt8] {
        varint(number << 3 | 1) + (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    private static func field(_ number: UInt64, fixed32 value: UInt32) -> [UInt8] {
        varint(number << 3 | 5) + (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}
