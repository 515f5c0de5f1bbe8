import ArgumentParser
import ServiceMonitor

/// `--label` and `--service-id`, as every command about one instance takes them.
struct InstanceOptions: ParsableArguments {
    @Option(help: "Service label (case-insensitive; [A-Za-z0-9._-], at most 128).")
    var label: String

    @Option(help: "This instance's id, unique within the label.")
    var serviceID: String

    /// Both validated: bad input (exit 64) before any etcd call.
    func validated() throws(BadInput) -> (label: Label, serviceID: ServiceID) {
        (try Label(label), try ServiceID(serviceID))
    }
}

extension InstanceOptions: PlainlyParsable {
    static let plainOptions = PlainOptions(values: ["label", "service-id"])

    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self {
        var parsed = Self()
        parsed.label = try line.required("label")
        parsed.serviceID = try line.required("service-id")
        return parsed
    }
}
