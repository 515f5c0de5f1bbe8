/// An error that knows the exit status it ends the process with, as grpc-swift's
/// `RPCErrorConvertible` knows its status code. The command line reports every error through
/// this one protocol; an error that does not conform is an internal error (exit 70).
public protocol ExitStatusConvertible: Error {
    /// The status the process exits with when this error ends it.
    var exitStatus: ExitStatus { get }
    /// The one line reported on standard error; the error's description unless it says better.
    var exitMessage: String { get }
}

extension ExitStatusConvertible {
    public var exitMessage: String { "\(self)" }
}
