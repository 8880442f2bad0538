import NIOSSL

/// SIP over TLS for agent phones (RFC 3261 §26.2, RFC 5630 for `sips:`): a PEM certificate
/// chain and private key, served on its own port (5061 by default).
public struct SIPTLSSettings: Sendable {
    public var port: Int
    public var certificatePath: String
    public var privateKeyPath: String

    public init(port: Int = 5061, certificatePath: String, privateKeyPath: String) {
        self.port = port
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    /// Loads the files; a bad file fails the start with the path in the error.
    func makeServerContext() throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw SIPTLSError.unreadable(path: certificatePath, reason: "\(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw SIPTLSError.unreadable(path: privateKeyPath, reason: "\(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

public enum SIPTLSError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot load TLS file \(path): \(reason)"
        }
    }
}
