import Foundation
import Testing
import TestSupport

/// docs/ against the built binary and the package: docs/commands.md documents exactly the
/// commands and options that `service-monitor --experimental-dump-help` lists, docs/journald.md
/// the MESSAGE_IDs of the journal catalog, and no link in the documentation leaves the repository.
@Suite("documentation")
struct DocumentationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// ArgumentParser's own `help` command: its page is the other commands' help.
    static let builtInCommands: Set<String> = ["help"]

    @Test func commandsPageListsExactlyTheOptionsOfEveryCommand() async throws {
        let binary = try await Self.dumpHelp()
        let page = try CommandsPage(markdown: String(contentsOf: Self.repository.appendingPathComponent("docs/commands.md"), encoding: .utf8))

        #expect(!page.global.isEmpty, "docs/commands.md has no option rows under '## Global options'")
        #expect(page.root == binary.root, "the `## service-monitor` table: documented \(page.root.sorted()), the binary has \(binary.root.sorted())")

        let commands = Set(binary.commands.keys).subtracting(Self.builtInCommands)
        #expect(Set(page.commands.keys) == commands, "commands with a `## service-monitor <command>` section, against the binary's")

        for command in commands.sorted() {
            let own = page.commands[command] ?? []
            #expect(own.isDisjoint(with: page.global), "\(command): \(own.intersection(page.global).sorted()) documented both globally and for the command")
            let documented = page.global.union(page.root).union(own)
            let actual = binary.commands[command] ?? []
            let undocumented = actual.subtracting(documented), unknown = documented.subtracting(actual)
            #expect(undocumented.isEmpty, "\(command): options the binary has that docs/commands.md does not document: \(undocumented.sorted())")
            #expect(unknown.isEmpty, "\(command): options docs/commands.md documents that the binary does not have: \(unknown.sorted())")
        }
    }

    @Test func everyLinkStaysInsideTheRepository() throws {
        let documentation = try FileManager.default.contentsOfDirectory(atPath: Self.repository.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        let files = ["README.md", "CHANGELOG.md", "CONTRIBUTING.md", "bench/RESULTS.md"] + documentation.sorted()
        #expect(documentation.count >= 5, "\(documentation)")
        var checked = 0
        for file in files {
            let url = Self.repository.appendingPathComponent(file)
            let text = try String(contentsOf: url, encoding: .utf8)
            for target in MarkdownText.linkTargets(in: text) {
                checked += 1
                let (path, anchor) = MarkdownText.split(target)
                guard !target.contains("://"), !target.hasPrefix("mailto:") else {
                    Issue.record("\(file): \(target) points outside the repository")
                    continue
                }
                let resolved = path.isEmpty ? url : url.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
                guard resolved.path.hasPrefix(Self.repository.standardizedFileURL.path + "/") else {
                    Issue.record("\(file): \(target) points outside the repository")
                    continue
                }
                guard FileManager.default.fileExists(atPath: resolved.path) else {
                    Issue.record("\(file): \(target): no such file in the repository")
                    continue
                }
                if let anchor, resolved.pathExtension == "md" {
                    let headings = MarkdownText.anchors(in: try String(contentsOf: resolved, encoding: .utf8))
                    #expect(headings.contains(anchor), "\(file): \(target): no heading with that anchor (has \(headings.sorted()))")
                }
            }
        }
        #expect(checked > 20, "only \(checked) links found")
    }

    @Test func journaldPageListsTheMessageIDsOfTheCatalog() throws {
        func ids(_ path: String, after lead: String) throws -> Set<String> {
            let text = try String(contentsOf: Self.repository.appendingPathComponent(path), encoding: .utf8)
            return Set(text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix(lead) else { return nil }
                let id = line.dropFirst(lead.count).prefix { $0.isHexDigit }
                return id.count == 32 ? String(id) : nil
            })
        }
        let catalog = try ids("packaging/service-monitor.catalog", after: "-- ")
        // The table rows of docs/journald.md: `| event | priority | `<id>` |`.
        let page = try String(contentsOf: Self.repository.appendingPathComponent("docs/journald.md"), encoding: .utf8)
        let documented = Set(page.split(separator: "\n").filter { $0.hasPrefix("|") }.compactMap { row -> String? in
            guard let id = row.split(separator: "|").last?.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                  id.count == 32, id.allSatisfy(\.isHexDigit) else { return nil }
            return id
        })
        #expect(catalog.count >= 10, "\(catalog)")
        #expect(documented == catalog, "docs/journald.md lists \(documented.subtracting(catalog).sorted()) beyond the catalog and misses \(catalog.subtracting(documented).sorted())")
    }

    /// Long and short option names of the root and of every command, as the binary describes
    /// itself (hidden ones left out, as the help leaves them out).
    static func dumpHelp() async throws -> (root: Set<String>, commands: [String: Set<String>]) {
        let result = try await Command.run(try BuildProducts.executable(named: "service-monitor"), ["--experimental-dump-help"])
        #expect(result.status == 0, "\(result)")
        guard let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
              let root = object["command"] as? [String: Any] else {
            throw CommandError(description: "--experimental-dump-help printed no command: \(result)")
        }
        func names(_ command: [String: Any]) -> Set<String> {
            var names = Set<String>()
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                guard argument["kind"] as? String != "positional", argument["shouldDisplay"] as? Bool != false else { continue }
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let text = name["name"] as? String else { continue }
                    names.insert((name["kind"] as? String == "long" ? "--" : "-") + text)
                }
            }
            return names
        }
        var commands: [String: Set<String>] = [:]
        for command in root["subcommands"] as? [[String: Any]] ?? [] {
            if let name = command["commandName"] as? String { commands[name] = names(command) }
        }
        return (names(root), commands)
    }
}

/// The option tables of docs/commands.md: under `## service-monitor` (taken by every command),
/// `## Global options` and `## service-monitor <command>`, every table whose first header cell is
/// `option`; each row's first cell names its options in backticks (`--cert file`, `--key file`).
struct CommandsPage {
    var root: Set<String> = []
    var global: Set<String> = []
    var commands: [String: Set<String>] = [:]

    init(markdown: String) {
        enum Section { case root, global, command(String), other }
        var section = Section.other
        var inOptionTable = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                let title = line.dropFirst(3).replacingOccurrences(of: "`", with: "").trimmingCharacters(in: .whitespaces)
                if title == "service-monitor" {
                    section = .root
                } else if title == "Global options" {
                    section = .global
                } else if title.hasPrefix("service-monitor ") {
                    let name = String(title.dropFirst("service-monitor ".count))
                    section = .command(name)
                    if commands[name] == nil { commands[name] = [] }
                } else {
                    section = .other
                }
                inOptionTable = false
                continue
            }
            guard line.hasPrefix("|") else {
                inOptionTable = false
                continue
            }
            let firstCell = MarkdownText.firstCell(of: line)
            if firstCell == "option" {
                inOptionTable = true
                continue
            }
            guard inOptionTable, !firstCell.hasPrefix("---") else { continue }
            let names = MarkdownText.optionNames(in: firstCell)
            switch section {
            case .root: root.formUnion(names)
            case .global: global.formUnion(names)
            case .command(let name): commands[name, default: []].formUnion(names)
            case .other: continue
            }
        }
    }
}

enum MarkdownText {
    /// The first cell of a table row, up to the first `|` that is not escaped as `\|`.
    static func firstCell(of row: Substring) -> String {
        var cell = "", escaped = false
        for character in row.dropFirst() {
            if character == "|", !escaped { break }
            escaped = character == "\\"
            cell.append(character)
        }
        return cell.trimmingCharacters(in: .whitespaces)
    }

    /// The option named at the start of each code span: `--cert file` → `--cert`, `-h` → `-h`.
    static func optionNames(in cell: String) -> Set<String> {
        let spans = cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        var names = Set<String>()
        for span in spans {
            let word = span.prefix { $0 != " " && $0 != "=" }
            if word.hasPrefix("-"), word.count > 1 { names.insert(String(word)) }
        }
        return names
    }

    /// Targets of inline links `[text](target)` outside code blocks and code spans.
    static func linkTargets(in markdown: String) -> [String] {
        var targets: [String] = [], inCodeBlock = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCodeBlock.toggle() }
            if inCodeBlock { continue }
            let prose = line.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: " ")
            var rest = Substring(prose)
            while let open = rest.range(of: "](") {
                let after = rest[open.upperBound...]
                guard let close = after.firstIndex(of: ")") else { break }
                targets.append(String(after[..<close]))
                rest = after[after.index(after: close)...]
            }
        }
        return targets
    }

    /// `file.md#anchor` → (`file.md`, `anchor`).
    static func split(_ target: String) -> (path: String, anchor: String?) {
        guard let hash = target.firstIndex(of: "#") else { return (target, nil) }
        return (String(target[..<hash]), String(target[target.index(after: hash)...]))
    }

    /// The anchors of a page's headings, as Markdown renderers derive them: lowercased, spaces to
    /// `-`, punctuation other than `-` and `_` dropped.
    static func anchors(in markdown: String) -> Set<String> {
        var anchors = Set<String>(), inCodeBlock = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCodeBlock.toggle() }
            guard !inCodeBlock, line.hasPrefix("#") else { continue }
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
            let slug = title.lowercased().compactMap { character -> String? in
                if character == " " { return "-" }
                if character.isLetter || character.isNumber || character == "-" || character == "_" { return String(character) }
                return nil
            }.joined()
            anchors.insert(slug)
        }
        return anchors
    }
}
