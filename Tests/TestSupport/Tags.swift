public import Testing

extension Tag {
    /// Suites that need nothing of the host beyond the build and journald: no etcd cluster, no
    /// systemd manager, no apt. `./dev test --fast` runs only these, for the edit-test loop.
    @Tag public static var fast: Self
}
