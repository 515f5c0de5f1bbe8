import CPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Replaces this process by a program that must not outlive its parent: the kernel sends it
/// SIGKILL when the parent ends, even by SIGKILL (`PR_SET_PDEATHSIG`, which survives `execve`
/// except into a set-user-ID program). The program starts with every signal at its default
/// action and none blocked.
///
/// Run in a freshly started child, before anything else: the parent spawns its own executable
/// with a marker argument, and this turns that process into the real command.
public enum ParentBoundExec {
    /// Exit statuses as a shell gives them: the command could not be run, or was not found.
    public static let cannotExecute: Int32 = 126
    public static let notFound: Int32 = 127

    /// Binds this process to `parent` and `execvp`s `arguments`; returns only on failure, with
    /// the status to exit with and why.
    public static func exec(_ arguments: [String], parent: Int32) -> (status: Int32, reason: String) {
        let result = CPosix_set_parent_death_signal(SIGKILL)
        if result < 0 { return (cannotExecute, "prctl(PR_SET_PDEATHSIG): " + PosixError.reason(of: -result)) }
        // The parent may have ended before the signal was asked for: then nobody would send it.
        guard getppid() == parent else { return (cannotExecute, "its parent \(parent) has ended") }
        // This runtime blocked signals it handles on other threads; the program must get them.
        let reset = CPosix_reset_signals()
        if reset < 0 { return (cannotExecute, "sigprocmask: " + PosixError.reason(of: -reset)) }
        var pointers = arguments.map { strdup($0) } + [nil]
        execvp(arguments[0], &pointers)
        let error = errno
        return (error == ENOENT ? notFound : cannotExecute, "\(arguments[0]): " + PosixError.reason(of: error))
    }
}
