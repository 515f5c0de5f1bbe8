/// All the checks of one instance (`--monitor-url` and `--monitor-command`, each repeatable): one
/// ``HealthChecker`` per target, created once, and a round that runs them all concurrently and
/// judges the instance up only when every check is up.
///
/// ```swift
/// try await withHealthCheckSet(targets: [web, database]) { checks in
///     let result = await checks.check()   // "tcp://127.0.0.1:3306: connection refused"
/// }
/// ```
///
/// The combined ``CheckResult`` of several checks:
/// - `detail`: when down, each failing check as `<target>: <its detail>`, joined by `; `; when up,
///   every check so. With a single check the result is that check's own, unchanged.
/// - `latency`: the round's own duration — all run at once, so about the slowest check.
/// - `failure`: when down, the first failing check's kind and cause (in the order given) with the
///   combined detail.
/// - `httpStatus`: when down, the first failing check's (if it received one); when up, the first
///   check's that received one.
public struct HealthCheckSet: Sendable {
    /// One per target, in the order given.
    public let checkers: [HealthChecker]

    init(checkers: [HealthChecker]) {
        precondition(!checkers.isEmpty, "an instance needs at least one check")
        self.checkers = checkers
    }

    /// What is checked, in the order given.
    public var targets: [CheckTarget] { self.checkers.map(\.target) }

    /// Runs one round: every check at once, each bounded by its timeout. Never throws.
    public func check() async -> CheckResult {
        await checkRound().combined
    }

    /// One round, with each check's own result beside the combined one (for the per-check metrics).
    public func checkRound() async -> CheckRound {
        if self.checkers.count == 1 {
            let result = await self.checkers[0].check()
            return CheckRound(combined: result, each: [result])
        }
        let clock = ContinuousClock()
        let start = clock.now
        let results = await withTaskGroup(of: (Int, CheckResult).self) { group in
            for (index, checker) in self.checkers.enumerated() {
                group.addTask { (index, await checker.check()) }
            }
            var results = [CheckResult?](repeating: nil, count: self.checkers.count)
            for await (index, result) in group {
                results[index] = result
            }
            return results.compactMap { $0 }
        }
        return CheckRound(combined: Self.combine(Array(zip(self.targets, results)), latency: clock.now - start), each: results)
    }

    /// Releases every checker's resources. Idempotent.
    public func shutdown() async {
        await Self.shutdown(self.checkers)
    }

    fileprivate static func shutdown(_ checkers: [HealthChecker]) async {
        for checker in checkers {
            await checker.shutdown()
        }
    }

    private static func combine(_ checks: [(target: CheckTarget, result: CheckResult)], latency: Duration) -> CheckResult {
        func named(_ checks: [(target: CheckTarget, result: CheckResult)]) -> String {
            checks.map { "\($0.target): \($0.result.detail)" }.joined(separator: "; ")
        }
        let failing = checks.filter { !$0.result.isUp }
        guard let first = failing.first?.result, let firstFailure = first.failure else {
            return CheckResult(latency: latency, httpStatus: checks.lazy.compactMap(\.result.httpStatus).first, detail: named(checks))
        }
        let detail = named(failing)
        return CheckResult(
            latency: latency, httpStatus: first.httpStatus,
            failure: CheckFailure(kind: firstFailure.kind, detail: detail, cause: firstFailure.cause), detail: detail
        )
    }
}

/// One round of an instance's checks: the combined result the state follows, and each check's
/// own, in the order the checks were given.
public struct CheckRound: Sendable {
    public var combined: CheckResult
    public var each: [CheckResult]
}

/// Runs `body` with a check set for `targets` (at least one), shutting every checker down
/// afterwards — also when `body` throws, or when creating a later checker fails.
/// `body` runs in the caller's isolation.
public func withHealthCheckSet<Result>(
    targets: [CheckTarget],
    configuration: HealthChecker.Configuration = .defaults,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (HealthCheckSet) async throws -> Result
) async throws -> Result {
    var checkers: [HealthChecker] = []
    do {
        for target in targets {
            checkers.append(try HealthChecker(target: target, configuration: configuration))
        }
    } catch {
        await HealthCheckSet.shutdown(checkers)
        throw error
    }
    let set = HealthCheckSet(checkers: checkers)
    do {
        let result = try await body(set)
        await set.shutdown()
        return result
    } catch {
        await set.shutdown()
        throw error
    }
}
