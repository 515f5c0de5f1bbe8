import Foundation
import ServiceMonitor
import Testing
import TestSupport

@Suite("Labels and service ids", .tags(.fast))
struct NameTests {
    @Test(arguments: ["web", "Elasticsearch", "es-1", "a.b_c-d", String(repeating: "x", count: 128), "..."])
    func acceptsNamesThatCannotEscapeThePrefix(name: String) throws {
        #expect(try ServiceID(name).rawValue == name)
        #expect(try Label(name).rawValue == name.lowercased())
    }

    @Test(arguments: [
        ("", "--service-id \"\": must not be empty"),
        (".", "--service-id \".\": . and .. are not allowed"),
        ("..", "--service-id \"..\": . and .. are not allowed"),
        ("a/b", "--service-id \"a/b\": only A-Z a-z 0-9 . _ - are allowed"),
        ("../x", "--service-id \"../x\": only A-Z a-z 0-9 . _ - are allowed"),
        ("es 1", "--service-id \"es 1\": only A-Z a-z 0-9 . _ - are allowed"),
        ("ünï", "--service-id \"ünï\": only A-Z a-z 0-9 . _ - are allowed"),
        ("a\nb", "--service-id \"a\\nb\": only A-Z a-z 0-9 . _ - are allowed"),
        (String(repeating: "x", count: 129), "--service-id \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"…: longer than 128 characters"),
    ])
    func rejectsEverythingElseNamingTheValue(name: String, message: String) {
        #expect(throws: BadInput.self) { try ServiceID(name) }
        do {
            _ = try ServiceID(name)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func labelsAreCaseInsensitive() throws {
        #expect(try Label("MyService") == Label("myservice"))
        #expect(throws: BadInput.self) { try Label("my/service") }
    }
}

@Suite("Durations, service info and instance records", .tags(.fast))
struct ValueTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("10s", .seconds(10)), ("4m", .seconds(240)), ("1h", .seconds(3600)),
        ("1m30s", .seconds(90)), ("1.5s", .milliseconds(1500)), ("0s", .zero),
    ])
    func parsesOperatorDurations(text: String, expected: Duration) throws {
        #expect(try Duration(parsing: text, option: "--interval") == expected)
    }

    @Test(arguments: ["", "10", "s", "10x", "-1s", "1..5s", "ten seconds", "10 s", "9999999h"])
    func rejectsMalformedDurationsNamingTheValue(text: String) {
        do {
            _ = try Duration(parsing: text, option: "--interval")
            Issue.record("\(text.debugDescription) was accepted")
        } catch {
            #expect(error.description == "--interval \(text.debugDescription): not a duration (use e.g. 500ms, 10s, 4m, 1h, 1m30s)")
        }
    }

    @Test func rendersDurationsTheWayTheyAreWritten() {
        #expect(Duration.milliseconds(1500).operatorDescription == "1500ms")
        #expect(Duration.seconds(10).operatorDescription == "10s")
        #expect(Duration.seconds(240).operatorDescription == "4m")
        #expect(Duration.seconds(7200).operatorDescription == "2h")
    }

    @Test func serviceInfoMustBeAJSONObject() throws {
        let info = try ServiceInfo(parsing: #"{"http_port": 9200, "transport_port": 9300, "name": "es-1", "tags": ["a"]}"#)
        #expect(info.fields["transport_port"]?.templateText == "9300")
        #expect(info.fields["name"]?.templateText == "es-1")
        #expect(info.fields["tags"]?.templateText == #"["a"]"#)
        for (text, reason) in [("[1]", "must be a JSON object"), ("\"x\"", "must be a JSON object"), ("{", "not valid JSON"), ("", "not valid JSON")] {
            do {
                _ = try ServiceInfo(parsing: text)
                Issue.record("\(text) accepted")
            } catch {
                #expect(error.description.hasPrefix("--service-info \(text.debugDescription): \(reason)"))
            }
        }
        #expect(ServiceInfo.defaultInfo(for: try ServiceID("es-1")).fields == ["name": .string("es-1")])
    }

    @Test func instanceRecordsUseTheDocumentedJSONFields() throws {
        let record = InstanceRecord(
            serviceID: "es-1", host: "10.0.0.5", state: .up, since: "2026-11-28T12:00:01.042Z",
            detail: "HTTP 200 in 3 ms", info: try ServiceInfo(parsing: #"{"transport_port": 9300}"#)
        )
        let json = String(decoding: try record.encoded(), as: UTF8.self)
        #expect(json == #"{"detail":"HTTP 200 in 3 ms","host":"10.0.0.5","info":{"transport_port":9300},"service_id":"es-1","since":"2026-11-28T12:00:01.042Z","state":"up"}"#)
        #expect(try InstanceRecord.decode(Array(json.utf8)) == record)
        let since = InstanceRecord.timestamp()
        #expect(since.count == "2026-11-28T12:00:01.042Z".count && since.hasSuffix("Z"), "\(since)")
    }
}

@Suite("Searching text by its bytes", .tags(.fast))
struct ByteSearchTests {
    @Test(arguments: [
        ("http://x", "://"), ("--generate-completion-script", "completion"), ("--help", "help"), ("aaab", "aab"),
        ("ab", "abc"), ("", "x"), ("x", ""), ("héllo://é", "://"), ("héllo", "llo"), ("no match here", "://"),
        ("error at line 3 at end", " at "),
    ])
    func findsWhatTheStandardLibraryFinds(text: String, word: String) {
        #expect(text.firstRange(ofBytes: word) == text.firstRange(of: word), "\(text.debugDescription) / \(word.debugDescription)")
    }

    @Test func searchesOnlyWithinASubstringAndAnswersInItsBaseIndices() throws {
        let text = "://abc://"
        let slice = text.dropFirst(3)
        let found = try #require(slice.firstRange(ofBytes: "://"))
        #expect(text[found] == "://")
        #expect(text.distance(from: text.startIndex, to: found.lowerBound) == 6)
        #expect(slice.dropLast().firstRange(ofBytes: "://") == nil)
    }
}

@Suite("Host address", .tags(.fast))
struct HostAddressTests {
    @Test func flagWinsThenCoreOSVariable() throws {
        #expect(try HostAddress.resolve(flag: "10.0.0.5", environment: ["COREOS_PRIVATE_IPV4": "10.0.0.6"]) == "10.0.0.5")
        #expect(try HostAddress.resolve(flag: nil, environment: ["COREOS_PRIVATE_IPV4": "10.0.0.6"]) == "10.0.0.6")
        #expect(try HostAddress.resolve(flag: "::1", environment: [:]) == "::1")
        #expect(throws: BadInput.self) { try HostAddress.resolve(flag: "es-1.example", environment: [:]) }
        #expect(throws: BadInput.self) { try HostAddress.resolve(flag: nil, environment: ["COREOS_PRIVATE_IPV4": "999.1.1.1"]) }
    }

    @Test func fallsBackToTheDefaultRouteInterfaceAddress() async throws {
        // What iproute2 says the default route's interface carries.
        let route = try await Command.run("ip", ["-4", "route", "show", "default"]).standardOutput
        let words = route.split(separator: " ")
        let device = try #require(words.firstIndex(of: "dev").map { String(words[$0 + 1]) }, "no default route: \(route)")
        let addresses = try await Command.run("ip", ["-4", "-o", "addr", "show", "dev", device]).standardOutput
        let expected = try #require(addresses.split(separator: " ").firstIndex(of: "inet").map { addresses.split(separator: " ")[$0 + 1].split(separator: "/")[0] })
        #expect(try HostAddress.resolve(flag: nil, environment: [:]) == String(expected))
    }
}
