import ArgumentParser

/// A command whose plain command lines (``PlainCommandLine``) it can be built from directly.
///
/// ArgumentParser learns a command's options by reflection over a default instance: each first
/// use of a generic option type checks conformances, and each first check scans the binary's
/// ~10 400 conformance records. That is ~18 % of a `hosts`, run inside `ExecStart=` lines. A
/// plain command line has one reading only, so the one-shot commands build themselves from it,
/// every property set as ArgumentParser would set it; any other line is ArgumentParser's.
/// `PlainCommandLineTests` holds both ways to the same result for every line taken this way.
protocol PlainlyParsable: ParsableArguments {
    /// Every option and flag the type defines (its option groups' included), by long name.
    static var plainOptions: PlainOptions { get }

    /// The value `line` gives, every property set; throws when ArgumentParser must judge the
    /// line (a required option missing, a number that is not one). Not an initializer: there,
    /// assigning an option that has a default makes its wrapper anew, unparsed.
    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self
}

/// A one-shot command that a plain command line can name.
protocol PlainlyParsableCommand: PlainlyParsable, AsyncParsableCommand {}

/// The long names of a command's options (each takes one value) and flags. Arrays, not sets:
/// a command has two dozen, and the first `Set<String>` would cost a conformance scan.
struct PlainOptions: Sendable {
    var values: [String]
    var flags: [String] = []

    static func + (lhs: Self, rhs: Self) -> Self {
        Self(values: lhs.values + rhs.values, flags: lhs.flags + rhs.flags)
    }
}

/// A command line made only of a command's long options, each given once: `--name value`,
/// `--name=value`, or `--flag`, where no value is empty or starts with `-`. ArgumentParser reads
/// such a line one way only; whatever else a line holds (help, a short or unknown option, a
/// repeated one, a value that looks like an option, an argument) is left to it.
struct PlainCommandLine {
    /// Why a line is not built directly; ArgumentParser parses it instead.
    struct NotPlain: Error {}

    private let options: PlainOptions
    /// Values by option name, "" for a flag; of the same type as the environment, whose
    /// metadata and conformances a command looks up anyway.
    private var given: [String: String] = [:]

    /// `nil` unless every argument fits `options` as above.
    init?(_ arguments: ArraySlice<String>, options: PlainOptions) {
        self.options = options
        var rest = arguments
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else { return nil }
            let option = argument.dropFirst(2)
            let name: String
            let value: String?
            if let equals = option.firstIndex(of: "=") {
                name = String(option[..<equals])
                value = String(option[option.index(after: equals)...])
            } else {
                name = String(option)
                value = nil
            }
            guard given[name] == nil else { return nil }
            if options.flags.contains(name) {
                guard value == nil else { return nil }
                given[name] = ""
            } else if options.values.contains(name) {
                guard let value = value ?? rest.popFirst(), !value.isEmpty, !value.hasPrefix("-") else { return nil }
                given[name] = value
            } else {
                return nil
            }
        }
    }

    /// The value of option `name`, if given.
    func value(_ name: String) -> String? {
        assert(options.values.contains(name), "--\(name) is not among the plain options")
        return given[name]
    }

    /// The value of option `name`, which a command needs.
    func required(_ name: String) throws(NotPlain) -> String {
        guard let value = value(name) else { throw NotPlain() }
        return value
    }

    /// The value of option `name` as a number, read as ArgumentParser reads an `Int`.
    func integer(_ name: String) throws(NotPlain) -> Int? {
        guard let value = value(name) else { return nil }
        guard let number = Int(argument: value) else { throw NotPlain() }
        return number
    }

    /// Whether flag `name` is given.
    func flag(_ name: String) -> Bool {
        assert(options.flags.contains(name), "--\(name) is not among the plain flags")
        return given[name] != nil
    }
}
