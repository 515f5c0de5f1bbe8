import Crypto
public import FoundationEssentials

/// AWS Signature Version 4 for one request: the canonical request, the string to sign, the
/// signature and the headers that carry it (`X-Amz-Date`, `X-Amz-Security-Token` for temporary
/// credentials, `Authorization`). The published AWS SigV4 test suite is its unit test.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Everything signing produced; ``headers`` are to be added to the request as they are.
    public struct Signed: Sendable, CustomStringConvertible {
        public var canonicalRequest: String
        public var stringToSign: String
        /// Lowercase hex.
        public var signature: String
        public var authorization: String
        /// `X-Amz-Date`, `X-Amz-Security-Token` (with a session token) and `Authorization`.
        public var headers: [(name: String, value: String)]

        /// Never the Authorization header or the session token: the signature stays out of logs.
        public var description: String { "SigV4Signed(signature: <redacted>)" }
    }

    /// Signs a request. `path` is the request's path before percent-encoding (the signer
    /// normalises and encodes it), `query` its parameters unencoded, `headers` those to sign
    /// (at least `Host`), `body` the exact bytes sent.
    public func sign(
        method: String,
        path: String = "/",
        query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)],
        body: [UInt8] = [],
        at date: Date
    ) -> Signed {
        let timestamp = AmzTimestamp(date)
        var signedHeaders = headers
        signedHeaders.append((name: "X-Amz-Date", value: timestamp.dateTime))
        if let token = self.credentials.sessionToken {
            signedHeaders.append((name: "X-Amz-Security-Token", value: token))
        }
        let (canonicalHeaders, signedHeaderNames) = Self.canonicalHeaders(signedHeaders)
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalPath(path),
            Self.canonicalQuery(query),
            canonicalHeaders,
            signedHeaderNames,
            Hex.sha256(body),
        ].joined(separator: "\n")
        let scope = "\(timestamp.date)/\(self.region)/\(self.service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp.dateTime, scope, Hex.sha256(Array(canonicalRequest.utf8))].joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(self.credentials.secretAccessKey)".utf8))
        for part in [timestamp.date, self.region, self.service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key)))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(self.credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaderNames), Signature=\(signature)"
        var added = signedHeaders.suffix(signedHeaders.count - headers.count).map { $0 }
        added.append((name: "Authorization", value: authorization))
        return Signed(canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature, authorization: authorization, headers: added)
    }

    /// Lowercased names sorted, values trimmed with inner runs of spaces collapsed, repeated
    /// names joined with commas in their order; and the `;`-joined list of names.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (String, String) {
        var values: [String: [String]] = [:]
        for header in headers {
            values[header.name.lowercased(), default: []].append(Self.trimmed(header.value))
        }
        let names = values.keys.sorted()
        let lines = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    private static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// Dot segments and empty segments removed, each segment percent-encoded once.
    static func canonicalPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let encoded = "/" + segments.map { Self.percentEncoded(String($0)) }.joined(separator: "/")
        return path.hasSuffix("/") && !segments.isEmpty ? encoded + "/" : encoded
    }

    /// `name=value` pairs, encoded, sorted by name and then value, joined with `&`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (name: Self.percentEncoded($0.name), value: Self.percentEncoded($0.value)) }
        let sorted = encoded.sorted { left, right in left.name == right.name ? left.value < right.value : left.name < right.name }
        return sorted.map { pair -> String in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`, as uppercase `%XX` of
    /// the UTF-8 bytes (SigV4's URI encoding; also how a signed form body is written).
    public static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += "%" + Hex.byte(byte, uppercase: true)
            }
        }
        return result
    }
}

/// Lowercase (or uppercase) hex, and SHA-256 in hex.
enum Hex {
    private static let lower = Array("0123456789abcdef".utf8)
    private static let upper = Array("0123456789ABCDEF".utf8)

    static func byte(_ byte: UInt8, uppercase: Bool = false) -> String {
        let digits = uppercase ? upper : lower
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]], as: UTF8.self)
    }

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var characters: [UInt8] = []
        for byte in bytes {
            characters.append(lower[Int(byte >> 4)])
            characters.append(lower[Int(byte & 0x0f)])
        }
        return String(decoding: characters, as: UTF8.self)
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        encode(SHA256.hash(data: bytes))
    }
}

/// The two forms of the signing time SigV4 uses: `20150830T123600Z` and `20150830`, in UTC.
struct AmzTimestamp {
    let dateTime: String
    let date: String

    init(_ instant: Date) {
        let civil = CivilTime(secondsSince1970: Int64(instant.timeIntervalSince1970.rounded(.down)))
        self.date = civil.digits(civil.year, 4) + civil.digits(civil.month, 2) + civil.digits(civil.day, 2)
        self.dateTime = self.date + "T" + civil.digits(civil.hour, 2) + civil.digits(civil.minute, 2) + civil.digits(civil.second, 2) + "Z"
    }
}

/// A UTC calendar date and time from epoch seconds and back (proleptic Gregorian), so that
/// neither formatting nor parsing needs Foundation's calendars.
struct CivilTime: Equatable {
    var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64

    init(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
    }

    init(secondsSince1970 seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Days to civil date (Howard Hinnant's algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        self.init(
            year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day,
            hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60, second: secondOfDay % 60
        )
    }

    var secondsSince1970: Int64 {
        let year = self.month <= 2 ? self.year - 1 : self.year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let monthIndex = self.month > 2 ? self.month - 3 : self.month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + self.day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + self.hour * 3600 + self.minute * 60 + self.second
    }

    /// Parses `2015-08-30T12:36:00Z` (fractional seconds and a `+hh:mm` offset allowed), the
    /// form AWS gives credential expirations in.
    static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
        }
        var offset: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            guard let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6) else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second).secondsSince1970 - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    func digits(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
