/// An error from the DynamoDB client: what went wrong (``code``), a message for people, the
/// operation and the underlying ``cause``. Decisions read ``code`` — taken from the service's
/// `__type` (the part after `#`) or the HTTP status — never ``message``.
///
/// Nothing secret is ever part of one: no secret key, session token or Authorization header.
public struct DynamoDBError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable, CustomStringConvertible {
        /// A `ConditionExpression` did not hold (`ConditionalCheckFailedException`).
        case conditionalCheckFailed
        /// `TransactWriteItems` was cancelled; one reason per item, in request order (`None`
        /// for the items that were not the cause).
        case transactionCanceled([CancellationReason])
        /// The table (or index) does not exist, or is not active yet.
        case resourceNotFound
        /// The table already exists, or is being created or deleted.
        case resourceInUse
        /// The credentials were refused (unknown key, wrong secret, bad signature, expired
        /// token, missing authentication) or lack the permission.
        case accessDenied
        /// The request rate or throughput is over the limit; retried with back-off.
        case throttled
        /// The service answered 5xx; retried with back-off.
        case serverError
        /// No answer: connection refused or reset, DNS, TLS, or the deadline passed. Retried.
        case unreachable
        /// The service rejected the request as malformed (`ValidationException`, ...).
        case validation
        /// No source of credentials had any.
        case credentialsUnavailable
        /// A shared credentials or config file (or the profile asked for) cannot be used.
        case credentialsFileUnusable
        /// Anything else; ``DynamoDBError/awsErrorType`` names it when the service did.
        case other

        public var description: String {
            switch self {
            case .conditionalCheckFailed: "conditional check failed"
            case .transactionCanceled: "transaction cancelled"
            case .resourceNotFound: "resource not found"
            case .resourceInUse: "resource in use"
            case .accessDenied: "access denied"
            case .throttled: "throttled"
            case .serverError: "server error"
            case .unreachable: "unreachable"
            case .validation: "validation error"
            case .credentialsUnavailable: "credentials unavailable"
            case .credentialsFileUnusable: "credentials file unusable"
            case .other: "error"
            }
        }

        /// Whether trying again later may succeed: throttling, 5xx, no connection.
        public var isRetryable: Bool {
            switch self {
            case .throttled, .serverError, .unreachable: true
            default: false
            }
        }
    }

    /// Why one item of a cancelled transaction failed: its `Code` (`None`,
    /// `ConditionalCheckFailed`, `TransactionConflict`, ...) and, when asked for, the item.
    public struct CancellationReason: Sendable, Equatable, Decodable {
        public var code: String
        public var message: String?
        public var item: Item?

        public init(code: String, message: String? = nil, item: Item? = nil) {
            self.code = code
            self.message = message
            self.item = item
        }

        enum CodingKeys: String, CodingKey {
            case code = "Code", message = "Message", item = "Item"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.code = try container.decodeIfPresent(String.self, forKey: .code) ?? "None"
            self.message = try container.decodeIfPresent(String.self, forKey: .message)
            self.item = try container.decodeIfPresent(Item.self, forKey: .item)
        }
    }

    public var code: Code
    public var message: String
    /// The operation (`PutItem`, ...) or step (`IMDS`, ...) that failed.
    public var operation: String?
    /// The service's error type, e.g. `ConditionalCheckFailedException`.
    public var awsErrorType: String?
    /// The HTTP status, when the service answered.
    public var httpStatus: Int?
    /// For ``Code/conditionalCheckFailed`` with `ReturnValuesOnConditionCheckFailure`: the item
    /// as it was.
    public var item: Item?
    public var cause: (any Error & Sendable)?

    public init(
        code: Code, message: String, operation: String? = nil, awsErrorType: String? = nil, httpStatus: Int? = nil,
        item: Item? = nil, cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.operation = operation
        self.awsErrorType = awsErrorType
        self.httpStatus = httpStatus
        self.item = item
        self.cause = cause
    }

    public var description: String {
        var text = "DynamoDB"
        if let operation { text += " \(operation)" }
        text += ": \(self.code)"
        if let awsErrorType { text += " (\(awsErrorType))" }
        if !self.message.isEmpty { text += ": \(self.message)" }
        if case .transactionCanceled(let reasons) = self.code {
            text += " [reasons: \(reasons.map(\.code).joined(separator: ", "))]"
        }
        return text
    }

    /// The code for a service error type (the part of `__type` after `#`) and HTTP status.
    public static func code(forAWSErrorType type: String?, httpStatus: Int) -> Code {
        switch type {
        case "ConditionalCheckFailedException": return .conditionalCheckFailed
        case "TransactionCanceledException": return .transactionCanceled([])
        case "ResourceNotFoundException": return .resourceNotFound
        case "ResourceInUseException": return .resourceInUse
        case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationToken",
            "MissingAuthenticationTokenException", "IncompleteSignature", "IncompleteSignatureException", "SignatureDoesNotMatch",
            "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "AuthFailure":
            return .accessDenied
        case "ThrottlingException", "Throttling", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
            "LimitExceededException", "TooManyRequestsException":
            return .throttled
        case "InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException":
            return .serverError
        case "ValidationException", "SerializationException", "InvalidParameterValue", "InvalidParameterCombination":
            return .validation
        default:
            if httpStatus >= 500 { return .serverError }
            if type == nil, httpStatus == 401 || httpStatus == 403 { return .accessDenied }
            return .other
        }
    }
}
