import Testing

@testable import Reporting

@Suite struct HumanTests {
    static func render(color: Bool) -> String {
        var f = HumanFormatter(color: color)
        return f.render(Fixture.run, results: Fixture.results)
    }

    @Test func plainLines() {
        let lines = Self.render(color: false).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(
            lines == [
                "nvharness: 5 tests on Linux 6.16.0 aarch64 (ci-host), seed 18446744073709551557",
                "PASS    demand-paging/4k (granule=4K ipaBits=40) 0.85 s",
                "    " + Fixture.fault1,
                #"FAIL    permission/write-ro 0.12 s: expected WnR=1, got 0; guest said <b>&"quoted" 'x'</b> \x00\x1B[31mred\x0B \uFFFE # SKIP not really \ end"#,
                "        second line é\\x0D\tcr-tab",
                "    " + Fixture.fault2,
                #"    raw guest said <b>&"quoted" 'x'</b> \x00\x1B[31mred\x0B \uFFFE # SKIP not really \ end\nsecond line é\x0D"#
                    + "\tcr-tab",
                "SKIP    demand-paging/16k (granule=16K): ID_AA64MMFR0_EL1.TGran16_2 = 0b0001: 16K granule not supported at stage 2",
                "TIMEOUT bbm/live 10.00 s: watchdog: no exit for 10 s",
                "    | MMIO write 0x9000000 len 4 data 0x41",
                "    | KVM_EXIT_INTR",
                "PASS    demand-paging/4k [2] 0.00 s",
                "failed: permission/write-ro, bbm/live",
                "reproduce with --seed 18446744073709551557",
                "1 timed out (counted as failed)",
                "2 passed, 2 failed, 1 skipped, 0 xfail",
                "",
            ])
    }

    @Test func noEscapeBytesWithoutColourEvenFromTheGuest() {
        #expect(!Self.render(color: false).unicodeScalars.contains("\u{1B}"))
    }

    @Test func colourOnlyOurOwnSGRSequences() throws {
        let out = Self.render(color: true)
        #expect(out.contains("\u{1B}[32mPASS   \u{1B}[0m demand-paging/4k"))
        #expect(out.contains("\u{1B}[1;31mFAIL   \u{1B}[0m"))
        #expect(out.contains("\u{1B}[33mSKIP   \u{1B}[0m"))
        #expect(out.contains("\u{1B}[1;35mTIMEOUT\u{1B}[0m"))
        // Every ESC is the start of one of the sequences we emit; the guest's ESC is visible text.
        let allowed: Set<String> = ["\u{1B}[32m", "\u{1B}[1;31m", "\u{1B}[33m", "\u{1B}[1;35m", "\u{1B}[2m", "\u{1B}[0m"]
        var rest = Substring(out)
        while let i = rest.firstIndex(of: "\u{1B}") {
            let seq = try #require(rest[i...].prefixMatch(of: /\x{1B}\[[0-9;]*m/))
            #expect(allowed.contains(String(seq.output)))
            rest = rest[seq.range.upperBound...]
        }
        // The summary line stays uncoloured and last.
        #expect(out.hasSuffix("\n2 passed, 2 failed, 1 skipped, 0 xfail\n"))
    }

    /// `--color auto` follows isatty, NO_COLOR (non-empty, no-color.org) and TERM=dumb;
    /// explicit always/never win.
    @Test(
        arguments: [
            (ColorMode.auto, true, [:], true),
            (.auto, false, [:], false),
            (.auto, true, ["NO_COLOR": "1"], false),
            (.auto, true, ["NO_COLOR": ""], true),
            (.auto, true, ["TERM": "dumb"], false),
            (.auto, true, ["TERM": "xterm-256color"], true),
            (.always, false, ["NO_COLOR": "1"], true),
            (.never, true, [:], false),
        ] as [(ColorMode, Bool, [String: String], Bool)])
    func colourPolicy(mode: ColorMode, tty: Bool, env: [String: String], expected: Bool) {
        #expect(mode.enabled(isTerminal: tty, environment: env) == expected)
    }

    @Test func terminalEscaping() {
        #expect(Escape.terminal("a\u{1B}]0;title\u{7}b\u{9B}c") == "a\\x1B]0;title\\x07b\\x9Bc")
        #expect(Escape.terminal("x\ny") == "x\\ny")
        #expect(Escape.terminal("a\u{202E}b\u{2066}c\u{FFFF}") == "a\\u202Eb\\u2066c\\uFFFF")
        #expect(Escape.terminal("x\ny", singleLine: false) == "x\ny")
    }
}
