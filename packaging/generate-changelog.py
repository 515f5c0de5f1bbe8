#!/usr/bin/env python3
"""Writes the Debian changelog of the native package from CHANGELOG.md (Keep a Changelog).

usage: generate-changelog.py CHANGELOG.md VERSION MAINTAINER EPOCH > changelog

One entry per release section, newest first. The top entry is always the package's VERSION: the
release section of that version when CHANGELOG.md has one (newer sections are left out), else the
[Unreleased] section, dated EPOCH (the build's SOURCE_DATE_EPOCH). Release entries are dated by
their heading's YYYY-MM-DD. Each "### Kind" group becomes a "Kind:" line over its items.
"""

import datetime
import email.utils
import re
import sys
import textwrap

WIDTH = 78  # lintian's debian-changelog-line-too-long starts at 80
HEADING = re.compile(r"^##\s+\[?(?P<name>[^\]\s]+)\]?(?:\s+-\s+(?P<date>\d{4}-\d{2}-\d{2}))?")
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s")
INLINE_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
ITEM = re.compile(r"^(?P<indent>\s*)[-*+]\s+(?P<text>.*)$")


class Section:
    def __init__(self, name, date):
        self.name = name
        self.date = date
        self.groups = []  # [(kind, [(depth, text)])]


def parse(markdown):
    sections = []
    for line in markdown.splitlines():
        heading = HEADING.match(line)
        if heading:
            sections.append(Section(heading["name"], heading["date"]))
            continue
        if not sections or LINK_DEFINITION.match(line) or not line.strip():
            continue
        section = sections[-1]
        if line.startswith("### "):
            section.groups.append((line[4:].strip(), []))
            continue
        if not section.groups:
            section.groups.append(("", []))
        items = section.groups[-1][1]
        text = INLINE_LINK.sub(r"\1", line)
        item = ITEM.match(text)
        if item:
            items.append([min(len(item["indent"]) // 2, 1), item["text"].strip()])
        elif items:  # a wrapped line continues the item above
            items[-1][1] += " " + text.strip()
        else:  # prose under a heading: an item of its own
            items.append([0, text.strip()])
    return sections


def entry_lines(section):
    lines = []
    for kind, items in section.groups:
        if not items:
            continue
        if lines:
            lines.append("")
        if kind:
            lines.append(f"  {kind}:")
        for depth, text in items:
            bullet = "  * " if depth == 0 else "    - "
            lines += textwrap.wrap(text, WIDTH, initial_indent=bullet,
                                   subsequent_indent=" " * len(bullet),
                                   break_long_words=False, break_on_hyphens=False)
    return lines or ["  * No changes recorded in CHANGELOG.md for this version."]


def rfc2822(date):
    return email.utils.format_datetime(date).replace("-0000", "+0000")


def main(changelog, version, maintainer, epoch):
    with open(changelog, encoding="utf-8") as file:
        sections = parse(file.read())
    releases = [s for s in sections if s.name.lower() != "unreleased"]
    names = [s.name for s in releases]
    if version in names:
        entries = releases[names.index(version):]
    else:
        unreleased = next((s for s in sections if s.name.lower() == "unreleased"), Section("", None))
        unreleased.name = version
        unreleased.date = None
        entries = [unreleased] + releases
    build_date = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    out = []
    for section in entries:
        if section.date:
            date = datetime.datetime.strptime(section.date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
        else:
            date = build_date
        out.append(f"service-monitor ({section.name}) unstable; urgency=medium")
        out.append("")
        out += entry_lines(section)
        out.append("")
        out.append(f" -- {maintainer}  {rfc2822(date)}")
        out.append("")
    sys.stdout.write("\n".join(out[:-1]) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    main(*sys.argv[1:])
