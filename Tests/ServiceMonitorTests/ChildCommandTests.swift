import ServiceMonitor
import Testing
import TestSupport

/// `run`'s command after `--`: refused before any store call, and `{hosts}` filled in.
@Suite("Child command", .tags(.fast))
struct ChildCommandTests {
    let path = ["PATH": "/usr/bin:/bin"]

    @Test func everyLiteralHostsInTheArgumentsIsReplacedButNotTheProgram() throws {
        let command = try ChildCommand(["/bin/echo", "--peers={hosts}", "{hosts}{hosts}", "{host}"], environment: path)
        #expect(command.takesHosts)
        #expect(command.arguments(hosts: "a:1,b:1") == ["/bin/echo", "--peers=a:1,b:1", "a:1,b:1a:1,b:1", "{host}"])
        #expect(command.arguments(hosts: "") == ["/bin/echo", "--peers=", "", "{host}"])
        #expect(try !ChildCommand(["/bin/echo", "hosts"], environment: path).takesHosts)
    }

    @Test func aProgramIsFoundAsExecvpWouldFindIt() throws {
        #expect(try ChildCommand(["sh", "-c", "true"], environment: path).words[0] == "sh")
        #expect(throws: BadInput.self) { try ChildCommand(["sh"], environment: ["PATH": "/nonexistent"]) }
        #expect(throws: BadInput.self) { try ChildCommand(["/etc/passwd"], environment: path) }
        #expect(throws: BadInput.self) { try ChildCommand(["/bin"], environment: path) }
    }

    @Test func anEmptyCommandIsRefused() {
        for words in [[], [""]] as [[String]] {
            #expect {
                try ChildCommand(words, environment: path)
            } throws: { error in
                (error as? BadInput)?.description == "COMMAND missing: give the command to run after --"
            }
        }
    }
}
