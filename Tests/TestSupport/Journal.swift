import Foundation

/// Reads entries back from the real journald with `journalctl -o json`.
public enum Journal {
    /// One journal entry: field name → value. journalctl renders binary or multi-line values as
    /// arrays of bytes, and repeated fields as arrays of values; both are decoded here.
    public typealias Entry = [String: String]

    /// Entries matching every `FIELD=value` match, oldest first.
    public static func entries(matching matches: [String], extraArguments: [String] = []) async throws -> [Entry] {
        let result = try await Command.run("journalctl", ["--no-pager", "-o", "json", "--all"] + extraArguments + matches)
        // journalctl exits 1 with "-- No entries --" on some versions when nothing matches.
        guard result.status == 0 || result.standardOutput.isEmpty else {
            throw CommandError(description: "journalctl failed: \(result)")
        }
        return try result.standardOutput.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CommandError(description: "journalctl printed a non-object: \(line)")
            }
            return object.compactMapValues(decode)
        }
    }

    /// Waits (bounded) until at least `count` entries match, and returns them.
    public static func waitForEntries(
        matching matches: [String],
        count: Int = 1,
        timeout: Duration = .seconds(20)
    ) async throws -> [Entry] {
        try await eventually("\(count) journal entries matching \(matches)", timeout: timeout) {
            let found = try await entries(matching: matches)
            return found.count >= count ? found : nil
        }
    }

    private static func decode(_ value: Any) -> String? {
        switch value {
        case let string as String:
            return string
        case let bytes as [NSNumber]:
            return String(decoding: bytes.map { UInt8(truncating: $0) }, as: UTF8.self)
        case let values as [Any]:
            // A repeated field: keep the last value, as journalctl's "cat" output would.
            return values.last.flatMap(decode)
        default:
            return nil
        }
    }
}
