/// `--bisect`: the exit status `git bisect run` expects (git-bisect(1), "bisect run"): 0 good,
/// 1 bad, 125 this commit cannot be tested (skip it). Anything above 127 stops the bisection,
/// which is what an interrupted run (128+n) should do.
///
/// | run | status |
/// |---|---:|
/// | any test failed or timed out (a host splat fails its test) | 1 |
/// | nothing failed, at least one test passed | 0 |
/// | nothing ran or everything was skipped (this host/kernel cannot run them) | 125 |
/// | stopped by a signal | 128+n (unchanged) |
/// | could not test at all (usage error, no KVM, an I/O error writing reports) | 125 |
public enum BisectExit {
    public static let good: Int32 = 0
    public static let bad: Int32 = 1
    public static let skip: Int32 = 125

    /// Maps the harness's ordinary exit status (`ExitPolicy`, 74 for a report that could not be
    /// written, 64 for a usage error, 128+n on a signal) to the bisect convention.
    public static func status(forExitStatus status: Int32) -> Int32 {
        switch status {
        case ExitPolicy.success: good
        case ExitPolicy.failure, ExitPolicy.timeout: bad
        case 128...: status
        default: skip  // 77 all skipped, 64 usage, 74 I/O, 125 already
        }
    }
}
