import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Checks a `--monitor-command` target by running it: up when it exits 0 within the timeout.
///
/// The command runs without a shell, in a process group of its own, with standard input from
/// /dev/null and standard error merged into standard output. The first ``outputLimit`` bytes of
/// that output are kept (for the first line in the detail), the rest is read and dropped. At the
/// timeout (or when the check is cancelled) the whole group gets SIGKILL; after the command ends
/// any process left in its group gets SIGKILL too, so a check leaves nothing behind.
struct CommandProbe: Sendable {
    /// Output kept per check; more is discarded as it arrives.
    static let outputLimit = 64 * 1024

    enum Outcome: Sendable {
        /// `output` is the kept output (at most ``outputLimit`` bytes), for `--expect-body`.
        case exited(status: Int32, firstLine: String, output: [UInt8])
        case signalled(signal: Int32, firstLine: String)
        case timedOut
        case notFound
        case failed(String)
    }

    let words: [String]

    func run(timeout: Duration) async -> Outcome {
        let state = RunState()
        let executable: Executable =
            self.words[0].contains("/") ? .path(FilePath(self.words[0])) : .name(self.words[0])
        var options = PlatformOptions()
        // setpgid(0, 0) in the child: its pid becomes the group id.
        options.processGroupID = 0
        let configuration = Configuration(
            executable: executable,
            arguments: Arguments(Array(self.words.dropFirst())),
            platformOptions: options
        )
        let outcome: Outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return nil
                }
                state.timeOut()
                return nil
            }
            group.addTask {
                await Self.execute(configuration, state: state)
            }
            var result: Outcome = .failed("cancelled")
            while let next = await group.next() {
                if let next {
                    result = next
                    group.cancelAll()
                }
            }
            return result
        }
        return outcome
    }

    private static func execute(
        _ configuration: Configuration, state: RunState
    ) async -> Outcome {
        do {
            let result = try await Subprocess.run(
                configuration, input: .none, output: .sequence, error: .combinedWithOutput
            ) { execution in
                let pid = execution.processIdentifier.value
                state.started(pid)
                return await withTaskCancellationHandler {
                    await Self.readKept(execution.standardOutput)
                } onCancel: {
                    _ = kill(-pid, SIGKILL)
                }
            }
            // The leader is reaped; its group id stays taken while any member lives, so this
            // reaches only processes the command left behind.
            let timedOut = state.finished()
            if timedOut { return .timedOut }
            let firstLine = Self.firstLine(of: result.closureResult)
            switch result.terminationStatus {
            case .exited(let status): return .exited(status: status, firstLine: firstLine, output: result.closureResult)
            case .signaled(let signal): return .signalled(signal: signal, firstLine: firstLine)
            }
        } catch let error as SubprocessError where error.code == .executableNotFound {
            return .notFound
        } catch {
            if state.finished() { return .timedOut }
            return .failed("\(error)")
        }
    }

    /// Reads the whole output, keeping the first ``outputLimit`` bytes.
    private static func readKept(_ output: SubprocessOutputSequence) async -> [UInt8] {
        var kept: [UInt8] = []
        do {
            for try await buffer in output {
                let room = Self.outputLimit - kept.count
                guard room > 0 else { continue }
                buffer.withUnsafeBytes { bytes in
                    kept.append(contentsOf: bytes.prefix(room))
                }
            }
        } catch {
            // A read cut short (the command was killed): what arrived is kept.
        }
        return kept
    }

    /// The first non-empty line, trimmed and cut to 200 characters, control characters replaced.
    static func firstLine(of output: [UInt8]) -> String {
        let text = String(decoding: output, as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).lazy
            .map { $0.trimmingBlanks }
            .first { !$0.isEmpty } ?? ""
        let cleaned = String(line.map { $0.isASCII && ($0.asciiValue! < 0x20 || $0.asciiValue! == 0x7f) ? " " : $0 })
        return cleaned.count > 200 ? String(cleaned.prefix(200)) + "…" : cleaned
    }
}

/// The running command's process group, shared by the run and its deadline.
private final class RunState: Sendable {
    private struct Value {
        var group: pid_t?
        var timedOut = false
    }

    private let value = Mutex(Value())

    func started(_ pid: pid_t) {
        self.value.withLock { $0.group = pid }
    }

    /// The deadline: SIGKILL to the whole group, if it is running.
    func timeOut() {
        self.value.withLock { value in
            value.timedOut = true
            if let group = value.group { _ = kill(-group, SIGKILL) }
        }
    }

    /// After the leader is reaped: SIGKILL to what it left in its group (the group id stays taken
    /// while any member lives, so this reaches only those). Returns whether the deadline passed.
    func finished() -> Bool {
        self.value.withLock { value in
            if let group = value.group { _ = kill(-group, SIGKILL) }
            value.group = nil
            return value.timedOut
        }
    }
}

extension Substring {
    /// Without the spaces and tabs at either end.
    var trimmingBlanks: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
