import ServiceMonitor
import ServiceMonitorEtcd
import Testing
import TestSupport

/// The pure part of the startup semaphore: who is where, and what a waiter does next.
@Suite("Startup lease decisions", .tags(.fast))
struct StartupTests {
    let layout = try! KeyLayout(prefix: "/sm")
    let label = try! Label("ES")

    private func snapshot(holders: [(String, Int64)], queue: [(String, Int64)], admissionsVersion: Int64 = 0) -> StartupSnapshot {
        var entries = holders.map { StoreEntry(key: "/sm/es/startup/holders/\($0.0)", value: [], createRevision: $0.1, lease: 7) }
        entries += queue.map { StoreEntry(key: "/sm/es/startup/queue/\($0.0)", value: [], createRevision: $0.1, lease: 9) }
        if admissionsVersion > 0 {
            entries.append(StoreEntry(key: "/sm/es/startup/admissions", value: [], createRevision: 1, version: admissionsVersion))
        }
        // Listings come sorted by key, not by age: the snapshot must order by create revision.
        return StartupSnapshot(listing: StoreListing(revision: 100, entries: entries.sorted { $0.key < $1.key }), layout: layout, label: label)
    }

    private func key(_ id: String) -> String { "/sm/es/startup/queue/\(id)" }

    @Test func ordersWaitersByCreateRevisionNotByName() {
        let snapshot = snapshot(holders: [("h-2", 20), ("h-1", 30)], queue: [("s-10", 40), ("s-1", 50), ("s-2", 45)])
        #expect(snapshot.queueIDs == ["s-10", "s-2", "s-1"])
        #expect(snapshot.holderIDs == ["h-2", "h-1"])
        #expect(snapshot.position(of: key("s-1")) == 2)
        #expect(snapshot.position(of: key("s-3")) == nil)
        #expect(snapshot.revision == 100)
    }

    @Test func onlyTheHeadIsAdmittedToTheOneSlotWhenItIsFree() {
        let snapshot = snapshot(holders: [], queue: [("a", 10), ("b", 11), ("c", 12)], admissionsVersion: 4)
        #expect(snapshot.decision(for: key("a"), slots: 1) == .promote(queueCreateRevision: 10, admissionsVersion: 4))
        #expect(snapshot.decision(for: key("b"), slots: 1) == .waitForPredecessor(key: key("a")))
        #expect(snapshot.decision(for: key("c"), slots: 1) == .waitForPredecessor(key: key("b")))
    }

    @Test func theHeadAloneWaitsOnTheHoldersWhenEverySlotIsTaken() {
        let snapshot = snapshot(holders: [("h", 5)], queue: [("a", 10), ("b", 11)])
        #expect(snapshot.decision(for: key("a"), slots: 1) == .waitForHolders)
        #expect(snapshot.decision(for: key("b"), slots: 1) == .waitForPredecessor(key: key("a")))
    }

    @Test func severalSlotsAdmitAsManyWaitersAsAreFree() {
        let snapshot = snapshot(holders: [("h", 5)], queue: [("a", 10), ("b", 11), ("c", 12), ("d", 13)])
        #expect(snapshot.decision(for: key("a"), slots: 3) == .promote(queueCreateRevision: 10, admissionsVersion: 0))
        #expect(snapshot.decision(for: key("b"), slots: 3) == .promote(queueCreateRevision: 11, admissionsVersion: 0))
        #expect(snapshot.decision(for: key("c"), slots: 3) == .waitForPredecessor(key: key("b")))
        #expect(snapshot.decision(for: key("d"), slots: 3) == .waitForPredecessor(key: key("c")))
    }

    @Test func moreHoldersThanSlotsAdmitNobody() {
        // Waiters that asked with a larger --slots may leave more holders than this one allows.
        let snapshot = snapshot(holders: [("h-1", 5), ("h-2", 6)], queue: [("a", 10)])
        #expect(snapshot.decision(for: key("a"), slots: 1) == .waitForHolders)
    }

    @Test func aVanishedEntryMustBeQueuedAgain() {
        let snapshot = snapshot(holders: [], queue: [("a", 10)])
        #expect(snapshot.decision(for: key("z"), slots: 1) == .notQueued)
    }

    @Test func keysOfOtherLabelsAndKindsAreIgnored() {
        let entries = [
            StoreEntry(key: "/sm/es/startup/queue/a", value: [], createRevision: 10),
            StoreEntry(key: "/sm/es-2/startup/queue/b", value: [], createRevision: 5),
            StoreEntry(key: "/sm/es/instances/a", value: [], createRevision: 3),
            StoreEntry(key: "/sm/es/startup/admissions", value: [], createRevision: 2, version: 7),
        ]
        let snapshot = StartupSnapshot(listing: StoreListing(revision: 11, entries: entries), layout: layout, label: label)
        #expect(snapshot.queueIDs == ["a"])
        #expect(snapshot.holders.isEmpty)
        #expect(snapshot.admissionsVersion == 7)
    }

    @Test(arguments: [
        (0, "--slots 0: must be between 1 and 1000"),
        (1001, "--slots 1001: must be between 1 and 1000"),
    ])
    func slotsOutsideTheRangeAreBadInput(slots: Int, message: String) {
        let error = #expect(throws: BadInput.self) {
            try AcquireRequest(leaseTimeout: .seconds(1), acquireTimeout: .seconds(1), slots: slots, host: nil)
        }
        #expect(error?.description == message)
    }

    @Test func durationsMustBePositive() {
        // Checked where the text is parsed, so the error quotes the value as written.
        let error = #expect(throws: BadInput.self) { try Duration(parsingPositive: "0ms", option: "--acquire-timeout") }
        #expect(error?.description == #"--acquire-timeout "0ms": must be longer than zero"#)
        #expect(throws: BadInput.self) { try Duration(parsingPositive: "0s", option: "--lease-timeout") }
    }
}
