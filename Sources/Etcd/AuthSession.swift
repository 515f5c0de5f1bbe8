import GRPCCore
import Synchronization

/// Holds the auth token obtained with the configured credentials and hands it out as request
/// metadata (`token: …`, what etcd expects).
///
/// The token is fetched lazily by the first request and replaced when etcd rejects it (simple
/// tokens expire after five idle minutes; members forget them on restart).
final class AuthSession: Sendable {
    private enum TokenState: Sendable {
        case none
        case token(String)
        /// The cluster has auth disabled; send no token.
        case notNeeded
    }

    let credentials: EtcdClient.Credentials?
    private let state = Mutex<TokenState>(.none)

    init(credentials: EtcdClient.Credentials?) {
        self.credentials = credentials
    }

    /// Metadata for a request to `connection`, authenticating there first if needed.
    func metadata(for connection: EndpointConnection, options: CallOptions) async throws -> Metadata {
        guard self.credentials != nil else { return [:] }
        switch self.state.withLock({ $0 }) {
        case .token(let token):
            var metadata = Metadata()
            metadata.addString(token, forKey: "token")
            return metadata
        case .notNeeded: return [:]
        case .none:
            try await self.authenticate(at: connection, options: options)
            return try await self.metadata(for: connection, options: options)
        }
    }

    /// Forgets the current token so the next request authenticates again.
    func invalidate() {
        self.state.withLock { $0 = .none }
    }

    private func authenticate(at connection: EndpointConnection, options: CallOptions) async throws {
        guard let credentials = self.credentials else { return }
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = credentials.user
        request.password = credentials.password
        do {
            let response = try await connection.auth.authenticate(request, options: options)
            self.state.withLock { $0 = .token(response.token) }
        } catch let error as RPCError where EtcdServerError(error) == .authNotEnabled {
            self.state.withLock { $0 = .notNeeded }
        } catch let error as RPCError where EtcdServerError(error) == .authFailed {
            throw EtcdError(
                code: .authenticationFailed,
                message: "etcd rejected user '\(credentials.user)': wrong user name or password",
                endpoint: connection.url,
                cause: error
            )
        }
    }
}
