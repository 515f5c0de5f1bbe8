/// The `watch` options that only some kinds of check use. Given when none of the instance's checks
/// uses it, an option would be silently ignored — a mistake in the unit file, refused as bad input.
public enum CheckOption: String, Sendable, Hashable, CaseIterable {
    case httpHeader = "--http-header"
    case httpMethod = "--http-method"
    case expectBody = "--expect-body"
    case checkCacert = "--check-cacert"

    /// The option as typed, e.g. `--http-header`.
    public var flag: String { self.rawValue }

    /// Refuses this option when no check in `targets` uses it; with several checks it applies to
    /// those that do and the others ignore it.
    public func requireUsed(by targets: [CheckTarget]) throws(BadInput) {
        guard !targets.contains(where: { $0.kind.uses(self) }) else { return }
        let kinds = CheckTarget.Kind.allCases.filter { $0.uses(self) }.map(\.displayName)
        let listed = kinds.count > 1 ? kinds.dropLast().joined(separator: ", ") + " and " + kinds[kinds.count - 1] : kinds.joined()
        throw BadInput(option: self.flag, message: "applies to \(listed) checks only")
    }
}

extension CheckTarget.Kind {
    /// Which of the kind-specific options checks of this kind take. A new kind states its own.
    public var options: Set<CheckOption> {
        switch self {
        case .http: [.httpHeader, .httpMethod, .expectBody]
        case .https: [.httpHeader, .httpMethod, .expectBody, .checkCacert]
        case .tcp, .grpc: []
        case .grpcs: [.checkCacert]
        case .command: [.expectBody]  // judged against the command's output
        }
    }

    /// True when checks of this kind take `option`.
    public func uses(_ option: CheckOption) -> Bool {
        self.options.contains(option)
    }

    /// How the kind reads in messages: `http://`, `tcp://`, `command`.
    public var displayName: String {
        self == .command ? "command" : "\(self.rawValue)://"
    }
}
