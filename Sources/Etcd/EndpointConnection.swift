// No Foundation here: with it, `String.contains` resolves to its locale-aware overload, which
// links ICU and its 30 MB of data into the binary (BinaryFootprintTests catches that).
import GRPCCore
import GRPCNIOTransportHTTP2
import Posix
import Synchronization

/// One member's gRPC connection and the etcd service stubs that share it.
///
/// Created once per endpoint when the client is made, reused by every request; the underlying
/// channel connects lazily on first use and reconnects with a short backoff after a failure.
/// After a member was silent (a request or stream got no answer in time), ``reconnect(after:)``
/// replaces the channel: its socket may be waiting on TCP retransmissions (a SYN or data sent
/// into a partition is retried 1, 2, 4… s later), and a fresh one is used at once when the
/// network heals instead of seconds later.
final class EndpointConnection: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix

    /// One gRPC client and the etcd stubs over it.
    struct Channel: Sendable {
        let grpcClient: GRPCClient<Transport>
        let kv: Etcdserverpb_KV.Client<Transport>
        let lease: Etcdserverpb_Lease.Client<Transport>
        let watch: Etcdserverpb_Watch.Client<Transport>
        let auth: Etcdserverpb_Auth.Client<Transport>
        let maintenance: Etcdserverpb_Maintenance.Client<Transport>

        init(_ grpcClient: GRPCClient<Transport>) {
            self.grpcClient = grpcClient
            self.kv = Etcdserverpb_KV.Client(wrapping: grpcClient)
            self.lease = Etcdserverpb_Lease.Client(wrapping: grpcClient)
            self.watch = Etcdserverpb_Watch.Client(wrapping: grpcClient)
            self.auth = Etcdserverpb_Auth.Client(wrapping: grpcClient)
            self.maintenance = Etcdserverpb_Maintenance.Client(wrapping: grpcClient)
        }
    }

    let address: EndpointAddress
    private let tls: EtcdClient.TLS?
    private let state: Mutex<(channel: Channel, shutDown: Bool)>
    /// Every channel's gRPC client, the first and each replacement, for ``EtcdClient`` to run.
    let clientsToRun: AsyncStream<GRPCClient<Transport>>
    private let newClients: AsyncStream<GRPCClient<Transport>>.Continuation

    var url: String { self.address.url }
    var channel: Channel { self.state.withLock { $0.channel } }
    var kv: Etcdserverpb_KV.Client<Transport> { self.channel.kv }
    var lease: Etcdserverpb_Lease.Client<Transport> { self.channel.lease }
    var watch: Etcdserverpb_Watch.Client<Transport> { self.channel.watch }
    var auth: Etcdserverpb_Auth.Client<Transport> { self.channel.auth }
    var maintenance: Etcdserverpb_Maintenance.Client<Transport> { self.channel.maintenance }

    init(address: EndpointAddress, tls: EtcdClient.TLS?) throws(EtcdError) {
        self.address = address
        self.tls = tls
        let first = Channel(GRPCClient(transport: try Self.transport(for: address, tls: tls)))
        self.state = Mutex((first, false))
        (self.clientsToRun, self.newClients) = AsyncStream.makeStream()
        self.newClients.yield(first.grpcClient)
    }

    /// Replaces the channel that was in use when a request or stream on it met silence
    /// (`stale`), unless another failure already replaced it; the old one closes once its
    /// in-flight calls end.
    func reconnect(after stale: Channel) {
        // Settings that were valid at start-up stay valid; a failure here keeps the old channel.
        guard let transport = try? Self.transport(for: self.address, tls: self.tls) else { return }
        let replaced = self.state.withLock { state -> Channel? in
            guard !state.shutDown, state.channel.grpcClient === stale.grpcClient else { return nil }
            let old = state.channel
            state.channel = Channel(GRPCClient(transport: transport))
            self.newClients.yield(state.channel.grpcClient)
            return old
        }
        replaced?.grpcClient.beginGracefulShutdown()
    }

    /// Stops accepting new calls: no more replacements, and the current channel closes once
    /// its in-flight calls end.
    func shutdown() {
        let channel = self.state.withLock { state -> Channel in
            state.shutDown = true
            self.newClients.finish()
            return state.channel
        }
        channel.grpcClient.beginGracefulShutdown()
    }

    private static func transport(for address: EndpointAddress, tls: EtcdClient.TLS?) throws(EtcdError) -> Transport {
        let target: any ResolvableTarget
        switch address.hostKind {
        case .ipv4: target = .ipv4(address: address.host, port: address.port)
        case .ipv6: target = .ipv6(address: address.host, port: address.port)
        case .name: target = .dns(host: address.host, port: address.port)
        }
        do {
            return try Transport(
                target: target,
                transportSecurity: Self.transportSecurity(for: address, tls: tls),
                config: .defaults { config in
                    // A member that comes back should be used again within a couple of seconds,
                    // not after gRPC's default two-minute backoff ceiling.
                    config.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
                    // Notice a silently dead member (no RST) while a watch or keep-alive is
                    // open. etcd refuses pings more often than every 5 s or without streams.
                    config.connection.keepalive = .init(time: .seconds(10), timeout: .seconds(5), allowWithoutCalls: false)
                }
            )
        } catch {
            throw EtcdError(
                code: .invalidConfiguration,
                message: "cannot set up a connection to \(address.url): \(Self.explainSetupFailure(error, tls: tls))",
                endpoint: address.url,
                cause: error
            )
        }
    }

    /// NIO reports a TLS file it cannot use as `failedToLoadCertificate`/`failedToLoadPrivateKey`
    /// without the path; name the file (for a certificate, the one that holds none).
    private static func explainSetupFailure(_ error: any Error, tls: EtcdClient.TLS?) -> String {
        let text = String(reflecting: error)
        if text.contains("failedToLoadPrivateKey"), let keyFile = tls?.keyFile {
            let certificate = tls?.certificateFile.map { " of \($0.debugDescription)" } ?? ""
            return "TLS key file \(keyFile.debugDescription) is not a PEM private key, or not the key\(certificate)"
        }
        if text.contains("failedToLoadCertificate") {
            let files = [tls?.caFile, tls?.certificateFile].compactMap { $0 }
            let bad = files.first { file in
                guard let contents = try? File.text(atPath: file) else { return true }
                return !contents.contains("-----BEGIN CERTIFICATE-----")
            }
            if let bad = bad ?? files.first {
                return "TLS certificate file \(bad.debugDescription) holds no usable PEM certificate"
            }
        }
        return "\(error)"
    }

    private static func transportSecurity(
        for address: EndpointAddress,
        tls: EtcdClient.TLS?
    ) -> Transport.TransportSecurity {
        guard address.usesTLS else { return .plaintext }
        return .tls { config in
            if let caFile = tls?.caFile {
                config.trustRoots = .certificates([.file(path: caFile, format: .pem)])
            }
            if let certificateFile = tls?.certificateFile, let keyFile = tls?.keyFile {
                config.certificateChain = [.file(path: certificateFile, format: .pem)]
                config.privateKey = .file(path: keyFile, format: .pem)
            }
        }
    }
}
