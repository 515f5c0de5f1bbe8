#!/usr/bin/env python3
"""Writes packaging/function-order.txt: the functions of the release binary that its commands run,
one section name (`.text.<symbol>`) per line, for gold's --section-ordering-file.

The linker places those sections together, so the code a `watch` or a `hosts` runs sits
on a few hundred contiguous pages instead of being spread over the binary's 27 MiB of text (where
the kernel's fault-around mapped most of it in). Functions are found by running each command once
under `valgrind --tool=callgrind` against a throwaway etcd (steady-state `watch` and `run` first, what
stays resident; then what the one-shot commands add), and the instructions it counted are placed in
their input sections by the link map. Code in an archive's or C object's whole `.text` section (the
Swift runtime, BoringSSL's FIPS module) cannot be moved and is left where it is.

Run by scripts/generate-function-order.sh (which builds the binary); CI never runs this. A list
that is out of date only costs memory: names no longer in the binary are ignored, and new
functions land after the listed ones.
"""
import argparse
import bisect
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import bench  # noqa: E402  (the throwaway etcd, records and stand-in helpers the benchmarks use)


def callgrind(binary, args, out, workdir, seconds=None, env=None):
    """Runs `binary args` under callgrind; a long-running command gets SIGTERM after `seconds`."""
    argv = ["valgrind", "--tool=callgrind", "--dump-instr=yes", "--demangle=no", "-q",
            f"--callgrind-out-file={out}", binary, *args]
    log = open(os.path.join(workdir, os.path.basename(out) + ".log"), "w")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    if seconds is None:
        if process.wait(timeout=300) not in (0, 1):
            raise RuntimeError(f"{' '.join(args)} failed under callgrind; see {log.name}")
        return
    time.sleep(seconds)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def executed_addresses(profile, binary):
    """The instruction addresses in `binary` a callgrind profile (--dump-instr=yes) counted, and
    the first address it lists for each function it names (its entry, for the load offset).
    Positions are absolute (`0x…`), relative to the previous one (`+n`, `-n`) or the same (`*`);
    `ob=` says whose they are."""
    addresses, entries = [], []
    names, objects = {}, {}
    current, in_binary, function, expect_entry = 0, False, None, False
    for line in open(profile, errors="replace"):
        match = re.match(r"(c?)(ob|fn|fl|fi|fe)=\((\d+)\)(?: (.*))?", line)
        if match:
            call, kind, number, name = match.groups()
            table = objects if kind == "ob" else names
            if name:
                table[number] = name.strip()
            if kind == "ob" and not call:
                in_binary = objects.get(number) == binary
            elif kind == "fn" and not call:
                function, expect_entry = names.get(number), True
            continue
        if line.startswith("calls="):
            continue  # the target's positions appear in its own fn= block
        token = line.split()[0] if line.strip() else ""
        if not token or token[0] not in "0123456789+-*":
            continue
        if token.startswith("0x"):
            current = int(token, 16)
        elif token[0] in "+-":
            current += int(token)
        elif token != "*":
            continue
        if in_binary:
            addresses.append(current)
            if expect_entry and function:
                entries.append((current, re.sub(r"'\d+$", "", function)))
        expect_entry = False
    return addresses, entries


class Functions:
    """The binary's functions by address, from its symbol table: where the profile's named
    functions start, for the offset it was loaded at."""

    def __init__(self, binary):
        out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
        self.starts = {fields[2]: int(fields[0], 16) for fields in (line.split() for line in out.splitlines())
                       if len(fields) == 3 and fields[1] in "tTwW"}

    def load_bias(self, entries):
        """The commonest difference between where a profile saw a function start and where the
        symbol table has it."""
        biases = collections.Counter(seen - self.starts[name] for seen, name in entries if name in self.starts)
        if not biases:
            raise RuntimeError("the profile names none of the binary's functions")
        return biases.most_common(1)[0][0]


class TextSections:
    """The input sections gold laid out in .text, from its link map (-Map): each function that
    -function-sections gave its own `.text.<symbol>` section, and the archives' and C objects'
    whole `.text` sections, which cannot be moved one function at a time."""

    UNNAMED = {".text", ".text.unlikely.", ".text.startup", ".text.hot.", ".text.exit"}

    def __init__(self, map_file):
        sections, in_text, pending = [], False, None
        for line in open(map_file, errors="replace"):
            if not line.startswith(" "):
                in_text = line.startswith(".text ") or (in_text and not line.strip())
                continue
            if not in_text:
                continue
            alone = re.match(r"^ (\.text\S*)\s*$", line)  # a long name, its address on the next line
            if alone:
                pending = alone.group(1)
                continue
            placed = re.match(r"^ (\.text\S*)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+\S", line)
            if placed and (placed.group(1) or pending):
                sections.append((int(placed.group(2), 16), int(placed.group(3), 16), placed.group(1) or pending))
            pending = None
        sections.sort()
        self.sections = sections
        self.starts = [start for start, _, _ in sections]

    def name_at(self, address):
        """The name of the movable section holding `address`, if it is in one."""
        index = bisect.bisect_right(self.starts, address) - 1
        if index < 0:
            return None
        start, size, name = self.sections[index]
        return name if address < start + size and name not in self.UNNAMED else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service-monitor", required=True, help="the release binary")
    parser.add_argument("--map", required=True, help="gold's link map of that binary (-Xlinker -Map=FILE)")
    parser.add_argument("--stand-in", required=True, help="the stand-in service (an HTTP check target)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--seconds", type=float, default=20, help="how long watch and run run (under valgrind)")
    options = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="function-order-")
    # valgrind 3.19 cannot read the DWARF 5 of the debug build info; the symbols are all it needs.
    sm = os.path.join(workdir, "service-monitor")
    subprocess.run(["objcopy", "--strip-debug", options.service_monitor, sm], check=True)
    etcd = bench.Etcd(workdir)
    try:
        lease = etcd.grant(3600)
        bench.register(etcd, "listed", 50, lease)
        status_file = os.path.join(workdir, "stand-in.status")
        with open(status_file, "w") as f:
            f.write("200\n")
        service = bench.Background([options.stand_in, "--listen", "127.0.0.1:0", "--status-file", status_file],
                                   "stand-in", None)
        _, index = service.wait_line(r"^listening on \d+", 30, stream="out")
        port = int(service.lines[index][2].split()[-1])
        store = ["--endpoints", etcd.endpoint]
        check = ["--monitor-url", f"http://127.0.0.1:{port}/", "--host-ip", "127.0.0.1", "--interval", "1s", "--timeout", "500ms",
                 "--log-target", "console"]
        runs = [
            ("watch", ["watch", "--label", "ordered", "--service-id", "w", *check, *store], options.seconds),
            ("run", ["run", "--label", "ordered-run", "--service-id", "r", *check, *store, "--", "sleep", "600"],
             options.seconds),
            ("version", ["--version"], None),
            ("hosts", ["hosts", "--label", "listed", *store], None),
            ("hosts-json", ["hosts", "--label", "listed", "--format", "json", *store], None),
            ("hosts-template", ["hosts", "--label", "listed", "--template", "{host}:{name}", *store], None),
            ("status", ["status", "--label", "listed", *store], None),
            ("acquire", ["acquire-lease", "--label", "ordered-lease", "--service-id", "a", "--host-ip", "127.0.0.1",
                         "--log-target", "console", *store], None),
            ("release", ["release-lease", "--label", "ordered-lease", "--service-id", "a", *store], None),
        ]
        functions, sections = Functions(sm), TextSections(options.map)
        ordered, seen = [], set()
        for name, args, seconds in runs:
            profile = os.path.join(workdir, f"callgrind.{name}")
            bench.log(f"profiling {name}")
            callgrind(sm, args, profile, workdir, seconds)
            # callgrind counts run-time addresses; the binary, a PIE, was loaded at an offset,
            # which the functions it names give away.
            addresses, entries = executed_addresses(profile, sm)
            bias = functions.load_bias(entries)
            for address in addresses:
                section = sections.name_at(address - bias)
                if section and section not in seen:
                    seen.add(section)
                    ordered.append(section)
    finally:
        for process in bench.Background.started:
            process.stop()
        etcd.stop()
    with open(options.output, "w") as out:
        out.writelines(f"{name}\n" for name in ordered)
    bench.log(f"{len(ordered)} functions written to {options.output}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
