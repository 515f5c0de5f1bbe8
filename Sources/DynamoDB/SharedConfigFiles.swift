import Posix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The shared `credentials` and `config` files as the AWS SDKs read them:
/// `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`, sections `[name]`),
/// `AWS_CONFIG_FILE` (default `~/.aws/config`, sections `[default]` and `[profile name]`), the
/// profile `AWS_PROFILE` (default `default`). For one profile the credentials file wins.
public struct SharedConfigFiles: Sendable {
    public var credentialsPath: String?
    public var configPath: String?
    public var profileName: String
    /// Whether the profile was named (`AWS_PROFILE`): then it must exist.
    public var profileNamedExplicitly: Bool

    public init(environment: [String: String]) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        self.credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home.map { "\($0)/.aws/credentials" }
        self.configPath = environment["AWS_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home.map { "\($0)/.aws/config" }
        let named = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        self.profileName = named ?? "default"
        self.profileNamedExplicitly = named != nil
    }

    /// The profile's settings (lowercased keys), config first and credentials over it; `nil`
    /// when neither file has it. Throws for a file that exists but cannot be read, or an
    /// explicitly named profile found nowhere.
    public func profile() throws(DynamoDBError) -> [String: String]? {
        var settings: [String: String]?
        if let configPath, let text = try Self.read(configPath) {
            let sections = Self.parse(text)
            let section = self.profileName == "default" ? (sections["default"] ?? sections["profile default"]) : sections["profile \(self.profileName)"]
            if let section { settings = section }
        }
        if let credentialsPath, let text = try Self.read(credentialsPath) {
            if let section = Self.parse(text)[self.profileName] {
                settings = (settings ?? [:]).merging(section) { _, fromCredentials in fromCredentials }
            }
        }
        if settings == nil, self.profileNamedExplicitly {
            throw DynamoDBError(
                code: .credentialsFileUnusable,
                message: "AWS profile \(self.profileName.debugDescription) is in neither \(self.credentialsPath ?? "(no credentials file)") nor \(self.configPath ?? "(no config file)")"
            )
        }
        return settings
    }

    /// The file's text; `nil` when it does not exist.
    static func read(_ path: String) throws(DynamoDBError) -> String? {
        do {
            return try File.text(atPath: path)
        } catch where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        } catch {
            throw DynamoDBError(code: .credentialsFileUnusable, message: "cannot read \(path): \(error)", cause: error)
        }
    }

    /// INI sections: `[name]` headers, `key = value` lines, `#`/`;` comments. Section names
    /// are trimmed; keys lowercased. Indented lines (nested settings) are skipped.
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if rawLine.first == " " || rawLine.first == "\t" { continue }
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.lastIndex(of: "]") else { current = nil; continue }
                let name = line[line.index(after: line.startIndex)..<close].trimmingWhitespace()
                let words = name.split(separator: " ", omittingEmptySubsequences: true)
                let normalized = words.joined(separator: " ")
                current = normalized
                if sections[normalized] == nil { sections[normalized] = [:] }
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace().lowercased()
            var value = line[line.index(after: equals)...].trimmingWhitespace()
            // An inline comment needs whitespace before it (a secret may contain '#').
            if let comment = value.firstRange(of: " #") ?? value.firstRange(of: " ;") { value = String(value[..<comment.lowerBound]).trimmingWhitespace() }
            sections[current]?[key] = value
        }
        return sections
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// Static keys from the shared files' profile: `aws_access_key_id`, `aws_secret_access_key`,
/// `aws_session_token`.
public struct ProfileCredentialsSource: AWSCredentialsSource {
    public var name: String { "profile \(self.files.profileName)" }
    let files: SharedConfigFiles

    public init(files: SharedConfigFiles) {
        self.files = files
    }

    public func fetch(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials? {
        guard let profile = try self.files.profile() else { return nil }
        let key = profile["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = profile["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, secret) {
        case (nil, nil):
            // A profile with only other settings (region, ...): the next source may have keys.
            return nil
        case (let key?, let secret?):
            let token = profile["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token, source: self.name)
        default:
            throw DynamoDBError(
                code: .credentialsFileUnusable,
                message: "AWS profile \(self.files.profileName.debugDescription) has \(key == nil ? "aws_secret_access_key without aws_access_key_id" : "aws_access_key_id without aws_secret_access_key")"
            )
        }
    }
}
