import Foundation

#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// TestSupport's network of hosts checks itself: hosts reach each other and the observer, nothing
/// beyond the private /24, a cut is silence (a connect times out, not refused) in both directions
/// while other paths stay up, a heal restores it, and every namespace is gone afterwards — also
/// when the test body throws.
@Suite("test network of namespaces", .timeLimit(.minutes(2)))
struct TestNetworkTests {
    @Test func hostsReachEachOtherACutIsSilentAndEverythingIsRemoved() async throws {
        var namespaces: [String] = []
        try await TestNetwork.with(hosts: 3) { network in
            let (a, b, c) = (network.hosts[0], network.hosts[1], network.hosts[2])
            namespaces = network.existingNamespaces()
            #expect(namespaces.count == 4, "\(namespaces)")
            let service = try await StandIn(host: b.address, network: network, networkHost: b)

            #expect(try await connect(from: a, to: b.address, service.port, network) == "connected")
            #expect(try await connect(from: nil, to: b.address, service.port, network) == "connected")
            // Only the /24 is routed: an address outside it is unreachable at once.
            #expect(try await connect(from: a, to: "192.0.2.1", 80, network).contains("unreachable"))

            try await network.cut(a, from: [b])
            #expect(try await connect(from: a, to: b.address, service.port, network) == "timeout")
            #expect(try await connect(from: nil, to: b.address, service.port, network) == "connected")
            // The other direction is silent too: b's packets to a are dropped on arrival.
            let listener = try await StandIn(host: a.address, network: network, networkHost: a)
            #expect(try await connect(from: b, to: a.address, listener.port, network) == "timeout")
            #expect(try await connect(from: c, to: a.address, listener.port, network) == "connected")

            try await network.heal(a)
            #expect(try await connect(from: a, to: b.address, service.port, network) == "connected")
        }
        #expect(!namespaces.isEmpty)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: "/run/netns")).isDisjoint(with: namespaces))

        struct Planned: Error {}
        var thrownIn: [String] = []
        await #expect(throws: Planned.self) {
            try await TestNetwork.with(hosts: 1) { network in
                thrownIn = network.existingNamespaces()
                throw Planned()
            }
        }
        #expect(thrownIn.count == 2)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: "/run/netns")).isDisjoint(with: thrownIn))
    }

    @Test func namespacesOfACrashedRunAreRemovedWithWhatRunsInThem() async throws {
        // A pid that is certainly gone: a process that ran and was reaped.
        let gone = try Command.start("/bin/true")
        await gone.waitForExit()
        let stale = "smnet-\(gone.processIdentifier)-1-h1"
        try await Command.output("/usr/sbin/ip", ["netns", "add", stale])
        let leftover = try Command.start("/usr/sbin/ip", ["netns", "exec", stale, "sleep", "600"])
        try await eventually("sleep to run in \(stale)") {
            try await Command.output("/usr/sbin/ip", ["netns", "pids", stale]).contains("\(leftover.processIdentifier)")
        }
        // A namespace of this (running) process is left alone.
        let mine = "smnet-\(getpid())-999999-h1"
        try await Command.output("/usr/sbin/ip", ["netns", "add", mine])
        try await TestNetwork.removeStale()
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: "/run/netns"))
        _ = try? await Command.run("/usr/sbin/ip", ["netns", "delete", mine])
        #expect(!names.contains(stale))
        #expect(names.contains(mine))
        #expect(try await leftover.waitForExit(timeout: .seconds(10)) == SIGKILL)
    }
}

/// A TCP connect from `host` (nil: this process, the observer) with a 2 s limit: "connected",
/// "timeout", or the error's text.
func connect(from host: TestNetwork.Host?, to address: String, _ port: Int, _ network: TestNetwork) async throws -> String {
    let script = """
        import socket, sys
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((sys.argv[1], int(sys.argv[2])))
            print("connected")
        except socket.timeout:
            print("timeout")
        except OSError as error:
            print(error.strerror.lower())
        """
    let arguments = ["-c", script, address, "\(port)"]
    let result: CommandResult
    if let host {
        result = try await network.run(in: host, "python3", arguments)
    } else {
        result = try await Command.run("python3", arguments)
    }
    return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
}
