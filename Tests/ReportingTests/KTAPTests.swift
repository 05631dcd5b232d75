import Foundation
import Testing

@testable import Reporting

/// KTAP output read back with the strict `KTAPReader` and checked field by field against values
/// worked out by hand from ktap.rst and the fixture.
@Suite struct KTAPTests {
    static let ktap = {
        var f = KTAPFormatter()
        return f.render(Fixture.run, results: Fixture.results)
    }()

    /// Three tests with several variants each: a passing, a failing and an all-skipped test.
    static let grouped: [TestResult] = [
        TestResult(name: "demand-paging/4k", parameters: ["granule": "4K"], outcome: .passed, faults: [Fixture.fault1]),
        TestResult(name: "demand-paging/16k", outcome: .skipped(reason: "16K granule not supported at stage 2")),
        TestResult(name: "demand-paging/64k", outcome: .passed),
        TestResult(name: "permission-faults/4k", outcome: .failed("expected WnR=1, got 0"), faults: [Fixture.fault2]),
        TestResult(name: "permission-faults/64k", outcome: .timedOut("watchdog: no exit for 10 s"), log: ["KVM_EXIT_INTR"]),
        TestResult(name: "permission-faults/16k", outcome: .passed),
        TestResult(name: "execute-never/xnx", outcome: .skipped(reason: "no FEAT_XNX")),
        TestResult(name: "execute-never/no-xnx", outcome: .skipped(reason: "no FEAT_XNX")),
    ]

    static func streamed(_ results: [TestResult], planned names: [String]) -> String {
        var run = Fixture.run
        run.plannedNames = names
        var f = KTAPFormatter()
        var out = f.begin(run, planned: names.count)
        for (i, r) in results.enumerated() { out += f.result(r, number: i + 1) }
        return out + f.end(run, results: results, summary: Summary(results))
    }

    @Test func fixtureReadsBackFieldByField() throws {
        let doc = KTAPReader.read(Self.ktap)
        #expect(doc.problems.isEmpty, "\(doc.problems)")
        #expect(doc.plan == 5)
        // Consecutive results of one test form a block: the fixture alternates tests, so 5 blocks.
        #expect(doc.tests.map(\.name) == ["demand-paging", "permission", "demand-paging", "bbm", "demand-paging"])
        #expect(doc.tests.map(\.ok) == [true, false, true, false, true])
        #expect(doc.tests.map(\.directive) == [nil, nil, "SKIP", nil, nil])
        #expect(doc.tests[0].diagnostics == ["nvharness seed 18446744073709551557 on Linux 6.16.0 aarch64 (ci-host)"])
        let leaves = doc.tests.map { $0.children ?? [] }
        #expect(leaves.map(\.count) == [1, 1, 1, 1, 1])
        let pass = try #require(leaves[0].first)
        #expect(pass.ok && pass.number == 1 && pass.name == "demand-paging_4k" && pass.directive == nil)
        #expect(pass.diagnostics == ["parameters: granule=4K ipaBits=40", "fault: " + Fixture.fault1])
        let fail = try #require(leaves[1].first)
        #expect(!fail.ok && fail.name == "permission_write-ro" && fail.directive == nil && fail.data == nil)
        // Each line of a multi-line text is its own `#` line; ESC, NUL, CR are shown as escapes.
        #expect(fail.diagnostics.count == 5)
        #expect(fail.diagnostics[0].hasPrefix("failed: expected WnR=1, got 0; guest said <b>&"))
        #expect(fail.diagnostics[0].contains("\\x00\\x1B[31mred\\x0B") && fail.diagnostics[0].hasSuffix("\\ end"))
        #expect(fail.diagnostics[1] == "failed: second line é\\x0D\tcr-tab")
        #expect(fail.diagnostics[2] == "fault: " + Fixture.fault2)
        #expect(fail.diagnostics[3].hasPrefix("fault: raw guest said") && fail.diagnostics[4] == "fault: second line é\\x0D\tcr-tab")
        let skip = try #require(leaves[2].first)
        #expect(skip.ok && skip.name == "demand-paging_16k" && skip.directive == "SKIP")
        #expect(skip.data == "ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2")
        #expect(doc.tests[2].data == skip.data)  // the parent is skipped with its only reason
        let timeout = try #require(leaves[3].first)
        #expect(!timeout.ok && timeout.name == "bbm_live" && timeout.directive == "TIMEOUT")
        #expect(timeout.data == "watchdog: no exit for 10 s")
        #expect(timeout.diagnostics == ["log: MMIO write 0x9000000 len 4 data 0x41", "log: KVM_EXIT_INTR"])
        let repeated = try #require(leaves[4].first)
        #expect(repeated.ok && repeated.name == "demand-paging_4k-rep2")
        // 2 passed, 1 failed + 1 timed out = 2 fail, 1 skipped.
        #expect(doc.totals == ["pass": 2, "fail": 2, "xfail": 0, "xpass": 0, "skip": 1, "error": 0])
    }

    @Test func variantsNestInsideTheirTest() throws {
        let names = Self.grouped.map(\.name)
        let text = Self.streamed(Self.grouped, planned: names)
        let doc = KTAPReader.read(text)
        #expect(doc.problems.isEmpty, "\(doc.problems)")
        #expect(doc.plan == 3)
        #expect(doc.tests.map(\.name) == ["demand-paging", "permission-faults", "execute-never"])
        #expect(doc.tests.map(\.subtest) == ["demand-paging", "permission-faults", "execute-never"])
        #expect(doc.tests.map(\.ok) == [true, false, true])
        #expect(doc.tests.map(\.directive) == [nil, nil, "SKIP"])
        #expect(doc.tests[2].data == "no FEAT_XNX")
        let kids = doc.tests.map { ($0.children ?? []).map(\.name) }
        #expect(
            kids == [
                ["demand-paging_4k", "demand-paging_16k", "demand-paging_64k"],
                ["permission-faults_4k", "permission-faults_64k", "permission-faults_16k"],
                ["execute-never_xnx", "execute-never_no-xnx"],
            ])
        let pf = doc.tests[1].children!
        #expect(pf.map(\.ok) == [false, false, true])
        #expect(pf.map(\.directive) == [nil, "TIMEOUT", nil])
        #expect(pf[0].diagnostics == ["failed: expected WnR=1, got 0", "fault: " + Fixture.fault2])
        #expect(doc.totals == ["pass": 3, "fail": 2, "xfail": 0, "xpass": 0, "skip": 3, "error": 0])
        // The exact text of one block, as ktap.rst lays it out.
        let lines = text.split(separator: "\n").map(String.init)
        #expect(
            Array(lines[0...2]) == ["KTAP version 1", "1..3", "# nvharness seed 18446744073709551557 on Linux 6.16.0 aarch64 (ci-host)"])
        #expect(
            Array(lines[3...11]) == [
                "  KTAP version 1",
                "  # Subtest: demand-paging",
                "  1..3",
                "  # parameters: granule=4K",
                "  # fault: " + Fixture.fault1,
                "  ok 1 demand-paging_4k",
                "  ok 2 demand-paging_16k # SKIP 16K granule not supported at stage 2",
                "  ok 3 demand-paging_64k",
                "ok 1 demand-paging",
            ])
        #expect(lines.last == "# Totals: pass:3 fail:2 xfail:0 xpass:0 skip:3 error:0")
    }

    @Test func streamingMatchesTheWholeReport() {
        var f = KTAPFormatter()
        let whole = f.render(Fixture.run, results: Self.grouped)
        #expect(whole == Self.streamed(Self.grouped, planned: Self.grouped.map(\.name)))
    }

    @Test func streamingPrintsEachTestWhenItsLastVariantEnds() {
        var run = Fixture.run
        run.plannedNames = Self.grouped.map(\.name)
        var f = KTAPFormatter()
        #expect(f.begin(run, planned: 8).hasPrefix("KTAP version 1\n1..3\n"))
        _ = f.result(Self.grouped[0], number: 1)
        _ = f.result(Self.grouped[1], number: 2)
        #expect(f.result(Self.grouped[2], number: 3).hasSuffix("  ok 3 demand-paging_64k\nok 1 demand-paging\n"))
    }

    @Test func anInterruptedRunShowsWhatIsMissing() {
        // Planned 8, stopped after 4: the open test closes, and its plan and the top-level plan
        // say that results are missing.
        let ran = Array(Self.grouped.prefix(4))
        let doc = KTAPReader.read(Self.streamed(ran, planned: Self.grouped.map(\.name)))
        #expect(doc.problems.contains("plan 1..3 but 1 results at indent 2"))
        #expect(doc.problems.contains("plan 1..3 but 2 results at indent 0"))
        #expect(doc.totals == ["pass": 2, "fail": 1, "xfail": 0, "xpass": 0, "skip": 1, "error": 0])
    }

    @Test func knownFailuresAreXFAILAndXPASSIsNamed() throws {
        let known = "KVM_RUN fails with EFAULT (known KVM NV finding)"
        let results = [
            TestResult(name: "illegal-vtcr/4k", outcome: .knownFailure("KVM_RUN: Bad address", known: known)),
            TestResult(name: "illegal-vtcr/64k", outcome: .unexpectedPass(known: known)),
            TestResult(name: "illegal-vtcr/16k", outcome: .passed),
            TestResult(name: "address-size/ipa", outcome: .knownFailure("no level-0 fault", known: "upper IPA bits dropped")),
            TestResult(name: "address-size/baddr", outcome: .failed("wrong HPFAR")),
        ]
        let doc = KTAPReader.read(Self.streamed(results, planned: results.map(\.name)))
        #expect(doc.problems.isEmpty, "\(doc.problems)")
        // A known failure does not fail its test; a real failure next to one does.
        #expect(doc.tests.map(\.ok) == [true, false])
        let vtcr = try #require(doc.tests[0].children)
        #expect(vtcr.map(\.ok) == [true, true, true])
        #expect(vtcr.map(\.directive) == ["XFAIL", nil, nil])
        #expect(vtcr[0].data == known)
        #expect(vtcr[0].diagnostics == ["failed: KVM_RUN: Bad address"])
        #expect(vtcr[1].diagnostics == ["XPASS: passed although a known-failure record says it fails here: " + known])
        #expect(vtcr[2].diagnostics.isEmpty)
        let asz = try #require(doc.tests[1].children)
        #expect(asz.map(\.ok) == [true, false])
        #expect(asz.map(\.directive) == ["XFAIL", nil])
        #expect(doc.totals == ["pass": 1, "fail": 1, "xfail": 2, "xpass": 1, "skip": 0, "error": 0])
    }

    @Test func emptyRun() {
        var f = KTAPFormatter()
        let text = f.render(Fixture.run, results: [])
        let doc = KTAPReader.read(text)
        #expect(doc.problems.isEmpty, "\(doc.problems)")
        #expect(doc.plan == 0 && doc.tests.isEmpty)
        #expect(doc.totals == ["pass": 0, "fail": 0, "xfail": 0, "xpass": 0, "skip": 0, "error": 0])
    }

    @Test func formatOptionSelectsKTAP() {
        #expect(OutputFormat(rawValue: "ktap") == .ktap)
        #expect(OutputFormat.ktap.formatter() is KTAPFormatter)
    }

    @Test func reporterStreamsKTAP() throws {
        var run = Fixture.run
        run.plannedNames = Self.grouped.map(\.name)
        let out = StringSink()
        let err = StringSink()
        let rep = try Reporter(format: .ktap, run: run, planned: 8, color: .never, stdout: out, stderr: err, environment: [:])
        rep.begin()
        for r in Self.grouped { rep.record(r) }
        #expect(try rep.finish() == 124)
        #expect(KTAPReader.read(out.text).problems.isEmpty)
        #expect(err.text.hasSuffix("3 passed, 2 failed, 3 skipped, 0 xfail\n"))
    }

    // The reader must catch each kind of mistake, or the checks above prove nothing.
    @Test(arguments: [
        ("KTAP version 1\n1..3\n", "TAP version 13\n1..3\n", "expected 'KTAP version 1'"),
        ("ok 1 demand-paging_4k", "ok 1 demand-paging/4k", "is not a stable id"),
        ("ok 2 demand-paging_16k", "ok 3 demand-paging_16k", "test number 3, expected 2"),
        ("ok 2 demand-paging_16k # SKIP", "not ok 2 demand-paging_16k # SKIP", "SKIP on a 'not ok' line"),
        ("not ok 2 permission-faults_64k # TIMEOUT", "ok 2 permission-faults_64k # TIMEOUT", "TIMEOUT on an 'ok' line"),
        ("not ok 2 permission-faults\n", "ok 2 permission-faults\n", "but its subtests include failures"),
        ("  1..3\n  # parameters", "  1..4\n  # parameters", "plan 1..4 but 3 results"),
        ("  ok 3 demand-paging_64k", "   ok 3 demand-paging_64k", "indented by 3"),
        ("# Totals: pass:3", "# Total: pass:3", "the last line is not '# Totals"),
        ("  # Subtest: execute-never", "  # Subtest: execute-nevr", "closes the block '# Subtest: execute-nevr'"),
        ("  ok 3 demand-paging_64k\n", "  ok 3 demand-paging_64k\nstray text\n", "is not KTAP: 'stray text'"),
    ])
    func readerCatches(_ good: String, _ bad: String, _ expected: String) throws {
        let text = Self.streamed(Self.grouped, planned: Self.grouped.map(\.name))
        #expect(KTAPReader.read(text).problems.isEmpty)
        let broken = text.replacingOccurrences(of: good, with: bad)
        #expect(broken != text, "the substitution did not apply")
        let problems = KTAPReader.read(broken).problems
        #expect(problems.contains { $0.contains(expected) }, "\(problems)")
    }
}
