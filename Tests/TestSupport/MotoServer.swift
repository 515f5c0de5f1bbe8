import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// moto in server mode (PyPI `moto[server]`, which `./dev test` installs): a stand-in for AWS
/// DynamoDB and IAM on a free loopback port, with a fresh in-memory state per server. Ready once
/// it answers an HTTP request (polled, no fixed sleep). Started through `scripts/moto-server.py`,
/// which applies requests one at a time: bare moto undoes writes committed beside a failing
/// transaction, which DynamoDB never does.
public final class MotoServer: Sendable {
    public let port: Int
    private let process: ChildProcess
    private let logPath: String

    /// `http://127.0.0.1:<port>`.
    public var endpoint: String { "http://127.0.0.1:\(self.port)" }

    private init(port: Int, process: ChildProcess, logPath: String) {
        self.port = port
        self.process = process
        self.logPath = logPath
    }

    /// Starts one; `environment` adds variables (e.g. `INITIAL_NO_AUTH_ACTION_COUNT` for IAM
    /// mode). Call ``stop()`` when done (``with(environment:_:)`` does).
    public static func start(environment: [String: String] = [:], startTimeout: Duration = .seconds(60)) async throws -> MotoServer {
        let executable = try Command.resolve("python3")
        var lastFailure = "never started"
        // A probed port may be taken by someone else before moto binds it: then fresh ports.
        for _ in 0..<3 {
            let port = try EtcdFreePorts.take(1)[0]
            let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "moto")
            let logPath = "\(directory)/moto.log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            let process = try Command.start(
                executable, [Self.script, "-H", "127.0.0.1", "-p", String(port)],
                environment: environment.mapValues { Optional($0) },
                standardOutput: log, standardError: log
            )
            try? log.close()
            let server = MotoServer(port: port, process: process, logPath: logPath)
            let deadline = ContinuousClock.now + startTimeout
            while process.isRunning, ContinuousClock.now < deadline {
                if await onOwnThread({ Self.answersHTTP(port: port) }) { return server }
                try await Task.sleep(for: .milliseconds(100))
            }
            lastFailure = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            await process.kill()
            guard !process.isRunning, ContinuousClock.now < deadline else { break }
        }
        throw CommandError(description: "moto_server did not answer on loopback: \(lastFailure.suffix(2000))")
    }

    /// `scripts/moto-server.py` in this checkout.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/moto-server.py").path

    /// Runs `body` with a started server and stops it afterwards.
    public static func with<Result>(environment: [String: String] = [:], _ body: (MotoServer) async throws -> Result) async throws -> Result {
        let server = try await start(environment: environment)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    public func stop() async {
        self.process.terminate()
        if (try? await self.process.waitForExit(timeout: .seconds(10))) == nil {
            await self.process.kill()
        }
    }

    /// What moto printed (requests and tracebacks), for a failing test's message.
    public var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Whether `GET /moto-api/data.json` on 127.0.0.1:`port` gets an HTTP answer.
    private static func answersHTTP(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        let request = Array("GET /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 12)
        let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return received >= 12 && String(decoding: buffer, as: UTF8.self).hasPrefix("HTTP/1.")
    }
}
