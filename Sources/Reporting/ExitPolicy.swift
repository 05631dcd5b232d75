/// The harness's exit status for a run, as a pure function of the counts.
///
/// | status | when |
/// |-------:|------|
/// | 124 | at least one test timed out (whatever else happened) |
/// | 1   | no timeout, at least one test failed |
/// | 77  | nothing failed, nothing passed and nothing failed as known: every test was skipped, or none ran |
/// | 0   | nothing failed or timed out, and at least one test passed or failed as known (skips allowed) |
///
/// A known failure (xfail) ran and ended as its record says: it does not fail the run. An XPASS
/// counts as passed here; `--strict` turns it into a failure before it reaches the report (the
/// runner reports it as `failed`), so the policy needs no flag.
///
/// Precedence 124 over 1: a timeout is the more specific signal (the watchdog had to stop a
/// hung guest — usually the worse bug, and the one a CI job wants to tell apart), and the
/// summary line still counts the other failures. A selection that matches no test at all is a
/// usage error the runner reports before running; if it gets here anyway it is 77, never 0.
public enum ExitPolicy {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let skipped: Int32 = 77
    public static let timeout: Int32 = 124

    public static func status(_ summary: Summary) -> Int32 {
        if summary.timedOut > 0 { return timeout }
        if summary.failed > 0 { return failure }
        if summary.passed == 0 && summary.xfailed == 0 { return skipped }
        return success
    }

    public static func status(_ results: some Sequence<TestResult>) -> Int32 {
        status(Summary(results))
    }
}
