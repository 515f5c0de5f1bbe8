import ServiceMonitor
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("Command word splitting", .tags(.fast))
struct CommandWordsTests {
    @Test(arguments: [
        ("true", ["true"]),
        ("  test   -e  /tmp/x ", ["test", "-e", "/tmp/x"]),
        ("sh -c 'sleep 30 & sleep 30'", ["sh", "-c", "sleep 30 & sleep 30"]),
        (#"echo "a b" 'c d'"#, ["echo", "a b", "c d"]),
        (#"echo "say \"hi\" \$x \n""#, ["echo", #"say "hi" $x \n"#]),
        (#"echo a\ b \'x"#, ["echo", "a b", "'x"]),
        ("echo ''", ["echo", ""]),
        (#"echo a"b"'c'd"#, ["echo", "abcd"]),
        ("echo $HOME *", ["echo", "$HOME", "*"]),
        ("a\tb\nc", ["a", "b", "c"]),
    ])
    func splits(_ value: String, _ words: [String]) throws {
        #expect(try CommandWords.split(value) == words)
    }

    @Test(arguments: [
        ("sh -c 'x", "unterminated single quote"),
        (#"echo "x"#, "unterminated double quote"),
        (#"echo "x\"#, "unterminated double quote"),
        (#"echo x\"#, "trailing backslash"),
        ("", "empty command"),
        (" \t ", "empty command"),
    ])
    func refuses(_ value: String, _ reason: String) {
        #expect {
            try CommandWords.split(value)
        } throws: { error in
            let bad = error as? BadInput
            return bad?.exitStatus == .usage
                && bad?.description == "--monitor-command \(value.debugDescription): \(reason)"
        }
    }
}

@Suite("Command checks", .tags(.fast), .shares(.processDescriptors))
struct CommandCheckTests {
    private func check(_ command: String, timeout: Duration = .seconds(20)) async throws -> CheckResult {
        try await withHealthChecker(
            target: CheckTarget(parsingCommand: command), configuration: .init(timeout: timeout)
        ) { checker in
            await checker.check()
        }
    }

    @Test("with --expect-body, exit 0 is up only when the output matches")
    func expectedOutput() async throws {
        let pattern = try BodyPattern(parsing: "state=(Synced|Donor)")
        func run(_ command: String) async throws -> CheckResult {
            try await withHealthChecker(
                target: CheckTarget(parsingCommand: command),
                configuration: .init(timeout: .seconds(20), expectedBody: pattern)
            ) { checker in
                await checker.check()
            }
        }
        let matching = try await run(#"sh -c 'echo node 1; echo state=Synced'"#)
        #expect(matching.isUp, "\(matching)")
        let other = try await run("echo state=Joining")
        #expect(!other.isUp)
        #expect(other.failure?.kind == .unexpectedBody, "\(other)")
        #expect(other.detail.hasSuffix(": state=Joining: output did not match --expect-body"), "\(other.detail)")
        let failed = try await run(#"sh -c 'echo state=Synced; exit 1'"#)
        #expect(failed.failure?.kind == .other, "a failed command stays a failed command: \(failed)")
    }

    @Test("exit 0 is up and the first line of output is in the detail")
    func exitZeroIsUp() async throws {
        let result = try await check(#"sh -c 'echo; echo "  Synced  "; echo second'"#)
        #expect(result.isUp, "\(result)")
        #expect(result.detail.hasPrefix("command exited 0 in "), "\(result.detail)")
        #expect(result.detail.hasSuffix(" ms: Synced") || result.detail.hasSuffix(" s: Synced"), "\(result.detail)")
    }

    @Test("a non-zero exit is down with its status and first line (stderr included)")
    func nonZeroIsDown() async throws {
        let result = try await check(#"sh -c 'echo "not ready" >&2; exit 3'"#)
        #expect(!result.isUp)
        #expect(result.detail == "command exited 3: not ready")
    }

    @Test("a program run without a shell sees its arguments verbatim")
    func noShell() async throws {
        let result = try await check(#"/bin/echo '$HOME' "*""#)
        #expect(result.isUp, "\(result)")
        #expect(result.detail.hasSuffix(": $HOME *"), "\(result.detail)")
    }

    @Test("a missing program is down: command not found")
    func notFound() async throws {
        let byPath = try await check("/no/such/program")
        #expect(!byPath.isUp)
        #expect(byPath.detail == "command not found: /no/such/program", "\(byPath.detail)")
        let byName = try await check("no-such-program-service-monitor")
        #expect(!byName.isUp)
        #expect(byName.detail == "command not found: no-such-program-service-monitor", "\(byName.detail)")
    }

    @Test("at the timeout the command's whole process group is killed and reaped")
    func timeoutKillsTheGroup() async throws {
        let pidFile = "/tmp/service-monitor-command-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(pidFile) }
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await check("sh -c 'echo $$ > \(pidFile); sleep 30 & sleep 30'", timeout: .seconds(1))
        let elapsed = clock.now - started
        #expect(!result.isUp)
        #expect(result.failure?.kind == .timeout)
        #expect(result.detail == "command timed out after 1 s")
        #expect(elapsed < .seconds(15), "the check returned after \(elapsed)")
        let text = try #require(try? readText(pidFile), "the command wrote its pid")
        let group = try #require(pid_t(text.filter(\.isNumber)))
        // The leader (our child) is reaped, not a zombie: kill(group, 0) finds nothing.
        #expect(kill(group, 0) == -1 && errno == ESRCH, "the leader \(group) is not reaped")
        // No live member of the group is left (the background sleep was killed too; as an
        // orphan it is PID 1's to reap, so its zombie may linger a moment).
        try await eventually("no live process of group \(group)", timeout: .seconds(10)) {
            liveMembers(ofGroup: group).isEmpty
        }
    }

    @Test("a command that exits leaving a background process behind: the leftover is killed")
    func leftoversAreKilled() async throws {
        let pidFile = "/tmp/service-monitor-command-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(pidFile) }
        let result = try await check("sh -c 'echo $$ > \(pidFile); sleep 30 & echo started'")
        #expect(result.isUp, "\(result)")
        let text = try #require(try? readText(pidFile), "the command wrote its pid")
        let group = try #require(pid_t(text.filter(\.isNumber)))
        try await eventually("no live process of group \(group)", timeout: .seconds(10)) {
            liveMembers(ofGroup: group).isEmpty
        }
    }

    @Test("a command printing 10 MiB is up and keeps only the first 64 KiB")
    func chattyCommand() async throws {
        let result = try await check("sh -c 'echo first; head -c 10485760 /dev/zero | tr \"\\\\0\" x'")
        #expect(result.isUp, "\(result)")
        #expect(result.detail.hasSuffix(": first"), "\(result.detail)")
    }
}

/// Processes in `group` that are not zombies, from /proc/<pid>/stat.
private func liveMembers(ofGroup group: pid_t) -> [pid_t] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var members: [pid_t] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = pid_t(name), let stat = try? readText("/proc/\(pid)/stat") else { continue }
        // "pid (comm) state ppid pgrp …"; comm may hold spaces, so split after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else { continue }
        members.append(pid)
    }
    return members
}

private func readText(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else { throw CheckFailure(kind: .other, detail: "cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
