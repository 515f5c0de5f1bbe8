import Racing
import Synchronization
import Testing
import TestSupport

/// Records that a racer was cancelled; read after the race, which awaits every racer.
private final class CancellationRecord: Sendable {
    private let cancelled = Mutex(false)
    var wasCancelled: Bool { cancelled.withLock { $0 } }

    /// Sleeps far longer than any test runs, recording the cancellation that ends it.
    func sleepUntilCancelled() async throws {
        do {
            try await Task.sleep(for: .seconds(600))
        } catch {
            cancelled.withLock { $0 = true }
            throw error
        }
    }
}

private struct Refused: Error, Equatable {}

@Suite("race and withTimeLimit", .tags(.fast))
struct RacingTests {
    @Test func theFirstDecisionWinsAndTheOthersAreCancelled() async throws {
        let loser = CancellationRecord()
        let winner = try await race(
            { () async throws -> Int? in 1 },
            { try await loser.sleepUntilCancelled(); return 2 }
        )
        #expect(winner == 1)
        #expect(loser.wasCancelled)
    }

    @Test func aRacerReturningNilDropsOutWithoutDeciding() async throws {
        let winner = try await race(
            { () async throws -> Int? in nil },
            {
                await Task.yield()
                return 2
            }
        )
        #expect(winner == 2)
        #expect(try await race({ () async throws -> Int? in nil }, { nil }) == nil)
    }

    @Test func theFirstErrorEndsTheRace() async throws {
        let other = CancellationRecord()
        await #expect(throws: Refused()) {
            _ = try await race(
                { () async throws -> Int? in throw Refused() },
                { try await other.sleepUntilCancelled(); return 2 }
            )
        }
        #expect(other.wasCancelled)
    }

    @Test func aTimeLimitCancelsTheOperation() async throws {
        let operation = CancellationRecord()
        let outcome = try await withTimeLimit(.milliseconds(20)) { try await operation.sleepUntilCancelled() }
        guard case .timedOut = outcome else {
            Issue.record("expected .timedOut, got \(outcome)")
            return
        }
        #expect(operation.wasCancelled)
    }

    @Test func anOperationWithinItsTimeLimitFinishes() async throws {
        let outcome = try await withTimeLimit(.seconds(600)) { "done" }
        guard case .finished(let value) = outcome else {
            Issue.record("expected .finished, got \(outcome)")
            return
        }
        #expect(value == "done")
    }

    @Test func aCancelledCallerGetsCancellationError() async throws {
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await withTimeLimit(.seconds(600)) { try await Task.sleep(for: .seconds(600)) }
            }
            group.cancelAll()
            await #expect(throws: CancellationError.self) { try await group.next() }
        }
    }
}
