import CPosix

/// The running program's own image, as the dynamic linker mapped it.
public enum LoadedImage {
    /// Gives back the pages only start-up reads, which otherwise stay mapped and counted in the
    /// process's resident set for as long as it runs:
    /// - the relocation table (`.rela.dyn`, 2.6 MiB), which the dynamic linker applied before `main`;
    /// - the unwind tables (`.eh_frame_hdr` and `.eh_frame`): an `async` main ends the main thread
    ///   with libdispatch's `dispatch_main`, whose `pthread_exit` unwinds its stack through them.
    ///   Where those lookups land depends on the layout; they left 0.7–1.9 MiB mapped.
    ///
    /// Only pages of segments mapped without write permission are given back: they are the
    /// file's own, so should anything touch them again (another thread exiting) they are read
    /// back in. Best effort: what is not found stays.
    public static func releaseStartupPages() {
        guard let image = Image.current else { return }
        for span in [image.relocationTable, image.unwindTables].compactMap({ $0 }) {
            image.release(span)
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

        var relocationTable: Span? {
            guard let dynamic = headers.first(where: { $0.p_type == PT_DYNAMIC }),
                  var entry = UnsafePointer<Elf64_Dyn>(bitPattern: base + UInt(dynamic.p_vaddr))
            else { return nil }
            var start: UInt?, length: UInt?
            while entry.pointee.d_tag != Int64(DT_NULL) {
                switch entry.pointee.d_tag {
                case Int64(DT_RELA): start = UInt(entry.pointee.d_un.d_ptr)
                case Int64(DT_RELASZ): length = UInt(entry.pointee.d_un.d_val)
                default: break
                }
                entry += 1
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

        /// Drops this process's mappings of the whole pages of `span` that lie in a read-only
        /// segment (never a writable one: its changed pages would be lost).
        func release(_ span: Span) {
            let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
            for segment in headers where segment.p_type == PT_LOAD && segment.p_flags & UInt32(PF_W) == 0 {
                let lower = max(span.start, base + UInt(segment.p_vaddr))
                let upper = min(span.start + span.length, base + UInt(segment.p_vaddr) + UInt(segment.p_memsz))
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
