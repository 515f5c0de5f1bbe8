import ArgumentParser
import ServiceMonitor

/// How a list of instances is rendered: `hosts` prints it, `run` hands it to its command.
struct HostFormatOptions: ParsableArguments {
    @Option(help: ArgumentHelp("csv (a,b,c), lines, or json (the whole records).", valueName: "format"))
    var format: String = "csv"

    @Option(help: "Append :PORT to every host ([addr]:PORT for IPv6).")
    var port: Int?

    @Option(help: ArgumentHelp("Render each instance, e.g. '{host_port}:{transport_port}': {host}, {host_port} ([addr] for IPv6), {service_id} and top-level service-info keys.", valueName: "template"))
    var template: String?

    /// Validated before any etcd call.
    func hostFormat() throws(BadInput) -> HostFormat {
        try HostFormat(layout: format, port: port, template: template)
    }
}

extension HostFormatOptions: PlainlyParsable {
    static let plainOptions = PlainOptions(values: ["format", "port", "template"])

    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self {
        var parsed = Self()
        parsed.format = line.value("format") ?? "csv"
        parsed.port = try line.integer("port")
        parsed.template = line.value("template")
        return parsed
    }
}
