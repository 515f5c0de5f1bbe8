#!/usr/bin/env python3
"""Prints the libraries an ELF binary requires through dlopen(), one "SONAME PATH" line each.

They are listed in the binary's `.note.dlopen` notes (systemd's "dlopen() Metadata for ELF
Files": owner "FDO", type 0x407c0c0a, a JSON array of objects with "soname" and "priority"); the
dynamic loader does not see them, so neither does ldd. Only "required" entries are printed: what a package must
depend on and an image must carry. PATH is where dlopen finds the soname, the first entry of the
loader's cache (`ldconfig -p`) built for the binary's machine; the script fails when there is none.

Used by build-deb.sh (Depends) and build-image.sh (the image's libraries).
"""
import json
import mmap
import struct
import subprocess
import sys

NOTE_OWNER = b"FDO\0"
NOTE_TYPE = 0x407C0C0A


def fail(message):
    sys.exit(f"dlopen-libraries.py: {message}")


def elf_header(data, path):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail(f"{path} is not a 64-bit little-endian ELF file")
    return struct.unpack_from("<16sHHIQQQIHHHHHH", data, 0)


def machine(path):
    with open(path, "rb") as file:
        return elf_header(file.read(64), path)[2]


def notes(path):
    """The descriptors of every FDO dlopen note in the sections named .note.dlopen."""
    # Mapped, not read: only the headers and the note are touched of a 140 MiB binary.
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield from notes_in(data, path)


def notes_in(data, path):
    header = elf_header(data, path)
    section_offset, entry_size, count, names_index = header[6], header[11], header[12], header[13]
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size) for i in range(count)]
    names_offset = sections[names_index][4]
    for name, _, _, _, offset, size, *_ in sections:
        end = data.find(b"\0", names_offset + name)
        if data[names_offset + name:end] != b".note.dlopen":
            continue
        position = offset
        while position + 12 <= offset + size:
            name_size, description_size, note_type = struct.unpack_from("<III", data, position)
            owner_start = position + 12
            description_start = owner_start + (name_size + 3) // 4 * 4
            if data[owner_start:owner_start + name_size] == NOTE_OWNER and note_type == NOTE_TYPE:
                yield data[description_start:description_start + description_size].rstrip(b"\0")
            position = description_start + (description_size + 3) // 4 * 4


def cache_paths(soname):
    listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        words = line.split()
        if words and words[0] == soname and "=>" in words:
            yield words[-1]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dlopen-libraries.py BINARY")
    binary = sys.argv[1]
    wanted = machine(binary)
    printed = set()
    for description in notes(binary):
        for entry in json.loads(description):
            if entry.get("priority", "recommended") != "required":
                continue
            for soname in entry["soname"]:
                if soname in printed:
                    continue
                path = next((p for p in cache_paths(soname) if machine(p) == wanted), None)
                if path is None:
                    fail(f"{binary} requires {soname} (dlopen), which the loader's cache does not list")
                print(soname, path)
                printed.add(soname)


if __name__ == "__main__":
    main()
