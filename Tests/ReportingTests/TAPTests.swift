import Foundation
import Testing

@testable import Reporting

/// TAP output checked line by line against the TAP version 13 specification
/// (testanything.org/tap-version-13-specification.html): version line, plan `1..N` with N
/// equal to the number of test lines, test lines `ok|not ok <n> - <description>` numbered
/// 1..N in order, `# SKIP <reason>` directives, YAML blocks indented relative to the test
/// line and delimited by `---` / `...`, diagnostics starting with `#`.
@Suite struct TAPTests {
    static let tap = {
        var f = TAPFormatter()
        return f.render(Fixture.run, results: Fixture.results)
    }()

    struct TestLine {
        var ok: Bool
        var number: Int
        var description: String
        var yaml: [String]
    }

    /// A strict reader for the subset of TAP 13 the harness emits; records every violation.
    static func read(_ text: String) -> (plan: Int?, planLine: Int?, tests: [TestLine], problems: [String]) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var problems: [String] = []
        if lines.last == "" { lines.removeLast() } else { problems.append("output does not end with a newline") }
        if lines.first != "TAP version 13" { problems.append("first line is not 'TAP version 13'") }
        var plan: Int?
        var planLine: Int?
        var tests: [TestLine] = []
        var i = 1
        while i < lines.count {
            let l = lines[i]
            if let m = l.wholeMatch(of: /1\.\.(\d+)/) {
                if plan != nil { problems.append("second plan on line \(i + 1)") }
                plan = Int(m.output.1)
                planLine = i
            } else if let m = l.wholeMatch(of: /(ok|not ok) (\d+) - (.*)/) {
                tests.append(TestLine(ok: m.output.1 == "ok", number: Int(m.output.2)!, description: String(m.output.3), yaml: []))
            } else if l == "  ---" {
                guard !tests.isEmpty, tests[tests.count - 1].yaml.isEmpty else {
                    problems.append("YAML block not directly after a test line (line \(i + 1))")
                    i += 1
                    continue
                }
                var j = i + 1
                var body: [String] = []
                while j < lines.count, lines[j] != "  ..." {
                    if !lines[j].hasPrefix("  ") || lines[j].hasPrefix("   ") && body.isEmpty {
                        problems.append("YAML line not indented by two spaces: '\(lines[j])'")
                    }
                    body.append(String(lines[j].dropFirst(2)))
                    j += 1
                }
                if j == lines.count { problems.append("YAML block opened on line \(i + 1) is never closed with '  ...'") }
                tests[tests.count - 1].yaml = body
                i = j
            } else if l.hasPrefix("#") {
                // diagnostic
            } else {
                problems.append("line \(i + 1) is not TAP: '\(l)'")
            }
            i += 1
        }
        return (plan, planLine, tests, problems)
    }

    @Test func structureFollowsTAP13() throws {
        let (plan, planLine, tests, problems) = Self.read(Self.tap)
        #expect(problems.isEmpty, "\(problems)")
        #expect(plan == 5 && plan == tests.count)
        #expect(planLine == 1)  // plan first: count known up front
        #expect(tests.map(\.number) == [1, 2, 3, 4, 5])
        #expect(tests.map(\.ok) == [true, false, true, false, true])
    }

    @Test func linesExactly() throws {
        let lines = Self.tap.split(separator: "\n").map(String.init)
        #expect(lines[0] == "TAP version 13")
        #expect(lines[1] == "1..5")
        #expect(lines[2] == "# nvharness seed 18446744073709551557 on Linux 6.16.0 aarch64 (ci-host)")
        #expect(lines[3] == "ok 1 - demand-paging_4k")
        #expect(
            Array(lines[4...11]) == [
                "  ---",
                "  duration: 0.850",
                "  parameters:",
                "    \"granule\": \"4K\"",
                "    \"ipaBits\": \"40\"",
                "  faults:",
                "    - \"\(Fixture.fault1)\"",
                "  ...",
            ])
        #expect(lines[12] == "not ok 2 - permission_write-ro")
        #expect(lines[13] == "  ---")
        // YAML double-quoted scalar: `"` and `\` escaped, controls as \xNN, newline as \n,
        // U+FFFE as \uFFFE (YAML 1.2 §5.7 escape sequences).
        #expect(
            lines[14]
                == #"  message: "expected WnR=1, got 0; guest said <b>&\"quoted\" 'x'</b> \x00\x1B[31mred\x0B \uFFFE # SKIP not really \\ end\nsecond line é\r\tcr-tab""#
        )
        #expect(lines[15] == "  severity: fail")
        #expect(lines[16] == "  duration: 0.120")
        #expect(lines[17] == "  faults:")
        #expect(lines[18] == "    - \"\(Fixture.fault2)\"")
        #expect(lines[19].hasPrefix("    - \"raw guest said"))
        #expect(lines[20] == "  ...")
        #expect(lines[21] == "ok 3 - demand-paging_16k # SKIP ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2")
        #expect(Array(lines[22...25]) == ["  ---", "  parameters:", "    \"granule\": \"16K\"", "  ..."])
        #expect(lines[26] == "not ok 4 - bbm_live")
        #expect(
            Array(lines[27...34]) == [
                "  ---",
                "  message: \"timed out: watchdog: no exit for 10 s\"",
                "  severity: timeout",
                "  duration: 10.000",
                "  log:",
                "    - \"MMIO write 0x9000000 len 4 data 0x41\"",
                "    - \"KVM_EXIT_INTR\"",
                "  ...",
            ])
        #expect(lines[35] == "ok 5 - demand-paging_4k-rep2")
        #expect(lines[36] == "# 1 timed out (counted as failed)")
        #expect(lines[37] == "# 2 passed, 2 failed, 1 skipped, 0 xfail")
        #expect(lines.count == 38)
    }

    @Test func descriptionsCannotStartADirective() {
        var f = TAPFormatter()
        let out = f.render(
            Fixture.run,
            results: [
                TestResult(name: "odd # TODO name\nwith newline \\", outcome: .skipped(reason: "why # not\u{1B}[2J"))
            ])
        let line = out.split(separator: "\n").first { $0.hasPrefix("ok 1") }
        // The description is the stable id (no `#` can survive); the reason is escaped.
        #expect(line == ##"ok 1 - odd___TODO_name_with_newline__ # SKIP why \# not\x1B[2J"##)
    }

    @Test func planAtEndWhenCountUnknown() {
        var f = TAPFormatter()
        var out = f.begin(Fixture.run, planned: nil)
        out += f.result(TestResult(name: "a", outcome: .passed), number: 1)
        out += f.end(
            Fixture.run, results: [TestResult(name: "a", outcome: .passed)], summary: Summary([TestResult(name: "a", outcome: .passed)]))
        let (plan, planLine, tests, problems) = Self.read(out)
        #expect(problems.isEmpty)
        #expect(plan == 1 && tests.count == 1 && planLine == 3)

        var g = TAPFormatter()
        let empty = g.begin(Fixture.run, planned: nil) + g.end(Fixture.run, results: [], summary: Summary([]))
        #expect(empty.split(separator: "\n").contains("1..0"))
    }

    /// Cross-check with an independent TAP consumer: Perl's TAP::Parser (the parser behind
    /// `prove`), including its YAMLish reader for the diagnostic blocks.
    @Test(.enabled(if: perlHasTAPParser, "perl with TAP::Parser is not installed"))
    func perlTAPParserAgrees() throws {
        let script = #"""
            use strict; use warnings; use TAP::Parser;
            binmode STDOUT, ':utf8';
            my $tap = do { local $/; <STDIN> };
            utf8::decode($tap);
            my $p = TAP::Parser->new({ tap => $tap });
            while (my $r = $p->next) {
                if ($r->is_test) {
                    my $y = '';
                    printf "test %d ok=%d actual=%d skip=%d desc=[%s] reason=[%s]\n", $r->number, $r->is_ok ? 1 : 0,
                        $r->is_actual_ok ? 1 : 0, $r->has_skip ? 1 : 0, $r->description, $r->explanation;
                } elsif ($r->is_yaml) {
                    my $d = $r->data;
                    my $m = defined $d->{message} ? $d->{message} : '';
                    $m =~ s/([^\x20-\x7e])/sprintf('<%X>', ord $1)/ge;
                    printf "yaml message=[%s] severity=[%s] faults=%d log=%d\n", $m, $d->{severity} // '',
                        scalar @{ $d->{faults} // [] }, scalar @{ $d->{log} // [] };
                }
            }
            printf "plan=%s tests_run=%d version=%d parse_errors=%d [%s]\n", $p->plan, $p->tests_run, $p->version,
                scalar($p->parse_errors), join('; ', $p->parse_errors);
            printf "passed=%d failed=%d skipped=%d\n", scalar($p->passed), scalar($p->failed), scalar($p->skipped);
            """#
        let (status, out) = try #require(runProgram("/usr/bin/perl", ["-e", script], input: Self.tap))
        #expect(status == 0)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.contains("test 1 ok=1 actual=1 skip=0 desc=[- demand-paging_4k] reason=[]"))
        #expect(lines.contains("test 2 ok=0 actual=0 skip=0 desc=[- permission_write-ro] reason=[]"))
        #expect(
            lines.contains(
                "test 3 ok=1 actual=1 skip=1 desc=[- demand-paging_16k] reason=[ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2]"
            ))
        #expect(lines.contains("test 4 ok=0 actual=0 skip=0 desc=[- bbm_live] reason=[]"))
        #expect(lines.contains("yaml message=[timed out: watchdog: no exit for 10 s] severity=[timeout] faults=0 log=2"))
        #expect(lines.contains("plan=1..5 tests_run=5 version=13 parse_errors=0 []"))
        #expect(lines.contains("passed=3 failed=2 skipped=1"))
        // The message with escapes decodes back to the original text (non-printables shown as
        // <HEX>). TAP::Parser's YAMLish reader knows `\xNN` and the one-letter escapes but not
        // YAML's `\uNNNN`, so the one such escape (U+FFFE, which YAML requires escaped) stays
        // literal there; full YAML readers decode it (checked in yamlBlocksParseAsYAML).
        let msg = try #require(lines.first { $0.hasPrefix("yaml message=[expected") })
        #expect(
            msg
                == "yaml message=[expected WnR=1, got 0; guest said <b>&\"quoted\" 'x'</b> <0><1B>[31mred<B> \\uFFFE # SKIP not really \\ end<A>second line <E9><D><9>cr-tab] severity=[fail] faults=2 log=0"
        )
    }
    /// Every YAML block parsed by a full YAML parser (PyYAML, Debian python3-yaml): the
    /// values decode to exactly the strings that went in, `\uNNNN` escapes included.
    @Test(.enabled(if: pythonHasYAML, "python3 with PyYAML (python3-yaml) is not installed"))
    func yamlBlocksParseAsYAML() throws {
        let script = """
            import sys, json, yaml
            blocks, cur = [], None
            for line in sys.stdin.read().split("\\n"):
                if line == "  ---": cur = []
                elif line == "  ..." and cur is not None: blocks.append(yaml.safe_load("\\n".join(l[2:] for l in cur))); cur = None
                elif cur is not None: cur.append(line)
            print(json.dumps(blocks))
            """
        let (status, out) = try #require(runProgram(pythonPath, ["-c", script], input: Self.tap))
        #expect(status == 0)
        let blocks = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        #expect(blocks.count == 4)
        #expect(blocks[0]["faults"] as? [String] == [Fixture.fault1])
        #expect(blocks[0]["parameters"] as? [String: String] == ["granule": "4K", "ipaBits": "40"])
        #expect((blocks[0]["duration"] as? NSNumber)?.doubleValue == 0.85)
        #expect(blocks[1]["message"] as? String == "expected WnR=1, got 0; " + Fixture.nasty)
        #expect(blocks[1]["severity"] as? String == "fail")
        #expect(blocks[1]["faults"] as? [String] == [Fixture.fault2, "raw " + Fixture.nasty])
        #expect(blocks[2]["parameters"] as? [String: String] == ["granule": "16K"])
        #expect(blocks[3]["message"] as? String == "timed out: watchdog: no exit for 10 s")
        #expect(blocks[3]["severity"] as? String == "timeout")
        #expect(blocks[3]["log"] as? [String] == ["MMIO write 0x9000000 len 4 data 0x41", "KVM_EXIT_INTR"])
    }
}
