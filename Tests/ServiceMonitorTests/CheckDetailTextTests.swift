@testable import ServiceMonitor
import Testing
import TestSupport

/// The wording of details shown in STATUS= lines and logs.
@Suite("Check detail text", .tags(.fast))
struct CheckDetailTextTests {
    @Test(
        "durations are short and readable",
        arguments: [
            (Duration.microseconds(400), "0.4 ms"),
            (.microseconds(960), "1 ms"),
            (.milliseconds(3), "3 ms"),
            (.microseconds(2_600), "3 ms"),
            (.milliseconds(250), "250 ms"),
            (.microseconds(999_700), "1 s"),
            (.seconds(2), "2 s"),
            (.milliseconds(1_500), "1.5 s"),
            (.seconds(90), "90 s"),
        ]
    )
    func durationText(duration: Duration, text: String) {
        #expect(duration.checkDetailText == text)
    }

    @Test("microseconds for journald latency fields")
    func microseconds() {
        #expect(Duration.milliseconds(3).totalMicroseconds == 3_000)
        #expect(Duration.seconds(2).totalMicroseconds == 2_000_000)
    }

    @Test(
        "BoringSSL reasons become lowercase words",
        arguments: [
            ("Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /src/ssl/handshake.cc:393",
             "certificate verify failed"),
            ("Error: 1 error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER at /x.cc:1", "wrong version number"),
        ]
    )
    func boringSSLReason(description: String, reason: String) {
        #expect(FailureClassifier.reason(fromBoringSSL: description) == reason)
    }
}
