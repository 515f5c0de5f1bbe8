/// How `hosts` prints the instances that are up.
public struct HostFormat: Sendable {
    public enum Layout: String, Sendable, CaseIterable {
        /// `a,b,c` — for `discovery.zen.ping.unicast.hosts`-style flags.
        case csv
        /// One per line.
        case lines
        /// The full records, as a JSON array.
        case json
    }

    public var layout: Layout
    private let template: HostTemplate

    /// `port` appends `:port` (an IPv6 host in brackets); `template` renders each entry
    /// (`{host_port}:{transport_port}`).
    public init(layout: String, port: Int?, template: String?) throws(BadInput) {
        guard let parsed = Layout(rawValue: layout) else {
            throw BadInput(option: "--format", message: "\(layout.quotedForError): use csv, lines or json")
        }
        self.layout = parsed
        if let port, !(1...65535).contains(port) {
            throw BadInput(option: "--port", message: "\(port): not a port number (1-65535)")
        }
        if port != nil, template != nil {
            throw BadInput(option: "--port", message: "and --template cannot be combined: put the port in the template")
        }
        if parsed == .json, port != nil || template != nil {
            throw BadInput(option: "--format", message: "json prints whole records; --port and --template apply to csv and lines")
        }
        self.template = try HostTemplate(template ?? (port.map { "{host_port}:\($0)" } ?? "{host}"))
    }

    /// What ``render(_:)`` reads of a record (besides `state`, which says who is up): all of it
    /// for json, the host for a template of only `{host}` and `{host_port}`.
    public var fieldsRead: InstanceRecord.Fields {
        if layout == .json { return .all }
        return template.readsOnlyTheHost ? [.host, .state] : [.serviceID, .host, .state, .info]
    }

    /// The text to print: empty when nobody is up (csv, lines), `[]` for json; entries that
    /// render the same appear once, in the order of their first instance.
    public func render(_ instances: [InstanceRecord]) throws(BadInput) -> String {
        if layout == .json {
            return ((try? JSONCoding.encodeString(instances)) ?? "[]") + "\n"
        }
        // The text's bytes appended as they come, made a String once: `joined(separator:)` ran
        // unspecialized (~600 instructions a host), and appending to a String ~350 per entry.
        // Read by position: `for instance in instances` copied every record.
        let separator = layout == .csv ? UInt8(ascii: ",") : UInt8(ascii: "\n")
        var seen = Set<String>(minimumCapacity: instances.count), output: [UInt8] = []
        for index in instances.indices {
            let entry = try template.render(instances[index])
            guard seen.insert(entry).inserted else { continue }
            if seen.count > 1 { output.append(separator) }
            output.append(contentsOf: entry.utf8)
        }
        guard !seen.isEmpty else { return "" }
        output.append(UInt8(ascii: "\n"))
        return String(decoding: output, as: UTF8.self)
    }
}

/// `{host}`, `{host_port}` (the host as written before `:port`), `{service_id}` and any top-level
/// key of service-info between literal text.
struct HostTemplate: Sendable {
    enum Part: Sendable {
        case literal(String)
        case key(String)
    }

    let parts: [Part]
    let text: String

    init(_ text: String) throws(BadInput) {
        self.text = text
        var parts: [Part] = [], literal = "", key: String?
        for character in text {
            switch (character, key) {
            case ("{", nil):
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                key = ""
            case ("}", let name?):
                guard !name.isEmpty else { throw BadInput(option: "--template", message: "\(text.quotedForError): empty {} placeholder") }
                parts.append(.key(name))
                key = nil
            case ("{", _?), ("}", nil):
                throw BadInput(option: "--template", message: "\(text.quotedForError): unbalanced { }")
            case (_, let name?):
                key = name + String(character)
            case (_, nil):
                literal.append(character)
            }
        }
        guard key == nil else { throw BadInput(option: "--template", message: "\(text.quotedForError): unbalanced { }") }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// Whether only `{host}` and `{host_port}` appear (an unknown key's error names the service
    /// id, so any other key reads the id and the info).
    var readsOnlyTheHost: Bool {
        parts.allSatisfy { part in
            switch part {
            case .literal, .key("host"), .key("host_port"): true
            case .key: false
            }
        }
    }

    func render(_ instance: InstanceRecord) throws(BadInput) -> String {
        // One part (`{host}`, the default): its text as it is, without building a copy.
        if parts.count == 1 { return try text(of: parts[0], for: instance) }
        var output = ""
        for part in parts { output += try text(of: part, for: instance) }
        return output
    }

    private func text(of part: Part, for instance: InstanceRecord) throws(BadInput) -> String {
        switch part {
        case .literal(let literal):
            return literal
        case .key("host"):
            return instance.host
        case .key("host_port"):
            return HostAddress.beforePort(instance.host)
        case .key("service_id"):
            return instance.serviceID
        case .key(let name):
            guard let value = instance.info.fields[name] else {
                throw BadInput(
                    option: "--template",
                    message: "\(text.quotedForError): unknown key {\(name)} (not host, host_port, service_id, nor in the service-info of \(instance.serviceID))"
                )
            }
            return value.templateText
        }
    }
}
