import Foundation
import NIOSSL
import Synchronization
import TestSupport

/// A throwaway PKI made with the `openssl` CLI in a temporary directory: a CA and a server
/// certificate it signed for 127.0.0.1 and localhost. Made once per test process.
struct TestCertificateAuthority: Sendable {
    let directory: String
    var caFile: String { "\(self.directory)/ca.pem" }
    var serverCertificateFile: String { "\(self.directory)/server.pem" }
    var serverKeyFile: String { "\(self.directory)/server-key.pem" }

    /// Generated on first use and shared by every TLS test in the process.
    ///
    /// `openssl` runs on a thread of its own: blocking a cooperative-pool thread for the second
    /// it takes would stall every concurrently running test on a 2-core machine (the pool has
    /// one thread per core), skewing their latency and timeout measurements.
    static func shared() async throws -> TestCertificateAuthority {
        enum Action { case generate, wait, done(Result<TestCertificateAuthority, any Error>) }
        return try await withCheckedThrowingContinuation { continuation in
            let action: Action = self.cache.withLock { state in
                switch state {
                case .idle:
                    state = .generating(waiters: [continuation])
                    return .generate
                case .generating(var waiters):
                    waiters.append(continuation)
                    state = .generating(waiters: waiters)
                    return .wait
                case .done(let result):
                    return .done(result)
                }
            }
            switch action {
            case .wait:
                break
            case .done(let result):
                continuation.resume(with: result)
            case .generate:
                Thread.detachNewThread {
                    let result = Result { try TestCertificateAuthority.make() }
                    let waiters: [CheckedContinuation<TestCertificateAuthority, any Error>] = self.cache.withLock { state in
                        guard case .generating(let waiters) = state else { return [] }
                        state = .done(result)
                        return waiters
                    }
                    for waiter in waiters { waiter.resume(with: result) }
                }
            }
        }
    }

    private enum CacheState {
        case idle
        case generating(waiters: [CheckedContinuation<TestCertificateAuthority, any Error>])
        case done(Result<TestCertificateAuthority, any Error>)
    }

    private static let cache = Mutex<CacheState>(.idle)

    static func make() throws -> TestCertificateAuthority {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("service-monitor-checks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let authority = TestCertificateAuthority(directory: directory)
        try authority.generate()
        return authority
    }

    /// A server TLS context presenting the signed certificate.
    func serverContext() throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(self.serverCertificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.serverKeyFile, format: .pem))
        )
        return try NIOSSLContext(configuration: configuration)
    }

    private func generate() throws {
        // EC P-256 keys: generated in milliseconds, unlike RSA.
        try self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca-key.pem"])
        try self.openssl([
            "req", "-x509", "-new", "-key", "ca-key.pem", "-subj", "/CN=service-monitor checks test CA", "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", "ca.pem",
        ])
        try self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server-key.pem"])
        try self.openssl(["req", "-new", "-key", "server-key.pem", "-subj", "/CN=127.0.0.1", "-out", "server.csr"])
        try """
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            subjectAltName=IP:127.0.0.1,DNS:localhost

            """.write(toFile: "\(self.directory)/server.ext", atomically: true, encoding: .utf8)
        try self.openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
        ])
    }

    /// Runs openssl with file names relative to the directory, failing loudly on a non-zero exit.
    private func openssl(_ arguments: [String]) throws {
        let absolute = arguments.map { $0.hasSuffix(".pem") || $0.hasSuffix(".csr") || $0.hasSuffix(".ext") ? "\(self.directory)/\($0)" : $0 }
        let result = try Command.run("openssl", absolute, timeout: .seconds(30))
        guard result.status == 0 else {
            throw CommandError(description: "openssl \(arguments.joined(separator: " ")) failed: \(result)")
        }
    }
}
