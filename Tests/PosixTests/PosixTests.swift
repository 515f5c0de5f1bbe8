import Foundation
import Posix
import Testing
import TestSupport

@Suite("Files and descriptors", .tags(.fast))
struct FileTests {
    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("posix-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func appendsAndReadsBackWholeFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/log"
        try File.append("200\n", toPath: path)
        try File.append("503\n", toPath: path)
        #expect(try File.text(atPath: path) == "200\n503\n")

        // More than one read(2) buffer, and multi-byte UTF-8 across the buffer boundaries.
        let large = String(repeating: "é·", count: 300_000)
        let file = try FileDescriptor.open(appendingTo: directory + "/large")
        try file.write(large)
        try file.close()
        #expect(try File.text(atPath: directory + "/large") == large)
    }

    @Test func aMissingFileIsAnOpenFailureWithItsErrno() throws {
        let path = "/nonexistent-\(UUID().uuidString)"
        let error = try #require(throws: PosixError.self) { try File.contents(atPath: path) }
        #expect(error.code == .openFailed)
        #expect(error.errno == ENOENT)
        #expect(error.description == "openFailed: open(\(path.debugDescription)) (No such file or directory, errno \(ENOENT))")
    }

    @Test func aDirectoryIsAReadFailure() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = try #require(throws: PosixError.self) { try File.contents(atPath: directory) }
        #expect(error.code == .readFailed)
        #expect(error.errno == EISDIR)
        #expect(error.message == "read(\(directory.debugDescription))")
    }

    @Test func writingToAClosedDescriptorFails() throws {
        let error = try #require(throws: PosixError.self) { try FileDescriptor(rawValue: -1).write("lost\n") }
        #expect(error.code == .writeFailed)
        #expect(error.errno == EBADF)
    }
}

@Suite("Wall-clock timestamps", .tags(.fast))
struct WallClockTimeTests {
    @Test(arguments: [
        (1_795_867_201, 42_999_999, "2026-11-28T12:00:01.042Z"),  // milliseconds round down
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (253_402_300_799, 999_999_999, "9999-12-31T23:59:59.999Z"),
    ])
    func formatsRFC3339InUTCWithMilliseconds(seconds: Int, nanoseconds: Int, text: String) {
        #expect(WallClockTime(seconds: seconds, nanoseconds: nanoseconds).rfc3339 == text)
    }

    @Test func nowIsTodayInUTC() throws {
        let now = WallClockTime.now
        let expected = Date(timeIntervalSince1970: TimeInterval(now.seconds))
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
        #expect(now.rfc3339.hasPrefix(String(expected.dropLast())))
        #expect(now.rfc3339.count == "2026-11-28T12:00:01.042Z".count && now.rfc3339.hasSuffix("Z"))
        #expect(now.localTimeOfDay.count == "12:00:01".count)
    }
}
