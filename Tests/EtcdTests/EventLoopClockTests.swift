@testable import Etcd
import Racing
import TestSupport
import Testing

/// The client times its attempts on the connections' event loop (not on libdispatch's timers,
/// which would start two threads in every one-shot command).
@Suite("The event loop clock", .tags(.fast))
struct EventLoopClockTests {
    @Test func aSleepLastsItsDuration() async throws {
        let started = ContinuousClock.now
        try await EventLoopClock.connections.sleep(for: .milliseconds(200))
        let slept = started.duration(to: .now)
        #expect(slept >= .milliseconds(200))
        #expect(slept < .milliseconds(200) + LoadedRun.lateness)
    }

    @Test func aCancelledSleepEndsAtOnceWithCancellationError() async throws {
        let started = ContinuousClock.now
        let cancelled = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await EventLoopClock.connections.sleep(for: LoadedRun.unreachedTimeout)
                    return false
                } catch {
                    return error is CancellationError
                }
            }
            group.cancelAll()
            return await group.next() ?? false
        }
        #expect(cancelled)
        #expect(started.duration(to: .now) < LoadedRun.lateness)
    }

    @Test func limitsAnOperationThatNeverEnds() async throws {
        let started = ContinuousClock.now
        let outcome = try await withTimeLimit(.milliseconds(200), clock: EventLoopClock.connections) {
            try await EventLoopClock.connections.sleep(for: LoadedRun.unreachedTimeout)
        }
        guard case .timedOut = outcome else {
            Issue.record("finished instead of timing out")
            return
        }
        let took = started.duration(to: .now)
        #expect(took >= .milliseconds(200) && took < .milliseconds(200) + LoadedRun.lateness)
    }
}
