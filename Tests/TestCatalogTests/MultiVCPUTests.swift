import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime

/// Per-vCPU op lists (`vcpus`): the lockstep and concurrent runners against simulated vCPUs,
/// the watch-record check, `whileFlag` and `after`, each fed one wrong value that must FAIL
/// naming it; and files the builder must reject, naming the JSON path.
@Suite struct MultiVCPUTests {
    static let x: UInt64 = 1 << 39
    static let old: UInt64 = 0x5AA5_0000_0001_C0DE
    static let new: UInt64 = 0x5AA5_0000_0002_C0DE
    static let neighbour: UInt64 = 0x5AA5_0000_0005_C0DE
    /// ldr x11, [x10] of 8 bytes at x faulting at level 3 (translation): EC 0x24, IL, ISV,
    /// SAS 0b11, SRT 11, SF, DFSC 0b000111 (Arm ARM D24.2 ESR_EL2, data abort ISS).
    static let loadFault: UInt64 = 0x93CB_8007
    static let hpfarX: UInt64 = (x >> 12) << 4
    static let interp: UInt64 = SessionLayout.standard.payload.rawValue + 0x800
    static var hvcReturn: UInt64 {
        SessionLayout.standard.payload.rawValue + ScenarioBuilder.payloadInstruction(0xD400_0002 | UInt32(GuestABI.hvcOp) << 5)! + 4
    }

    // MARK: lockstep

    static let lockstep = #"""
        {
          "format": 1, "name": "ls", "summary": "s", "granule": "4k", "schedule": "lockstep",
          "let": {"x": "1 << 39", "pagePA": "dataPool + 0x20_0000"},
          "memory": [{"name": "xpage", "ipa": "x", "size": "page", "access": "rw", "pa": "pagePA + page"},
                     {"name": "next", "ipa": "x + page", "size": "page", "access": "rw", "pa": "pagePA + 5*page"}],
          "plant": [{"pa": "pagePA + page", "bytes": 8, "value": "0x5AA5_0000_0001_C0DE"},
                    {"pa": "pagePA + 2*page", "bytes": 8, "value": "0x5AA5_0000_0002_C0DE"},
                    {"pa": "pagePA + 5*page", "bytes": 8, "value": "0x5AA5_0000_0005_C0DE"}],
          "vcpus": [
            {"ids": [0], "ops": [
              {"op": "load", "bytes": 8, "at": "x", "result": "0x5AA5_0000_0001_C0DE", "repeat": 4},
              {"op": "hvc", "value": 7, "raises": [{"hvc": "hvcImm", "switchTo": 1}]},
              {"op": "load", "bytes": 8, "at": "x", "result": "0x5AA5_0000_0002_C0DE",
               "raises": [{"fault": "translation", "level": 3, "host": [{"map": {"ipa": "x", "pa": "pagePA + 2*page", "size": "page", "access": "rw"}}]}]}
            ]},
            {"ids": [1], "ops": [
              {"op": "load", "bytes": 8, "at": "x", "result": "0x5AA5_0000_0001_C0DE"},
              {"op": "hvc", "value": 8, "raises": [{"hvc": "hvcImm", "host": [{"unmap": "xpage"}, {"expectUnmapped": {"ipa": "x"}}]}]},
              {"op": "load", "bytes": 8, "at": "x + page", "result": "0x5AA5_0000_0005_C0DE"}
            ]}
          ],
          "variants": [{"name": "v", "summary": "v"}]
        }
        """#

    static func scenario(_ text: String, variant: Int = 0) throws -> Scenario {
        try ScenarioLoader.load(Array(text.utf8), file: "x.json").variants[variant].scenario(HostFacts())
    }

    /// vCPU 0: HELLO, its hvc (op 1), then (after vCPU 1 unmapped x) the level-3 fault on x
    /// (op 2) and DONE; vCPU 1: HELLO, its hvc, the break's ACK (the simulation sends it), DONE.
    static func lockstepGuests(
        change0: (inout [SimulatedVCPU.Message]) -> Void = { _ in }, change1: (inout [SimulatedVCPU.Message]) -> Void = { _ in }
    ) -> [SimulatedVCPU] {
        let ram = SharedRAM()
        var m0: [SimulatedVCPU.Message] = [
            .init(kind: .trap, esr: 0x5A00_0000 | UInt64(GuestABI.hvcOp), elr: hvcReturn, op: 1, x0: 7),
            .init(kind: .trap, esr: loadFault, far: x, hpfar: hpfarX, elr: interp, op: 2),
            .init(kind: .done, op: 3, effect: { try $0.results([(old, 4), (7, 1), (new, 1)]) }),
        ]
        var m1: [SimulatedVCPU.Message] = [
            .init(kind: .trap, esr: 0x5A00_0000 | UInt64(GuestABI.hvcOp), elr: hvcReturn, op: 1, x0: 8),
            .init(kind: .done, op: 3, effect: { try $0.results([(old, 1), (8, 1), (neighbour, 1)]) }),
        ]
        change0(&m0)
        change1(&m1)
        return [SimulatedVCPU(0, of: 2, memory: ram, m0), SimulatedVCPU(1, of: 2, memory: ram, m1)]
    }

    static func run(_ s: Scenario, _ guests: [SimulatedVCPU]) -> Outcome {
        MultiVCPURunner(log: { _ in }).run(s, requirements: [.stage2Granule(.k4)], backends: guests) { _, _, _ in }.outcome
    }

    @Test func lockstepPassesWhenEveryVCPUDoesWhatItsListSays() throws {
        let s = try Self.scenario(Self.lockstep)
        #expect(s.vcpus.map(\.id) == [0, 1] && s.schedule == .lockstep && s.ops.isEmpty)
        #expect(s.vcpus[0].events.first?.switchTo == 1 && s.vcpus[1].events.first?.switchTo == nil)
        let guests = Self.lockstepGuests()
        let outcome = Self.run(s, guests)
        #expect(outcome == .pass, "\(outcome)")
        #expect(guests[0].sent == [.hello, .trap, .trap, .done] && guests[1].sent == [.hello, .trap, .ack, .done])
    }

    /// Without `switchTo`, vCPU 0 goes on before vCPU 1 unmapped x: the fault it reports then
    /// disagrees with the harness's walk of the shared tables (x still maps).
    @Test func switchToDecidesTheOrder() throws {
        var s = try Self.scenario(Self.lockstep)
        s.vcpus[0].events[0].switchTo = nil
        let outcome = Self.run(s, Self.lockstepGuests())
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("vCPU 0: fault for op 2") && m.contains("the software walk translates it"), "\(m)")
    }

    /// A vCPU's exits are matched against its own events: the fault arriving from vCPU 1
    /// (whose list has none) fails, naming vCPU 1.
    @Test func eventsAreMatchedPerVCPU() throws {
        let s = try Self.scenario(Self.lockstep)
        let outcome = Self.run(
            s,
            Self.lockstepGuests(change1: {
                $0.insert(.init(kind: .trap, esr: Self.loadFault, far: Self.x, hpfar: Self.hpfarX, elr: Self.interp, op: 2), at: 1)
            }))
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("vCPU 1: unexpected stage-2 fault"), "\(m)")
    }

    @Test(arguments: [
        ("fault op index", 0, 1, "vCPU 0: fault for op 2", "reported for op 0"),
        ("DONE op", 1, 1, "vCPU 1: DONE at op 2", "expected 3"),
        ("hvc immediate", 1, 0, "vCPU 1: trap at op 1", "ISS imm"),
    ])
    func oneWrongFieldOfOneVCPUFails(field: String, vcpu: Int, step: Int, names: String, detail: String) throws {
        let s = try Self.scenario(Self.lockstep)
        let change: (inout [SimulatedVCPU.Message]) -> Void = { m in
            switch field {
            case "fault op index": m[step].op = 0
            case "DONE op": m[step].op = 2
            default: m[step].esr ^= 1
            }
        }
        let guests = vcpu == 0 ? Self.lockstepGuests(change0: change) : Self.lockstepGuests(change1: change)
        let outcome = Self.run(s, guests)
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(field): \(outcome)") }
        #expect(m.contains(names) && m.contains(detail), "\(field): \(m)")
    }

    @Test func aWrongResultOfOneVCPUFailsNamingIt() throws {
        let s = try Self.scenario(Self.lockstep)
        let outcome = Self.run(
            s,
            Self.lockstepGuests(change0: { $0[2].effect = { try $0.results([(Self.old, 4), (7, 1), (Self.old, 1)]) } }))
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("vCPU 0 op 2 (LOAD64 at 0x8000000000) produced 0x5aa500000001c0de"), "\(m)")
    }

    // MARK: host-step checks (expectUnmapped, an unmap's TLB maintenance)

    /// vCPU 1's hvc event with its host steps replaced by `steps`.
    static func lockstepWithHostSteps(_ steps: [ExpectedEvent.Reaction]) throws -> Scenario {
        var s = try Self.scenario(Self.lockstep)
        s.vcpus[1].events[0].reactions = steps
        return s
    }

    /// `expectUnmapped` on an IPA that still maps (the neighbour page) fails naming it; on x
    /// (just unmapped) it passes.
    @Test func expectUnmappedFailsWhenTheWalkStillTranslates() throws {
        let unmapX = ExpectedEvent.Reaction.unmap(ipa: IPA(Self.x), size: 0x1000)
        let good = try Self.lockstepWithHostSteps([unmapX, .expectUnmapped(set: nil, ipa: IPA(Self.x))])
        #expect(Self.run(good, Self.lockstepGuests()) == .pass)
        let bad = try Self.lockstepWithHostSteps([unmapX, .expectUnmapped(set: nil, ipa: IPA(Self.x + 0x1000))])
        let outcome = Self.run(bad, Self.lockstepGuests())
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("the session's tables still translate") && m.contains("at level 3"), "\(m)")
    }

    /// `expectTLBI`: the unmap's maintenance must include the named operation. The session's
    /// own choice for one page includes IPAS2E1IS (passes); VMALLS12E1IS is not in it (fails).
    @Test func expectTLBIFailsWhenTheOperationWasNotPerformed() throws {
        func unmapX(expecting c: TLBIOperation.Code) -> ExpectedEvent.Reaction {
            .unmapIn(set: nil, ipa: IPA(Self.x), size: 0x1000, tlbiUnder: nil, tlbi: nil, expectTLBI: [c])
        }
        let good = try Self.lockstepWithHostSteps([unmapX(expecting: .ipas2e1is)])
        #expect(Self.run(good, Self.lockstepGuests()) == .pass)
        let bad = try Self.lockstepWithHostSteps([unmapX(expecting: .vmalls12e1is)])
        let outcome = Self.run(bad, Self.lockstepGuests())
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("expected a TLBI") && m.contains("among them"), "\(m)")
    }

    /// An unmap's `tlbi` list must be what was performed: unmapping a page nothing maps
    /// performs no maintenance, which differs from the list given.
    @Test func anUnmapsTLBIListMustBeWhatWasPerformed() throws {
        let nothingThere = ExpectedEvent.Reaction.unmapIn(
            set: nil, ipa: IPA(Self.x + 0x4000), size: 0x1000, tlbiUnder: nil, tlbi: [.vmalls12e1is], expectTLBI: [])
        let s = try Self.lockstepWithHostSteps([.unmap(ipa: IPA(Self.x), size: 0x1000), nothingThere])
        let outcome = Self.run(s, Self.lockstepGuests())
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("TLB maintenance performed [], expected [\"tlbi vmalls12e1is\"]"), "\(m)")
    }

    // MARK: concurrent

    static let concurrent = #"""
        {
          "format": 1, "name": "cc", "summary": "s", "granule": "4k", "schedule": "concurrent",
          "let": {"x": "1 << 39", "pagePA": "dataPool + 0x20_0000", "flag": "scratch", "cookie": "0x4856_0000"},
          "memory": [{"name": "xpage", "ipa": "x", "size": "page", "access": "rw", "pa": "pagePA + page"},
                     {"name": "next", "ipa": "x + page", "size": "page", "access": "rw", "pa": "pagePA + 5*page"}],
          "plant": [{"pa": "pagePA + page", "bytes": 8, "value": "0x5AA5_0000_0001_C0DE"},
                    {"pa": "pagePA + 2*page", "bytes": 8, "value": "0x5AA5_0000_0002_C0DE"}],
          "vcpus": [
            {"ids": [0], "ops": [
              {"op": "watch", "at": "x", "flag": "flag", "record": "scratch + 0x100 + self * 0x40", "tail": 256,
               "old": "0x5AA5_0000_0001_C0DE", "new": "0x5AA5_0000_0002_C0DE",
               "raises": [{"fault": "translation", "level": 3, "times": "any", "whileFlag": {"at": "flag", "below": 2},
                           "after": "break", "softwareWalk": false}]}
            ]},
            {"ids": [1], "ops": [
              {"op": "hvc", "value": "cookie", "raises": [{"hvc": "hvcImm",
               "host": [{"waitForWatchers": true}, {"mark": "break"}, {"unmap": "xpage"}, {"expectUnmapped": {"ipa": "x"}}]}]},
              {"op": "store", "bytes": 8, "at": "flag", "value": 1},
              {"op": "hvc", "value": "cookie + 1", "raises": [{"hvc": "hvcImm",
               "host": [{"map": {"ipa": "x", "pa": "pagePA + 2*page", "size": "page", "access": "rw"}}]}]},
              {"op": "barrier", "result": 0},
              {"op": "store", "bytes": 8, "at": "flag", "value": 2}
            ]}
          ],
          "expectMemory": [{"pa": "flag", "bytes": 8, "value": 2}],
          "variants": [{"name": "v", "summary": "v"}]
        }
        """#

    /// Waits (a few seconds at most) until the flag in guest memory reads at least `v`.
    static func awaitFlag(_ b: SimulatedVCPU, _ v: UInt64) throws {
        let until = ContinuousClock.now.advanced(by: .seconds(10))
        while try b.read64(SessionLayout.scratch) < v {
            guard ContinuousClock.now < until else { throw BackendError.timeout(seconds: 10, lastExits: ["flag never read \(v)"]) }
        }
    }

    /// The watcher (vCPU 0) makes its first read, faults once while the entry is invalid (flag
    /// 1), then writes its record; the remapper (vCPU 1) sets the flag to 1 and 2 as its stores
    /// would. `x14`: the flag value the fault reports; `record`: what the watcher writes.
    static func concurrentGuests(
        x14: UInt64 = 1, record: WatchRecord = WatchRecord(first: old, second: new, changes: 1, stale: 0, reads: 300, flagged: 257)
    ) -> [SimulatedVCPU] {
        let ram = SharedRAM()
        let rec = SessionLayout.scratch.advanced(by: 0x100)
        let watcher: [SimulatedVCPU.Message] = [
            .init(
                kind: .trap, esr: loadFault, far: x, hpfar: hpfarX, elr: interp, op: 0, x14: x14,
                effect: { b in
                    try b.write64(1, at: rec.advanced(by: UInt64(GuestABI.watchOffReads)))
                    try awaitFlag(b, 1)
                }),
            .init(
                kind: .done, op: 1,
                effect: { b in
                    try awaitFlag(b, 2)
                    for (off, v) in [
                        (GuestABI.watchOffFirst, record.first), (GuestABI.watchOffSecond, record.second),
                        (GuestABI.watchOffChanges, record.changes), (GuestABI.watchOffStale, record.stale),
                        (GuestABI.watchOffReads, record.reads), (GuestABI.watchOffFlagged, record.flagged),
                    ] {
                        try b.write64(v, at: rec.advanced(by: UInt64(off)))
                    }
                    try b.results([(new, record.reads)])
                }),
        ]
        let hvc = 0x5A00_0000 | UInt64(GuestABI.hvcOp)
        let remapper: [SimulatedVCPU.Message] = [
            .init(kind: .trap, esr: hvc, elr: hvcReturn, op: 0, x0: 0x4856_0000),
            .init(kind: .trap, esr: hvc, elr: hvcReturn, op: 2, x0: 0x4856_0001, effect: { try $0.write64(1, at: SessionLayout.scratch) }),
            .init(
                kind: .done, op: 5,
                effect: { b in
                    try b.write64(2, at: SessionLayout.scratch)
                    try b.results([(0x4856_0000, 1), (0, 1), (0x4856_0001, 1), (0, 1), (0, 1)])
                }),
        ]
        return [SimulatedVCPU(0, of: 2, memory: ram, watcher), SimulatedVCPU(1, of: 2, memory: ram, remapper)]
    }

    @Test func concurrentPassesWithOldThenNew() throws {
        let s = try Self.scenario(Self.concurrent)
        #expect(s.schedule == .concurrent)
        #expect(
            s.vcpus[0].watches == [
                WatchCheck(
                    opIndex: 0, record: SessionLayout.scratch.rawValue + 0x100, flag: SessionLayout.scratch.rawValue, tail: 256,
                    old: Self.old, new: Self.new)
            ])
        #expect(
            s.vcpus[0].ops == [
                GuestOp(
                    .watch64, address: Self.x, value: SessionLayout.scratch.rawValue, aux: SessionLayout.scratch.rawValue + 0x100,
                    repeatCount: 256)
            ])
        let outcome = Self.run(s, Self.concurrentGuests())
        #expect(outcome == .pass, "\(outcome)")
    }

    @Test func concurrentFaultAfterTheFlagSaidDoneFails() throws {
        let outcome = Self.run(try Self.scenario(Self.concurrent), Self.concurrentGuests(x14: 2))
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("vCPU 0: fault at op 0 after the flag at 0x40320000 read 2 (x14): whileFlag"), "\(m)")
    }

    @Test func concurrentStaleReadFails() throws {
        let outcome = Self.run(
            try Self.scenario(Self.concurrent),
            Self.concurrentGuests(record: WatchRecord(first: Self.old, second: Self.new, changes: 1, stale: 3, reads: 300, flagged: 257)))
        guard case .fail(let m) = outcome else { return #expect(Bool(false), "\(outcome)") }
        #expect(m.contains("vCPU 0: watch op 0: STALE 3"), "\(m)")
    }

    // MARK: watch records, whileFlag, after

    static let watch = WatchCheck(opIndex: 0, record: 0x4032_0100, flag: 0x4032_0000, tail: 256, old: old, new: new)
    static let goodRecord = WatchRecord(first: old, second: new, changes: 1, stale: 0, reads: 5000, flagged: 1000)

    @Test func aGoodWatchRecordPasses() {
        #expect(Self.watch.mismatches(Self.goodRecord, count: 5000).isEmpty)
    }

    /// Each record field wrong on its own fails, naming the field.
    @Test(arguments: [
        ("FIRST", "FIRST 0x5aa500000003c0de"),
        ("SECOND", "SECOND 0x5aa500000003c0de"),
        ("never", "CHANGES 0"),
        ("twice", "CHANGES 2"),
        ("STALE", "STALE 1"),
        ("FLAGGED", "FLAGGED 255"),
        ("READS", "READS 1000"),
        ("count", "result count is 4999"),
    ])
    func eachWrongRecordFieldFails(field: String, names: String) {
        var r = Self.goodRecord
        var count: UInt64 = 5000
        switch field {
        case "FIRST": r.first = 0x5AA5_0000_0003_C0DE
        case "SECOND": r.second = 0x5AA5_0000_0003_C0DE
        case "never":
            r.changes = 0
            r.second = 0
        case "twice": r.changes = 2
        case "STALE": r.stale = 1
        case "FLAGGED": r.flagged = 255
        case "READS":
            r.reads = 1000
            count = 1000
        default: count = 4999
        }
        let bad = Self.watch.mismatches(r, count: count)
        #expect(bad.count == 1 && bad[0].contains(names), "\(field): \(bad)")
    }

    @Test func whileFlagAndAfterAreChecked() {
        var e = ExpectedEvent(
            .stage2Fault(
                ExpectedFault(
                    opIndex: 0, address: Self.x, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
                    kind: .translation, level: 3)))
        e.repeats = true
        e.whileFlag = (0x4032_0000, 2)
        e.after = "break"
        func message(x14: UInt64) -> MailboxMessage {
            var g = [UInt64](repeating: 0, count: GuestABI.msgGPRCount)
            g[14] = x14
            return MailboxMessage(
                kind: .trap, seq: 2, esr: Self.loadFault, far: Self.x, hpfar: Self.hpfarX, elr: Self.interp, opIndex: 0, gprs: g)
        }
        typealias C = MultiVCPURunner.Context
        #expect(C.occurrenceMismatches(message(x14: 1), event: e, marked: { $0 == "break" }, who: "vCPU 0: ").isEmpty)
        let flag = C.occurrenceMismatches(message(x14: 2), event: e, marked: { _ in true }, who: "vCPU 0: ")
        #expect(flag.count == 1 && flag[0].contains("whileFlag") && flag[0].contains("read 2 (x14)"), "\(flag)")
        let early = C.occurrenceMismatches(message(x14: 0), event: e, marked: { _ in false }, who: "vCPU 0: ")
        #expect(early.count == 1 && early[0].contains("before the host step mark 'break' ran"), "\(early)")
    }

    @Test func aRepeatingEventMatchesZeroOrMoreTimes() {
        let f = ExpectedFault(
            opIndex: 0, address: Self.x, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true), kind: .translation,
            level: 3)
        var rep = ExpectedEvent(.stage2Fault(f))
        rep.repeats = true
        let hvc = ExpectedEvent(.hvc(imm: 1, opIndex: 1))
        var c = VCPUEventCursor([rep, hvc])
        #expect(c.missing.map(\.description) == [hvc.description])
        for _ in 0..<3 { #expect(c.take(matches: { _ in true })?.repeats == true) }
        #expect(c.take(matches: { _ in false })?.description == hvc.description)
        #expect(c.missing.isEmpty && c.take(matches: { _ in true }) == nil)
        var none = VCPUEventCursor([rep])
        #expect(none.missing.isEmpty)
        #expect(none.take(matches: { _ in false }) == nil)
    }

    /// A repeating fault event takes faults of its own op, kind and level only: the split's
    /// level-2 faults, then level-3 ones; a level-2 fault after a level-3 one has no event left.
    @Test func repeatingFaultsMatchTheirLevel() {
        func fault(_ level: Int) -> ExpectedEvent {
            var e = ExpectedEvent(
                .stage2Fault(
                    ExpectedFault(
                        opIndex: 0, address: Self.x, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
                        kind: .translation, level: level)))
            e.repeats = true
            return e
        }
        func message(_ level: UInt64) -> (MailboxMessage, FaultReport) {
            let m = MailboxMessage(
                kind: .trap, seq: 2, esr: 0x93CB_8004 | level, far: Self.x, hpfar: Self.hpfarX, elr: Self.interp, opIndex: 0)
            return (m, FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar))
        }
        typealias C = MultiVCPURunner.Context
        var c = VCPUEventCursor([fault(2), fault(3)])
        for level: UInt64 in [2, 2, 3, 3] {
            let (m, r) = message(level)
            let got = c.take { C.isOccurrence(of: $0, m, r) }
            #expect(got.map { e in if case .stage2Fault(let f) = e.kind { f.level } else { -1 } } == Int(level))
        }
        let (m, r) = message(2)
        #expect(c.take { C.isOccurrence(of: $0, m, r) } == nil)
    }

    // MARK: files the builder rejects

    /// Each edit of the lockstep file must be rejected at `path`, with `message`.
    @Test(arguments: [
        (#""ids": [1]"#, #""ids": [0]"#, "$.vcpus[1].ids", "vCPU 0 is given a second op list"),
        (#""ids": [1]"#, #""ids": [2]"#, "$.vcpus[1].ids", "vCPU id 2; with 2 vCPUs the ids are 0 to 1"),
        (#""switchTo": 1"#, #""switchTo": 3"#, "$.vcpus[0].ops[1].raises[0].switchTo", "no vCPU 3"),
        (#""switchTo": 1"#, #""switchTo": 0"#, "$.vcpus[0].ops[1].raises[0].switchTo", "is the one raising this event"),
        (
            #""schedule": "lockstep""#, #""schedule": "concurrent""#, "$.vcpus[0].ops[1].raises[0].switchTo",
            "needs 'vcpus' with \"schedule\": \"lockstep\""
        ),
        (#""ids": [1], "ops""#, #""ids": [1], "tables": "T9", "ops""#, "$.vcpus[1].tables", "no table set named 'T9'"),
        (
            #""level": 3"#, #""level": 3, "times": "any""#, "$.vcpus[0].ops[2].raises[0].times",
            "needs 'vcpus' with \"schedule\": \"concurrent\""
        ),
        (#""level": 3"#, #""level": "derive""#, "$.vcpus[0].ops[2].raises[0].level", "with 'vcpus' give the level"),
        (
            #"{"unmap": "xpage"}"#, #"{"mark": "m"}"#, "$.vcpus[1].ops[1].raises[0].host[0].mark",
            "needs 'vcpus' with \"schedule\": \"concurrent\""
        ),
        (
            #""schedule": "lockstep","#, #""schedule": "lockstep", "ops": [{"op": "nop", "result": 0}],"#, "$.ops",
            "give 'ops' (one vCPU) or 'vcpus', not both"
        ),
    ])
    func badFilesNameThePath(old: String, new: String, path: String, message: String) throws {
        let text = Self.lockstep.replacing(old, with: new)
        #expect(text != Self.lockstep)
        do {
            _ = try Self.scenario(text)
            Issue.record("built without an error after '\(old)' -> '\(new)'")
        } catch let e as ScenarioFileError {
            #expect(e.path == path && e.message.contains(message), "\(e)")
        }
    }

    @Test func decodeErrorsNameThePath() {
        for (old, new, path, message) in [
            (#""ids": [1]"#, #""ids": []"#, "$.vcpus[1].ids", "ids is empty"),
            (#""schedule": "lockstep""#, #""schedule": "parallel""#, "$.schedule", "expected \"lockstep\" or \"concurrent\""),
            (
                #""switchTo": 1"#, #""switchTo": 1, "whileFlag": {"at": 0, "below": 2}"#, "$.vcpus[0].ops[1].raises[0].whileFlag",
                "needs \"times\""
            ),
            (#""level": 3"#, #""level": 3, "times": "twice""#, "$.vcpus[0].ops[2].raises[0].times", "expected \"any\""),
            (
                #"{"op": "load", "bytes": 8, "at": "x + page""#, #"{"op": "watch", "at": "x + page", "flag": 0"#, "$.vcpus[1].ops[2]",
                "a watch needs"
            ),
        ] {
            let text = Self.lockstep.replacing(old, with: new)
            #expect(text != Self.lockstep, "\(old)")
            do {
                _ = try ScenarioLoader.load(Array(text.utf8), file: "x.json")
                Issue.record("loaded without an error after '\(old)' -> '\(new)'")
            } catch {
                #expect(error.path.hasPrefix(path) && error.message.contains(message), "\(error)")
            }
        }
    }
}
