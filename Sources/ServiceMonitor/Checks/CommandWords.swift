/// Splits a `--monitor-command` value into words by the shell's quoting rules, without a shell:
/// blanks (space, tab, newline) separate words; `'…'` keeps everything literally; `"…"` keeps
/// everything but a backslash before `"`, `\`, `$` or `` ` `` (which is dropped); a backslash
/// outside quotes keeps the next character literally. No expansion of any kind (`$VAR`, `*`, `~`):
/// use `sh -c '…'` for that.
public enum CommandWords {
    static let option = "--monitor-command"

    /// - Throws: ``BadInput`` (exit 64) for unterminated quoting, a trailing backslash, or no word.
    public static func split(_ value: String) throws(BadInput) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var iterator = value.makeIterator()
        func bad(_ reason: String) -> BadInput {
            .badValue(.invalidValue, option: option, value: value, reason)
        }
        while let character = iterator.next() {
            switch character {
            case " ", "\t", "\n", "\r\n":
                if inWord {
                    words.append(word)
                    word = ""
                    inWord = false
                }
            case "'":
                inWord = true
                var closed = false
                while let inner = iterator.next() {
                    if inner == "'" { closed = true; break }
                    word.append(inner)
                }
                guard closed else { throw bad("unterminated single quote") }
            case "\"":
                inWord = true
                var closed = false
                while let inner = iterator.next() {
                    if inner == "\"" { closed = true; break }
                    if inner == "\\" {
                        guard let escaped = iterator.next() else { break }
                        if !["\"", "\\", "$", "`"].contains(escaped) { word.append("\\") }
                        word.append(escaped)
                    } else {
                        word.append(inner)
                    }
                }
                guard closed else { throw bad("unterminated double quote") }
            case "\\":
                guard let escaped = iterator.next() else { throw bad("trailing backslash") }
                inWord = true
                word.append(escaped)
            default:
                inWord = true
                word.append(character)
            }
        }
        if inWord { words.append(word) }
        guard !words.isEmpty else { throw bad("empty command") }
        return words
    }
}
