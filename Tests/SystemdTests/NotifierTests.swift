import Foundation
import Systemd
import Testing
import TestSupport

@Suite("Notifier against a real notify socket", .tags(.fast))
struct NotifierTests {
    let probe: String

    init() throws {
        probe = try BuildProducts.executable(named: "systemd-probe")
    }

    @Test func sendsReadyAsTheWholeDatagram() async throws {
        let socket = try NotifySocket()
        let result = try await Command.run(probe, ["notify", "READY=1"], environment: ["NOTIFY_SOCKET": socket.path])
        #expect(result.standardOutput == "sent\n", "\(result)")
        #expect(await socket.receive(timeout: .seconds(5)) == "READY=1")
    }

    @Test func sendsSeveralAssignmentsInOneDatagram() async throws {
        let socket = try NotifySocket()
        let result = try await Command.run(
            probe,
            ["notify", "READY=1", "STATUS=up · HTTP 200 in 3 ms", "EXTEND_TIMEOUT_USEC=5000000", "X_SERVICE_MONITOR=a=b"],
            environment: ["NOTIFY_SOCKET": socket.path]
        )
        #expect(result.status == 0, "\(result)")
        #expect(await socket.receive(timeout: .seconds(5)) == "READY=1\nSTATUS=up · HTTP 200 in 3 ms\nEXTEND_TIMEOUT_USEC=5000000\nX_SERVICE_MONITOR=a=b")
        // Exactly one datagram.
        #expect(await socket.receive(timeout: .milliseconds(200)) == nil)
    }

    @Test func isANoOpThatSaysSoWithoutANotifySocket() async throws {
        let result = try await Command.run(probe, ["notify", "READY=1"], environment: ["NOTIFY_SOCKET": nil])
        #expect(result.status == 0)
        #expect(result.standardOutput == "not-supervised\n", "\(result)")
    }

    @Test func turnsANegativeReturnCodeIntoATypedError() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-notify-socket-\(UUID().uuidString)").path
        let result = try await Command.run(probe, ["notify", "READY=1"], environment: ["NOTIFY_SOCKET": missing])
        #expect(result.status == 1)
        #expect(result.standardOutput.hasPrefix("error: notifyFailed: sd_notify(\"READY=1\") failed"), "\(result)")
        #expect(result.standardOutput.contains("errno \(ENOENT)"), "\(result)")
    }

    @Test func rejectsAssignmentsThatWouldBreakTheLineProtocol() throws {
        let bad = [
            NotifyAssignment(name: "STATUS", value: "two\nlines"),
            NotifyAssignment(name: "", value: "1"),
            NotifyAssignment(name: "A=B", value: "1"),
        ]
        for assignment in bad {
            #expect(throws: SystemdError.self) { try Notifier().notify(assignment) }
            do {
                try Notifier().notify(assignment)
            } catch {
                #expect(error.code == .invalidArgument)
            }
        }
    }

    @Test func buildsTheWellKnownAssignments() {
        #expect(NotifyAssignment.ready.description == "READY=1")
        #expect(NotifyAssignment.stopping.description == "STOPPING=1")
        #expect(NotifyAssignment.watchdog.description == "WATCHDOG=1")
        #expect(NotifyAssignment.status("down\nrefused").description == "STATUS=down refused")
        #expect(NotifyAssignment.extendTimeout(by: .seconds(90)).description == "EXTEND_TIMEOUT_USEC=90000000")
        #expect(NotifyAssignment.extendTimeout(by: .milliseconds(1500)).description == "EXTEND_TIMEOUT_USEC=1500000")
        #expect(NotifyAssignment.mainPID(42).description == "MAINPID=42")
    }
}
