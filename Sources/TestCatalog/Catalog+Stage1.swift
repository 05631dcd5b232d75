import AArch64
import GuestProtocol
import KVM
import Runtime
import Stage2

#if canImport(Glibc)
    import Glibc
#endif

/// The test with the nested stage 1 on: a scripted scenario whose expected events are data
/// built before the run (Stage1Scenarios); the script only drives the session, checks each
/// event against its expectation and reacts.
extension Catalog {
    public static let stage1Tests: [CatalogTest] = [nestedStage1]

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
}

extension ExpectedAccess {
    var isWrite: Bool { if case .data(_, let w, _, _) = self { return w } else { return false } }
}
