import ArgumentParser
import ServiceMonitor

/// The startup lease as `acquire-lease` and `run` take it.
struct LeaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How long the slot is held at most without a release.", valueName: "duration"))
    var leaseTimeout: String = "240s"

    @Option(help: ArgumentHelp("How long to wait for a slot before exiting 1.", valueName: "duration"))
    var acquireTimeout: String = "360s"

    @Option(help: "How many service ids may hold the lease at once (1-1000).")
    var slots: Int = 1

    /// Validated before any etcd call; `host` is only informative in the entries.
    func request(host: String?) throws -> AcquireRequest {
        try AcquireRequest(
            leaseTimeout: try Duration(parsingPositive: leaseTimeout, option: "--lease-timeout"),
            acquireTimeout: try Duration(parsingPositive: acquireTimeout, option: "--acquire-timeout"),
            slots: slots,
            host: host
        )
    }
}

extension LeaseOptions: PlainlyParsable {
    static let plainOptions = PlainOptions(values: ["lease-timeout", "acquire-timeout", "slots"])

    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self {
        var parsed = Self()
        parsed.leaseTimeout = line.value("lease-timeout") ?? "240s"
        parsed.acquireTimeout = line.value("acquire-timeout") ?? "360s"
        parsed.slots = try line.integer("slots") ?? 1
        return parsed
    }
}
