public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where an executable's sections lie and which of their pages (and of its libraries') a process
/// has mapped: for the tests of what a process gives back once started.
public enum MappedImage {
    /// Where each section of `file` lies before loading (its address and size, from readelf).
    public static func sections(of file: String) async throws -> [String: Range<UInt>] {
        let listing = try await Command.run("readelf", ["--section-headers", "--wide", file])
        guard listing.status == 0 else { throw CommandError(description: "readelf \(file): \(listing)") }
        var sections: [String: Range<UInt>] = [:]
        for line in listing.standardOutput.split(separator: "\n") where line.contains("]") {
            let fields = line.split(separator: "]").last!.split(separator: " ")
            guard fields.count > 4, let address = UInt(fields[2], radix: 16), let size = UInt(fields[4], radix: 16) else { continue }
            sections[String(fields[0])] = address..<(address + size)
        }
        return sections
    }

    /// Where process `pid` mapped `file`'s start (its file offset 0), from /proc/PID/maps.
    public static func loadAddress(of file: String, in pid: pid_t = getpid()) throws -> UInt {
        guard let mapping = try mappings(of: pid).first(where: { $0.path?.hasSuffix(file) == true && $0.offset == "00000000" }) else {
            throw CommandError(description: "\(file) is not mapped by process \(pid)")
        }
        return mapping.pages.lowerBound
    }

    /// The whole pages within `range`: the ones at its ends also hold what lies around it.
    public static func innerPages(of range: Range<UInt>) -> Range<UInt> {
        inner(range, alignedTo: UInt(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The pages of `range` outside the 64 KiB-aligned windows its ends lie in. A read fault maps
    /// the whole window around the page read (the kernel's fault-around, 64 KiB by default), so
    /// reading a neighbour of `range` maps the pages of `range` in the window they share.
    public static func pagesBeyondNeighboursFaultAround(of range: Range<UInt>) -> Range<UInt> {
        inner(range, alignedTo: 64 * 1024)
    }

    /// How many pages of `range` process `pid` has mapped that no read of a neighbour of `range`
    /// accounts for. A read fault maps the fault-around window around the page read (64 KiB,
    /// aligned), and this machine's kernel (Linux 6.18) maps the whole of each large folio of the
    /// page cache it reaches (up to 2 MiB, aligned in the file): reading a neighbour of `range`
    /// maps the pages of `range` in the window, or in a folio, it shares with that neighbour.
    /// Folios are told from /proc/kpageflags, by the frame numbers only root may read in pagemap.
    public static func pagesMappedBeyondNeighbours(_ range: Range<UInt>, of pid: pid_t) throws -> Int {
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let pages = innerPages(of: range), beyondWindows = pagesBeyondNeighboursFaultAround(of: range)
        let entries = try pagemapEntries(pages, of: pid)
        let frames = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/kpageflags"))
        defer { try? frames.close() }
        var unaccounted = 0, index = 0
        while index < entries.count {
            let entry = entries[index], address = pages.lowerBound + UInt(index) * page
            index += 1
            guard entry >> 63 == 1, beyondWindows.contains(address) else { continue }
            let frame = entry & (1 << 55 - 1)
            guard frame != 0 else { throw CommandError(description: "pagemap of process \(pid) hides frame numbers: run as root") }
            guard let folio = try largeFolio(of: frame, in: frames) else { unaccounted += 1; continue }
            // The folio's pages lie in the file, and so in this mapping, in the order of its frames.
            let start = address - UInt(frame - folio.lowerBound) * page, end = start + UInt(folio.count) * page
            if start < range.lowerBound || end > range.upperBound {
                // Its other pages are accounted for alike: go on past it.
                index = max(index, Int((end - pages.lowerBound) / page))
                continue
            }
            unaccounted += 1
        }
        return unaccounted
    }

    /// The frames of the large folio (compound page) frame `frame` is part of; nil when it is a
    /// page of its own.
    private static func largeFolio(of frame: UInt64, in kpageflags: FileHandle) throws -> Range<UInt64>? {
        let head: UInt64 = 1 << 15, tail: UInt64 = 1 << 16
        // A folio is at most 2 MiB: 512 frames either side hold it whole.
        let first = frame >= 512 ? frame - 512 : 0
        // Fewer past the last frame of memory.
        let flags = try words(of: kpageflags, from: first, count: Int(frame - first) + 512)
        let count = flags.count
        guard count > Int(frame - first) else { throw CommandError(description: "no /proc/kpageflags entry for frame \(frame)") }
        var at = Int(frame - first)
        guard flags[at] & (head | tail) != 0 else { return nil }
        while flags[at] & tail != 0, at > 0 { at -= 1 }
        var end = Int(frame - first) + 1
        while end < count, flags[end] & tail != 0 { end += 1 }
        return first + UInt64(at)..<first + UInt64(end)
    }

    /// The part of `range` from its first to its last multiple of `alignment` (a power of two).
    private static func inner(_ range: Range<UInt>, alignedTo alignment: UInt) -> Range<UInt> {
        let start = (range.lowerBound + alignment - 1) & ~(alignment - 1), end = range.upperBound & ~(alignment - 1)
        return start..<max(start, end)
    }

    /// How many of the pages in `range` process `pid` has mapped (bit 63 of /proc/PID/pagemap).
    public static func mappedPages(_ range: Range<UInt>, of pid: pid_t = getpid()) throws -> Int {
        try pagemapEntries(range, of: pid).filter { $0 >> 63 == 1 }.count
    }

    /// How many of the pages in `range` process `pid` has mapped as its own copies, not the file's
    /// (mapped, bit 61 "file page or shared" clear): what relocation or a write changed.
    public static func privatelyWrittenPages(_ range: Range<UInt>, of pid: pid_t = getpid()) throws -> Int {
        try pagemapEntries(range, of: pid).filter { $0 >> 63 == 1 && ($0 >> 61) & 1 == 0 }.count
    }

    /// The mappings of shared libraries (files named `*.so` or `*.so.N…`) in /proc/PID/maps, with
    /// whether each is writable now. (RELRO is not: relocated, then made read-only.)
    public static func libraryMappings(of pid: pid_t = getpid()) throws -> [(file: String, pages: Range<UInt>, writable: Bool)] {
        try mappings(of: pid).compactMap { mapping in
            guard let name = mapping.path?.split(separator: "/").last, name.hasSuffix(".so") || name.contains(".so.") else { return nil }
            return (String(name), mapping.pages, mapping.writable)
        }
    }

    /// Whether process `pid` may write the page at `address` now (its mapping's permissions in
    /// /proc/PID/maps); nil when nothing maps it.
    public static func isWritable(_ address: UInt, in pid: pid_t = getpid()) throws -> Bool? {
        try mappings(of: pid).first { $0.pages.contains(address) }?.writable
    }

    /// One line of /proc/PID/maps.
    private struct Mapping {
        var pages: Range<UInt>
        var writable: Bool
        /// The file offset, in hex as the kernel writes it.
        var offset: Substring
        /// The file, or a name like `[heap]`; nil for an anonymous mapping.
        var path: String?
    }

    /// The mappings in /proc/PID/maps, read to the end: a file of /proc has no size to go by, and
    /// `String(contentsOfFile:)` stops after its first 4 KiB.
    private static func mappings(of pid: pid_t) throws -> [Mapping] {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/maps"))
        defer { try? file.close() }
        let lines = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self).split(separator: "\n")
        return lines.compactMap { line in
            // address perms offset device inode [path]
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            let bounds = fields.first?.split(separator: "-").compactMap { UInt($0, radix: 16) } ?? []
            guard fields.count >= 5, bounds.count == 2 else { return nil }
            return Mapping(pages: bounds[0]..<bounds[1], writable: fields[1].contains("w"), offset: fields[2], path: fields.count >= 6 ? fields[5...].joined(separator: " ") : nil)
        }
    }

    private static func pagemapEntries(_ range: Range<UInt>, of pid: pid_t) throws -> [UInt64] {
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let first = range.lowerBound / page, count = Int((range.upperBound + page - 1) / page - first)
        guard count > 0 else { return [] }
        let pagemap = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/pagemap"))
        defer { try? pagemap.close() }
        let entries = try words(of: pagemap, from: UInt64(first), count: count)
        guard entries.count == count else { throw CommandError(description: "no pagemap entries for \(range) in process \(pid)") }
        return entries
    }

    /// Up to `count` of the eight-byte words of a /proc table indexed by page or frame
    /// (pagemap, kpageflags), from word `index` on, in one read.
    private static func words(of table: FileHandle, from index: UInt64, count: Int) throws -> [UInt64] {
        try table.seek(toOffset: index * 8)
        let bytes = try table.read(upToCount: count * 8) ?? Data()
        return bytes.withUnsafeBytes { raw in (0..<raw.count / 8).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
    }
}
