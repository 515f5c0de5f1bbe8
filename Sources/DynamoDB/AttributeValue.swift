import FoundationEssentials

/// One DynamoDB attribute value in its JSON 1.0 wire form: an object with one member naming the
/// type (`{"S": "x"}`, `{"N": "42"}`, `{"M": {...}}`). Numbers travel as strings, as DynamoDB
/// keeps them (38 digits, no binary rounding).
public indirect enum AttributeValue: Sendable, Hashable, Codable {
    case s(String)
    case n(String)
    case b([UInt8])
    case bool(Bool)
    case null
    case m([String: AttributeValue])
    case l([AttributeValue])
    case ss([String])
    case ns([String])

    /// A number from an integer.
    public static func number(_ value: some BinaryInteger) -> AttributeValue { .n(String(value)) }

    /// The string of an `S` value.
    public var stringValue: String? { if case .s(let value) = self { value } else { nil } }

    /// The integer of an `N` value that holds one.
    public var int64Value: Int64? { if case .n(let value) = self { Int64(value) } else { nil } }

    /// The map of an `M` value.
    public var mapValue: [String: AttributeValue]? { if case .m(let value) = self { value } else { nil } }

    private enum TypeKey: String, CodingKey {
        case s = "S", n = "N", b = "B", bool = "BOOL", null = "NULL", m = "M", l = "L", ss = "SS", ns = "NS"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKey.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "an attribute value has exactly one type member"))
        }
        switch key {
        case .s: self = .s(try container.decode(String.self, forKey: key))
        case .n: self = .n(try container.decode(String.self, forKey: key))
        case .b:
            let text = try container.decode(String.self, forKey: key)
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "B is not base64")
            }
            self = .b(Array(data))
        case .bool: self = .bool(try container.decode(Bool.self, forKey: key))
        case .null: _ = try container.decode(Bool.self, forKey: key); self = .null
        case .m: self = .m(try container.decode([String: AttributeValue].self, forKey: key))
        case .l: self = .l(try container.decode([AttributeValue].self, forKey: key))
        case .ss: self = .ss(try container.decode([String].self, forKey: key))
        case .ns: self = .ns(try container.decode([String].self, forKey: key))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .s(let value): try container.encode(value, forKey: .s)
        case .n(let value): try container.encode(value, forKey: .n)
        case .b(let value): try container.encode(Data(value).base64EncodedString(), forKey: .b)
        case .bool(let value): try container.encode(value, forKey: .bool)
        case .null: try container.encode(true, forKey: .null)
        case .m(let value): try container.encode(value, forKey: .m)
        case .l(let value): try container.encode(value, forKey: .l)
        case .ss(let value): try container.encode(value, forKey: .ss)
        case .ns(let value): try container.encode(value, forKey: .ns)
        }
    }
}

/// An item, or a key: attribute name to value.
public typealias Item = [String: AttributeValue]
