// No Foundation here: with it, `String.contains` resolves to its locale-aware overload, which
// links ICU and its 30 MB of data into the binary (BinaryFootprintTests catches that).
import GRPCCore
import GRPCNIOTransportHTTP2
import Posix

/// One member's gRPC connection and the etcd service stubs that share it.
///
/// Created once per endpoint when the client is made, reused by every request; the underlying
/// channel connects lazily on first use and reconnects with a short backoff after a failure.
final class EndpointConnection: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix

    let address: EndpointAddress
    let grpcClient: GRPCClient<Transport>
    let kv: Etcdserverpb_KV.Client<Transport>
    let lease: Etcdserverpb_Lease.Client<Transport>
    let watch: Etcdserverpb_Watch.Client<Transport>
    let auth: Etcdserverpb_Auth.Client<Transport>
    let maintenance: Etcdserverpb_Maintenance.Client<Transport>

    var url: String { self.address.url }

    init(address: EndpointAddress, tls: EtcdClient.TLS?) throws(EtcdError) {
        self.address = address
        let target: any ResolvableTarget
        switch address.hostKind {
        case .ipv4: target = .ipv4(address: address.host, port: address.port)
        case .ipv6: target = .ipv6(address: address.host, port: address.port)
        case .name: target = .dns(host: address.host, port: address.port)
        }
        let transport: Transport
        do {
            transport = try Transport(
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
        self.grpcClient = GRPCClient(transport: transport)
        self.kv = Etcdserverpb_KV.Client(wrapping: self.grpcClient)
        self.lease = Etcdserverpb_Lease.Client(wrapping: self.grpcClient)
        self.watch = Etcdserverpb_Watch.Client(wrapping: self.grpcClient)
        self.auth = Etcdserverpb_Auth.Client(wrapping: self.grpcClient)
        self.maintenance = Etcdserverpb_Maintenance.Client(wrapping: self.grpcClient)
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
