/// Fixed journald `MESSAGE_ID`s, one per kind of event, documented in the journal message
/// catalog so `journalctl -x` explains them and `journalctl MESSAGE_ID=…` finds them.
public enum MessageID {
    public static let instanceUp = "3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b"
    public static let instanceDown = "b1e2d3c4a5f60718293a4b5c6d7e8f90"
    public static let registered = "5d8e1f2a3b4c4d5e9f0a1b2c3d4e5f60"
    public static let deregistered = "6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"
    public static let etcdLost = "7fa01b2c3d4e4f5a9b8c7d6e5f4a3b2c"
    public static let etcdRestored = "80b12c3d4e5f4a6b8c9d0e1f2a3b4c5d"
    /// A service id got one of its label's startup slots (`acquire-lease`).
    public static let startupLeaseAcquired = "1312ce24542f4c499e154aa232fa2363"
    /// A startup slot was given back (`release-lease`, or `watch` at the first up).
    public static let startupLeaseReleased = "101c1c02779f4123b7424083dedfd4d9"
    /// `acquire-lease` gave up after `--acquire-timeout`; its queue entry is removed.
    public static let startupLeaseTimedOut = "358567a7dd0449898bf86b93780301c3"
    /// `acquire-lease` is queued; logged whenever its position or the holders change.
    public static let startupLeaseWaiting = "d3f76e95acc944088ef3704fa2502e08"
}
