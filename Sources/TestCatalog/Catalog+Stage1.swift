import AArch64
import GuestProtocol
import KVM
import Runtime
import Stage2

#if canImport(Glibc)
    import Glibc
#endif

/// Issue-6 tests with the nested stage 1 on, dirty logging and two-level demand paging.
/// Each is a scripted scenario: the expected events are data built before the run
/// (Stage1Scenarios / DirtyLogScenario / TwoLevelScenario), the script only drives the
/// session, checks each event against its expectation and reacts.
extension Catalog {
    public static let stage1Tests: [CatalogTest] = [nestedStage1, dirtyLogging]

    public static let nestedStage1 = CatalogTest(
        name: "stage1-on",
        summary:
            "the nested guest turns its own stage-1 MMU on; stage-1 tables at IPAs stage 2 does not map raise stage-2 faults with S1PTW=1 at the right level and HPFAR; atomics work with both stages on",
        tags: [.stage1, .stage2Faults],
        variants: [
            TestVariant(
                name: "s1ptw",
                summary:
                    "S1PTW translation faults at stage-2 levels 1, 2 and 3 (loads, a store, a fetch), then the data faults; LDADD/CAS/loads checked by hand",
                requirements: [.stage2Granule(.k4), .physicalAddressBits(40)]
            ) { _ in
                let plan = try NestedStage1.plan(permissionVariant: false)
                var s = plan.scenario
                s.script = stage1Script(plan)
                return s
            },
            TestVariant(
                name: "s1ptw-permission",
                summary:
                    "FEAT_HAFDBS: the walk's Access-flag write to a read-only stage-2 table page → stage-2 permission fault with S1PTW=1; host makes it writable; AF set",
                requirements: [.stage2Granule(.k4), .physicalAddressBits(40)]
            ) { _ in
                let plan = try NestedStage1.plan(permissionVariant: true)
                var s = plan.scenario
                s.script = stage1Script(plan)
                return s
            },
        ])

    public static let dirtyLogging = CatalogTest(
        name: "dirty-log",
        summary:
            "KVM_GET_DIRTY_LOG on a memslot with KVM_MEM_LOG_DIRTY_PAGES holds exactly the pages the nested guest wrote (not those it only read), per round",
        tags: [.stage1, .liveEdit],
        variants: [
            TestVariant(
                name: "4k", summary: "8 host pages in their own logged memslot; two rounds split by an HVC checkpoint",
                requirements: [.stage2Granule(.k4)]
            ) { _ in
                let plan = try DirtyLog.plan(pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE))))
                var s = plan.scenario
                s.script = dirtyLogScript(plan)
                return s
            },
            TestVariant(
                name: "4k-ram-slot",
                summary:
                    "the same on the RAM memslot (logging turned on after HELLO): test pages + exactly the payload's message, vEL2-stack and results pages",
                requirements: [.stage2Granule(.k4)]
            ) { _ in
                let plan = try DirtyLog.plan(pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE))), slot: .ram)
                var s = plan.scenario
                s.script = dirtyLogScript(plan)
                return s
            },
        ])

    // MARK: scripts

    /// ID_AA64ISAR0_EL1 (op0 3, op1 0, CRn 0, CRm 6, op2 0; Arm ARM D24.2): Atomic, bits
    /// [23:20], 0b0010 = FEAT_LSE (LDADD, CAS, …).
    static let idAA64ISAR0 = SystemRegister(op0: 3, op1: 0, crn: 0, crm: 6, op2: 0, name: "ID_AA64ISAR0_EL1")

    static func stage1Script(_ plan: NestedStage1.Plan) -> @Sendable (ScriptContext) throws -> ScriptOutcome {
        { ctx in
            let session = ctx.session
            guard let facts = session.facts else { throw SessionError.unexpected("no HELLO facts") }
            // ID_AA64MMFR0_EL1.TGran4, bits [31:28]: 0b1111 = the 4 KB granule is not
            // supported at stage 1 (0b0000 / 0b0001 = supported).
            if (facts.mmfr0 >> 28) & 0xF == 0xF {
                throw SessionError.skip("the vCPU does not support the 4K granule at stage 1 (ID_AA64MMFR0_EL1.TGran4 = 0b1111)")
            }
            if plan.needsHardwareAccessFlag && facts.mmfr1 & 0xF == 0 {
                // ID_AA64MMFR1_EL1.HAFDBS, bits [3:0] (Arm ARM D24.2): 0 = no hardware
                // Access flag update, so a stage-1 walk never writes a descriptor and a
                // read-only stage-2 table page cannot cause an S1PTW permission fault.
                throw SessionError.skip(
                    "the vCPU does not implement FEAT_HAFDBS (ID_AA64MMFR1_EL1 0x\(String(facts.mmfr1, radix: 16)), HAFDBS = 0): a stage-1 walk never writes its tables, so it cannot take a permission fault on a read-only stage-2 page"
                )
            }
            if !plan.needsHardwareAccessFlag {
                guard let mb = ctx.backend as? MachineBackend else {
                    throw SessionError.skip("needs a KVM backend to read ID_AA64ISAR0_EL1")
                }
                let isar0 = try mb.systemRegister(idAA64ISAR0)
                if (isar0 >> 20) & 0xF < 0b0010 {
                    throw SessionError.skip(
                        "the vCPU has no FEAT_LSE (ID_AA64ISAR0_EL1.Atomic = \((isar0 >> 20) & 0xF)): LDADD/CAS would be undefined")
                }
            }
            var failures: [String] = []
            var faults = 0
            var expected = plan.faults[...]
            loop: while true {
                let m = try session.nextMessage()
                switch m.kind {
                case .done:
                    break loop
                case .trap:
                    let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
                    guard report.isStage2Abort else { throw SessionError.unexpected("unexpected trap: " + session.describe(m)) }
                    faults += 1
                    ctx.log("  " + report.oneLine)
                    guard let want = expected.popFirst() else {
                        throw SessionError.check(
                            "unexpected stage-2 fault (all \(plan.faults.count) expected faults already seen): \(report.oneLine)")
                    }
                    failures += want.mismatches(
                        esr: m.esr, far: m.far, hpfar: m.hpfar, elr: m.elr, spsr: m.spsr,
                        opIndex: m.opIndex, interpreter: session.payloadRange)
                    // The builder's software walk of the same tables must agree (stage 2 only).
                    let walkAccess: Stage2Access =
                        want.s1ptw
                        ? (want.kind == .permission ? .write : .read)
                        : (want.access == .fetch ? .fetch : (want.access.isWrite ? .write : .read))
                    if case .fault(let f) = session.tables.walk(IPA(want.ipa), access: walkAccess), f.statusCode != report.status?.code {
                        failures.append(
                            "fault for \(want): software walk says \(f), hardware FSC 0x\(String(report.status?.code ?? 0, radix: 16))")
                    }
                    let page = HPFAR(m.hpfar).pageIPA.rawValue
                    let rw = Stage2Attributes(permissions: [.read, .write])
                    switch report.status?.kind {
                    case .translation?:
                        guard let pa = plan.backing[page] else {
                            throw SessionError.check("stage-2 fault at IPA page \(hex(page)), which the test never maps: \(report.oneLine)")
                        }
                        // Read/write/execute: the fetch case executes from a page mapped here.
                        try session.map(ipa: IPA(page), pa: pa, size: 0x1000, attributes: .normalRWX)
                        guard case .translation(let t) = session.tables.walk(IPA(page)) else {
                            throw SessionError.unexpected("stage-2 builder did not map \(hex(page))")
                        }
                        try session.reply(.resume, tlbi: session.payloadOperations(for: [.ipa(IPA(page), level: t.level, granule: .k4)]))
                    case .permission? where plan.protectOnPermission:
                        // protect() does break-before-make with the payload's TLBIs itself.
                        try session.protect(ipa: IPA(page), size: 0x1000, attributes: rw)
                        try session.reply(.resume)
                    default:
                        throw SessionError.check("no reaction planned for \(report.oneLine)")
                    }
                default:
                    throw SessionError.unexpected(session.describe(m))
                }
            }
            if let first = expected.first { failures.append("\(expected.count) expected fault(s) never happened, first: \(first)") }
            for pa in plan.accessFlagSetAt {
                let d = try ctx.backend.read64(pa)
                if d & Stage1.afBit == 0 {
                    failures.append(
                        "stage-1 descriptor at PA \(pa) = \(hex(d)): AF still 0 after the access (hardware update expected, TCR_EL1.HA = 1)"
                    )
                } else {
                    ctx.log("     stage-1 descriptor at PA \(pa) now \(hex(d)) (AF set by the walker)")
                }
            }
            return ScriptOutcome(failures: failures, faults: faults)
        }
    }

    static func dirtyLogScript(_ plan: DirtyLog.Plan) -> @Sendable (ScriptContext) throws -> ScriptOutcome {
        { ctx in
            let session = ctx.session
            guard let mb = ctx.backend as? MachineBackend else { throw SessionError.skip("dirty logging needs the KVM backend") }
            guard mb.hostPageSize == plan.pageSize else {
                throw SessionError.unexpected(
                    "plan built for 0x\(String(plan.pageSize, radix: 16))-byte pages, host has 0x\(String(mb.hostPageSize, radix: 16))")
            }
            switch plan.slot {
            case .own:
                try mb.addRAM(name: plan.regionName, base: PhysicalAddress(plan.regionBase), size: plan.regionSize, logDirtyPages: true)
            case .ram:
                try mb.setDirtyLogging(true, region: plan.regionName)
            }
            for (pa, bytes) in plan.planted { try mb.write(bytes, at: pa) }
            var failures: [String] = []
            let testPages = plan.regionBase..<(plan.regionBase + plan.regionSize)
            func describe(_ pages: [UInt64]) -> String {
                pages.map { testPages.contains($0) ? "test page \(($0 - plan.regionBase) / plan.pageSize)" : "0x" + String($0, radix: 16) }
                    .joined(separator: ", ")
            }
            func logged() throws -> [UInt64] { try mb.dirtyPages(region: plan.regionName).map(\.rawValue).sorted() }
            func compare(_ got: [UInt64], _ wantTest: [Int], _ when: String, payload: Bool = true) {
                let want = (wantTest.map { plan.regionBase + UInt64($0) * plan.pageSize } + (payload ? plan.payloadPages : [])).sorted()
                ctx.log("     dirty log \(when): [\(describe(got))] (expected [\(describe(want))])")
                if got != want { failures.append("dirty log \(when): [\(describe(got))], expected exactly [\(describe(want))]") }
            }
            // The host's own writes (planting) go through its mapping, not the guest: no bits.
            compare(try logged(), [], "before the guest ran", payload: false)
            var checkpoints = 0
            loop: while true {
                let m = try session.nextMessage()
                switch m.kind {
                case .done:
                    break loop
                case .trap where ESR(m.esr).exceptionClass == .hvcAArch64 && ESR(m.esr).immediate == GuestABI.hvcOp:
                    guard m.opIndex == plan.checkpointOp else {
                        throw SessionError.check("HVC from op \(m.opIndex.map(String.init) ?? "?"), expected op \(plan.checkpointOp)")
                    }
                    checkpoints += 1
                    let got = try logged()
                    compare(got, plan.dirtyAtCheckpoint, "at the HVC checkpoint")
                    var regs = m.gprs
                    regs[0] = UInt64(got.filter { testPages.contains($0) }.count)
                    try session.reply(.resume, gprs: regs)  // HVC: ELR_EL2 is already past it
                case .trap:
                    throw SessionError.check("unexpected trap (stage 2 maps the whole region up front): " + session.describe(m))
                default:
                    throw SessionError.unexpected(session.describe(m))
                }
            }
            if checkpoints != 1 { failures.append("the HVC checkpoint was reached \(checkpoints) times, expected once") }
            compare(try logged(), plan.dirtyAtDone, "at DONE")
            compare(try logged(), [], "read again (KVM_GET_DIRTY_LOG clears what it returns)", payload: false)
            if plan.slot == .ram { try mb.setDirtyLogging(false, region: plan.regionName) }
            return ScriptOutcome(failures: failures, faults: 0)
        }
    }
}

extension ExpectedAccess {
    var isWrite: Bool { if case .data(_, let w, _, _) = self { return w } else { return false } }
}
