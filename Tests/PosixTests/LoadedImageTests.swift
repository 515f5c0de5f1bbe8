import Foundation
@testable import Posix
import Testing
import TestSupport

/// `watch` and `run` give back the relocation table's pages; this process's own table stands in.
@Suite("The loaded image's relocation table", .tags(.fast))
struct LoadedImageTests {
    @Test func findsTheTableReadelfListsAndReleasesItsPages() async throws {
        let table = try #require(LoadedImage.relocationTable())
        // The same place and size as the .rela.dyn section of this executable's file.
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let sections = try await Command.run("readelf", ["--section-headers", "--wide", executable])
        let line = try #require(sections.standardOutput.split(separator: "\n").first { $0.contains(" .rela.dyn ") })
        let fields = line.split(separator: "]").last!.split(separator: " ")
        let address = try #require(UInt(fields[2], radix: 16)), size = try #require(UInt(fields[4], radix: 16))
        #expect(table.length == size)
        #expect(table.start - address == Self.loadAddress(of: executable))

        // The dynamic linker read every page of it; afterwards none is mapped.
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let inner = ((table.start + page - 1) & ~(page - 1))..<((table.start + table.length) & ~(page - 1))
        try #require(inner.count >= Int(page), "the table is smaller than a page")
        #expect(try Self.mappedPages(inner, page: page) > 0)
        LoadedImage.releaseRelocationTable()
        #expect(try Self.mappedPages(inner, page: page) == 0)
    }

    /// Where the executable's first mapping starts (its file offset 0), from /proc/self/maps.
    private static func loadAddress(of executable: String) -> UInt {
        let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        let line = maps.split(separator: "\n").first { $0.hasSuffix(executable) && $0.split(separator: " ")[2] == "00000000" }
        return line.flatMap { UInt($0.split(separator: "-")[0], radix: 16) } ?? 0
    }

    /// How many of the pages in `range` this process has mapped (/proc/self/pagemap's bit 63).
    private static func mappedPages(_ range: Range<UInt>, page: UInt) throws -> Int {
        let pagemap = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/pagemap"))
        defer { try? pagemap.close() }
        var mapped = 0
        for address in stride(from: range.lowerBound, to: range.upperBound, by: Int(page)) {
            try pagemap.seek(toOffset: UInt64(address / page) * 8)
            let entry = try #require(try pagemap.read(upToCount: 8)).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            if entry >> 63 == 1 { mapped += 1 }
        }
        return mapped
    }
}
