import Testing

@testable import Reporting

@Suite struct ExitPolicyTests {
    static func r(_ o: TestOutcome) -> TestResult { TestResult(name: "t", outcome: o) }
    static let pass = r(.passed), fail = r(.failed("x")), skip = r(.skipped(reason: "y")), tout = r(.timedOut("z"))

    /// The policy table from the brief (0 all passed, skips allowed; 1 any failure; 77 all
    /// skipped or nothing ran; 124 any timeout, which takes precedence over 1).
    @Test(
        arguments: [
            ([pass], 0), ([pass, pass], 0), ([pass, skip], 0), ([skip, pass, skip], 0),
            ([fail], 1), ([pass, fail], 1), ([fail, skip], 1), ([pass, fail, skip], 1),
            ([skip], 77), ([skip, skip], 77), ([], 77),
            ([tout], 124), ([pass, tout], 124), ([skip, tout], 124), ([fail, tout], 124), ([tout, fail, pass, skip], 124),
        ] as [([TestResult], Int32)])
    func table(results: [TestResult], expected: Int32) {
        #expect(ExitPolicy.status(results) == expected)
        #expect(Summary(results).exitStatus == expected)
    }

    @Test func summaryLineCountsTimeoutsAsFailed() {
        let s = Summary([Self.pass, Self.fail, Self.tout, Self.tout, Self.skip])
        #expect(s.line == "1 passed, 3 failed, 1 skipped, 0 xfail")
        #expect(s.timedOut == 2)
        #expect(s.timeoutLine == "2 timed out (counted as failed)")
        #expect(Summary([Self.pass]).timeoutLine == nil)
        #expect(Summary([]).line == "0 passed, 0 failed, 0 skipped, 0 xfail")
    }

    @Test func summaryLineHasTheShapeCIReads() throws {
        // "N passed, N failed, N skipped, N xfail" alone on a line.
        let line = Summary(Fixture.results).line
        #expect(try #require(line.wholeMatch(of: /(\d+) passed, (\d+) failed, (\d+) skipped, (\d+) xfail/)).output.1 == "2")
        #expect(line == "2 passed, 2 failed, 1 skipped, 0 xfail")
    }

    @Test func summaryAddsDurations() {
        #expect(Summary(Fixture.results).duration == .milliseconds(850 + 120) + .seconds(10) + .microseconds(1200))
    }
}
