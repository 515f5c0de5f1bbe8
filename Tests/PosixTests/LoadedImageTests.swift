import Foundation
@testable import Posix
import Testing
import TestSupport

/// Every command gives back the pages only start-up reads; this process's own tables stand in.
@Suite("The loaded image's start-up pages", .tags(.fast))
struct LoadedImageTests {
    @Test func findsTheTablesReadelfListsAndReleasesTheirPages() async throws {
        let relocations = try #require(LoadedImage.relocationTable())
        let unwind = try #require(LoadedImage.unwindTables())
        // The same places and sizes as the sections of this executable's file: .rela.dyn, and
        // .eh_frame followed by its index .eh_frame_hdr.
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let sections = try await Self.sections(of: executable)
        let loadAddress = Self.loadAddress(of: executable)
        let relaDyn = try #require(sections[".rela.dyn"])
        #expect(relocations == LoadedImage.Span(start: loadAddress + relaDyn.start, length: relaDyn.length))
        let frames = try #require(sections[".eh_frame"]), index = try #require(sections[".eh_frame_hdr"])
        #expect(frames.start + frames.length <= index.start)
        #expect(unwind == LoadedImage.Span(start: loadAddress + frames.start, length: index.start + index.length - frames.start))

        // The dynamic linker read every page of the relocations, and the main thread's exit some
        // of the unwind tables; afterwards none is mapped.
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let inner = [relocations, unwind].map { (($0.start + page - 1) & ~(page - 1))..<(($0.start + $0.length) & ~(page - 1)) }
        for span in inner { try #require(span.count >= Int(page), "a table is smaller than a page") }
        #expect(try inner.map { try Self.mappedPages($0, page: page) }.allSatisfy { $0 > 0 })
        LoadedImage.releaseStartupPages()
        #expect(try inner.map { try Self.mappedPages($0, page: page) } == [0, 0])
    }

    /// Address and size of each section of `executable`, from readelf.
    private static func sections(of executable: String) async throws -> [String: LoadedImage.Span] {
        let listing = try await Command.run("readelf", ["--section-headers", "--wide", executable])
        var sections: [String: LoadedImage.Span] = [:]
        for line in listing.standardOutput.split(separator: "\n") where line.contains("]") {
            let fields = line.split(separator: "]").last!.split(separator: " ")
            guard fields.count > 4, let address = UInt(fields[2], radix: 16), let size = UInt(fields[4], radix: 16) else { continue }
            sections[String(fields[0])] = LoadedImage.Span(start: address, length: size)
        }
        return sections
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
