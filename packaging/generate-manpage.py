#!/usr/bin/env python3
"""Write a man(7) page for service-monitor from what the binary says about itself.

Usage: service-monitor --experimental-dump-help | generate-manpage.py VERSION DATE > service-monitor.1

The input is swift-argument-parser's machine-readable description of the command tree
(ToolInfo JSON), so the page always matches the binary: every command, option, default and
help text comes from the CLI's own definitions. (The generate-manual plugin would do the same,
but it rebuilds the whole package in release mode first; this works on any built binary.)
"""

import json
import sys

# Flags every command has; the page explains them once, under the root command.
HOUSEKEEPING = {"help", "version"}


def roff(text):
    """Escapes text for roff: backslashes, dashes (so --options copy as typed), and a leading
    dot or quote that would start a request."""
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def long_name(argument):
    names = argument.get("names") or []
    return next((n["name"] for n in names if n["kind"] == "long"), names[0]["name"] if names else "")


def spelled(name):
    """How an option name is typed: -h, --help, or -long for single-dash long names."""
    prefix = "-" if name["kind"] in ("short", "longWithSingleDash") else "--"
    return prefix + name["name"]


def label(argument):
    """The .TP tag of an argument: its names and value, in roff fonts."""
    if argument["kind"] == "positional":
        return "\\fI<{}>\\fR".format(roff(argument.get("valueName", "value")))
    names = ", ".join("\\fB{}\\fR".format(roff(spelled(n))) for n in argument.get("names", []))
    if argument["kind"] == "option":
        names += " \\fI<{}>\\fR".format(roff(argument.get("valueName", "value")))
    return names


def describe(argument):
    text = argument.get("abstract", "")
    if argument.get("discussion"):
        text += "\n" + argument["discussion"]
    if argument.get("defaultValue") is not None:
        text += " (default: {})".format(argument["defaultValue"])
    if argument.get("isRepeating"):
        text += " May be repeated."
    return roff(text.strip())


def visible(arguments):
    return [a for a in arguments or [] if a.get("shouldDisplay", True)]


def synopsis(path, arguments):
    parts = ["\\fB{}\\fR".format(roff(path))]
    for argument in arguments:
        word = label(argument).split(", ")[-1]
        parts.append(word if not argument.get("isOptional") else "[{}]".format(word))
    return " ".join(parts)


def options_list(arguments):
    out = []
    for argument in arguments:
        out += [".TP", label(argument), describe(argument)]
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: generate-manpage.py VERSION DATE < dump-help.json")
    version, date = sys.argv[1], sys.argv[2]
    root = json.load(sys.stdin)["command"]
    name = root["commandName"]
    commands = [c for c in root.get("subcommands", []) if c.get("shouldDisplay", True) and c["commandName"] != "help"]

    def own(command):
        return [a for a in visible(command.get("arguments")) if long_name(a) not in HOUSEKEEPING]

    # An option every subcommand declares identically (same help, same default, same
    # optionality) is a global option: the page lists it once.
    def key(argument):
        return json.dumps(argument, sort_keys=True)

    common = set.intersection(*(set(key(a) for a in own(c)) for c in commands)) if commands else set()
    globals_ = [a for a in own(commands[0]) if key(a) in common] if commands else []

    out = [
        '.TH "{}" "1" "{}" "{} {}" "User Commands"'.format(name.upper(), date, name, roff(version)),
        # No hyphenation, ragged right: option names must not be split across lines.
        ".nh",
        ".ad l",
        ".SH NAME",
        "{} \\- {}".format(name, roff(root.get("abstract", ""))),
        ".SH SYNOPSIS",
    ]
    for command in commands:
        out += [synopsis(name + " " + command["commandName"], [a for a in own(command) if key(a) not in common])
                + " [\\fIglobal options\\fR]", ".br"]
    out += ["\\fB{}\\fR \\fB\\-\\-version\\fR | \\fB\\-\\-help\\fR".format(name)]
    out += [".SH DESCRIPTION", roff(root.get("abstract", ""))]
    if root.get("discussion"):
        out += [".PP", roff(root["discussion"])]
    out += [".PP", "Run", "\\fB{} help\\fR \\fIcommand\\fR".format(name), "for the help of one command."]

    out += [".SH COMMANDS"]
    for command in commands:
        out += [".SS {} {}".format(name, command["commandName"]), roff(command.get("abstract", ""))]
        if command.get("discussion"):
            out += [".PP", roff(command["discussion"])]
        specific = [a for a in own(command) if key(a) not in common]
        if specific:
            out += [".PP", "Options:", ".RS"] + options_list(specific) + [".RE"]

    if globals_:
        out += [".SH GLOBAL OPTIONS", "Every command takes these; a flag wins over the environment."]
        out += options_list(globals_)
    out += [".SH OPTIONS"] + options_list([a for a in visible(root.get("arguments")) if long_name(a) in HOUSEKEEPING])

    out += [
        ".SH FILES",
        ".TP", "\\fI/etc/service-monitor/\\fR<instance>\\fI.env\\fR",
        "Settings of the units \\fBservice-monitor-watch@.service\\fR and \\fBservice-monitor-lease@.service\\fR;",
        "see \\fI/usr/share/doc/service-monitor/example.env\\fR.",
        ".SH SEE ALSO",
        "\\fBjournalctl\\fR(1), \\fBsystemd.service\\fR(5), \\fBetcdctl\\fR(1)",
    ]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
