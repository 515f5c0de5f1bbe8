import UnixSignals

extension UnixSignal {
    /// The signals on which every command that holds state stops gracefully (deregisters,
    /// leaves the queue): SIGHUP too, since an ended terminal must not leave records behind.
    static let gracefulStop: [UnixSignal] = [.sigterm, .sigint, .sighup]
}
