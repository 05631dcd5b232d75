import Glibc
import Machine
import Testing

/// `ChildProcess.run` with /bin/sh as the child: the exit status, a signal's 128 + n, the
/// captured output (more than a pipe holds, so a reader that waited first would hang), and the
/// errno of a program that does not exist.
struct ChildProcessTests {
    @Test func exitStatusAndOutput() throws {
        let o = try ChildProcess.run("/bin/sh", ["-c", "printf 'one\\ntwo'; exit 3"])
        #expect(o.status == 3)
        #expect(String(decoding: o.output, as: UTF8.self) == "one\ntwo")
    }

    @Test func killedBySignalIs128PlusItsNumber() throws {
        let o = try ChildProcess.run("/bin/sh", ["-c", "kill -TERM $$"])
        #expect(o.status == 128 + SIGTERM)
        #expect(o.output.isEmpty)
    }

    @Test func outputLargerThanAPipeIsReadWhole() throws {
        let o = try ChildProcess.run("/bin/sh", ["-c", "head -c 300000 /dev/zero"])
        #expect(o.status == 0 && o.output.count == 300_000)
    }

    @Test func aMissingProgramIsAnErrorNamingIt() {
        #expect(throws: ChildProcess.Failure.self) { try ChildProcess.run("/nonexistent/harness-child", []) }
        do {
            _ = try ChildProcess.run("/nonexistent/harness-child", [])
        } catch {
            #expect(error.errno == ENOENT && error.description.contains("/nonexistent/harness-child"))
        }
    }
}
