// A small client of the Systemd module that the tests run under a real service manager.
//
//   systemd-probe notify NAME=value…      one datagram with every assignment; prints the outcome
//   systemd-probe watchdog                prints the watchdog timeout in µs, or "none"
//   systemd-probe serve STATUS STALL_MS   READY=1 + STATUS, pings the watchdog while a work loop
//                                         beats; the loop stops beating after STALL_MS (0: never)
import Logging
import Posix
import ServiceLifecycle
import UnixSignals
import Systemd

#if canImport(Glibc)
import Glibc
#endif

/// The loop the watchdog guards: beats every 100 ms until it "wedges" at `stallAfter`.
struct WorkLoop: Service {
    let progress: ProgressSignal
    let stallAfter: Duration?

    func run() async throws {
        let start = ContinuousClock.now
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let stallAfter, ContinuousClock.now - start >= stallAfter {
                    // Wedged: still alive, no longer making progress.
                } else {
                    progress.beat()
                }
                do { try await Task.sleep(for: .milliseconds(100)) } catch { return }
            }
        }
    }
}

func fail(_ message: String) -> Never {
    try? FileDescriptor.standardError.write("systemd-probe: \(message)\n")
    exit(64)
}

let arguments = Array(CommandLine.arguments.dropFirst())
LogTarget.auto.bootstrap(identifier: "systemd-probe", level: .info)
let logger = Logger(label: "systemd-probe")

switch arguments.first {
case "notify":
    let assignments = arguments.dropFirst().map { argument -> NotifyAssignment in
        guard let equals = argument.firstIndex(of: "=") else { fail("not NAME=value: \(argument)") }
        return NotifyAssignment(name: String(argument[..<equals]), value: String(argument[argument.index(after: equals)...]))
    }
    do {
        let outcome = try Notifier().notify(assignments)
        print(outcome == .sent ? "sent" : "not-supervised")
    } catch {
        print("error: \(error)")
        exit(1)
    }

case "watchdog":
    do {
        if let watchdog = try Watchdog.fromEnvironment() {
            print(watchdog.timeout.components.seconds * 1_000_000 + watchdog.timeout.components.attoseconds / 1_000_000_000_000)
        } else {
            print("none")
        }
    } catch {
        print("error: \(error)")
        exit(1)
    }

case "serve":
    guard arguments.count == 3, let stallMilliseconds = Int(arguments[2]) else { fail("usage: serve STATUS STALL_MS") }
    let progress = ProgressSignal()
    var services: [any Service] = [WorkLoop(progress: progress, stallAfter: stallMilliseconds > 0 ? .milliseconds(stallMilliseconds) : nil)]
    if let watchdog = try Watchdog.fromEnvironment() {
        // A healthy loop beats every 100 ms; a second without a beat means it is wedged.
        services.append(WatchdogPinger(watchdog: watchdog, progress: progress, stallTimeout: .seconds(1), logger: logger))
    }
    try Notifier().notify(.ready, .status(arguments[1]))
    let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
    try Notifier().notify(.stopping)

default:
    fail("unknown command \(arguments.first ?? "(none)")")
}
