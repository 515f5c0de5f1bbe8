import ServiceMonitor
import Testing
import TestSupport

@Suite("HealthState rise/fall", .tags(.fast))
struct HealthStateTests {
    /// Feeds `results` ("U" up, "D" down) and returns the transitions, with the index that caused each.
    private func run(_ results: String, rise: Int, fall: Int) throws -> (HealthState, [(Int, HealthTransition)]) {
        var state = HealthState(try HealthThresholds(rise: rise, fall: fall))
        var transitions: [(Int, HealthTransition)] = []
        for (index, symbol) in results.enumerated() {
            if let transition = state.record(isUp: symbol == "U") {
                transitions.append((index, transition))
            }
        }
        return (state, transitions)
    }

    @Test("starts unknown")
    func startsUnknown() throws {
        let state = HealthState(try HealthThresholds(rise: 2, fall: 3))
        #expect(state.current == .unknown)
        #expect(state.rise == 2 && state.fall == 3)
    }

    @Test("1/1: every change of result flips, and only changes do")
    func riseOneFallOne() throws {
        let (state, transitions) = try self.run("UUDDUD", rise: 1, fall: 1)
        #expect(transitions.map(\.0) == [0, 2, 4, 5])
        #expect(transitions.map(\.1) == [
            HealthTransition(from: .unknown, to: .up),
            HealthTransition(from: .up, to: .down),
            HealthTransition(from: .down, to: .up),
            HealthTransition(from: .up, to: .down),
        ])
        #expect(state.current == .down)
    }

    @Test("1/1 from unknown to down on the first failure")
    func firstResultDown() throws {
        let (state, transitions) = try self.run("D", rise: 1, fall: 1)
        #expect(transitions.map(\.1) == [HealthTransition(from: .unknown, to: .down)])
        #expect(state.current == .down)
    }

    @Test("2/3: needs two ups to rise and three downs to fall")
    func riseTwoFallThree() throws {
        let (state, transitions) = try self.run("UUDDUDDDUU", rise: 2, fall: 3)
        #expect(transitions.map(\.0) == [1, 7, 9])
        #expect(transitions.map(\.1) == [
            HealthTransition(from: .unknown, to: .up),
            HealthTransition(from: .up, to: .down),
            HealthTransition(from: .down, to: .up),
        ])
        #expect(state.current == .up)
    }

    @Test("from unknown the first verdict also needs a full run")
    func unknownNeedsFullRun() throws {
        var state = HealthState(try HealthThresholds(rise: 3, fall: 2))
        #expect(state.record(isUp: true) == nil)
        #expect(state.record(isUp: true) == nil)
        #expect(state.current == .unknown)
        #expect(state.record(isUp: false) == nil)
        #expect(state.record(isUp: false) == HealthTransition(from: .unknown, to: .down))
    }

    @Test("alternating results never flip when rise and fall exceed 1", arguments: [(2, 2), (2, 1), (1, 2), (3, 3)])
    func alternatingNeverFlips(rise: Int, fall: Int) throws {
        // Start from a known state, then alternate: a run of 1 never reaches a threshold of 2.
        var state = HealthState(try HealthThresholds(rise: rise, fall: fall))
        let establishUp = rise == 1 ? "U" : String(repeating: "U", count: rise)
        for _ in establishUp { state.record(isUp: true) }
        #expect(state.current == .up)
        var flips = 0
        for index in 0..<50 where state.record(isUp: index % 2 == 1) != nil { flips += 1 }
        if fall == 1 {
            // With fall 1 the first down flips, and rise 2+ then never lets it back up.
            #expect(flips == 1)
            #expect(state.current == .down)
        } else {
            #expect(flips == 0)
            #expect(state.current == .up)
        }
    }

    @Test("a steady state reports no transitions, however long")
    func steadyStateIsQuiet() throws {
        var state = HealthState(try HealthThresholds(rise: 2, fall: 2))
        var transitions = 0
        for _ in 0..<10_000 where state.record(isUp: true) != nil { transitions += 1 }
        #expect(transitions == 1)
        #expect(state.current == .up)
        #expect(state.streak <= 2, "the streak saturates instead of growing without bound")
    }

    @Test("record(_ CheckResult) uses isUp")
    func recordsCheckResults() throws {
        var state = HealthState()
        let up = CheckResult(latency: .milliseconds(3), httpStatus: 200, detail: "HTTP 200 in 3 ms")
        let down = CheckResult(latency: .milliseconds(2), httpStatus: 503,
                               failure: CheckFailure(kind: .unexpectedStatus, detail: "HTTP 503 in 2 ms"), detail: "HTTP 503 in 2 ms")
        #expect(state.record(up) == HealthTransition(from: .unknown, to: .up))
        #expect(state.record(up) == nil)
        #expect(state.record(down) == HealthTransition(from: .up, to: .down))
    }

    @Test("rise or fall outside 1-100 is bad input naming the option", arguments: [
        (0, 1, "--rise 0: must be between 1 and 100"), (1, 0, "--fall 0: must be between 1 and 100"),
        (-2, 1, "--rise -2: must be between 1 and 100"), (1, 101, "--fall 101: must be between 1 and 100"),
    ])
    func rejectsBadThresholds(rise: Int, fall: Int, message: String) {
        let error = #expect(throws: BadInput.self) { try HealthThresholds(rise: rise, fall: fall) }
        #expect(error?.description == message)
        #expect(error?.exitStatus == .usage)
    }
}
