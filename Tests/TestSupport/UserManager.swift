import Foundation

/// The private systemd user manager that `./dev test` starts (`systemd --user` with its own
/// `XDG_RUNTIME_DIR`), driven with `systemctl --user` and `systemd-run --user`.
public enum UserManager {
    /// Fails with a clear message when no manager answers: the tests need the real thing.
    public static func environment() throws -> [String: String?] {
        guard let runtimeDirectory = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] else {
            throw CommandError(description: "XDG_RUNTIME_DIR is not set: run the tests through ./dev test, which starts a private systemd user manager")
        }
        let privateSocket = runtimeDirectory + "/systemd/private"
        guard FileManager.default.fileExists(atPath: privateSocket) else {
            throw CommandError(description: "no systemd user manager at \(privateSocket): run the tests through ./dev test")
        }
        return ["XDG_RUNTIME_DIR": runtimeDirectory]
    }

    @discardableResult
    public static func systemctl(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await Command.run("systemctl", ["--user", "--no-pager"] + arguments, environment: environment(), timeout: timeout)
    }

    /// Starts `command` as a transient unit; returns once systemd-run returns (for `Type=notify`,
    /// once the unit sent READY=1 or failed).
    /// With `noBlock`, returns as soon as the start job is queued.
    @discardableResult
    public static func run(unit: String, properties: [String], command: [String], noBlock: Bool = false, timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let arguments = ["--user", "--unit=\(unit)"] + (noBlock ? ["--no-block"] : []) + properties.flatMap { ["-p", $0] } + command
        return try await Command.run("systemd-run", arguments, environment: environment(), timeout: timeout)
    }

    /// The unit's properties as `systemctl show` reports them.
    public static func properties(of unit: String, _ names: [String]) async throws -> [String: String] {
        let result = try await systemctl(["show", unit] + names.flatMap { ["-p", $0] })
        guard result.status == 0 else { throw CommandError(description: "systemctl show \(unit) failed: \(result)") }
        var properties: [String: String] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            properties[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return properties
    }

    /// Stops the unit and forgets a failed result, ignoring a unit that is already gone.
    public static func remove(unit: String) async {
        _ = try? await systemctl(["stop", unit])
        _ = try? await systemctl(["reset-failed", unit])
    }

    /// Runs `body`, then removes `units` (stopped, failed results forgotten), also when `body`
    /// throws: the async counterpart of `defer { remove(unit:) }`.
    public static func removing<Result>(_ units: String..., after body: () async throws -> Result) async throws -> Result {
        do {
            let result = try await body()
            for unit in units { await remove(unit: unit) }
            return result
        } catch {
            for unit in units { await remove(unit: unit) }
            throw error
        }
    }
}
