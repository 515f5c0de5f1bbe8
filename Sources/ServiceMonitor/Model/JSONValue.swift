/// Any JSON value (read by JSONReader, written by JSONCoding), kept as written so `--service-info` round-trips through etcd unchanged.
public enum JSONValue: Sendable, Hashable, Encodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let bool): try container.encode(bool)
        case .number(let number): try container.encode(number)
        case .string(let string): try container.encode(string)
        case .array(let array): try container.encode(array)
        case .object(let object): try container.encode(object)
        }
    }

    /// The value as text for templates: strings bare, whole numbers without a fraction, anything
    /// else as compact JSON.
    public var templateText: String {
        switch self {
        case .null: return "null"
        case .bool(let bool): return String(bool)
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        case .string(let string): return string
        case .array, .object:
            return (try? JSONCoding.encodeString(self)) ?? ""
        }
    }
}
