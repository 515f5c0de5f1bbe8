/// Something usable as an etcd key or value: `String` (UTF-8) or raw bytes.
public protocol EtcdBytesConvertible: Sendable {
    var etcdBytes: [UInt8] { get }
}

extension String: EtcdBytesConvertible {
    public var etcdBytes: [UInt8] { Array(self.utf8) }
}

extension Substring: EtcdBytesConvertible {
    public var etcdBytes: [UInt8] { Array(self.utf8) }
}

extension Array: EtcdBytesConvertible where Element == UInt8 {
    public var etcdBytes: [UInt8] { self }
}
