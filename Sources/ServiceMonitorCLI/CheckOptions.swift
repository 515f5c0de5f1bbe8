import ArgumentParser
import ServiceMonitor

/// What to check and how, and the record that publishes it: the options `watch` and `run` share.
struct CheckOptions: ParsableArguments {
    @Option(help: ArgumentHelp("What to check: http://, https:// (status within --expect-status), tcp://host:port (connect), or grpc://host:port[/service] and grpcs:// (gRPC health check answers SERVING). Repeatable; up when every check is.", valueName: "url"))
    var monitorURL: [String] = []

    @Option(help: ArgumentHelp("A command to check (split by shell quoting rules, no shell), up when it exits 0 within --timeout. Repeatable, also with --monitor-url.", valueName: "command"))
    var monitorCommand: [String] = []

    @Option(help: ArgumentHelp("JSON object published with the record (default {\"name\": \"<service-id>\"}).", valueName: "json"))
    var serviceInfo: String?

    @Option(help: ArgumentHelp("Time between check starts.", valueName: "duration"))
    var interval: String = "10s"

    @Option(help: ArgumentHelp("Bound on one check; must be shorter than --interval.", valueName: "duration"))
    var timeout: String = "2s"

    @Option(help: "Consecutive good checks that make the instance up.")
    var rise: Int = 1

    @Option(help: "Consecutive bad checks that make the instance down.")
    var fall: Int = 1

    @Option(help: ArgumentHelp("HTTP statuses that count as up, e.g. 200-299 or 200,204.", valueName: "statuses"))
    var expectStatus: String = "200-299"

    @Option(help: ArgumentHelp("Header sent with every http(s) check (repeatable).", valueName: "Name: value"))
    var httpHeader: [String] = []

    @Option(help: ArgumentHelp("Request method of http(s) checks: GET or HEAD.", valueName: "method"))
    var httpMethod: String = "GET"

    @Option(help: ArgumentHelp("Regular expression the first 64 KiB of an http(s) body (or a command's output) must match.", valueName: "regex"))
    var expectBody: String?

    @Option(help: ArgumentHelp("CA certificates (PEM) that https and grpcs checks trust instead of the system's.", valueName: "file"))
    var checkCacert: String?

    @Option(help: ArgumentHelp("Lease of the record: it vanishes this long after the monitor dies.", valueName: "duration"))
    var ttl: String = "15s"

    /// Everything checked before the first etcd call, each value once: bad input exits 64 having
    /// written nothing.
    func configuration(
        instance: InstanceOptions, settings: Settings, environment: [String: String],
        readyWhen: ReadyWhen, releasesStartupLease: Bool
    ) throws -> MonitorConfiguration {
        let (label, serviceID) = try instance.validated()
        let targets = try monitorURL.map { url throws(BadInput) in try CheckTarget(parsing: url) }
            + monitorCommand.map { command throws(BadInput) in try CheckTarget(parsingCommand: command) }
        try MonitorConfiguration.requireChecks(targets)
        // An option no check takes would be silently ignored: a mistake in the unit file.
        let given: [(CheckOption, Bool)] = [
            (.httpHeader, !httpHeader.isEmpty), (.httpMethod, httpMethod != "GET"),
            (.expectBody, expectBody != nil), (.checkCacert, checkCacert != nil),
        ]
        for (option, isGiven) in given where isGiven {
            try option.requireUsed(by: targets)
        }
        let expectedStatus = try ExpectedStatus(parsing: expectStatus)
        let headers = try httpHeader.map { text throws(BadInput) in try HTTPCheckHeader(parsing: text) }
        let method = try HTTPCheckMethod(parsing: httpMethod)
        let expectedBody = try expectBody.map { text throws(BadInput) in try BodyPattern(parsing: text) }
        let info = try serviceInfo.map(ServiceInfo.init(parsing:)) ?? .defaultInfo(for: serviceID)
        let interval = try Duration(parsingPositive: interval, option: "--interval")
        let timeout = try Duration(parsingPositive: timeout, option: "--timeout")
        let ttl = try Duration(parsingPositive: ttl, option: "--ttl")
        let thresholds = try HealthThresholds(rise: rise, fall: fall)
        let checks = HealthChecker.Configuration(
            timeout: timeout, expectedStatus: expectedStatus,
            certificateVerification: checkCacert.map { .trustRootsFile(path: $0) } ?? .systemTrustRoots,
            headers: headers, method: method, expectedBody: expectedBody
        )
        try checks.validateRequest()
        let host = try settings.hostAddress(environment: environment)
        return try MonitorConfiguration(
            label: label, serviceID: serviceID, host: host, info: info, targets: targets,
            checks: checks,
            interval: interval, thresholds: thresholds, ttl: ttl, readyWhen: readyWhen,
            commandTimeout: settings.commandTimeout, releasesStartupLease: releasesStartupLease
        )
    }
}
