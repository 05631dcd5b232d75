import Machine
import Testing

@testable import HostHealth

#if canImport(Glibc)
    import Glibc
#endif

/// `HostHealthMonitor` against this machine's own /dev/kmsg: a WARN-shaped line written into
/// the kernel log between a test's markers is that test's splat, and not the next test's.
/// Needs root (writing /dev/kmsg); elsewhere it is skipped, and the "not done" reason is
/// checked with paths that do not exist.
@Suite struct HostHealthMonitorTests {
    static let canWriteKmsg = access("/dev/kmsg", R_OK | W_OK) == 0

    @Test(.enabled(if: canWriteKmsg, "needs read and write access to /dev/kmsg (root)"))
    func aSplatLoggedDuringATestIsThatTestsOnly() throws {
        let monitor = HostHealthMonitor()
        #expect(monitor.unavailableReason == nil)
        #expect(monitor.markerProblem == nil)
        let headline = "WARNING: CPU: 0 PID: 1 at nvharness/selftest.c:\(Int.random(in: 1...99999)) selftest+0x0/0x4"
        let first = monitor.begin("selftest/first")
        let log = KernelLogDevice()
        #expect(log.write(headline, level: 4))
        #expect(log.write("---[ end trace 0000000000000000 ]---", level: 4))
        let f1 = monitor.end(first, result: "PASS")
        #expect(f1.splats.contains { $0.headline == headline && $0.kind == .warning })
        #expect(f1.kernelLog.contains { $0.hasSuffix(headline) })
        #expect(!f1.kernelLog.contains { $0.contains("nvharness: START") || $0.contains("nvharness: END") })
        let second = monitor.begin("selftest/second")
        let f2 = monitor.end(second, result: "PASS")
        #expect(!f2.splats.contains { $0.headline == headline })
    }

    @Test func withoutTheLogTheCheckSaysWhy() {
        let monitor = HostHealthMonitor(kmsgPath: "/nonexistent/kmsg", taintPath: "/nonexistent/tainted")
        let reason = monitor.unavailableReason ?? ""
        #expect(reason.contains("/nonexistent/kmsg does not exist"))
        #expect(reason.contains("cannot read /nonexistent/tainted"))
        #expect(monitor.markerProblem?.contains("/nonexistent/kmsg does not exist") == true)
    }
}
