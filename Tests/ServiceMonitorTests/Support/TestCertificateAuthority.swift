import Foundation
import NIOSSL
import TestSupport

/// A throwaway PKI made with the `openssl` CLI in a temporary directory: a CA and a server
/// certificate it signed for 127.0.0.1 and localhost, and one for another name only (to see a
/// host-name mismatch). Made once per test process.
struct TestCertificateAuthority: Sendable {
    let directory: String
    var caFile: String { "\(self.directory)/ca.pem" }
    var serverCertificateFile: String { "\(self.directory)/server.pem" }
    var serverKeyFile: String { "\(self.directory)/server-key.pem" }
    /// Signed by the same CA for `elsewhere.invalid` only: not for 127.0.0.1 or localhost.
    var elsewhereCertificateFile: String { "\(self.directory)/elsewhere.pem" }

    /// Generated on first use and shared by every TLS test in the process.
    static func shared() async throws -> TestCertificateAuthority {
        try await cache.get()
    }

    private static let cache = Cache()

    /// The one generation, awaited by every caller (the first starts it).
    private actor Cache {
        private var result: Result<TestCertificateAuthority, any Error>?
        private var waiters: [CheckedContinuation<TestCertificateAuthority, any Error>]?

        func get() async throws -> TestCertificateAuthority {
            if let result { return try result.get() }
            if waiters != nil {
                return try await withCheckedThrowingContinuation { waiters?.append($0) }
            }
            waiters = []
            let generated: Result<TestCertificateAuthority, any Error>
            do {
                generated = .success(try await TestCertificateAuthority.make())
            } catch {
                generated = .failure(error)
            }
            result = generated
            for waiter in waiters ?? [] { waiter.resume(with: generated) }
            waiters = nil
            return try generated.get()
        }
    }

    static func make() async throws -> TestCertificateAuthority {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("service-monitor-checks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let authority = TestCertificateAuthority(directory: directory)
        try await authority.generate()
        return authority
    }

    /// A server TLS context presenting the signed certificate.
    func serverContext() throws -> NIOSSLContext {
        try self.serverContext(presenting: self.serverCertificateFile)
    }

    /// A server TLS context presenting a certificate the CA signed for another host name.
    func elsewhereServerContext() throws -> NIOSSLContext {
        try self.serverContext(presenting: self.elsewhereCertificateFile)
    }

    private func serverContext(presenting certificateFile: String) throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.serverKeyFile, format: .pem))
        )
        return try NIOSSLContext(configuration: configuration)
    }

    private func generate() async throws {
        // EC P-256 keys: generated in milliseconds, unlike RSA.
        try await self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca-key.pem"])
        try await self.openssl([
            "req", "-x509", "-new", "-key", "ca-key.pem", "-subj", "/CN=service-monitor checks test CA", "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", "ca.pem",
        ])
        try await self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server-key.pem"])
        try await self.openssl(["req", "-new", "-key", "server-key.pem", "-subj", "/CN=127.0.0.1", "-out", "server.csr"])
        try """
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            subjectAltName=IP:127.0.0.1,DNS:localhost

            """.write(toFile: "\(self.directory)/server.ext", atomically: true, encoding: .utf8)
        try await self.openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
        ])
        // The same key, certified for a name no test connects to.
        try """
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            subjectAltName=DNS:elsewhere.invalid

            """.write(toFile: "\(self.directory)/elsewhere.ext", atomically: true, encoding: .utf8)
        try await self.openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-extfile", "elsewhere.ext", "-out", "elsewhere.pem",
        ])
    }

    /// Runs openssl with file names relative to the directory, failing loudly on a non-zero exit.
    private func openssl(_ arguments: [String]) async throws {
        let absolute = arguments.map { $0.hasSuffix(".pem") || $0.hasSuffix(".csr") || $0.hasSuffix(".ext") ? "\(self.directory)/\($0)" : $0 }
        let result = try await Command.run("openssl", absolute, timeout: .seconds(30))
        guard result.status == 0 else {
            throw CommandError(description: "openssl \(arguments.joined(separator: " ")) failed: \(result)")
        }
    }
}
