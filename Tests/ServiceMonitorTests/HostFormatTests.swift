import ServiceMonitor
import Testing

@Suite("Host format")
struct HostFormatTests {
    private func record(_ serviceID: String, host: String) throws -> InstanceRecord {
        InstanceRecord(
            serviceID: serviceID, host: host, state: .up, since: "2026-12-02T07:00:00.000Z", detail: "HTTP 200 in 1 ms",
            info: try ServiceInfo(parsing: #"{"transport_port": 9300}"#)
        )
    }

    @Test func portPutsAnIPv6HostInBrackets() throws {
        let instances = [try record("es-1", host: "10.0.0.5"), try record("es-2", host: "::1"), try record("es-3", host: "fd00::a:5")]
        let csv = try HostFormat(layout: "csv", port: 9300, template: nil)
        #expect(try csv.render(instances) == "10.0.0.5:9300,[::1]:9300,[fd00::a:5]:9300\n")
        let lines = try HostFormat(layout: "lines", port: 9300, template: nil)
        #expect(try lines.render(instances) == "10.0.0.5:9300\n[::1]:9300\n[fd00::a:5]:9300\n")
    }

    @Test func hostPortKeyIsTheHostAsWrittenBeforeAPort() throws {
        let instances = [try record("es-1", host: "10.0.0.5"), try record("es-2", host: "::1")]
        let withPort = try HostFormat(layout: "csv", port: nil, template: "{host_port}:{transport_port}")
        #expect(try withPort.render(instances) == "10.0.0.5:9300,[::1]:9300\n")
        // {host} stays the bare address, and no port leaves the host as it is.
        let bare = try HostFormat(layout: "csv", port: nil, template: "{service_id}={host}")
        #expect(try bare.render(instances) == "es-1=10.0.0.5,es-2=::1\n")
        #expect(try HostFormat(layout: "lines", port: nil, template: nil).render(instances) == "10.0.0.5\n::1\n")
    }

    @Test func anUnknownKeyNamesTheBuiltInKeys() throws {
        let format = try HostFormat(layout: "csv", port: nil, template: "{host_port}:{http_port}")
        #expect {
            try format.render([try record("es-1", host: "::1")])
        } throws: { error in
            "\(error)".contains("unknown key {http_port} (not host, host_port, service_id")
        }
    }

    @Test func beforePortBracketsOnlyIPv6() {
        #expect(HostAddress.beforePort("127.0.0.1") == "127.0.0.1")
        #expect(HostAddress.beforePort("::1") == "[::1]")
        #expect(HostAddress.beforePort("2001:db8::1") == "[2001:db8::1]")
    }

    /// `hosts` reads records for ``HostFormat/fieldsRead`` only: whatever the format, what it
    /// prints from them is what it prints from whole records, errors included.
    @Test(arguments: [
        ("csv", nil, nil), ("lines", 9300, nil), ("csv", nil, "{host_port}:{transport_port}"), ("csv", nil, "{service_id}={host}"),
        ("lines", nil, "[{host}]"), ("csv", nil, "{host_port}:{http_port}"), ("json", nil, nil),
    ] as [(String, Int?, String?)])
    func recordsReadForWhatAFormatReadsRenderAsWholeOnes(layout: String, port: Int?, template: String?) throws {
        let format = try HostFormat(layout: layout, port: port, template: template)
        let whole = [try record("es-1", host: "10.0.0.5"), try record("es-2", host: "::1")]
        let read = try whole.map { try InstanceRecord.decode($0.encoded(), keeping: format.fieldsRead) }
        func printed(_ instances: [InstanceRecord]) -> String {
            do { return try format.render(instances) } catch { return "refused: \(error)" }
        }
        #expect(printed(read) == printed(whole))
        #expect(format.fieldsRead.contains(.state))
    }

    @Test func onlyJSONAndTemplatesBeyondTheHostReadMoreThanTheHost() throws {
        #expect(try HostFormat(layout: "csv", port: nil, template: nil).fieldsRead == [.host, .state])
        #expect(try HostFormat(layout: "lines", port: 9300, template: nil).fieldsRead == [.host, .state])
        #expect(try HostFormat(layout: "csv", port: nil, template: "{host_port}:{transport_port}").fieldsRead == [.serviceID, .host, .state, .info])
        #expect(try HostFormat(layout: "json", port: nil, template: nil).fieldsRead == .all)
    }
}
