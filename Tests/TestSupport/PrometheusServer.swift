import Foundation

/// A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping the given
/// targets every `scrapeInterval`, with its data in a temporary directory. Queried through its
/// HTTP API; stopped when `body` ends.
public final class PrometheusServer: Sendable {
    public let port: Int
    private let process: ChildProcess
    private let logFile: String

    /// One sample of an instant query: the series' labels and its value.
    public struct Sample: Sendable {
        public var labels: [String: String]
        public var value: Double
    }

    private init(port: Int, process: ChildProcess, logFile: String) {
        self.port = port
        self.process = process
        self.logFile = logFile
    }

    public static func with<Result>(
        scraping targets: [String], scrapeInterval: String = "500ms",
        _ body: (PrometheusServer) async throws -> Result
    ) async throws -> Result {
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "prometheus")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = """
        global:
          scrape_interval: \(scrapeInterval)
          scrape_timeout: \(scrapeInterval)
        scrape_configs:
          - job_name: service-monitor
            static_configs:
              - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]

        """
        try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let logFile = directory + "/log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let port = try EtcdFreePorts.take(1)[0]
        let process = try Command.start(
            try Command.resolve("prometheus"),
            [
                "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ],
            standardError: FileHandle(forWritingAtPath: logFile)
        )
        let server = PrometheusServer(port: port, process: process, logFile: logFile)
        defer { process.send(SIGKILL) }
        // Its readiness endpoint answers 200 once the TSDB is open and scraping begins.
        try await eventually("prometheus to be ready; log: \(server.log)", timeout: .seconds(30)) {
            guard process.isRunning else { throw EtcdTestError("prometheus exited: \(server.log)") }
            return (try? await HTTPFetch.get(port: port, path: "/-/ready"))?.status == 200
        }
        let result = try await body(server)
        process.terminate()
        _ = try? await process.waitForExit(timeout: .seconds(10))
        return result
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// An instant query through `/api/v1/query`: every series it returns.
    public func query(_ promQL: String) async throws -> [Sample] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = promQL.addingPercentEncoding(withAllowedCharacters: allowed) ?? promQL
        let response = try await HTTPFetch.get(port: port, path: "/api/v1/query?query=\(encoded)")
        guard response.status == 200,
              let json = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let results = data["result"] as? [[String: Any]] else {
            throw EtcdTestError("query \(promQL) failed: HTTP \(response.status) \(response.body)")
        }
        return try results.map { result in
            guard let labels = result["metric"] as? [String: String], let value = result["value"] as? [Any],
                  value.count == 2, let text = value[1] as? String, let number = Double(text) else {
                throw EtcdTestError("unexpected query result for \(promQL): \(result)")
            }
            return Sample(labels: labels, value: number)
        }
    }

    /// The value of a query that returns one series; `nil` while it returns none.
    public func value(_ promQL: String) async throws -> Double? {
        let samples = try await query(promQL)
        guard samples.count <= 1 else { throw EtcdTestError("\(promQL) returned \(samples.count) series: \(samples)") }
        return samples.first?.value
    }
}
