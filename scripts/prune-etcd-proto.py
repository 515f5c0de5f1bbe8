#!/usr/bin/env python3
"""Prunes etcd's rpc.proto, in place, to the RPCs the client calls and the messages they need.

Usage: prune-etcd-proto.py RPC_PROTO Service.Rpc...

Run by scripts/generate-etcd-protos.sh on the annotation-stripped copy. Every generated message
and service adds protocol conformance records to the binary, and the Swift runtime reads all of
them on each first conformance check of a process (about a hundred per command); etcd's admin
APIs (Cluster, most of Maintenance and Auth) were ~450 of the binary's ~10 800 records and code
the product never runs. A message that is kept keeps all its fields, so the wire format is etcd's.

Top-level blocks are found by their first line (`service X {`, `message X {`, `enum X {` at
column 0) and their closing `}` at column 0, as etcd's file is laid out; the comment lines right
above a block or an rpc go with it. Import lines of files nothing kept refers to are dropped.
"""
import re
import sys


def blocks(lines):
    """Splits lines into ("text", lines) runs and ("block", kind, name, lines) items."""
    items, pending, i = [], [], 0
    while i < len(lines):
        match = re.match(r"(service|message|enum) (\w+) ?\{", lines[i])
        if not match:
            pending.append(lines[i])
            i += 1
            continue
        # The comment lines right above the block belong to it.
        comments = []
        while pending and pending[-1].startswith("//"):
            comments.insert(0, pending.pop())
        items.append(("text", pending))
        pending = []
        end = i
        while lines[end] != "}":
            end += 1
        items.append(("block", match.group(1), match.group(2), comments + lines[i:end + 1]))
        i = end + 1
    items.append(("text", pending))
    return items


def prune_service(block_lines, keep):
    """Keeps the rpcs named in keep (each with its comment lines); returns (lines, kept types)."""
    start = next(i for i, line in enumerate(block_lines) if line.startswith("service "))
    head, body, tail = block_lines[:start + 1], block_lines[start + 1:-1], block_lines[-1:]
    kept, types, comments, i = [], set(), [], 0
    while i < len(body):
        line = body[i]
        match = re.match(r"\s*rpc (\w+)\((?:stream )?([\w.]+)\) returns \((?:stream )?([\w.]+)\)", line)
        if not match:
            if line.strip().startswith("//"):
                comments.append(line)
            elif not line.strip():
                comments = []
            i += 1
            continue
        end = i
        if not line.rstrip().endswith(";"):
            while body[end].strip() != "}":
                end += 1
        if match.group(1) in keep:
            kept.extend(([""] if kept else []) + comments + body[i:end + 1])
            types.update((match.group(2), match.group(3)))
            keep.discard(match.group(1))
        comments = []
        i = end + 1
    if keep:
        sys.exit(f"prune-etcd-proto: no rpc {', '.join(sorted(keep))} in {head[-1].strip()}")
    return head + kept + tail, types


def referenced(block_lines):
    """Type names a block's fields mention (comments left out)."""
    code = " ".join(line.split("//")[0] for line in block_lines)
    return set(re.findall(r"\b[A-Za-z_][\w.]*\b", code))


def main():
    path, wanted = sys.argv[1], sys.argv[2:]
    keep = {}
    for item in wanted:
        service, rpc = item.split(".")
        keep.setdefault(service, set()).add(rpc)
    lines = open(path).read().split("\n")
    items = blocks(lines)
    definitions = {item[2]: item for item in items if item[0] == "block" and item[1] != "service"}

    output, needed = {}, set()
    for item in items:
        if item[0] == "block" and item[1] == "service" and item[2] in keep:
            output[item[2]], types = prune_service(item[3], keep.pop(item[2]))
            needed |= types
    if keep:
        sys.exit(f"prune-etcd-proto: no service {', '.join(sorted(keep))} in {path}")

    # The messages and enums the kept rpcs reach, field by field.
    reached, queue = set(), list(needed)
    while queue:
        name = queue.pop()
        if name in reached:
            continue
        reached.add(name)
        if name in definitions:
            queue.extend(referenced(definitions[name][3]) - reached)

    text = []
    for item in items:
        if item[0] == "text":
            text.extend(item[1])
        elif item[1] == "service":
            if item[2] in output:
                text.extend(output[item[2]])
        elif item[2] in reached:
            text.extend(item[3])
    packages = {name.split(".")[0] for name in reached if "." in name}
    result = []
    for line in text:
        imported = re.match(r'import "[\w/]*/(\w+)/\w+\.proto";', line)
        if imported and imported.group(1) not in packages:
            continue
        result.append(line)
    # Runs of blank lines left where blocks were removed become one.
    squeezed = [line for i, line in enumerate(result) if line.strip() or (i and result[i - 1].strip())]
    open(path, "w").write("\n".join(squeezed))


if __name__ == "__main__":
    main()
