import ServiceMonitor
import Testing
import TestSupport

@Suite("Parsing --expect-status", .tags(.fast))
struct ExpectedStatusParsingTests {
    @Test("the default accepts exactly 2xx")
    func defaultIsSuccessful() {
        let expected = ExpectedStatus.successful
        #expect(expected.description == "200-299")
        #expect(expected.contains(200) && expected.contains(204) && expected.contains(299))
        #expect(!expected.contains(199) && !expected.contains(300) && !expected.contains(302) && !expected.contains(503))
    }

    @Test(
        "valid lists",
        arguments: [
            ("200-299", "200-299", [200, 250, 299], [199, 300]),
            ("200", "200", [200], [201, 199, 204]),
            ("200,204,301-302", "200,204,301-302", [200, 204, 301, 302], [201, 300, 303]),
            (" 200 , 503 ", "200,503", [200, 503], [500]),
            ("100-599", "100-599", [100, 404, 599], [99, 600]),
            ("503-503", "503", [503], [502, 504]),
        ]
    )
    func parsesValid(input: String, canonical: String, accepted: [Int], rejected: [Int]) throws {
        let expected = try ExpectedStatus(parsing: input)
        #expect(expected.description == canonical)
        for status in accepted { #expect(expected.contains(status), "\(status) should be accepted by \(input)") }
        for status in rejected { #expect(!expected.contains(status), "\(status) should be rejected by \(input)") }
        #expect(try ExpectedStatus(parsing: expected.description) == expected)
    }

    @Test(
        "invalid lists are bad input naming the value",
        arguments: [
            ("", #"--expect-status "": empty entry"#),
            ("200,", #"--expect-status "200,": empty entry"#),
            ("abc", #"--expect-status "abc": "abc" is not a status code or range"#),
            ("2xx", #"--expect-status "2xx": "2xx" is not a status code or range"#),
            ("200-", #"--expect-status "200-": "200-" is not a status code or range"#),
            ("200-300-400", #"--expect-status "200-300-400": "200-300-400" is not a status code or range"#),
            ("0200", #"--expect-status "0200": "0200" is not a status code or range"#),
            ("600", #"--expect-status "600": status 600 is outside 100-599"#),
            ("99", #"--expect-status "99": status 99 is outside 100-599"#),
            ("200,1000", #"--expect-status "200,1000": "1000" is not a status code or range"#),
            ("299-200", #"--expect-status "299-200": range 299-200 is reversed (write 200-299)"#),
            ("200;204", #"--expect-status "200;204": "200;204" is not a status code or range"#),
        ]
    )
    func rejectsInvalid(input: String, message: String) {
        #expect {
            _ = try ExpectedStatus(parsing: input)
        } throws: { error in
            guard let error = error as? BadInput else { return false }
            return error.code == .invalidExpectedStatus && error.description.hasPrefix(message) && error.exitStatus == .usage
        }
    }
}
