/// The HTTP statuses that count as up, parsed from `--expect-status`: codes and inclusive ranges
/// separated by commas, e.g. `200-299` (the default), `200`, `200,204,301-302`.
public struct ExpectedStatus: Sendable, Hashable, CustomStringConvertible {
    /// The accepted ranges, in the order given.
    public private(set) var ranges: [ClosedRange<Int>]

    /// Any 2xx status.
    public static let successful = ExpectedStatus(validatedRanges: [200...299])

    private static let option = "--expect-status"
    private static let validCodes = 100...599

    private init(validatedRanges: [ClosedRange<Int>]) {
        self.ranges = validatedRanges
    }

    /// Parses a `--expect-status` value; the error message names the value and the bad part.
    public init(parsing text: String) throws(BadInput) {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        var ranges: [ClosedRange<Int>] = []
        for rawItem in items {
            // Spaces around items are harmless ("200, 204"); anything else is checked strictly.
            let item = rawItem.trimmingSpaces()
            guard !item.isEmpty else {
                throw Self.error(text, "empty entry (expected codes or ranges like 200,204,301-302)")
            }
            ranges.append(try Self.parseItem(item, in: text))
        }
        self.ranges = ranges
    }

    /// True when `status` falls in any accepted range.
    public func contains(_ status: Int) -> Bool {
        self.ranges.contains { $0.contains(status) }
    }

    /// The canonical text form, accepted back by ``init(parsing:)``.
    public var description: String {
        self.ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }

    private static func parseItem(_ item: Substring, in text: String) throws(BadInput) -> ClosedRange<Int> {
        let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2 else {
            throw Self.error(text, "\(String(item).debugDescription) is not a status code or range")
        }
        let low = try Self.parseCode(bounds[0], item: item, in: text)
        let high = bounds.count == 2 ? try Self.parseCode(bounds[1], item: item, in: text) : low
        guard low <= high else {
            throw Self.error(text, "range \(item) is reversed (write \(high)-\(low))")
        }
        return low...high
    }

    private static func parseCode(_ code: Substring, item: Substring, in text: String) throws(BadInput) -> Int {
        guard !code.isEmpty, code.count <= 3, code.allSatisfy({ $0.isASCII && $0.isWholeNumber }), let value = Int(code) else {
            throw Self.error(text, "\(String(item).debugDescription) is not a status code or range (e.g. 200, 200-299, 200,204,301-302)")
        }
        guard Self.validCodes.contains(value) else {
            throw Self.error(text, "status \(value) is outside 100-599")
        }
        return value
    }

    private static func error(_ text: String, _ reason: String) -> BadInput {
        .badValue(.invalidExpectedStatus, option: Self.option, value: text, reason)
    }
}
