import AArch64
import GuestProtocol
import Runtime
import Stage2

/// Two EL2 vCPUs sharing one set of stage-2 tables (one VTTBR_EL2): vCPU 1 unmaps a page
/// with a broadcast `TLBI IPAS2E1IS` (+ VMALLE1IS) executed at its own vEL2; vCPU 0, which
/// read the page through that translation before, must then take a stage-2 translation
/// fault on it (level 3) — never read the old page — and read the new page once the host
/// maps it. Both vCPUs run from one host thread, one KVM_RUN at a time, each with its own
/// config block, mailbox page, stacks, op list and results.
extension Advanced {
    public static let twoVCPUs = CatalogTest(
        name: "two-vcpus",
        summary:
            "a broadcast TLBI IPAS2E1IS after an unmap, issued at vCPU 1's vEL2, takes effect for vCPU 0: its next access to the page is a level-3 translation fault, then it reads the new page",
        tags: [.multiVCPU, .tlbi],
        variants: [
            TestVariant(
                name: "tlbi-is-unmap", summary: "4K granule, 40-bit IPA, shared tables, unmap on vCPU 1, fault on vCPU 0",
                requirements: [.stage2Granule(.k4)], tags: [.slow], budget: .long
            ) { _ in twoVCPUScenario() },
            TestVariant(
                name: "same-vmid-vmalls12",
                summary:
                    "one VMID, a different BADDR on each vCPU: each sees its own tables; TLBI VMALLS12E1IS on vCPU 1 after a remap in vCPU 0's tables reaches vCPU 0",
                requirements: [.stage2Granule(.k4)], tags: [.slow], budget: .long
            ) { _ in sameVMIDScenario() },
        ])

    /// vCPU 1's layout: everything per-vCPU moved beside vCPU 0's; its own (unused) table
    /// pool at the end of the data pool (GuestSession builds one per session).
    static func secondLayout(_ l: SessionLayout) -> SessionLayout {
        var s = l
        s.config = l.config.advanced(by: 0x1_0000)  // 0x4011_0000
        s.message = l.message.advanced(by: 0x1_0000)  // 0x4011_1000
        s.el2StackTop = l.el2StackTop.advanced(by: 0x1_0000)  // 0x4012_0000
        s.ops = l.ops.advanced(by: 0x8_0000)  // 0x4028_0000
        s.results = l.results.advanced(by: 0x8_0000)  // 0x4038_0000
        s.nestedStackTop = l.ops.advanced(by: 0x8_0000)  // grows down into unused op space
        s.dataPoolSize = l.dataPoolSize - 0x40_0000
        s.tablePool = l.dataPool.advanced(by: s.dataPoolSize)  // 0x4380_0000
        s.tablePoolSize = 0x40_0000
        return s
    }

    /// The op lists (pure; unit-tested): vCPU 0 reads x, waits at a host call, reads x again
    /// (faults once, then the new page); vCPU 1 reads x, unmaps it at a host call, reads a
    /// neighbour that stays mapped.
    static func twoVCPUPlans() -> (cpu0: LivePlan, cpu1: LivePlan, faultOp: Int) {
        var a = LivePlan()
        a.load(x, expect: pagePattern(1), times: 32)
        a.hostCall("vCPU 0 parked while vCPU 1 unmaps")
        let faultOp = a.ops.count
        a.load(x, expect: pagePattern(2))
        a.load(x, expect: pagePattern(2), times: 32)
        a.load(x + page, expect: pagePattern(5), times: 4)
        var b = LivePlan()
        b.load(x, expect: pagePattern(1), times: 4)
        b.hostCall("unmap \(hex(x)) with TLBI IPAS2E1IS + VMALLE1IS at vCPU 1's vEL2")
        b.load(x + page, expect: pagePattern(5), times: 4)
        return (a, b, faultOp)
    }

    /// The fault vCPU 0 must report: a 64-bit load into x11 of `x`, translation fault at
    /// level 3 (the level-3 table stays, its entry is invalid; Arm ARM D8.3 / ESR_EL2 DFSC
    /// 0b000111).
    static func twoVCPUExpectedFault(op: Int) -> ExpectedFault {
        ExpectedFault(
            opIndex: op, address: x, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
            kind: .translation, level: 3)
    }

    static func twoVCPUScenario() -> Scenario {
        // The runner's own VM (one vCPU) only says HELLO; the test builds a two-vCPU VM.
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: [])
        s.notes = [
            "a second VM with two EL2 vCPUs is created inside the test (the runner's VM has one); tables in vCPU 1's session, installed on vCPU 0 by VTTBR_EL2 in its HELLO reply"
        ]
        s.script = { ctx in try runTwoVCPUs(ctx) }
        return s
    }

    /// A second VM with two EL2 vCPUs (the guest hypervisor in the same VHE/non-VHE mode as the
    /// runner's), and one session per vCPU, each with its own config block, message page and
    /// stacks (`secondLayout`). Its log lines are tagged with the vCPU.
    static func twoVCPUSessions(
        _ ctx: ScriptContext, ops0: [GuestOp], ops1: [GuestOp]
    )
        throws -> (vm: MachineBackend, cpu1: MachineBackend, s0: GuestSession, s1: GuestSession)
    {
        guard let outer = ctx.backend as? MachineBackend, let facts = ctx.session.facts else {
            throw SessionError.skip("the two-vCPU test needs the KVM backend")
        }
        let layout0 = SessionLayout.standard
        let layout1 = secondLayout(.standard)
        try layout1.validate(imageBytes: 0)
        let vm = try MachineBackend(layout: layout0, e2h0: !facts.e2h, timeout: outer.timeout, vcpuCount: 2)
        let cpu1 = try MachineBackend(sharing: vm, vcpu: 1)
        func tagged(_ t: String) -> (String) -> Void { { ctx.log("  [\(t)] " + $0.drop(while: { $0 == " " })) } }
        let s0 = try GuestSession(
            backend: vm, layout: layout0, granule: granule, ipaBits: ipaBits, vmid: 1, ops: ops0,
            verbose: ctx.verbose, log: tagged("vCPU 0"))
        let s1 = try GuestSession(
            backend: cpu1, layout: layout1, granule: granule, ipaBits: ipaBits, vmid: 1, ops: ops1,
            verbose: ctx.verbose, log: tagged("vCPU 1"))
        return (vm, cpu1, s0, s1)
    }

    static func runTwoVCPUs(_ ctx: ScriptContext) throws -> ScriptOutcome {
        let (plan0, plan1, faultOp) = twoVCPUPlans()
        let (vm, cpu1, s0, s1) = try twoVCPUSessions(ctx, ops0: plan0.ops, ops1: plan1.ops)
        // The shared tables: s1's (its TLB maintenance runs on vCPU 1).
        try s1.map(ipa: IPA(x), pa: PhysicalAddress(pagePA(1)), size: page, attributes: rw)
        try s1.map(ipa: IPA(x + page), pa: PhysicalAddress(pagePA(5)), size: page, attributes: rw)
        for k: UInt64 in [1, 2, 5] { try vm.write(le64(pagePattern(k)), at: PhysicalAddress(pagePA(k))) }
        guard s0.tables.vtcr == s1.tables.vtcr else {
            return ScriptOutcome(failures: ["the two sessions' VTCR_EL2 differ: \(hex(s0.tables.vtcr)) vs \(hex(s1.tables.vtcr))"])
        }
        let shared = s1.tables.vttbr
        try s0.configure { pc, x0 in try vm.start(pc: pc, x0: x0) }
        try s1.configure { pc, x0 in try cpu1.start(pc: pc, x0: x0) }

        var failures: [String] = []
        var faults = 0
        let hvc = LivePlan.hvcSyndrome(immediate: GuestABI.hvcOp)
        func expect(_ s: GuestSession, _ kind: MessageKind, op: Int?, esr: UInt64? = nil, _ what: String) throws -> MailboxMessage? {
            let m = try s.nextMessage()
            if m.kind != kind || (op != nil && m.opIndex != op) || (esr != nil && m.esr != esr) {
                failures.append("\(what): got " + s.describe(m))
                if m.kind == .trap, FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar).isStage2Abort { faults += 1 }
                return nil
            }
            return m
        }
        func hello(_ s: GuestSession, _ what: String) throws -> Bool {
            guard try expect(s, .hello, op: nil, what + " HELLO") != nil else { return false }
            try s.reply(MailboxReply(seq: s.pending!.seq, action: .resume, vttbr: shared))
            return true
        }
        func stopBoth() throws -> ScriptOutcome {
            for (k, s) in [s0, s1].enumerated() where s.pending != nil {
                do { try s.reply(.stop) } catch { failures.append("vCPU \(k): stopping its guest: \(error)") }
            }
            return ScriptOutcome(failures: failures, faults: faults)
        }

        // 1. vCPU 0 reads x through the shared tables, then parks at its host call.
        guard try hello(s0, "vCPU 0"), try expect(s0, .trap, op: plan0.hostCalls[0].opIndex, esr: hvc, "vCPU 0 host call") != nil
        else { return try stopBoth() }
        // 2. vCPU 1 reads x, unmaps it (break + broadcast TLBI executed by vCPU 1), reads x + 4K, DONE.
        guard try hello(s1, "vCPU 1"), try expect(s1, .trap, op: plan1.hostCalls[0].opIndex, esr: hvc, "vCPU 1 host call") != nil
        else { return try stopBoth() }
        try s1.unmap(ipa: IPA(x), size: page)
        if case .translation(let t) = s1.tables.walk(IPA(x)) { failures.append("x still translates to \(t.outputAddress) after the unmap") }
        try s1.reply(.resume)
        guard try expect(s1, .done, op: plan1.ops.count, "vCPU 1 DONE") != nil else { return try stopBoth() }
        // 3. vCPU 0 resumes: its next read of x must fault at level 3 (the broadcast TLBI reached it).
        try s0.reply(.resume)
        let want = twoVCPUExpectedFault(op: faultOp)
        let m = try s0.nextMessage()
        let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
        guard m.kind == .trap, report.isStage2Abort else {
            failures.append(
                "vCPU 0 after the unmap: expected \(want), got " + s0.describe(m) + " (a stale translation survived the broadcast TLBI)")
            return try stopBoth()
        }
        faults += 1
        ctx.log("  [vCPU 0] " + report.oneLine)
        failures += twoVCPUCheck(
            m, report: report, against: want, payload: s0.payloadRange, walk: { s1.tables.walk($0, access: $1) })
        // 4. Map x to the new page (invalid → valid: no maintenance needed) and let vCPU 0 retry.
        try s1.map(ipa: IPA(x), pa: PhysicalAddress(pagePA(2)), size: page, attributes: rw)
        try s0.reply(.resume)
        guard try expect(s0, .done, op: plan0.ops.count, "vCPU 0 DONE") != nil else { return try stopBoth() }

        for (name, s, plan) in [("vCPU 0", s0, plan0), ("vCPU 1", s1, plan1)] {
            failures += OpResultCheck.failures(
                ops: plan.ops, results: try s.readResults(), expected: plan.expectedResults, name: name + " ")
        }
        return ScriptOutcome(failures: failures, faults: faults)
    }

    /// The fault's syndrome against the expectation: every field the single-vCPU runner
    /// compares (`FaultCheck`), with the software walk of the tables the vCPU runs under when
    /// they are not being edited concurrently (`walk`).
    static func twoVCPUCheck(
        _ m: MailboxMessage, report: FaultReport, against want: ExpectedFault,
        payload: Range<UInt64>, walk: ((IPA, Stage2Access) -> Stage2WalkResult)? = nil, who: String = "vCPU 0"
    ) -> [String] {
        FaultCheck.mismatches(m, report: report, against: want, payload: payload, walk: walk, who: who + " ")
    }
}

extension Advanced {
    /// Same VMID (5), different tables per vCPU (CnP = 0, so each PE may use its own tables
    /// for one VMID; Arm ARM VTTBR_EL2.CnP). vCPU 0 (table set T0: x → page 1) and vCPU 1 (T1:
    /// x → page 2) each read their own page; vCPU 1's host call remaps x in T0 to page 3 with
    /// TLBI VMALLS12E1IS executed on vCPU 1 (its VTTBR holds T1, same VMID: the operation
    /// names the VMID, not the tables); vCPU 0 then reads page 3, vCPU 1 still page 2.
    static func sameVMIDPlans() -> (cpu0: LivePlan, cpu1: LivePlan) {
        var a = LivePlan()
        a.load(x, expect: pagePattern(1), times: 16)
        a.hostCall("vCPU 0 parked while vCPU 1 remaps x in T0")
        a.load(x, expect: pagePattern(3))
        a.load(x, expect: pagePattern(3), times: 16)
        var b = LivePlan()
        b.load(x, expect: pagePattern(2), times: 16)
        b.hostCall("remap x in T0 -> page 3, TLBI VMALLS12E1IS on vCPU 1 (VTTBR: T1, same VMID)")
        b.load(x, expect: pagePattern(2), times: 16)
        return (a, b)
    }

    static func sameVMIDScenario() -> Scenario {
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: [])
        s.notes = ["a second VM with two EL2 vCPUs is created inside the test; VMID 5 on both, T0 at \(poolPA(0)), T1 at \(poolPA(1))"]
        s.script = { ctx in try runSameVMID(ctx) }
        return s
    }

    static func runSameVMID(_ ctx: ScriptContext) throws -> ScriptOutcome {
        let (plan0, plan1) = sameVMIDPlans()
        let (vm, cpu1, s0, s1) = try twoVCPUSessions(ctx, ops0: plan0.ops, ops1: plan1.ops)
        let t0 = try LiveTables(name: "T0", session: s1, pool: poolPA(0), poolBytes: poolBytes, vmid: 5)
        let t1 = try LiveTables(name: "T1", session: s1, pool: poolPA(1), poolBytes: poolBytes, vmid: 5)
        try t0.map(IPA(x), PhysicalAddress(pagePA(1)), page, rw, tlb: nil)
        try t1.map(IPA(x), PhysicalAddress(pagePA(2)), page, rw, tlb: nil)
        for k: UInt64 in 1...3 { try vm.write(le64(pagePattern(k)), at: PhysicalAddress(pagePA(k))) }
        guard Set([s0.tables.vtcr, s1.tables.vtcr, t0.tables.vtcr, t1.tables.vtcr]).count == 1 else {
            return ScriptOutcome(failures: ["the table sets' VTCR_EL2 differ"])
        }
        try s0.configure { pc, x0 in try vm.start(pc: pc, x0: x0) }
        try s1.configure { pc, x0 in try cpu1.start(pc: pc, x0: x0) }

        var failures: [String] = []
        let hvc = LivePlan.hvcSyndrome(immediate: GuestABI.hvcOp)
        func expect(_ s: GuestSession, _ kind: MessageKind, op: Int?, esr: UInt64? = nil, _ what: String) throws -> Bool {
            let m = try s.nextMessage()
            if m.kind == .trap, FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar).isStage2Abort {
                ctx.log("  " + FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar).oneLine)
            }
            if m.kind != kind || (op != nil && m.opIndex != op) || (esr != nil && m.esr != esr) {
                failures.append("\(what): got " + s.describe(m))
                return false
            }
            return true
        }
        func stopBoth() -> ScriptOutcome {
            for (k, s) in [s0, s1].enumerated() where s.pending != nil {
                do { try s.reply(.stop) } catch { failures.append("vCPU \(k): stopping its guest: \(error)") }
            }
            return ScriptOutcome(failures: failures)
        }
        guard try expect(s0, .hello, op: nil, "vCPU 0 HELLO") else { return stopBoth() }
        try s0.reply(MailboxReply(seq: s0.pending!.seq, action: .resume, vttbr: t0.vttbr))
        guard try expect(s0, .trap, op: plan0.hostCalls[0].opIndex, esr: hvc, "vCPU 0 host call") else { return stopBoth() }
        guard try expect(s1, .hello, op: nil, "vCPU 1 HELLO") else { return stopBoth() }
        try s1.reply(MailboxReply(seq: s1.pending!.seq, action: .resume, vttbr: t1.vttbr))
        guard try expect(s1, .trap, op: plan1.hostCalls[0].opIndex, esr: hvc, "vCPU 1 host call") else { return stopBoth() }
        var tlb = VTTBRExitTLB(session: s1, vttbr: nil, translate: { _ in [.vmalls12e1is] })
        do { try t0.tables.map(ipa: IPA(x), pa: PhysicalAddress(pagePA(3)), size: page, attributes: rw, tlb: &tlb) } catch {
            throw SessionError.unexpected("remap in T0: \(error)")
        }
        if tlb.performed != [.vmalls12e1is] { failures.append("TLB maintenance performed: \(tlb.performed.map(\.description))") }
        try s1.reply(.resume)
        guard try expect(s1, .done, op: plan1.ops.count, "vCPU 1 DONE") else { return stopBoth() }
        try s0.reply(.resume)
        guard try expect(s0, .done, op: plan0.ops.count, "vCPU 0 DONE") else { return stopBoth() }
        for (name, s, plan) in [("vCPU 0", s0, plan0), ("vCPU 1", s1, plan1)] {
            failures += OpResultCheck.failures(
                ops: plan.ops, results: try s.readResults(), expected: plan.expectedResults, name: name + " ")
        }
        return ScriptOutcome(failures: failures)
    }
}
