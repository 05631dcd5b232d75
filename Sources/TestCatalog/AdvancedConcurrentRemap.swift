import AArch64
import Glibc
import GuestProtocol
import Machine
import Runtime
import Stage2
import Synchronization

/// Several EL2 vCPUs running at the same time, each from its own host thread, sharing one set
/// of stage-2 tables: the watchers load from page x in a tight loop (WATCH64) while vCPU 1
/// remaps x with break-before-make — invalid entry, TLBI (IPAS2E1IS + VMALLE1IS, or
/// VMALLS12E1IS) + DSB at its own vEL2, then a guest-memory flag = 1; new entry, DSB, flag = 2.
/// A watcher must read only the old value, then only the new one; never the old one once it
/// has read the flag at 1 or more (Arm ARM D8.13 "TLB maintenance": once the DSB after a
/// broadcast TLBI completes, no PE in the Inner Shareable domain uses the old translation);
/// its only faults may be level-3 translation faults on x while the entry is invalid (between
/// the break and the flag reading 2), each answered by retrying the load.
extension Advanced {
    public static let concurrentRemap = CatalogTest(
        name: "concurrent-remap",
        summary:
            "vCPUs on their own host threads load from a page while vCPU 1 remaps it at its vEL2 with break-before-make and a broadcast TLBI: old-then-new values only, never the old one after the DSB, no stray fault",
        tags: [.multiVCPU, .tlbi],
        variants: [
            TestVariant(
                name: "ipas2e1is", summary: "2 vCPUs, TLBI IPAS2E1IS + VMALLE1IS on vCPU 1 while vCPU 0 loads",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 2, tlbi: .ipas2e1is)) },
            TestVariant(
                name: "vmalls12e1is", summary: "2 vCPUs, TLBI VMALLS12E1IS on vCPU 1 while vCPU 0 loads",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 2, tlbi: .vmalls12e1is)) },
            TestVariant(
                name: "4vcpu-ipas2e1is", summary: "4 vCPUs, TLBI IPAS2E1IS + VMALLE1IS on vCPU 1 while vCPUs 0, 2, 3 load",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 4, tlbi: .ipas2e1is)) },
            TestVariant(
                name: "4vcpu-vmalls12e1is", summary: "4 vCPUs, TLBI VMALLS12E1IS on vCPU 1 while vCPUs 0, 2, 3 load",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 4, tlbi: .vmalls12e1is)) },
            TestVariant(
                name: "block-split",
                summary:
                    "2 vCPUs, vCPU 1 splits a 2 MiB block into pages (invalid block entry, TLBI IPAS2E1IS level 2 + VMALLE1IS; then a level-3 table whose watched page maps a new page) while vCPU 0 loads from it",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 2, tlbi: .ipas2e1is, edit: .blockSplit)) },
            TestVariant(
                name: "4vcpu-block-split", summary: "4 vCPUs, the block split on vCPU 1 while vCPUs 0, 2, 3 load",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 4, tlbi: .ipas2e1is, edit: .blockSplit)) },
            TestVariant(
                name: "vmid-switch",
                summary:
                    "2 vCPUs, vCPU 1 runs under VMID 2 and remaps x in VMID 1's tables, switching VTTBR_EL2 to VMID 1 for the TLBI IPAS2E1IS + VMALLE1IS and back, while vCPU 0 loads under VMID 1",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 2, tlbi: .ipas2e1is, edit: .vmidSwitch)) },
            TestVariant(
                name: "4vcpu-vmid-switch", summary: "4 vCPUs, the VMID switch on vCPU 1 while vCPUs 0, 2, 3 load under VMID 1",
                requirements: [.stage2Granule(.k4)]
            ) { _ in concurrentRemapScenario(RemapPlan(vcpus: 4, tlbi: .ipas2e1is, edit: .vmidSwitch)) },
        ])

    /// The plan of a concurrent remap (pure; unit-tested): per-vCPU op lists and the values.
    struct RemapPlan: Sendable {
        enum Invalidation: Sendable { case ipas2e1is, vmalls12e1is }
        /// What vCPU 1 changes: a page's output address; a 2 MiB block split into pages (the
        /// watched page gets a new output address); or a page of VMID 1's tables while vCPU 1
        /// itself runs under VMID 2 (its VTTBR_EL2 switched to VMID 1 for the TLBI and back).
        enum Edit: Sendable { case page, blockSplit, vmidSwitch }
        var vcpus: Int
        var tlbi: Invalidation
        var edit: Edit = .page
        /// The vCPU that remaps; every other one watches.
        let remapper = 1
        /// Reads each watcher makes once the flag reads 2.
        var tail: UInt32 = 256
        /// The watched page of the block (block-split).
        static let blockPage: UInt64 = 3
        var watched: UInt64 { edit == .blockSplit ? y + Self.blockPage * page : x }
        var old: UInt64 { edit == .blockSplit ? blockPattern(Self.blockPage) : pagePattern(1) }
        var oldPA: UInt64 { edit == .blockSplit ? blockPA + Self.blockPage * page : pagePA(1) }
        let new = pagePattern(2)
        let newPA = pagePA(2), neighbourPA = pagePA(5)
        /// The level a watcher's load faults at while the entry is invalid: the level-3 entry
        /// of x (its level-3 table stays: x + 4K is mapped), or the level-2 block entry.
        var faultLevel: Int { edit == .blockSplit ? 2 : 3 }
        init(vcpus: Int, tlbi: Invalidation, edit: Edit = .page) {
            self.vcpus = vcpus
            self.tlbi = tlbi
            self.edit = edit
        }

        var watchers: [Int] { (0..<vcpus).filter { $0 != remapper } }
        /// The flag and the watch records: in the op/result region (identity-mapped RW),
        /// past vCPU 0's results and below its stack.
        static let flag = SessionLayout.standard.results.rawValue + 0x2_0000
        static func record(_ vcpu: Int) -> UInt64 { flag + 0x100 + UInt64(vcpu) * 0x40 }

        func watcherPlan(_ vcpu: Int) -> LivePlan {
            var p = LivePlan()
            p.watch(watched, flag: Self.flag, record: Self.record(vcpu), tail: tail, expectLast: new)
            return p
        }
        func remapperPlan() -> LivePlan {
            var p = LivePlan()
            let what =
                switch edit {
                case .page: "x's entry"
                case .blockSplit: "the block entry of \(hex(y))"
                case .vmidSwitch: "x's entry in VMID 1's tables (VTTBR_EL2 switched to VMID 1 for the TLBI, then back to VMID 2)"
                }
            p.hostCall(
                "break: invalidate \(what), \(tlbi == .ipas2e1is ? "TLBI IPAS2E1IS + VMALLE1IS" : "TLBI VMALLS12E1IS") + DSB at vEL2")
            p.store(Self.flag, 1)
            p.hostCall(
                edit == .blockSplit
                    ? "make: a level-3 table for \(hex(y)), page \(Self.blockPage) -> \(hex(newPA)), the others as before"
                    : "make: x -> \(hex(newPA))")
            p.barrier()
            p.store(Self.flag, 2)
            return p
        }
    }

    /// vCPU k's layout: per-vCPU config, message page and vEL2 stack 64 KiB apart; op list,
    /// results and nested stack in 256 KiB slices of the op/result region; each vCPU after
    /// the first gets its own table pool at the end of the (shrunk) data pool.
    static func vcpuLayout(_ k: Int, of n: Int) -> SessionLayout {
        let standard = SessionLayout.standard
        var s = standard
        let kk = UInt64(k)
        s.config = standard.config.advanced(by: kk * 0x1_0000)
        s.message = standard.message.advanced(by: kk * 0x1_0000)
        s.el2StackTop = standard.el2StackTop.advanced(by: kk * 0x1_0000)
        s.ops = standard.ops.advanced(by: kk * 0x4_0000)
        s.results = standard.results.advanced(by: kk * 0x4_0000)
        s.nestedStackTop = s.results.advanced(by: 0x4_0000)
        s.dataPoolSize = standard.dataPoolSize - UInt64(n - 1) * 0x40_0000
        if k > 0 {
            s.tablePool = standard.dataPool.advanced(by: s.dataPoolSize + (kk - 1) * 0x40_0000)
            s.tablePoolSize = 0x40_0000
        }
        return s
    }

    static func concurrentRemapScenario(_ plan: RemapPlan) -> Scenario {
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: [])
        s.notes = [
            "a second VM with \(plan.vcpus) EL2 vCPUs is created inside the test, each vCPU run from its own host thread; tables in vCPU 1's session"
        ]
        s.script = { ctx in try runConcurrentRemap(ctx, plan) }
        return s
    }

    /// State the threads share: how far the remap got (0 before the break, 1 after it, 2
    /// after the make) and whether a thread gave up.
    final class RemapShared: Sendable {
        let phase = Atomic<Int>(0)
        let abort = Atomic<Bool>(false)
        /// vCPUs that have reported HELLO (made their first KVM_RUN).
        let hellos = Atomic<Int>(0)
        let vcpus: Int
        let deadline: ContinuousClock.Instant
        init(vcpus: Int, deadline: ContinuousClock.Instant) {
            self.vcpus = vcpus
            self.deadline = deadline
        }

        /// Waits until every vCPU has made its first KVM_RUN (reported HELLO), so no vCPU
        /// starts its first run while another one spins in its guest without exits. (Without
        /// this, with 4 vCPUs in the emulated host, vCPU 0 reached its loop and vCPUs 1–3 never
        /// reported HELLO, past their own watchdogs; the cause in the host kernel is not known.)
        /// False when another thread gave up or the deadline passed.
        func allSaidHello() -> Bool {
            hellos.add(1, ordering: .sequentiallyConsistent)
            while hellos.load(ordering: .sequentiallyConsistent) < vcpus {
                if abort.load(ordering: .sequentiallyConsistent) || ContinuousClock.now >= deadline { return false }
                sched_yield()
            }
            return true
        }
    }

    /// What one vCPU's thread found; its log lines are printed after all threads ended.
    struct VCPUReport: Sendable {
        var vcpu: Int
        var failures: [String] = []
        var faults = 0
        var log: [String] = []
    }

    final class LineLog {
        var lines: [String] = []
    }

    static func runConcurrentRemap(_ ctx: ScriptContext, _ plan: RemapPlan) throws -> ScriptOutcome {
        guard let outer = ctx.backend as? MachineBackend, let facts = ctx.session.facts else {
            throw SessionError.skip("the concurrent-remap test needs the KVM backend")
        }
        let n = plan.vcpus
        let vm = try MachineBackend(layout: vcpuLayout(0, of: n), e2h0: !facts.e2h, timeout: outer.timeout, vcpuCount: n)
        var backends: [MachineBackend] = [vm]
        for k in 1..<n { backends.append(try MachineBackend(sharing: vm, vcpu: k)) }
        var sessions: [GuestSession] = []
        var logs: [LineLog] = []
        var plans: [LivePlan] = []
        let verbose = ctx.verbose
        for k in 0..<n {
            let layout = vcpuLayout(k, of: n)
            try layout.validate(imageBytes: 0)
            let lines = LineLog()
            let p = k == plan.remapper ? plan.remapperPlan() : plan.watcherPlan(k)
            let tag = "  [vCPU \(k)] "
            sessions.append(
                try GuestSession(
                    backend: backends[k], layout: layout, granule: granule, ipaBits: ipaBits, vmid: 1,
                    ops: p.ops, verbose: ctx.verbose,
                    log: { line in
                        let l = tag + line.drop(while: { $0 == " " })
                        lines.lines.append(l)
                        // --verbose: also straight to stderr, so a hang shows where each vCPU got to.
                        if verbose { StandardError.write(l + "\n") }
                    }))
            logs.append(lines)
            plans.append(p)
        }
        let remapper = sessions[plan.remapper]
        // The shared tables: the remapper's (its TLB maintenance runs on its vCPU).
        try remapper.map(ipa: IPA(x), pa: PhysicalAddress(plan.oldPA), size: page, attributes: rw)
        // A neighbour that stays mapped keeps x's level-3 table (the break leaves one invalid
        // entry, so a fault during it is at level 3).
        try remapper.map(ipa: IPA(x + page), pa: PhysicalAddress(plan.neighbourPA), size: page, attributes: rw)
        // The block (block-split): in the same level-2 table as x, so its break leaves an
        // invalid level-2 entry (a fault during it is at level 2).
        if plan.edit == .blockSplit {
            try remapper.map(ipa: IPA(y), pa: PhysicalAddress(blockPA), size: block, attributes: rw)
            guard case .translation(let t) = remapper.tables.walk(IPA(plan.watched)), t.level == 2 else {
                return ScriptOutcome(failures: ["the block at \(hex(y)) is not a level-2 block mapping"])
            }
        }
        for (pa, v) in [(pagePA(1), pagePattern(1)), (plan.oldPA, plan.old), (plan.newPA, plan.new)] {
            try vm.write(le64(v), at: PhysicalAddress(pa))
        }
        try vm.write([UInt8](repeating: 0, count: 0x100 + n * 0x40), at: PhysicalAddress(RemapPlan.flag))
        guard Set(sessions.map(\.tables.vtcr)).count == 1 else {
            return ScriptOutcome(failures: ["the sessions' VTCR_EL2 differ: \(sessions.map { hex($0.tables.vtcr) })"])
        }
        let shared = remapper.tables.vttbr
        // vmid-switch: vCPU 1 runs under VMID 2 (its own table set, mapping what the payload
        // needs); VMID 1's tables are the shared ones the watchers run under.
        var remapperVTTBR = shared
        if plan.edit == .vmidSwitch {
            let own = try LiveTables(name: "VMID 2", session: remapper, pool: poolPA(0), poolBytes: poolBytes, vmid: 2)
            guard own.tables.vtcr == remapper.tables.vtcr else { return ScriptOutcome(failures: ["the VMID 2 tables' VTCR_EL2 differs"]) }
            remapperVTTBR = own.vttbr
            ctx.log("  vCPU 1 runs under VTTBR_EL2 \(hex(remapperVTTBR)) (VMID 2), the watchers under \(hex(shared)) (VMID 1)")
        }
        for k in 0..<n {
            let b = backends[k]
            try sessions[k].configure { pc, x0 in try b.start(pc: pc, x0: x0) }
        }

        let (allSessions, allPlans) = (sessions, plans)
        let deadline = ContinuousClock.now.advanced(by: outer.timeout)
        let state = RemapShared(vcpus: n, deadline: deadline)
        let bodies: [() throws -> VCPUReport] = (0..<n).map { k in
            if k == plan.remapper {
                return {
                    remap(allSessions[k], allPlans[k], plan, shared: shared, own: remapperVTTBR, state: state, deadline: deadline)
                }
            }
            return { watch(allSessions[k], vcpu: k, allPlans[k], plan, shared: shared, state: state) }
        }
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        ctx.log(
            "  \(n) vCPU threads on a host with \(cpus) online CPU(s)\(cpus < n ? " (fewer CPUs than vCPUs: the threads also take turns)" : "")"
        )
        let results = try VCPUThreads.run(bodies)

        var outcome = ScriptOutcome()
        for (k, r) in results.enumerated() {
            for line in logs[k].lines { ctx.log(line) }
            switch r {
            case .success(let report):
                for line in report.log { ctx.log("  [vCPU \(k)] " + line) }
                outcome.failures += report.failures.map { "vCPU \(k): " + $0 }
                outcome.faults += report.faults
            case .failure(let error):
                outcome.failures.append("vCPU \(k): \(error)")
            }
        }
        return outcome
    }

    /// Gives up on the run: the watchers stop looping (flag = 2) and the remapper stops waiting.
    static func abandon(_ s: GuestSession, _ state: RemapShared, _ report: inout VCPUReport) {
        state.abort.store(true, ordering: .sequentiallyConsistent)
        do { try s.backend.write64(2, at: PhysicalAddress(RemapPlan.flag)) } catch {
            report.failures.append("setting the stop flag for the other vCPUs: \(error)")
        }
    }

    /// vCPU 1's thread: waits until every watcher is in its loop, breaks (invalid entry, TLBI
    /// at its vEL2), lets its guest set the flag to 1, makes (new entry), and its guest sets
    /// the flag to 2 after a DSB.
    static func remap(
        _ s: GuestSession, _ p: LivePlan, _ plan: RemapPlan, shared: UInt64, own: UInt64, state: RemapShared,
        deadline: ContinuousClock.Instant
    ) -> VCPUReport {
        var report = VCPUReport(vcpu: plan.remapper)
        let hvc = LivePlan.hvcSyndrome(immediate: GuestABI.hvcOp)
        do {
            func expect(_ kind: MessageKind, op: Int?, esr: UInt64? = nil, _ what: String) throws -> Bool {
                let m = try s.nextMessage()
                if m.kind != kind || (op != nil && m.opIndex != op) || (esr != nil && m.esr != esr) {
                    report.failures.append("\(what): got " + s.describe(m))
                    return false
                }
                return true
            }
            guard try expect(.hello, op: nil, "HELLO") else {
                abandon(s, state, &report)
                return report
            }
            guard state.allSaidHello() else {
                report.failures.append("not every vCPU reported HELLO in time")
                abandon(s, state, &report)
                return report
            }
            try s.reply(MailboxReply(seq: s.pending!.seq, action: .resume, vttbr: own))
            guard try expect(.trap, op: p.hostCalls[0].opIndex, esr: hvc, "host call 0 (break)") else {
                abandon(s, state, &report)
                return report
            }
            // Every watcher has made its first read (its record's READS is set) and is looping.
            for w in plan.watchers {
                let at = PhysicalAddress(RemapPlan.record(w) + UInt64(GuestABI.watchOffReads))
                while try s.backend.read64(at) == 0 {
                    if state.abort.load(ordering: .sequentiallyConsistent) {
                        report.failures.append("stopped waiting for vCPU \(w): another vCPU gave up")
                        try s.reply(.stop)
                        return report
                    }
                    if ContinuousClock.now >= deadline {
                        report.failures.append("vCPU \(w) never started its loop (its watch record stayed 0)")
                        abandon(s, state, &report)
                        try s.reply(.stop)
                        return report
                    }
                    sched_yield()
                }
            }
            // Break: the phase is published before the entry goes invalid (a fault a watcher
            // reports while the phase is still 0 happened before the break: stray).
            state.phase.store(1, ordering: .sequentiallyConsistent)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            switch (plan.tlbi, plan.edit) {
            case (.ipas2e1is, .page):
                try s.unmap(ipa: IPA(x), size: page)
            case (.ipas2e1is, .blockSplit):
                // The block entry goes invalid; the session's TLBI: IPAS2E1IS (TTL level 2 with
                // FEAT_TTL) + VMALLE1IS.
                try s.unmap(ipa: IPA(y), size: block)
            case (.ipas2e1is, .vmidSwitch):
                // TLBI IPAS2E1IS acts on the VMID in VTTBR_EL2 when it executes (Arm ARM C5.5
                // TLBI IPAS2E1IS): the TLBI_THEN_ACK reply writes VMID 1's VTTBR before it.
                var tlb = VTTBRExitTLB(session: s, vttbr: shared)
                try s.unmap(ipa: IPA(x), size: page, tlb: &tlb)
                if !tlb.performed.contains(where: { if case .ipas2e1is = $0 { true } else { false } }) {
                    report.failures.append("TLB maintenance performed: \(tlb.performed.map(\.description)), expected an IPAS2E1IS")
                }
            case (.vmalls12e1is, _):
                var tlb = VTTBRExitTLB(session: s, vttbr: nil, translate: { _ in [.vmalls12e1is] })
                try s.unmap(ipa: IPA(x), size: page, tlb: &tlb)
                if tlb.performed != [.vmalls12e1is] {
                    report.failures.append("TLB maintenance performed: \(tlb.performed.map(\.description)), expected VMALLS12E1IS")
                }
            }
            if case .translation(let t) = s.tables.walk(IPA(plan.watched)) {
                report.failures.append("\(hex(plan.watched)) still translates to \(t.outputAddress) after the break")
            }
            report.log.append(
                "break done (\(plan.tlbi == .ipas2e1is ? "IPAS2E1IS + VMALLE1IS" : "VMALLS12E1IS") + DSB at vEL2); flag = 1 next")
            // Back to vCPU 1's own VTTBR_EL2 (vmid-switch: VMID 2) for the rest of its ops.
            try s.reply(MailboxReply(seq: s.pending!.seq, action: .resume, vttbr: own))
            guard try expect(.trap, op: p.hostCalls[1].opIndex, esr: hvc, "host call 1 (make)") else {
                abandon(s, state, &report)
                return report
            }
            // Make: invalid -> valid needs no TLB maintenance.
            if plan.edit == .blockSplit {
                // A level-3 table: the pages around the watched one keep the block's output.
                let j = RemapPlan.blockPage * page
                try s.map(ipa: IPA(y), pa: PhysicalAddress(blockPA), size: j, attributes: rw)
                try s.map(ipa: IPA(y + j), pa: PhysicalAddress(plan.newPA), size: page, attributes: rw)
                try s.map(ipa: IPA(y + j + page), pa: PhysicalAddress(blockPA + j + page), size: block - j - page, attributes: rw)
                for (ipa, pa) in [(y, blockPA), (y + j, plan.newPA), (y + block - page, blockPA + block - page)] {
                    guard case .translation(let t) = s.tables.walk(IPA(ipa)), t.level == 3, t.outputAddress.rawValue == pa else {
                        report.failures.append("after the split \(hex(ipa)) does not translate to \(hex(pa)) at level 3")
                        continue
                    }
                }
            } else {
                try s.map(ipa: IPA(x), pa: PhysicalAddress(plan.newPA), size: page, attributes: rw)
            }
            state.phase.store(2, ordering: .sequentiallyConsistent)
            try s.reply(.resume)
            guard try expect(.done, op: p.ops.count, "DONE") else {
                abandon(s, state, &report)
                return report
            }
            report.failures += resultMismatches(s, p)
        } catch {
            report.failures.append("\(error)")
            abandon(s, state, &report)
        }
        return report
    }

    /// A watcher's thread: HELLO, then answers its faults (only level-3 translation faults on
    /// x while the entry is invalid: retried) until DONE; then checks its watch record.
    static func watch(
        _ s: GuestSession, vcpu: Int, _ p: LivePlan, _ plan: RemapPlan, shared: UInt64,
        state: RemapShared
    ) -> VCPUReport {
        var report = VCPUReport(vcpu: vcpu)
        let want = ExpectedFault(
            opIndex: 0, address: plan.watched, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
            kind: .translation, level: plan.faultLevel)
        do {
            var m = try s.nextMessage()
            guard m.kind == .hello else {
                report.failures.append("expected HELLO, got " + s.describe(m))
                abandon(s, state, &report)
                return report
            }
            guard state.allSaidHello() else {
                report.failures.append("not every vCPU reported HELLO in time")
                abandon(s, state, &report)
                return report
            }
            try s.reply(MailboxReply(seq: m.seq, action: .resume, vttbr: shared))
            while true {
                m = try s.nextMessage()
                if m.kind == .done {
                    if m.opIndex != p.ops.count {
                        report.failures.append("DONE at op \(m.opIndex.map(String.init) ?? "none"), expected \(p.ops.count)")
                    }
                    break
                }
                let fault = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
                guard m.kind == .trap, fault.isStage2Abort else {
                    report.failures.append("unexpected exit while watching x: " + s.describe(m))
                    try s.reply(.stop)
                    abandon(s, state, &report)
                    return report
                }
                report.faults += 1
                // No software walk: the remapper edits the tables while this thread checks.
                var bad = twoVCPUCheck(m, report: fault, against: want, payload: s.payloadRange, who: "the")
                // x14: the flag the faulting iteration read before the load (WATCH64).
                let flagSeen = m.gprs[14]
                let phase = state.phase.load(ordering: .sequentiallyConsistent)
                if phase == 0 { bad.append("stray fault before the break: " + fault.oneLine) }
                if flagSeen >= 2 {
                    bad.append("stray fault after the flag read \(flagSeen) (the new entry was in place): " + fault.oneLine)
                }
                if !bad.isEmpty {
                    report.failures += bad
                    try s.reply(.stop)
                    abandon(s, state, &report)
                    return report
                }
                if report.faults <= 3 {
                    report.log.append("fault while the entry is invalid (flag \(flagSeen)): " + fault.oneLine + "; retried")
                }
                try s.reply(.resume)
            }
            let bytes = try s.backend.read(PhysicalAddress(RemapPlan.record(vcpu)), count: GuestABI.watchSize)
            let record = try WatchRecord(bytes: bytes)
            report.log.append(
                "\(record.reads) reads, \(record.flagged) after the flag, \(record.changes) change(s), \(report.faults) fault(s) retried")
            report.failures += watchMismatches(record, plan)
            report.failures += resultMismatches(s, p)
        } catch {
            report.failures.append("\(error)")
            abandon(s, state, &report)
        }
        return report
    }

    /// A watch record against the plan: old first, exactly one change, to the new value,
    /// no read of the old value once the flag read 1 or more, the tail fully read.
    static func watchMismatches(_ r: WatchRecord, _ plan: RemapPlan) -> [String] {
        var bad: [String] = []
        if r.first != plan.old { bad.append("first read \(hex(r.first)), expected the old page's \(hex(plan.old))") }
        if r.changes == 0 { bad.append("the value never changed from \(hex(r.first)): the new mapping was never seen") }
        if r.changes > 1 {
            bad.append("the value changed \(r.changes) times (old-then-new is one change): a read went back or saw another value")
        }
        if r.changes >= 1 && r.second != plan.new {
            bad.append("the first change was to \(hex(r.second)), expected the new page's \(hex(plan.new))")
        }
        if r.stale != 0 {
            bad.append(
                "\(r.stale) read(s) of the old value after the flag said the broadcast TLBI and its DSB had completed (stale translation)")
        }
        if r.flagged < UInt64(plan.tail) { bad.append("only \(r.flagged) read(s) after the flag, expected at least \(plan.tail)") }
        return bad
    }

    /// Every op ran as often as asked and produced its expected result.
    static func resultMismatches(_ s: GuestSession, _ p: LivePlan) -> [String] {
        var bad: [String] = []
        let results: [OpResult]
        do { results = try s.readResults() } catch { return ["reading the results: \(error)"] }
        for (i, op) in p.ops.enumerated() {
            let n = UInt64(max(op.repeatCount, 1))
            if op.kind != .watch64 && results[i].count != n {
                bad.append("op \(i) (\(op.kind.cName)) ran \(results[i].count) time(s), expected \(n)")
            }
            if let v = p.expectedResults[i], results[i].value != v {
                bad.append("op \(i) (\(op.kind.cName) at \(hex(op.address))) produced \(hex(results[i].value)), expected \(hex(v))")
            }
        }
        return bad
    }
}
