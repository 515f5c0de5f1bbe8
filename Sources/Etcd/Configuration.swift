extension EtcdClient {
    /// Everything the client needs to reach a cluster.
    ///
    /// ```swift
    /// var configuration = EtcdClient.Configuration.defaults
    /// configuration.endpoints = ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    /// configuration.tls = .init(
    ///     caFile: "/etc/etcd/ca.pem",
    ///     certificateFile: "/etc/etcd/client.pem",
    ///     keyFile: "/etc/etcd/client-key.pem"
    /// )
    /// configuration.credentials = .init(user: "monitor", password: secret)
    /// ```
    public struct Configuration: Sendable {
        /// Client URLs of the members, `http://host:port` or `https://host:port`. The client uses
        /// one at a time and moves to the next when it stops answering.
        public var endpoints: [String]
        /// How long a member that has not answered yet gets to connect and answer before the
        /// client tries the next one.
        public var dialTimeout: Duration
        /// The total time a unary request (get, put, txn, lease grant, ...) may take, fail-over
        /// included. Past it the request fails with ``EtcdError/Code-swift.struct/unavailable``
        /// (nobody answered) or ``EtcdError/Code-swift.struct/deadlineExceeded``.
        public var requestTimeout: Duration
        /// TLS material for `https://` endpoints; `nil` uses the system trust store and no
        /// client certificate.
        public var tls: TLS?
        /// etcd user and password; `nil` when authentication is off.
        public var credentials: Credentials?

        public init(
            endpoints: [String],
            dialTimeout: Duration = .seconds(1),
            requestTimeout: Duration = .seconds(5),
            tls: TLS? = nil,
            credentials: Credentials? = nil
        ) {
            self.endpoints = endpoints
            self.dialTimeout = dialTimeout
            self.requestTimeout = requestTimeout
            self.tls = tls
            self.credentials = credentials
        }

        /// A local single member: `http://127.0.0.1:2379`, 5 s dial and request timeouts.
        public static var defaults: Self {
            Self(endpoints: ["http://127.0.0.1:2379"])
        }
    }

    /// Files for TLS, all PEM.
    public struct TLS: Sendable, Hashable {
        /// CA bundle that signed the members' certificates; `nil` uses the system trust store.
        public var caFile: String?
        /// Client certificate (chain), for members started with `--client-cert-auth`.
        public var certificateFile: String?
        /// Private key of the client certificate.
        public var keyFile: String?

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// etcd user name and password (see `etcdctl user add`).
    public struct Credentials: Sendable, Hashable {
        public var user: String
        public var password: String

        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }
    }
}

/// The password never appears when credentials (or a configuration holding them) are printed,
/// logged or dumped.
extension EtcdClient.Credentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "user \(self.user.debugDescription) (password redacted)" }
    public var debugDescription: String { self.description }
    public var customMirror: Mirror { Mirror(self, children: ["user": self.user, "password": "<redacted>"]) }
}
