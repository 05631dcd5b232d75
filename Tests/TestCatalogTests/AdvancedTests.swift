import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// The live-edit tests' pure parts: expected exits/results built from the plans, the HVC
/// syndrome, TLBI operands and VTTBR values, all derived by hand from the Arm ARM; and the
/// script engine's mailbox behaviour against a scripted "payload".
@Suite struct AdvancedPlans {
    @Test func hvcSyndromeMatchesTheArmARM() {
        // ESR_EL2: EC 0b010110 (HVC, AArch64) in [31:26] = 0x5800_0000, IL [25] = 0x0200_0000, imm16.
        #expect(LivePlan.hvcSyndrome(immediate: 1) == 0x5A00_0001)
        #expect(LivePlan.hvcSyndrome(immediate: 0xD0DE) == 0x5A00_D0DE)
    }

    @Test func planExitsAndResults() {
        var p = LivePlan()
        p.load(0x1000, expect: 7, times: 3)
        p.hostCall("edit")
        p.store(0x1008, 9)
        p.hostCall("again")
        #expect(p.ops.map(\.kind) == [.load64, .hvc, .store64, .hvc])
        #expect(p.ops[0].repeatCount == 3)
        #expect(p.expectedExits == [.hostCall(opIndex: 1, label: "edit"), .hostCall(opIndex: 3, label: "again"), .done(opIndex: 4)])
        // x0 comes back unchanged from each hvc: its cookie; a store leaves x11 = 0.
        #expect(p.expectedResults == [0: 7, 1: p.ops[1].value, 2: 0, 3: p.ops[3].value])
        #expect(p.ops[1].value != p.ops[3].value)
    }

    @Test func breakBeforeMakePlan() {
        let p = Advanced.bbmPlan()
        #expect(p.hostCalls.map(\.opIndex) == [1, 8])
        #expect(p.expectedExits.last == .done(opIndex: 15))
        // Before the remap: page 1; the first load after it: page 2; the store then read back.
        #expect(p.expectedResults[0] == Advanced.pagePattern(1))
        #expect(p.ops[2].address == Advanced.x && p.ops[2].repeatCount == 1 && p.expectedResults[2] == Advanced.pagePattern(2))
        #expect(p.expectedResults[5] == Advanced.storedValue)
        // After the split: the split page is page 3; its former block neighbours keep the block's data.
        #expect(p.ops[9].address == Advanced.y + 0x5000 && p.expectedResults[9] == Advanced.pagePattern(3))
        #expect(p.ops[14].address == Advanced.y + 0x1F_F000 && p.expectedResults[14] == Advanced.blockPattern(511))
        // Every pattern is distinct (a stale read cannot pass for a fresh one).
        let pats = (1...3).map { Advanced.pagePattern(UInt64($0)) } + (0..<512).map { Advanced.blockPattern(UInt64($0)) }
        #expect(Set(pats).count == pats.count)
        // The block is 2 MiB aligned in IPA and PA (a level-2 block, Arm ARM D8.2).
        #expect(Advanced.y % 0x20_0000 == 0 && Advanced.blockPA % 0x20_0000 == 0)
    }

    @Test func scopeOperandsFromTheArmARM() {
        let ipa = IPA(0x80_0000_2000)
        // Xt: IPA[47:12] = 0x800_0002; TTL [47:44] = TG 0b01 (4KB) << 2 | level 3 = 0b0111.
        #expect(
            Advanced.scopeOperations([.ipa(ipa, level: 3, granule: .k4)], hint: true)
                == [.ipas2e1(0x7000_0800_0002), .vmalle1is])
        #expect(
            Advanced.scopeOperations([.ipa(ipa, level: 3, granule: .k4)], hint: false)
                == [.ipas2e1(0x800_0002), .vmalle1is])
    }

    @Test func aliasVTTBRs() {
        // VMID in [63:48]; VMID 0x0002 → 0x0102 sets bit 56; CnP is bit 0.
        let v: UInt64 = 0x0002_0000_4100_0000
        #expect(Advanced.aliasVTTBR(v, cnp: false) == 0x0102_0000_4100_0000)
        #expect(Advanced.aliasVTTBR(v, cnp: true) == 0x0002_0000_4100_0001)
        // ID_AA64MMFR1_EL1.VMIDBits [7:4] = 0b0010: 16 bits; ID_AA64MMFR2_EL1.CnP [3:0].
        func facts(mmfr1: UInt64, mmfr2: UInt64) -> VCPUFacts {
            VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: 0, mmfr1: mmfr1, mmfr2: mmfr2)
        }
        #expect(Advanced.has16BitVMIDs(facts(mmfr1: 0x20, mmfr2: 0)))
        #expect(!Advanced.has16BitVMIDs(facts(mmfr1: 0x0F, mmfr2: 0)))
        #expect(Advanced.hasCnP(facts(mmfr1: 0, mmfr2: 1)))
        #expect(!Advanced.hasCnP(facts(mmfr1: 0, mmfr2: 0x10)))
    }
}

/// The file versions of the live-edit tests against a scripted payload: what the event
/// runner writes into the reply area (formerly checked for the Swift script engine).
@Suite struct AdvancedScriptProtocol {
    struct Reply {
        var action: UInt32
        var flags: UInt32
        var vttbr: UInt64
        var tlbi: [(UInt64, UInt64)]
    }
    static func reply(_ b: ScriptedBackend) throws -> Reply {
        let r = try b.read(b.layout.message, count: GuestABI.messageSize)
        let n = Int(r.loadLE(UInt64.self, at: GuestABI.rplOffTLBICount))
        let ops = (0..<min(n, GuestABI.rplTLBIMax)).map { i -> (UInt64, UInt64) in
            let e = GuestABI.rplOffTLBI + i * GuestABI.rplTLBIEntrySize
            return (r.loadLE(UInt64.self, at: e), r.loadLE(UInt64.self, at: e + 8))
        }
        return Reply(
            action: r.loadLE(UInt32.self, at: GuestABI.rplOffAction), flags: r.loadLE(UInt32.self, at: GuestABI.rplOffFlags),
            vttbr: r.loadLE(UInt64.self, at: GuestABI.rplOffVTTBR), tlbi: ops)
    }
    static func hvc(seq: UInt64, op: Int) -> (ScriptedBackend) throws -> BackendExit {
        ScriptedBackend.send(MailboxMessage(kind: .trap, seq: seq, esr: 0x5A00_0001, elr: 0x4000_1000, spsr: 0x3C5, opIndex: op))
    }

    func run(_ scenario: Scenario, _ script: [(ScriptedBackend) throws -> BackendExit]) -> (Outcome, ScriptedBackend) {
        let b = ScriptedBackend(script)
        return (ScenarioRunner(log: { _ in }).run(scenario, requirements: [], backend: b) { _, _ in }.outcome, b)
    }

    @Test func switchesVTTBRAndTLBIsUnderTheNamedVMID() throws {
        // Set A: VMID 2, pool 0x4100_0000; B: VMID 3, pool 0x4110_0000. 4K/40-bit: the root is
        // two concatenated level-1 tables (8 KiB, aligned) at the pool base (Arm ARM D8.2).
        let vttbrA: UInt64 = 0x0002_0000_4100_0000
        let vttbrB: UInt64 = 0x0003_0000_4110_0000
        var replies: [Reply] = []
        let capture: (ScriptedBackend) throws -> Void = { replies.append(try Self.reply($0)) }
        let (outcome, backend) = run(
            try #require(Catalog.test(named: "vmid-isolation")?.variants.first { $0.name == "switch" }).scenario(HostFacts()),
            [
                ScriptedBackend.hello,
                Self.hvc(seq: 2, op: 0),
                { b in
                    try capture(b)
                    return try Self.hvc(seq: 3, op: 2)(b)
                },
                { b in
                    try capture(b)
                    return try Self.hvc(seq: 4, op: 4)(b)
                },
                { b in
                    try capture(b)
                    return try Self.hvc(seq: 5, op: 6)(b)
                },
                // The remap in B: the host asks for TLB maintenance under B's VTTBR first.
                { b in
                    try capture(b)
                    return try ScriptedBackend.send(MailboxMessage(kind: .ack, seq: 6, opIndex: nil))(b)
                },
                { b in
                    try capture(b)
                    return try ScriptedBackend.send(
                        MailboxMessage(
                            kind: .trap, seq: 7, esr: 0x9200_0007, far: 0x80_0000_0000,
                            hpfar: 0x800_0000 << 4, opIndex: 7))(b)
                },
                { _ in throw BackendError.timeout(seconds: 1, lastExits: []) },
            ])
        try capture(backend)
        try #require(replies.count == 6)
        let resume = ReplyAction.resume.rawValue
        #expect(replies[0].action == resume && replies[0].flags == GuestABI.rplFlagVTTBR && replies[0].vttbr == vttbrA)
        #expect(replies[1].action == resume && replies[1].vttbr == vttbrB)
        #expect(replies[2].action == resume && replies[2].vttbr == vttbrA)
        // Break: TLBI IPAS2E1IS (IPA 0x80_0000_0000 >> 12, no TTL: the HELLO's MMFR2 is 0), VMALLE1IS, under B.
        #expect(replies[3].action == ReplyAction.tlbiThenAck.rawValue && replies[3].vttbr == vttbrB)
        #expect(replies[3].tlbi.map(\.0) == [TLBIOperation.Code.ipas2e1is.rawValue, TLBIOperation.Code.vmalle1is.rawValue])
        #expect(replies[3].tlbi.first?.1 == 0x800_0000)
        // Then the guest resumes under A.
        #expect(replies[4].action == resume && replies[4].vttbr == vttbrA)
        // A stage-2 fault where the next expected event is an HVC fails the test.
        guard case .fail(let m) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(m.contains("stage-2 fault") && m.contains("at op 7, expected op 8: HVC #0x1"), "\(m)")
    }

    @Test func wrongHostCallIsAFailure() throws {
        // The plan's first host call is op 1 (after a load loop); one at op 0 is wrong.
        let (outcome, _) = run(
            try #require(Catalog.test(named: "break-before-make")?.variants.first { $0.name == "4k" }).scenario(HostFacts()),
            [
                // The host's remap at that (wrong) host call asks for TLB maintenance: ACK, then DONE.
                ScriptedBackend.hello, Self.hvc(seq: 2, op: 0),
                ScriptedBackend.send(MailboxMessage(kind: .ack, seq: 3, opIndex: nil)),
                ScriptedBackend.send(MailboxMessage(kind: .done, seq: 4, opIndex: 15)),
            ])
        guard case .fail(let m) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(m.contains("expected op 1: HVC #0x1") && m.contains("reported for op 0"), "\(m)")
    }
}

@Suite struct AdvancedTwoVCPUPlans {
    @Test func plansAndExpectedFault() {
        let (a, b, faultOp) = Advanced.twoVCPUPlans()
        #expect(a.hostCalls.map(\.opIndex) == [1] && b.hostCalls.map(\.opIndex) == [1])
        #expect(faultOp == 2 && a.ops[faultOp].address == Advanced.x)
        #expect(a.expectedExits.last == .done(opIndex: 5) && b.expectedExits.last == .done(opIndex: 3))
        // Before the unmap both read page 1; after it vCPU 0 reads page 2.
        #expect(a.expectedResults[0] == Advanced.pagePattern(1) && b.expectedResults[0] == Advanced.pagePattern(1))
        #expect(a.expectedResults[2] == Advanced.pagePattern(2))
        let f = Advanced.twoVCPUExpectedFault(op: faultOp)
        #expect(f.kind == .translation && f.level == 3 && f.address == 0x80_0000_0000)
        #expect(f.access == .data(bytes: 8, write: false, register: 11, sixtyFourBit: true))
    }

    @Test func sameVMIDPlans() {
        let (a, b) = Advanced.sameVMIDPlans()
        // vCPU 0's tables map x to page 1, vCPU 1's to page 2; after the remap in T0 vCPU 0 reads page 3.
        #expect(a.expectedResults[0] == Advanced.pagePattern(1) && b.expectedResults[0] == Advanced.pagePattern(2))
        #expect(a.expectedResults[2] == Advanced.pagePattern(3) && a.expectedResults[3] == Advanced.pagePattern(3))
        #expect(b.expectedResults[2] == Advanced.pagePattern(2))
        #expect(a.expectedExits == [.hostCall(opIndex: 1, label: a.hostCalls[0].label), .done(opIndex: 4)])
    }

    /// The per-vCPU layout a two-vCPU file runs with (`SessionLayout.forVCPU`).
    @Test func secondVCPULayoutIsValidAndDisjoint() throws {
        let l0 = SessionLayout.forVCPU(0, of: 2)
        let l1 = SessionLayout.forVCPU(1, of: 2)
        try l0.validate(imageBytes: 4096)
        try l1.validate(imageBytes: 4096)
        // Per-vCPU areas differ; the payload and the identity-mapped nested region are shared.
        #expect(l1.config != l0.config && l1.message != l0.message && l1.el2StackTop != l0.el2StackTop)
        #expect(l1.payload == l0.payload && l1.nested == l0.nested)
        // vCPU 1's config/message/stack page range lies above vCPU 0's EL2 stack top.
        #expect(l1.config.rawValue >= l0.el2StackTop.rawValue)
        // vCPU 1's ops/results: 256 KiB slices of the shared nested region, clear of vCPU 0's.
        #expect(l1.ops.rawValue == 0x4024_0000 && l1.results.rawValue == 0x4034_0000)
        #expect(l1.ops.rawValue >= l0.ops.rawValue + UInt64(Advanced.twoVCPUPlans().cpu0.ops.count * GuestABI.opSize))
        #expect(l0.nestedStackTop.rawValue <= l1.results.rawValue && l1.nestedStackTop.rawValue <= l1.nested.rawValue + l1.nestedSize)
        // The scratch page: past vCPU 0's largest result list, below its stack.
        #expect(SessionLayout.scratch.rawValue >= l0.results.rawValue + UInt64(SessionLayout.maxOpsPerVCPU * GuestABI.resultSize))
        #expect(SessionLayout.scratch.rawValue + 0x1000 <= l0.nestedStackTop.rawValue - 0x1_0000)
        // Its table pool is outside vCPU 0's pool and data pages, at the end of the shrunk data pool.
        #expect(l1.tablePool.rawValue >= Advanced.pagePA(16))
        #expect(l1.tablePool.rawValue == l0.dataPool.rawValue + l0.dataPoolSize)
        #expect(l1.tablePool.rawValue + l1.tablePoolSize <= l0.ramBase.rawValue + l0.ramSize)
    }
}
