/// How late things run in a full `./dev test`: four tests at once on two cores, beside etcd
/// clusters, systemd managers and MariaDB. A step that takes milliseconds on an idle machine
/// has been seen to take five seconds there. So a bound on how long something may take adds
/// ``lateness``, and a test that shows something does not wait for a timeout makes that
/// timeout ``unreachedTimeout``: the wrong behaviour still fails the bound, by far.
public enum LoadedRun {
    /// Added to a bound that holds on an idle machine.
    public static let lateness: Duration = .seconds(8)
    /// A timeout a test means never to reach: well beyond any bound with ``lateness`` in it.
    public static let unreachedTimeout: Duration = .seconds(30)
}
