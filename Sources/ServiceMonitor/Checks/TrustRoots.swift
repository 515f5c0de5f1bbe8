import NIOSSL

extension HealthChecker.CertificateVerification {
    /// The CA certificates of a ``trustRootsFile(path:)``, for the https and grpcs probes. Loaded
    /// once, when the checker is made, so a wrong path fails at startup with a clear message, not
    /// at every check.
    static func loadTrustRoots(_ path: String) throws(BadInput) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw .badValue(.unreadableTrustRoots, option: "CA file", value: path, "cannot read PEM certificates", cause: error)
        }
        guard !certificates.isEmpty else {
            throw .badValue(.unreadableTrustRoots, option: "CA file", value: path, "holds no PEM certificate")
        }
        return certificates
    }
}
