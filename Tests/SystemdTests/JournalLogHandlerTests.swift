import Foundation
import Logging
import Systemd
import Testing
import TestSupport

@Suite("JournalLogHandler round trip through real journald", .tags(.fast))
struct JournalLogHandlerTests {
    /// A logger writing through the handler, tagged with a field unique to one test.
    private func makeLogger(run: String) -> Logger {
        var handler = StructuredLogHandler(label: "journal-test", identifier: "service-monitor-test", sink: .journal)
        handler.logLevel = .trace
        handler[metadataKey: "test.run"] = "\(run)"
        return Logger(label: "journal-test") { _ in handler }
    }

    @Test func writesEveryFieldAndMapsMetadataNames() async throws {
        let run = UUID().uuidString
        let logger = makeLogger(run: run)
        let line: UInt = #line + 1
        logger.notice("instance up", metadata: [
            "service_monitor.label": "web",
            "service-monitor.http_status": "200",
            "message_id": "8f3c2e0e6a1d4b1c9d2e3f4a5b6c7d8e",
            "endpoints": ["http://127.0.0.1:2379", "http://127.0.0.2:2379"],
            "check": ["latency_usec": "3012", "kind": ["scheme": "http"]],
            "message": "metadata cannot overwrite MESSAGE",
        ])
        let entry = try #require(await Journal.waitForEntries(matching: ["TEST_RUN=\(run)"]).first)
        #expect(entry["MESSAGE"] == "instance up")
        #expect(entry["PRIORITY"] == "5")
        #expect(entry["SYSLOG_IDENTIFIER"] == "service-monitor-test")
        #expect(entry["CODE_FILE"]?.hasSuffix("JournalLogHandlerTests.swift") == true)
        #expect(entry["CODE_LINE"] == String(line))
        #expect(entry["CODE_FUNC"] == "writesEveryFieldAndMapsMetadataNames()")
        #expect(entry["LOGGER"] == "journal-test")
        #expect(entry["MESSAGE_ID"] == "8f3c2e0e6a1d4b1c9d2e3f4a5b6c7d8e")
        #expect(entry["SERVICE_MONITOR_LABEL"] == "web")
        #expect(entry["SERVICE_MONITOR_HTTP_STATUS"] == "200")
        #expect(entry["ENDPOINTS_0"] == "http://127.0.0.1:2379")
        #expect(entry["ENDPOINTS_1"] == "http://127.0.0.2:2379")
        #expect(entry["CHECK_LATENCY_USEC"] == "3012")
        #expect(entry["CHECK_KIND_SCHEME"] == "http")
        #expect(entry["METADATA_MESSAGE"] == "metadata cannot overwrite MESSAGE")
        // journalctl can filter on the mapped name, as operators will.
        #expect(try await Journal.entries(matching: ["TEST_RUN=\(run)", "SERVICE_MONITOR_LABEL=web"]).count == 1)
    }

    @Test func mapsEveryLevelToItsSyslogPriority() async throws {
        let run = UUID().uuidString
        let logger = makeLogger(run: run)
        let expected: [(Logger.Level, String)] = [
            (.trace, "7"), (.debug, "7"), (.info, "6"), (.notice, "5"), (.warning, "4"), (.error, "3"), (.critical, "2"),
        ]
        for (level, _) in expected {
            logger.log(level: level, "level \(level.rawValue)")
        }
        let entries = try await Journal.waitForEntries(matching: ["TEST_RUN=\(run)"], count: expected.count)
        for (level, priority) in expected {
            let entry = entries.first { $0["MESSAGE"] == "level \(level.rawValue)" }
            #expect(entry?["PRIORITY"] == priority, "\(level)")
        }
    }

    @Test func keepsMultiLineMessagesAndValuesWithEqualsSignsIntact() async throws {
        let run = UUID().uuidString
        let logger = makeLogger(run: run)
        let message = "first line\nsecond line\n\tindented third"
        let value = "key=value\nnext=line=with=equals\n"
        logger.warning("\(message)", metadata: ["payload": "\(value)", "service_info": "{\"name\": \"es-1\"}"])
        let entry = try #require(await Journal.waitForEntries(matching: ["TEST_RUN=\(run)"]).first)
        #expect(entry["MESSAGE"] == message)
        #expect(entry["PAYLOAD"] == value)
        #expect(entry["SERVICE_INFO"] == "{\"name\": \"es-1\"}")
        #expect(entry["PRIORITY"] == "4")
    }

    @Test func recordsTheErrorOfAnEvent() async throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "connection refused" } }
        let run = UUID().uuidString
        var handler = StructuredLogHandler(label: "journal-test", identifier: "service-monitor-test", sink: .journal)
        handler[metadataKey: "test.run"] = "\(run)"
        handler.log(event: LogEvent(level: .error, message: "check failed", error: Refused(), metadata: nil, source: nil, file: #fileID, function: #function, line: #line))
        let entry = try #require(await Journal.waitForEntries(matching: ["TEST_RUN=\(run)"]).first)
        #expect(entry["ERROR"] == "connection refused")
        #expect(entry["PRIORITY"] == "3")
    }
}

@Suite("Journal field names and console lines", .tags(.fast))
struct LogFieldTests {
    @Test(arguments: [
        ("service_monitor.label", "SERVICE_MONITOR_LABEL"),
        ("service-monitor.http_status", "SERVICE_MONITOR_HTTP_STATUS"),
        ("latencyUsec", "LATENCYUSEC"),
        ("_trusted", "TRUSTED"),
        ("2xx", "F_2XX"),
        ("a..b", "A_B"),
        ("ünïcode", "N_CODE"),
        ("...", "METADATA"),
        (String(repeating: "x", count: 80), String(repeating: "X", count: 64)),
    ])
    func mapsMetadataKeysToLegalJournalNames(key: String, name: String) {
        let mapped = JournalFieldName(metadataKey: key).rawValue
        #expect(mapped == name)
        #expect(mapped.count <= 64)
        #expect(mapped.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        #expect(mapped.first.map { !("0"..."9").contains($0) && $0 != "_" } == true)
    }

    @Test func consoleLineCarriesTheSameFieldsOnOneLine() {
        let event = LogEvent(
            level: .warning, message: "instance down\nrefused", metadata: ["service_monitor.label": "web", "detail": "connect: refused \"x\""],
            source: nil, file: "Monitor/Check.swift", function: "run()", line: 42
        )
        let fields = LogFields(event: event, label: "monitor", identifier: "service-monitor", handlerMetadata: [:], metadataProvider: nil)
        #expect(fields["SERVICE_MONITOR_LABEL"] == "web")
        #expect(fields["PRIORITY"] == "4")
        #expect(fields["CODE_LINE"] == "42")

        var console = StructuredLogHandler(label: "monitor", identifier: "service-monitor", sink: .console)
        console.logLevel = .trace
        // The rendering is internal; check it through a real stderr capture in WatchdogTests and
        // here through the fields it is made of.
        #expect(console.label == "monitor")
    }
}
