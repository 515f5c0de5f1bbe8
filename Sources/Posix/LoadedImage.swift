import CPosix

/// The running program's own image, as the dynamic linker mapped it.
public enum LoadedImage {
    /// Gives back the relocation table (`.rela.dyn`, 2.6 MiB): the dynamic linker applied it
    /// before `main` and nothing reads it again, yet it stays mapped and counted in the resident
    /// set for as long as the process runs. Called first thing, so it never adds to a peak.
    ///
    /// This and the other releases give back only pages of segments mapped without write
    /// permission: they are the file's own, so should anything touch them again they are read
    /// back in. Best effort: what is not found stays.
    public static func releaseRelocationTable() {
        guard let image = Image.current, let table = image.relocationTable else { return }
        image.release(table)
    }

    /// Gives back the unwind tables (`.eh_frame_hdr` and `.eh_frame`) once the calling thread
    /// ends: an `async` main ends the main thread with libdispatch's `dispatch_main`, whose
    /// `pthread_exit` unwinds its stack through them. Where those lookups land depends on the
    /// layout; they left 0.7–1.9 MiB mapped. Called on the main thread before it first
    /// suspends, the release runs on it right after that unwinding, as it parks.
    public static func releaseUnwindTablesWhenThreadEnds() {
        _ = CPosix_at_thread_exit { _ in LoadedImage.releaseUnwindTables() }
    }

    static func releaseUnwindTables() {
        guard let image = Image.current, let tables = image.unwindTables else { return }
        image.release(tables)
    }

    /// Gives back every page this process mapped from the program's and the shared libraries'
    /// files and never wrote: their code, constants and tables, whatever start-up read of them.
    /// `watch` and `run` call it once they run and at the end of each stage of start-up that
    /// first uses much of the program (the first check round, the first registration); after
    /// them they run only their steady loop, and what it reads comes back in from the page cache,
    /// which keeps the files' pages all along. A page relocation or a write made the process's
    /// own copy (among them RELRO, relocated and then made read-only) stays.
    public static func releaseFileBackedPages() {
        releaseProgramPages()
        releaseLibraryPages()
    }

    /// The program's read-only segments, and its `.rodata` where the linker left that writable.
    static func releaseProgramPages() {
        guard let image = Image.current else { return }
        for segment in image.readOnlySegments { image.release(segment) }
        releaseWritableConstants()
    }

    /// Makes the program's `.rodata` read-only and gives back its pages, when the linker put it in
    /// the writable segment.
    ///
    /// Swift places protocol conformance descriptors in sections named `.rodata`, and LLVM flags
    /// some of them writable: it classes them read-only after relocation, what a C compiler would
    /// put in `.data.rel.ro`. The linker merges every `.rodata` into one section with the flags of
    /// all, so the whole of it (3.4 MiB) lands in the writable segment, past the part RELRO makes
    /// read-only after relocation. No dynamic relocation points into it and nothing writes it:
    /// they are constants. Made read-only first, as RELRO would have, so no page can be written
    /// while or after it is dropped; a page already written keeps its copy. Returns how many
    /// pages it gave back.
    @discardableResult
    static func releaseWritableConstants() -> Int {
        guard let image = Image.current, let constants = image.writableConstants else { return 0 }
        return image.protectAndReleaseUnwritten(constants)
    }

    /// The shared libraries' read-only segments (code, symbol and relocation tables, constants):
    /// start-up maps them as the dynamic linker binds and relocates each library and runs its
    /// initialisers. Writable segments stay.
    static func releaseLibraryPages() {
        var libraries: [Image] = []
        _ = withUnsafeMutablePointer(to: &libraries) { list in
            CPosix_dl_iterate_phdr({ base, name, headers, count, list in
                guard let list, let name, name.pointee == UInt8(ascii: "/"), let headers
                else { return 0 }  // the program itself (no name) and the vDSO (no file)
                list.assumingMemoryBound(to: [Image].self).pointee.append(
                    Image(headers: UnsafeBufferPointer(start: headers, count: Int(count)), base: UInt(base))
                )
                return 0
            }, list)
        }
        // A library with text relocations had its read-only segments written while it was
        // relocated: those pages are its own copies now, and dropping them would undo that.
        for library in libraries where !library.hasTextRelocations {
            for segment in library.readOnlySegments { library.release(segment) }
        }
    }

    /// Where `.rela.dyn` is mapped, from the program's own headers and dynamic section.
    static func relocationTable() -> Span? {
        Image.current?.relocationTable
    }

    /// Where `.rodata` is mapped, when the linker put it in the writable segment.
    static func writableConstants() -> Span? {
        Image.current?.writableConstants
    }

    /// Where `.eh_frame` and its index `.eh_frame_hdr` are mapped, from the program's headers.
    static func unwindTables() -> Span? {
        Image.current?.unwindTables
    }

    struct Span: Equatable {
        var start: UInt
        var length: UInt

        func overlaps(_ other: Span) -> Bool {
            start < other.start + other.length && other.start < start + length
        }

        /// The whole pages within this span (the ones at its ends also hold what lies around it),
        /// or nil when there is none.
        var wholePages: Span? {
            let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
            let first = (start + page - 1) & ~(page - 1), end = (start + length) & ~(page - 1)
            return end > first ? Span(start: first, length: end - first) : nil
        }
    }

    /// The program headers of the running executable and the address it was loaded at.
    private struct Image {
        let headers: UnsafeBufferPointer<Elf64_Phdr>
        let base: UInt

        static var current: Image? {
            let headersAddress = UInt(CPosix_getauxval(UInt(AT_PHDR)))
            let count = Int(CPosix_getauxval(UInt(AT_PHNUM)))
            guard count > 0, let first = UnsafePointer<Elf64_Phdr>(bitPattern: headersAddress) else { return nil }
            let headers = UnsafeBufferPointer(start: first, count: count)
            guard let own = headers.first(where: { $0.p_type == PT_PHDR }) else { return nil }
            // Where the program was loaded: its headers' address less where they say they are.
            return Image(headers: headers, base: headersAddress - UInt(own.p_vaddr))
        }

        /// The entries of the dynamic section (empty when there is none).
        var dynamicEntries: UnsafeBufferPointer<Elf64_Dyn> {
            guard let dynamic = headers.first(where: { $0.p_type == PT_DYNAMIC }),
                  let first = UnsafePointer<Elf64_Dyn>(bitPattern: base + UInt(dynamic.p_vaddr))
            else { return UnsafeBufferPointer(start: nil, count: 0) }
            var count = 0
            while first[count].d_tag != Int64(DT_NULL) { count += 1 }
            return UnsafeBufferPointer(start: first, count: count)
        }

        var hasTextRelocations: Bool {
            dynamicEntries.contains { entry in
                entry.d_tag == Int64(DT_TEXTREL) || (entry.d_tag == Int64(DT_FLAGS) && entry.d_un.d_val & UInt64(DF_TEXTREL) != 0)
            }
        }

        var relocationTable: Span? {
            var start: UInt?, length: UInt?
            for entry in dynamicEntries {
                switch entry.d_tag {
                case Int64(DT_RELA): start = UInt(entry.d_un.d_ptr)
                case Int64(DT_RELASZ): length = UInt(entry.d_un.d_val)
                default: break
                }
            }
            guard var start, let length, length > 0 else { return nil }
            // glibc rebases the dynamic section's pointers in place; one it did not is an offset.
            if start < base { start += base }
            return Span(start: start, length: length)
        }

        var unwindTables: Span? {
            guard let segment = headers.first(where: { $0.p_type == Self.ehFrameIndexType }), segment.p_memsz >= 8,
                  let index = UnsafeRawPointer(bitPattern: base + UInt(segment.p_vaddr))
            else { return nil }
            let indexStart = UInt(bitPattern: index), indexEnd = indexStart + UInt(segment.p_memsz)
            // Version 1, then how the pointer to .eh_frame is encoded: the linkers write it
            // pc-relative in four signed bytes (DW_EH_PE_pcrel | DW_EH_PE_sdata4).
            guard index.load(as: UInt8.self) == 1, index.load(fromByteOffset: 1, as: UInt8.self) == 0x1B else {
                return Span(start: indexStart, length: indexEnd - indexStart)
            }
            let frames = UInt(bitPattern: Int(bitPattern: indexStart + 4) + Int(index.loadUnaligned(fromByteOffset: 4, as: Int32.self)))
            // gold puts .eh_frame right before its index, so the span covers both; where it comes
            // after (GNU ld), its end is unknown and only the index is given back.
            let start = min(frames, indexStart)
            return Span(start: start, length: indexEnd - start)
        }

        /// `.rodata` when it lies in the file-backed part of a writable segment, outside RELRO.
        var writableConstants: Span? {
            guard let section = Self.ownSection(named: ".rodata") else { return nil }
            let span = Span(start: base + section.start, length: section.length)
            let relro = headers.first { $0.p_type == Self.relroType }.map { Span(start: base + UInt($0.p_vaddr), length: UInt($0.p_memsz)) }
            let inWritableFileBackedPart = headers.contains { header in
                header.p_type == PT_LOAD && header.p_flags & UInt32(PF_W) != 0
                    && span.start >= base + UInt(header.p_vaddr)
                    && span.start + span.length <= base + UInt(header.p_vaddr) + UInt(header.p_filesz)
            }
            guard inWritableFileBackedPart, !(relro.map { span.overlaps($0) } ?? false) else { return nil }
            return span
        }

        /// Where the section `name` lies (addresses relative to the load base), from the section
        /// headers of the running executable's file: they are not mapped.
        static func ownSection(named name: String) -> Span? {
            guard let file = try? FileDescriptor.open(reading: "/proc/self/exe") else { return nil }
            defer { try? file.close() }
            guard let header = file.values(Elf64_Ehdr.self, count: 1, at: 0)?.first,
                  header.e_shentsize == MemoryLayout<Elf64_Shdr>.size, header.e_shnum > 0,
                  let sections = file.values(Elf64_Shdr.self, count: Int(header.e_shnum), at: Int(header.e_shoff)),
                  Int(header.e_shstrndx) < sections.count
            else { return nil }
            let names = sections[Int(header.e_shstrndx)]
            guard let nameTable = file.values(UInt8.self, count: Int(names.sh_size), at: Int(names.sh_offset)) else { return nil }
            let wanted = Array(name.utf8) + [0]
            for section in sections where section.sh_flags & UInt64(SHF_ALLOC) != 0 {
                let offset = Int(section.sh_name)
                guard offset + wanted.count <= nameTable.count,
                      nameTable[offset..<offset + wanted.count].elementsEqual(wanted)
                else { continue }
                return Span(start: UInt(section.sh_addr), length: UInt(section.sh_size))
            }
            return nil
        }

        /// Makes the whole pages of `span` read-only, then drops this process's mappings of the
        /// ones never written (still the file's own pages, as `/proc/self/pagemap` tells); returns
        /// how many it dropped.
        func protectAndReleaseUnwritten(_ span: Span) -> Int {
            let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
            guard let pages = span.wholePages, let start = UnsafeMutableRawPointer(bitPattern: pages.start),
                  CPosix_mprotect_read_only(start, Int(pages.length)) == 0,
                  let pagemap = try? FileDescriptor.open(reading: "/proc/self/pagemap")
            else { return 0 }
            defer { try? pagemap.close() }
            let first = pages.start, count = Int(pages.length / page)
            guard let entries = pagemap.values(UInt64.self, count: count, at: Int(first / page) * 8) else { return 0 }
            // A page is its own copy when present and not the file's, or swapped out.
            func written(_ entry: UInt64) -> Bool {
                (entry >> 63 & 1 == 1 && entry >> 61 & 1 == 0) || entry >> 62 & 1 == 1
            }
            var index = 0, released = 0
            while index < count {
                guard !written(entries[index]) else { index += 1; continue }
                var runEnd = index + 1
                while runEnd < count, !written(entries[runEnd]) { runEnd += 1 }
                if let runStart = UnsafeMutableRawPointer(bitPattern: first + UInt(index) * page),
                   CPosix_madvise_dontneed(runStart, (runEnd - index) * Int(page)) == 0 {
                    released += runEnd - index
                }
                index = runEnd
            }
            return released
        }

        /// Where the segments mapped without write permission lie.
        var readOnlySegments: [Span] {
            headers.filter { $0.p_type == PT_LOAD && $0.p_flags & UInt32(PF_W) == 0 }
                .map { Span(start: base + UInt($0.p_vaddr), length: UInt($0.p_memsz)) }
        }

        /// Drops this process's mappings of the whole pages of `span` that lie in a read-only
        /// segment (never a writable one: its changed pages would be lost).
        func release(_ span: Span) {
            for segment in readOnlySegments {
                let lower = max(span.start, segment.start)
                let upper = min(span.start + span.length, segment.start + segment.length)
                guard upper > lower, let pages = Span(start: lower, length: upper - lower).wholePages,
                      let start = UnsafeMutableRawPointer(bitPattern: pages.start)
                else { continue }
                _ = CPosix_madvise_dontneed(start, Int(pages.length))
            }
        }

        /// `PT_GNU_RELRO`: what the dynamic linker makes read-only once it has relocated it.
        private static let relroType: UInt32 = 0x6474_E552

        /// `PT_GNU_EH_FRAME`: the segment of `.eh_frame_hdr`.
        private static let ehFrameIndexType: UInt32 = 0x6474_E550
    }
}

extension FileDescriptor {
    /// `count` values of a plain type read from `offset` on; nil when the file holds fewer.
    fileprivate func values<T: BitwiseCopyable>(_: T.Type, count: Int, at offset: Int) -> [T]? {
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            // The capacity may exceed `count`: read no more.
            let wanted = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[..<(count * MemoryLayout<T>.stride)])
            let filled = (try? read(into: wanted, at: offset)) ?? 0
            initialized = filled == wanted.count ? count : 0
        }
        return values.count == count ? values : nil
    }
}
