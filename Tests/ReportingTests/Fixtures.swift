import Foundation

@testable import Reporting

/// A run with one test of every status, guest-derived text with XML/YAML/JSON/terminal
/// metacharacters and control characters in it, parameters, and a repetition.
enum Fixture {
    // 2026-11-26T02:21:54Z = 1795659714 s after the epoch (computed with Python's
    // datetime(2026,11,26,2,21,54,tzinfo=utc).timestamp()).
    static let start = Date(timeIntervalSince1970: 1_795_659_714)

    static let run = RunInfo(
        startTime: start, hostname: "ci-host", hostDescription: "Linux 6.16.0 aarch64",
        seed: 18_446_744_073_709_551_557)  // 2^64 - 59: does not fit a double

    static let fault1 =
        "stage-2 fault: translation L3, read (64-bit into x11), IPA 0x50000000 (HPFAR 0x8000000000500000) FAR 0x50000000 ESR 0x93cb8007 [DABT_LOW IL ISV SAS=3 SRT=11 SF DFSC=0x07]"
    static let fault2 =
        "stage-2 fault: permission L3, write (32-bit from w12), IPA 0x12345678 (HPFAR 0x123450) FAR 0x12345678 ESR 0x938c004f [DABT_LOW IL ISV SAS=2 SRT=12 WnR DFSC=0x0f]"
    /// Untrusted text: XML metacharacters, a NUL, an ESC sequence, a vertical tab, U+FFFE,
    /// a `#` (TAP directive start), a backslash, a newline, non-ASCII.
    static let nasty =
        "guest said <b>&\"quoted\" 'x'</b> \u{0}\u{1B}[31mred\u{0B} \u{FFFE} # SKIP not really \\ end\nsecond line é\r\tcr-tab"

    static let results: [TestResult] = [
        TestResult(
            name: "demand-paging/4k", parameters: ["granule": "4K", "ipaBits": "40"], outcome: .passed,
            duration: .milliseconds(850), faults: [fault1]),
        TestResult(
            name: "permission/write-ro", outcome: .failed("expected WnR=1, got 0; " + nasty),
            duration: .milliseconds(120), faults: [fault2, "raw " + nasty]),
        TestResult(
            name: "demand-paging/16k", parameters: ["granule": "16K"],
            outcome: .skipped(reason: "ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2"),
            duration: .zero),
        TestResult(
            name: "bbm/live", outcome: .timedOut("watchdog: no exit for 10 s"),
            duration: .seconds(10), log: ["MMIO write 0x9000000 len 4 data 0x41", "KVM_EXIT_INTR"]),
        TestResult(name: "demand-paging/4k", outcome: .passed, duration: .microseconds(1200), repetition: 2),
    ]
}
