import Foundation
import ServiceMonitor
import Testing

private func status(_ key: String) -> String {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").first { $0.hasPrefix(key) }.map(String.init) ?? "?"
}
private func cpu() -> Double { var u = rusage(); getrusage(Int32(RUSAGE_SELF.rawValue), &u); return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6 }

@Test func zzMeasure() async throws {
    try await withLoopbackHTTPServer(responding: .init(status: 200, body: "{}")) { server in
        try await withHealthChecker(target: CheckTarget(parsing: server.baseURL)) { checker in
            _ = await checker.check()
            let fds0 = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
            print("MEASURE before:", status("Threads"), status("VmRSS"), "fds", fds0)
            let n = 1000
            let c0 = cpu(); let t0 = ContinuousClock.now
            var latencies: [Duration] = []
            for _ in 0..<n { latencies.append(await checker.check().latency) }
            let wall = ContinuousClock.now - t0; let c = cpu() - c0
            latencies.sort()
            let fds1 = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
            print("MEASURE after \(n) http checks: wall \(wall), cpu \(c)s (\(c / Double(n) * 1e3) ms/check incl. server), p50 \(latencies[n/2]), p99 \(latencies[n*99/100]);", status("Threads"), status("VmRSS"), "fds", fds1, "connections", server.acceptedConnections)
        }
    }
    try await withSilentServer { server in
        try await withHealthChecker(target: CheckTarget(parsing: "tcp://127.0.0.1:\(server.port)")) { checker in
            let c0 = cpu(); let t0 = ContinuousClock.now
            for _ in 0..<1000 { _ = await checker.check() }
            print("MEASURE 1000 tcp checks: wall \(ContinuousClock.now - t0), cpu \(cpu() - c0)s", status("Threads"))
        }
    }
}
