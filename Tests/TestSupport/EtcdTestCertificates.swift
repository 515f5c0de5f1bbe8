import Foundation

/// A throwaway PKI made with the `openssl` CLI: a CA, a server certificate for 127.0.0.1 and
/// localhost, a client certificate, and an unrelated second CA to test rejection.
public struct EtcdTestCertificates: Sendable {
    public let directory: String
    public var caFile: String { "\(self.directory)/ca.pem" }
    public var serverCertificateFile: String { "\(self.directory)/server.pem" }
    public var serverKeyFile: String { "\(self.directory)/server-key.pem" }
    public var clientCertificateFile: String { "\(self.directory)/client.pem" }
    public var clientKeyFile: String { "\(self.directory)/client-key.pem" }
    /// A CA that signed nothing here: trusting only it must fail.
    public var otherCAFile: String { "\(self.directory)/other-ca.pem" }
    /// A client certificate signed by the other CA: members must refuse it.
    public var otherClientCertificateFile: String { "\(self.directory)/other-client.pem" }
    public var otherClientKeyFile: String { "\(self.directory)/other-client-key.pem" }

    /// Generates everything in a new temporary directory (EC P-256 keys: fast).
    public static func make() async throws -> EtcdTestCertificates {
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "etcd-certs")
        let certificates = EtcdTestCertificates(directory: directory)
        try await certificates.generate()
        return certificates
    }

    /// Deletes the directory.
    public func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    private func generate() async throws {
        try await self.makeCA(name: "ca", subject: "/CN=service-monitor test CA")
        try await self.makeCA(name: "other-ca", subject: "/CN=unrelated test CA")
        try await self.makeLeaf(
            name: "server", signedBy: "ca", subject: "/CN=127.0.0.1",
            extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
        )
        try await self.makeLeaf(name: "client", signedBy: "ca", subject: "/CN=client", extensions: "extendedKeyUsage=clientAuth\n")
        try await self.makeLeaf(name: "other-client", signedBy: "other-ca", subject: "/CN=client", extensions: "extendedKeyUsage=clientAuth\n")
    }

    private func path(_ name: String) -> String { "\(self.directory)/\(name)" }

    private func makeKey(_ name: String) async throws {
        try await Self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.path("\(name)-key.ec.pem")])
        // PKCS#8: understood by both Go (etcd) and BoringSSL.
        try await Self.openssl(["pkcs8", "-topk8", "-nocrypt", "-in", self.path("\(name)-key.ec.pem"), "-out", self.path("\(name)-key.pem")])
    }

    private func makeCA(name: String, subject: String) async throws {
        try await self.makeKey(name)
        try await Self.openssl([
            "req", "-x509", "-new", "-key", self.path("\(name)-key.pem"), "-subj", subject, "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", self.path("\(name).pem"),
        ])
    }

    private func makeLeaf(name: String, signedBy ca: String, subject: String, extensions: String) async throws {
        try await self.makeKey(name)
        try await Self.openssl(["req", "-new", "-key", self.path("\(name)-key.pem"), "-subj", subject, "-out", self.path("\(name).csr")])
        let extensionsFile = self.path("\(name).ext")
        try ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" + extensions)
            .write(toFile: extensionsFile, atomically: true, encoding: .utf8)
        try await Self.openssl([
            "x509", "-req", "-in", self.path("\(name).csr"), "-CA", self.path("\(ca).pem"), "-CAkey", self.path("\(ca)-key.pem"),
            "-CAcreateserial", "-days", "2", "-extfile", extensionsFile, "-out", self.path("\(name).pem"),
        ])
    }

    private static func openssl(_ arguments: [String]) async throws {
        try await Command.output("/usr/bin/openssl", arguments)
    }
}
