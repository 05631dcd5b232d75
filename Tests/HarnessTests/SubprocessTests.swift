import Foundation
import Testing

/// The hang guard every CLI test runs under: a child that does not end is killed and reported.
@Suite struct SubprocessTests {
    @Test func aChildPastItsDeadlineIsKilledAndReported() throws {
        let r = try Subprocess.run(["30"], timeout: 1, executable: "/bin/sleep")
        #expect(r.timedOut)
        #expect(r.signaled && r.status == SIGKILL)
    }

    @Test func aChildThatEndsInTimeIsNotTimedOut() throws {
        let r = try Subprocess.run(["0"], timeout: 60, executable: "/bin/sleep")
        #expect(!r.timedOut && !r.signaled && r.status == 0)
    }
}
