import Testing

@testable import HostHealth

/// /dev/kmsg records, taint bits and the splat detector on kernel-log text.
@Suite struct KernelLogParsingTests {
    @Test func recordFields() throws {
        let r = try #require(
            KernelLogRecord(raw: "4,1234,56789012,-;WARNING: CPU: 1 PID: 7 at x.c:1 f+0x0/0x4\n SUBSYSTEM=cpu\n DEVICE=+cpu:1\n"))
        #expect(r.priority == 4 && r.level == 4)
        #expect(r.sequence == 1234)
        #expect(r.microseconds == 56_789_012)
        #expect(r.text == "WARNING: CPU: 1 PID: 7 at x.c:1 f+0x0/0x4")
        #expect(r.dmesgLine == "[   56.789012] WARNING: CPU: 1 PID: 7 at x.c:1 f+0x0/0x4")
        // A continuation record (flag 'c') and a facility above 0 (user, 14 = 1<<3 | 6).
        let c = try #require(KernelLogRecord(raw: "14,7,100,c;nvharness: START demand-paging/4k (run 1)\n"))
        #expect(c.level == 6 && c.text.hasPrefix("nvharness: START"))
        // ';' inside the text stays in the text.
        #expect(KernelLogRecord(raw: "6,1,2,-;a;b")?.text == "a;b")
    }

    @Test func malformedRecordsAreRejected() {
        for bad in ["", "no semicolon", "x,1,2,-;t", "6,,2,-;t", "6,1;t", "6,1,-5,-;t"] {
            #expect(KernelLogRecord(raw: bad) == nil, "\(bad)")
        }
    }

    @Test func taintBits() throws {
        let t = try #require(TaintFlags(procText: "512\n"))
        #expect(t.descriptions == ["W (bit 9: kernel issued a warning)"])
        let before = try #require(TaintFlags(procText: "4097"))  // P + O? no: bits 0 and 12
        #expect(
            before.descriptions == ["P (bit 0: proprietary module loaded)", "O (bit 12: externally-built (out-of-tree) module loaded)"])
        let after = TaintFlags(rawValue: 4097 | 512 | 128)
        #expect(
            after.added(since: before).descriptions == [
                "D (bit 7: kernel died recently (OOPS or BUG))", "W (bit 9: kernel issued a warning)",
            ])
        #expect(TaintFlags(procText: "0")?.descriptions == [])
        #expect(TaintFlags(rawValue: 1 << 40).descriptions == ["bit 40"])
        #expect(TaintFlags(procText: "abc") == nil)
    }

    static func records(_ lines: [String], firstSequence: UInt64 = 100) -> [KernelLogRecord] {
        lines.enumerated().map { i, l in
            KernelLogRecord(priority: 4, sequence: firstSequence + UInt64(i), microseconds: 12_000_000 + UInt64(i), text: l)
        }
    }

    @Test func theRealIllegalVTCRWarningFromTheEmulatedHost() throws {
        let splats = SplatDetector.splats(in: Self.records(SplatFixtures.illegalVTCRWarning))
        #expect(splats.count == 1)
        let s = try #require(splats.first)
        #expect(s.kind == .warning)
        #expect(s.headline == "WARNING: arch/arm64/kvm/nested.c:288 at kvm_walk_nested_s2+0x3dc/0x688, CPU#0: harness/107")
        #expect(s.sequence == 101)  // the line after "[ cut here ]"
        // Up to and including the end-of-trace line, not the lines after it.
        #expect(s.lines.last?.contains("---[ end trace") == true)
    }

    @Test func lockdepKasanBugOopsUbsanPanicStall() {
        func kinds(_ lines: [String]) -> [SplatKind] { SplatDetector.splats(in: Self.records(lines)).map(\.kind) }
        #expect(kinds(SplatFixtures.lockdepCircular) == [.lockdep])
        #expect(kinds(SplatFixtures.kasanSlabOutOfBounds) == [.kasan])
        #expect(kinds(SplatFixtures.sleepingInAtomic) == [.bug])
        #expect(kinds(SplatFixtures.arm64Oops) == [.oops])
        #expect(kinds(["UBSAN: shift-out-of-bounds in arch/arm64/kvm/nested.c:100:5"]) == [.ubsan])
        #expect(kinds(["Kernel panic - not syncing: Fatal exception"]) == [.panic])
        #expect(kinds(["INFO: task kworker/0:1:42 blocked for more than 120 seconds."]) == [.stall])
        #expect(kinds(["rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"]) == [.stall])
        #expect(kinds(["watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [harness:93]"]) == [.bug])
        #expect(kinds(["kernel BUG at mm/slub.c:100!"]) == [.bug])
        // Older WARN headlines (Linux 6.x) and the file:line form must both start a warning.
        #expect(kinds(["WARNING: CPU: 0 PID: 93 at arch/arm64/kvm/nested.c:288 kvm_walk_nested_s2+0x3dc/0x688"]) == [.warning])
        #expect(kinds(["WARNING: mm/page_alloc.c:4745 at __alloc_pages_noprof+0x2c8/0x1040, CPU#1: x/1"]) == [.warning])
    }

    @Test func ordinaryLinesAreNotSplats() {
        let quiet = [
            "kvm [1]: VHE+NV2 mode initialized successfully", "Run /init as init process",
            "nvharness: START demand-paging/4k (run 1)", "random: crng init done",
            "WARNING: unsupported firmware version, the lock-free path is used",
            "audit: type=1400 BUG-free", "  BUGS: none",
        ]
        #expect(SplatDetector.splats(in: Self.records(quiet)).isEmpty)
    }

    @Test func kasanEndsAtItsClosingRuleAndTwoSplatsStaySeparate() throws {
        let lines = SplatFixtures.kasanSlabOutOfBounds + ["after the report"] + SplatFixtures.lockdepCircular
        let splats = SplatDetector.splats(in: Self.records(lines))
        #expect(splats.map(\.kind) == [.kasan, .lockdep])
        #expect(!splats[0].lines.contains { $0.hasSuffix("after the report") })
        #expect(splats[0].lines.last?.hasSuffix("==================================================================") == true)
    }

    @Test func aBoundaryRecordEndsAnOpenSplat() {
        let recs = Self.records([
            "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x4", "Modules linked in:", "nvharness: END x (run 1) FAIL", "later line",
        ])
        let splats = SplatDetector.splats(in: recs) { $0.text.hasPrefix("nvharness: ") }
        #expect(splats.count == 1)
        #expect(splats[0].lines.count == 2)
    }

    @Test func longSplatsAreCut() {
        let lines = ["WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x4"] + (0..<500).map { "  frame \($0)" }
        let s = SplatDetector.splats(in: Self.records(lines))
        #expect(s.count == 1 && s[0].lines.count == SplatDetector.maxLines)
    }

    @Test func findingsMessage() {
        let splat = Splat(
            kind: .warning, headline: "WARNING: CPU: 0 PID: 93 at arch/arm64/kvm/nested.c:1 kvm_walk_nested_s2+0x1/0x2", sequence: 1,
            lines: ["[    1.000000] WARNING: ..."])
        var f = HealthFindings(splats: [splat], newTaint: TaintFlags(rawValue: 512))
        #expect(f.isUnhealthy)
        #expect(
            f.failureMessage
                == "host kernel warning: WARNING: CPU: 0 PID: 93 at arch/arm64/kvm/nested.c:1 kvm_walk_nested_s2+0x1/0x2; new taint: W (bit 9: kernel issued a warning)"
        )
        #expect(f.logLines == ["host kernel warning splat:", "  [    1.000000] WARNING: ..."])
        f.sharedWindow = true
        #expect(f.failureMessage?.hasSuffix("; other tests ran at the same time (--jobs)") == true)
        #expect(
            HealthFindings(newTaint: TaintFlags(rawValue: 128)).failureMessage == "new taint: D (bit 7: kernel died recently (OOPS or BUG))"
        )
        #expect(HealthFindings(kernelLog: ["[ 1.0] hello"]).failureMessage == nil)
    }
}
