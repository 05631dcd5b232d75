import Testing

@testable import Reporting

/// `--bisect`: what `git bisect run` gets for every way a run ends (git-bisect(1): 0 good,
/// 1-127 except 125 bad, 125 skip, > 127 abort).
@Suite struct BisectExitTests {
    @Test func mapping() {
        #expect(BisectExit.status(forExitStatus: 0) == 0)
        #expect(BisectExit.status(forExitStatus: 1) == 1)
        #expect(BisectExit.status(forExitStatus: 124) == 1)  // a hang is a bad commit
        #expect(BisectExit.status(forExitStatus: 77) == 125)  // nothing could run: skip
        #expect(BisectExit.status(forExitStatus: 64) == 125)  // usage error
        #expect(BisectExit.status(forExitStatus: 74) == 125)  // report not written
        #expect(BisectExit.status(forExitStatus: 125) == 125)
        #expect(BisectExit.status(forExitStatus: 130) == 130)  // SIGINT stops the bisection
        #expect(BisectExit.status(forExitStatus: 143) == 143)
    }

    @Test func fromSummaries() {
        func bisect(_ s: Summary) -> Int32 { BisectExit.status(forExitStatus: s.exitStatus) }
        #expect(bisect(Summary(passed: 3, failed: 0, skipped: 1)) == 0)
        #expect(bisect(Summary(passed: 3, failed: 1, skipped: 0)) == 1)
        #expect(bisect(Summary(passed: 0, failed: 1, skipped: 0, timedOut: 1)) == 1)
        #expect(bisect(Summary(passed: 0, failed: 0, skipped: 4)) == 125)
        #expect(bisect(Summary()) == 125)
    }
}

/// Run notes (tests left out, a host check not done) appear once in every format.
@Suite struct RunNotesTests {
    let run = RunInfo(
        startTime: .init(timeIntervalSince1970: 0), hostname: "h", hostDescription: "d", seed: 1,
        notes: ["left out 1 variant (unsafe): x/y", "host health check not done: permission denied reading /dev/kmsg"])

    @Test func everyFormatStatesEachNoteOnce() {
        for format in OutputFormat.allCases {
            var f = format.formatter(color: false)
            let text = f.begin(run, planned: 0) + f.end(run, results: [], summary: Summary())
            for n in run.notes {
                #expect(text.components(separatedBy: n).count == 2, "\(format): \(n) in \(text)")
            }
        }
    }
}
