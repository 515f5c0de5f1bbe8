import CPosix

/// The running program's own image, as the dynamic linker mapped it.
public enum LoadedImage {
    /// Gives back the pages of the relocation table (`.rela.dyn`): the dynamic linker read all of
    /// it before `main` and nothing reads it again, yet its 2.6 MiB stayed mapped — an eighth of a
    /// long-running `watch`'s resident set. The pages are the file's own, so should anything touch
    /// them they are read back in. Best effort: where the table is not found they just stay.
    public static func releaseRelocationTable() {
        guard let table = relocationTable() else { return }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        // Only whole pages of the table: the ones it shares hold the sections around it.
        let first = (table.start + page - 1) & ~(page - 1)
        let end = (table.start + table.length) & ~(page - 1)
        guard end > first, let start = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = CPosix_madvise_dontneed(start, Int(end - first))
    }

    /// Where `.rela.dyn` is mapped, from the program's own headers and dynamic section.
    static func relocationTable() -> (start: UInt, length: UInt)? {
        let headersAddress = UInt(CPosix_getauxval(UInt(AT_PHDR)))
        let count = Int(CPosix_getauxval(UInt(AT_PHNUM)))
        guard count > 0, let first = UnsafePointer<Elf64_Phdr>(bitPattern: headersAddress) else { return nil }
        let headers = UnsafeBufferPointer(start: first, count: count)
        guard let own = headers.first(where: { $0.p_type == PT_PHDR }),
              let dynamic = headers.first(where: { $0.p_type == PT_DYNAMIC })
        else { return nil }
        // Where the program was loaded: its headers' address less where they say they are.
        let base = headersAddress - UInt(own.p_vaddr)
        guard var entry = UnsafePointer<Elf64_Dyn>(bitPattern: base + UInt(dynamic.p_vaddr)) else { return nil }
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
        return (start, length)
    }
}
