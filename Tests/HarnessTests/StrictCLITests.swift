import Testing

/// `--strict` is a run option (the known-failure records are ignored); on a host that cannot
/// run nested tests it changes nothing: every test is still a skip with the reason, exit 77.
@Suite struct StrictCLITests {
    @Test(.enabled(if: RunCLITests.onX86, "the skip path"))
    func strictIsAcceptedAndSkipsStaySkips() throws {
        let r = try RunCLITests.run(["--test", "illegal-vtcr/4k-40bit-sl0-l2", "--strict", "--format", "json"])
        #expect(r.status == 77, "\(r.stderr)")
        #expect(r.stdout.contains("\"status\":\"skip\"") && !r.stdout.contains("\"status\":\"xfail\""))
        #expect(r.stderr.split(separator: "\n").contains("0 passed, 0 failed, 1 skipped, 0 xfail"))
    }

    @Test func strictIsInTheHelp() throws {
        let r = try RunCLITests.run(["--help"])
        #expect(r.status == 0 && r.stdout.contains("--strict"))
    }
}
