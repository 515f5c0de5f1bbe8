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

    /// Gives back the unwind tables (`.eh_frame_hdr` and `.eh_frame`): an `async` main ends the
    /// main thread with libdispatch's `dispatch_main`, whose `pthread_exit` unwinds its stack
    /// through them. Where those lookups land depends on the layout; they left 0.7–1.9 MiB
    /// mapped. Called once the command is parsed, by when the main thread is gone.
    public static func releaseUnwindTables() {
        guard let image = Image.current, let tables = image.unwindTables else { return }
        image.release(tables)
    }

    /// Gives back the pages of the shared libraries' read-only segments (code, symbol and
    /// relocation tables, constants) that start-up mapped: the dynamic linker reading the
    /// libraries' tables to bind and relocate them, their initialisers. A running `watch` reads
    /// few of them again (of libstdc++'s 1.1 MiB, 8 KiB); those it does are read back in, from
    /// the page cache, which keeps them all. Writable segments, among them the ones made read-only
    /// after relocation (RELRO), stay.
    public static func releaseLibraryPages() {
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

    /// Where `.eh_frame` and its index `.eh_frame_hdr` are mapped, from the program's headers.
    static func unwindTables() -> Span? {
        Image.current?.unwindTables
    }

    struct Span: Equatable {
        var start: UInt
        var length: UInt
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

        /// Where the segments mapped without write permission lie.
        var readOnlySegments: [Span] {
            headers.filter { $0.p_type == PT_LOAD && $0.p_flags & UInt32(PF_W) == 0 }
                .map { Span(start: base + UInt($0.p_vaddr), length: UInt($0.p_memsz)) }
        }

        /// Drops this process's mappings of the whole pages of `span` that lie in a read-only
        /// segment (never a writable one: its changed pages would be lost).
        func release(_ span: Span) {
            let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
            for segment in readOnlySegments {
                let lower = max(span.start, segment.start)
                let upper = min(span.start + span.length, segment.start + segment.length)
                // Only whole pages: the ones at the ends also hold the sections around it.
                let first = (lower + page - 1) & ~(page - 1), end = upper & ~(page - 1)
                guard end > first, let start = UnsafeMutableRawPointer(bitPattern: first) else { continue }
                _ = CPosix_madvise_dontneed(start, Int(end - first))
            }
        }

        /// `PT_GNU_EH_FRAME`: the segment of `.eh_frame_hdr`.
        private static let ehFrameIndexType: UInt32 = 0x6474_E550
    }
}
