public import FoundationEssentials

/// Where the region comes from, as the AWS SDKs look: an explicit value, `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, then the `region` of the profile in the shared config files.
public enum AWSRegion {
    public static func resolve(
        explicit: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(DynamoDBError) -> String? {
        for candidate in [explicit, environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        guard let region = try SharedConfigFiles(environment: environment).profile()?["region"], !region.isEmpty else { return nil }
        return region
    }
}

/// The DynamoDB endpoint: an explicit URL, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`,
/// else `https://dynamodb.<region>.amazonaws.com`.
public enum DynamoDBEndpoint {
    public static func resolve(
        explicit: String? = nil,
        region: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        for candidate in [explicit, environment["AWS_ENDPOINT_URL_DYNAMODB"], environment["AWS_ENDPOINT_URL"]] {
            if let candidate, !candidate.isEmpty { return candidate }
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://dynamodb.\(region).\(suffix)"
    }
}
