import Foundation
import TestSupport

/// One of the shipped three-unit examples (`units/examples/NAME/`: `NAME-lease@`, `NAME@` and
/// `NAME-monitor@`, and `NAME-run@`, the one-unit form, where the script writes it) installed into
/// the private user manager by the script that writes its runnable copy, for instances 1–3, and
/// removed again. The unit names are fixed, so a suite using one runs alone on the user manager.
struct ExampleUnits: Sendable {
    static let instances = [1, 2, 3]
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let name: String
    let directory: String

    /// The templates the script wrote.
    var templates: [String] {
        ["\(name)-lease@.service", "\(name)@.service", "\(name)-monitor@.service", "\(name)-run@.service"]
            .filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
    }
    func main(_ instance: Int) -> String { "\(name)@\(instance).service" }
    /// The one-unit form's instance.
    func run(_ instance: Int) -> String { "\(name)-run@\(instance).service" }
    func lease(_ instance: Int) -> String { "\(name)-lease@\(instance).service" }
    func monitor(_ instance: Int) -> String { "\(name)-monitor@\(instance).service" }

    /// The manager's unit directory, where `install` writes the templates.
    static func unitDirectory() throws -> String {
        try UserManager.environment()["XDG_RUNTIME_DIR"]!! + "/systemd/user"
    }

    /// Runs `scripts/SCRIPT --units DIR ARGUMENTS…` and reloads the manager, after stopping what a
    /// run that died half-way may have left behind.
    static func install(_ name: String, script: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ExampleUnits {
        let units = ExampleUnits(name: name, directory: try unitDirectory())
        await units.stopAll()
        let written = try await Command.run(repository.appendingPathComponent("scripts/" + script).path, ["--units", units.directory] + arguments, timeout: timeout)
        guard written.status == 0 else { throw CommandError(description: "\(script) failed: \(written)") }
        let reload = try await UserManager.systemctl(["daemon-reload"])
        guard reload.status == 0 else { throw CommandError(description: "daemon-reload failed: \(reload)") }
        return units
    }

    func stopAll() async {
        let units = Self.instances.flatMap { instance in templates.map { $0.replacingOccurrences(of: "@.", with: "@\(instance).") } }
        guard !units.isEmpty else { return }
        _ = try? await UserManager.systemctl(["stop"] + units, timeout: .seconds(120))
        _ = try? await UserManager.systemctl(["reset-failed"] + units)
    }

    /// Stops every instance and takes the templates out of the manager.
    func remove() async {
        await stopAll()
        for template in templates { try? FileManager.default.removeItem(atPath: directory + "/" + template) }
        _ = try? await UserManager.systemctl(["daemon-reload"])
    }
}

/// Runs `body`, then `tearDown`, also when `body` throws.
func tearingDown<Result>(_ tearDown: () async -> Void, after body: () async throws -> Result) async throws -> Result {
    do {
        let result = try await body()
        await tearDown()
        return result
    } catch {
        await tearDown()
        throw error
    }
}
