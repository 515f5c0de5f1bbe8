public import Testing

/// State of the host (or of the test process) that suites running in parallel would otherwise
/// trample: tests that use one take it, shared or exclusive, for as long as they run (Swift
/// Testing's `.serialized` only orders the tests of one suite, and these users live in several
/// suites and modules).
public enum HostState: String, Sendable, CaseIterable {
    /// The private systemd user manager: shared by tests that run transient units under unique
    /// names; exclusive for the fleet scenario, which installs units with fixed names
    /// (elasticsearch@1–3 on 127.0.0.11–13) and reloads the manager.
    case userManager
    /// This test process's descriptor table: the check-cost test counts it before and after 200
    /// checks (needs it alone); the suites running in-process servers and clients, which open
    /// and close dozens of descriptors at a time, share it.
    case processDescriptors
}

/// The trait that takes ``HostState`` around each test of the suite or test it is on.
public struct HostStateAccess: SuiteTrait, TestTrait, TestScoping {
    let state: HostState
    let exclusive: Bool

    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Around each test case only (never a suite, nor a parameterised function as a whole as
        // well as its cases): the lock is not reentrant.
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let lock = HostStateLock.of(state)
        await lock.acquire(exclusive: exclusive)
        do {
            try await function()
        } catch {
            await lock.release(exclusive: exclusive)
            throw error
        }
        await lock.release(exclusive: exclusive)
    }
}

extension Trait where Self == HostStateAccess {
    /// Runs alongside other tests that share `state`, never alongside one that needs it alone.
    public static func shares(_ state: HostState) -> Self { HostStateAccess(state: state, exclusive: false) }

    /// Runs while no other test uses `state`.
    public static func needsAlone(_ state: HostState) -> Self { HostStateAccess(state: state, exclusive: true) }
}

/// A first-come first-served readers-writer lock that suspends (never blocks a thread).
actor HostStateLock {
    private static let locks = Dictionary(uniqueKeysWithValues: HostState.allCases.map { ($0, HostStateLock()) })

    static func of(_ state: HostState) -> HostStateLock { locks[state]! }

    private var sharers = 0
    private var heldAlone = false
    private var waiting: [(exclusive: Bool, resume: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive: Bool) async {
        if waiting.isEmpty && canTake(exclusive: exclusive) {
            take(exclusive: exclusive)
            return
        }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    func release(exclusive: Bool) {
        if exclusive { heldAlone = false } else { sharers -= 1 }
        // Wake waiters in arrival order while they fit (several sharers, or one alone).
        while let next = waiting.first, canTake(exclusive: next.exclusive) {
            waiting.removeFirst()
            take(exclusive: next.exclusive)
            next.resume.resume()
        }
    }

    private func canTake(exclusive: Bool) -> Bool {
        exclusive ? !heldAlone && sharers == 0 : !heldAlone
    }

    private func take(exclusive: Bool) {
        if exclusive { heldAlone = true } else { sharers += 1 }
    }
}
