import FoundationEssentials

/// One JSON encoder configuration for everything service-monitor stores or prints, so records
/// written by one version read the same in `etcdctl get`: sorted keys, no escaped slashes.
/// Reading is JSONReader's.
enum JSONCoding {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static func encodeString<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }
}
