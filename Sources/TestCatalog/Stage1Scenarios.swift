import AArch64
import GuestProtocol
import Runtime
import Stage2

/// One stage-2 fault a scripted test expects, in order. Unlike `ExpectedFault` the faulting VA
/// (FAR) and IPA (HPFAR) may differ (the nested stage 1 is on), and the fault may come from
/// the stage-1 table walk (S1PTW = 1: HPFAR names the page holding the stage-1 descriptor).
public struct Stage2FaultExpectation: Sendable, Equatable, CustomStringConvertible {
    public var opIndex: Int
    /// FAR_EL2: the VA the instruction accessed (= the IPA with the nested stage 1 off).
    public var far: UInt64
    /// The IPA stage 2 could not translate. S1PTW: the stage-1 descriptor's IPA (HPFAR gives
    /// its page, bits [47:12]); otherwise the data IPA (HPFAR page + FAR[11:0]).
    public var ipa: UInt64
    public var s1ptw: Bool
    public var kind: FaultStatus.Kind
    /// The stage-2 lookup level the fault is reported at (DFSC/IFSC[1:0]).
    public var level: Int
    /// The instruction's access. For S1PTW faults the syndrome describes the walk, not the
    /// instruction, so only EC (data abort for a load/store) is taken from it.
    public var access: ExpectedAccess

    public init(opIndex: Int, far: UInt64, ipa: UInt64, s1ptw: Bool, kind: FaultStatus.Kind, level: Int, access: ExpectedAccess) {
        self.opIndex = opIndex
        self.far = far
        self.ipa = ipa
        self.s1ptw = s1ptw
        self.kind = kind
        self.level = level
        self.access = access
    }

    /// The page of guest-physical (IPA) space the host must fix.
    public var ipaPage: UInt64 { ipa & ~0xFFF }

    public var description: String {
        "op \(opIndex): stage-2 \(kind) fault L\(level)\(s1ptw ? " on the stage-1 walk (descriptor IPA 0x\(String(ipa, radix: 16)))" : " at IPA 0x\(String(ipa, radix: 16))"), \(access), VA 0x\(String(far, radix: 16))"
    }

    /// Compares a TRAP message with this expectation (Arm ARM D24.2.43 ESR_EL2 with the ISS
    /// encodings for Data/Instruction Aborts, D24.2.45 HPFAR_EL2, D24.2.44 FAR_EL2).
    /// Returns the mismatches (empty = as expected).
    public func mismatches(
        esr: UInt64, far: UInt64, hpfar: UInt64, elr: UInt64, spsr: UInt64, opIndex reported: Int?,
        interpreter: Range<UInt64>
    ) -> [String] {
        let report = FaultReport(esr: esr, far: far, hpfar: hpfar)
        var bad: [String] = []
        let at = "fault for \(self)"
        if reported != opIndex { bad.append("\(at): reported for op \(reported.map(String.init) ?? "none")") }
        // A stage-1 walk for a load/store is reported as a Data Abort, for a fetch as an
        // Instruction Abort (ESR_EL2.EC 0x24 / 0x20 from a lower EL).
        let wantEC: ExceptionClass = access == .fetch ? .instructionAbortLowerEL : .dataAbortLowerEL
        if report.esr.exceptionClass != wantEC {
            bad.append("\(at): EC 0x\(String(report.esr.ecBits, radix: 16)), expected 0x\(String(wantEC.rawValue, radix: 16))")
        }
        if let s = report.status {
            if s.kind != kind || s.level != level {
                bad.append("\(at): \(s.kind) fault at level \(s.level.map(String.init) ?? "-"), expected \(kind) at level \(level)")
            }
        } else {
            bad.append("\(at): not an abort")
        }
        if report.s1ptw != s1ptw { bad.append("\(at): S1PTW=\(report.s1ptw ? 1 : 0), expected \(s1ptw ? 1 : 0)") }
        if let d = report.esr.dataAbort {
            if d.fnv { bad.append("\(at): FnV set (FAR not valid)") }
            if d.ea { bad.append("\(at): EA set") }
            if d.cm { bad.append("\(at): CM set") }
            if !s1ptw, case let .data(bytes, write, register, sf) = access {
                // ISV = 1 for a stage-2 abort on a single-register load/store (ESR_EL2 ISS.ISV).
                if d.wnr != write { bad.append("\(at): WnR=\(d.wnr ? 1 : 0)") }
                if !d.isv {
                    bad.append("\(at): ISV=0, the syndrome should describe the load/store")
                } else {
                    if d.accessBytes != bytes { bad.append("\(at): SAS says \(d.accessBytes) bytes") }
                    if Int(d.srt) != register { bad.append("\(at): SRT=\(d.srt), expected \(register)") }
                    if d.sf != sf { bad.append("\(at): SF=\(d.sf ? 1 : 0)") }
                }
            }
        }
        if let i = report.esr.instructionAbort, i.fnv { bad.append("\(at): FnV set (FAR not valid)") }
        if far != self.far { bad.append("\(at): FAR_EL2 \(hex(far)), expected the VA \(hex(self.far))") }
        let page = HPFAR(hpfar).pageIPA.rawValue
        if page != ipaPage { bad.append("\(at): HPFAR_EL2 \(hex(hpfar)) names IPA page \(hex(page)), expected \(hex(ipaPage))") }
        if access == .fetch {
            // An instruction abort (also on the walk for the fetch) returns to the fetched instruction.
            if elr != self.far { bad.append("\(at): ELR_EL2 \(hex(elr)), expected the fetched address") }
        } else if access != .fetch && !interpreter.contains(elr) {
            bad.append("\(at): ELR_EL2 \(hex(elr)) is outside the op interpreter")
        }
        if spsr & 0xF != 0b0101 { bad.append("\(at): SPSR_EL2.M = \(spsr & 0xF), expected EL1h (0b0101)") }
        return bad
    }
}

/// Stage-1-on scenarios: the nested guest programs MAIR/TCR/TTBR0/SCTLR_EL1 itself at EL1
/// (SYSREG_WRITE ops) and then accesses VAs whose stage-1 tables sit at IPAs stage 2 does not
/// map yet.
///
/// Why no *_EL12 aliases: the issue asks for the EL12 aliases "with E2H set" — those are how a
/// VHE hypervisor at EL2 reaches the EL1 registers of its guest (with HCR_EL2.E2H = 1, an
/// `msr sctlr_el1` at EL2 writes SCTLR_EL2). Here vEL2 never touches the nested guest's EL1
/// state: the nested guest writes its own registers at EL1, where `sctlr_el1` is SCTLR_EL1
/// whatever E2H is, so the same ops serve HAS_EL2 (E2H = 1) and HAS_EL2_E2H0 vCPUs.
public enum NestedStage1 {
    /// IPA of the stage-1 root table and the tables stage 2 maps from the start.
    public static let tableIPABase: UInt64 = 0x80_0000_0000
    /// IPAs of the data pages the test VAs translate to.
    public static let dataIPABase: UInt64 = 0xC0_0000_0000
    /// Test VAs: L1 index 128 of a 39-bit TTBR0 space, clear of the identity map.
    public static let vaBase: UInt64 = 0x20_0000_0000
    public static let vaBits = 39
    public static let ipaBits = 40

    /// What one variant runs, as data.
    public struct Plan: Sendable {
        public var scenario: Scenario
        public var faults: [Stage2FaultExpectation]
        /// IPA page → PA the host maps when that page faults.
        public var backing: [UInt64: PhysicalAddress]
        /// Permission faults are fixed with `protect` (read-only → read/write) instead of a map.
        public var protectOnPermission: Bool
        /// Stage-1 descriptors that must hold AF = 1 after the run (PA of the descriptor).
        public var accessFlagSetAt: [PhysicalAddress]
        /// ID_AA64MMFR1_EL1.HAFDBS must be non-zero.
        public var needsHardwareAccessFlag: Bool
        public var tables: Stage1Tables
    }

    static func word(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    /// The ops that turn the nested stage 1 on (MAIR, TCR, TTBR0, TLBI VMALLE1, SCTLR).
    public static func enableOps(root: UInt64, hardwareAccessFlag: Bool) -> [GuestOp] {
        [
            GuestOp(.sysregWrite, value: Stage1.mair, aux: NestedSystemRegister.mairEL1.rawValue),
            GuestOp(
                .sysregWrite, value: Stage1.tcr(vaBits: vaBits, ipaBits: ipaBits, hardwareAccessFlag: hardwareAccessFlag),
                aux: NestedSystemRegister.tcrEL1.rawValue),
            GuestOp(.sysregWrite, value: root, aux: NestedSystemRegister.ttbr0EL1.rawValue),
            GuestOp(.tlbiVMALLE1),
            GuestOp(.sysregWrite, value: Stage1.sctlrMMUOn, aux: NestedSystemRegister.sctlrEL1.rawValue),
        ]
    }

    /// `s1ptw`: stage-1 level-3 tables at unmapped IPAs (one needs a new stage-2 level-1
    /// entry, one sits next to mapped table pages: faults at stage-2 levels 1 and 3), then the
    /// data pages fault too; then LDADD/CAS/loads on the now mapped pages with both stages on.
    /// `permission`: (FEAT_HAFDBS) TCR_EL1.HA = 1, a page descriptor with AF = 0 in a level-3
    /// table that stage 2 maps read-only: the walk's Access-flag write takes a stage-2
    /// permission fault with S1PTW = 1; the host makes the page writable; AF ends up set.
    public static func plan(permissionVariant: Bool, layout: SessionLayout = .standard) throws -> Plan {
        let page: UInt64 = 0x1000
        let pool = layout.dataPool.rawValue
        let t = tableIPABase
        // Table IPAs → PAs (data pool offsets): root, L2 for the identity map, L2 for the test
        // VAs are stage-2 mapped up front; T3a/T3b are not; T3c is mapped read-only.
        let root = t
        let l2Identity = t + 0x1000
        let l2Test = t + 0x2000
        // T3d sits in the next 2 MiB of table IPA space (stage-2 level-2 entry empty), T3e next
        // to the mapped table pages again but for an instruction fetch.
        let t3a = t + 0x4000_0000
        let t3b = t + 0x5000
        let t3c = t + 0x6000
        let t3d = t + 0x20_0000
        let t3e = t + 0x7000
        let tablePA: [UInt64: UInt64] = [
            root: pool, l2Identity: pool + 0x1000, l2Test: pool + 0x2000,
            t3a: pool + 0x4000, t3b: pool + 0x5000, t3c: pool + 0x6000,
            t3d: pool + 0x8000, t3e: pool + 0x7000,
        ]
        let dA = dataIPABase
        let dB = dataIPABase + 0x1000
        let dC = dataIPABase + 0x2000
        let dD = dataIPABase + 0x3000
        let dE = dataIPABase + 0x4000
        let dataPA: [UInt64: UInt64] = [
            dA: pool + 0x10_0000, dB: pool + 0x10_1000, dC: pool + 0x10_2000,
            dD: pool + 0x10_3000, dE: pool + 0x10_4000,
        ]
        // L2 indexes 0, 1, 2, 3, 4 of the test VA range.
        let vaA = vaBase
        let vaB = vaBase + 0x20_0000
        let vaC = vaBase + 0x40_0000
        let vaD = vaBase + 0x60_0000
        let vaE = vaBase + 0x80_0000

        var tables = try Stage1Tables(vaBits: vaBits, root: root)
        let place: [Stage1TableKey: UInt64] = [
            Stage1TableKey(level: 2, base: 0x4000_0000): l2Identity,
            Stage1TableKey(level: 2, base: vaBase): l2Test,
            Stage1TableKey(level: 3, base: vaA): t3a,
            Stage1TableKey(level: 3, base: vaB): t3b,
            Stage1TableKey(level: 3, base: vaC): t3c,
            Stage1TableKey(level: 3, base: vaD): t3d,
            Stage1TableKey(level: 3, base: vaE): t3e,
        ]
        var missing: [String] = []
        let at: (Int, UInt64) -> UInt64 = { level, base in
            if let ipa = place[Stage1TableKey(level: level, base: base)] { return ipa }
            missing.append("level \(level) at VA 0x\(String(base, radix: 16))")
            return 1  // rejected by the builder (misaligned)
        }
        // Identity maps the interpreter needs: payload (code) and the op/result/stack region.
        try tables.map(
            va: layout.payload.rawValue, output: layout.payload.rawValue, size: 2 << 20,
            attributes: .normalCode, tableAt: at)
        try tables.map(
            va: layout.nested.rawValue, output: layout.nested.rawValue, size: 2 << 20,
            attributes: .normalData, tableAt: at)
        try tables.map(va: vaA, output: dA, size: page, attributes: .normalData, tableAt: at)
        try tables.map(va: vaB, output: dB, size: page, attributes: .normalData, tableAt: at)
        if !permissionVariant {
            try tables.map(va: vaD, output: dD, size: page, attributes: .normalData, tableAt: at)
            try tables.map(va: vaE, output: dE, size: page, attributes: .normalCode, tableAt: at)
        }
        if permissionVariant {
            var noAF = Stage1.Attributes.normalData
            noAF.accessFlag = false
            try tables.map(va: vaC, output: dC, size: page, attributes: noAF, tableAt: at)
        }
        guard missing.isEmpty else { throw SessionError.layout("stage-1 tables without a placement: \(missing)") }

        var scenario = Scenario(granule: .k4, ipaBits: ipaBits, ops: enableOps(root: root, hardwareAccessFlag: permissionVariant))
        let rw = Stage2Attributes(permissions: [.read, .write])
        scenario.initialMappings = [Stage2Mapping(ipa: IPA(root), pa: PhysicalAddress(pool), size: 3 * page, attributes: rw)]
        let backing: [UInt64: PhysicalAddress] = [
            t3a: PhysicalAddress(tablePA[t3a]!), t3b: PhysicalAddress(tablePA[t3b]!),
            dA: PhysicalAddress(dataPA[dA]!), dB: PhysicalAddress(dataPA[dB]!),
            t3d: PhysicalAddress(tablePA[t3d]!), t3e: PhysicalAddress(tablePA[t3e]!),
            dD: PhysicalAddress(dataPA[dD]!), dE: PhysicalAddress(dataPA[dE]!),
        ]
        for table in tables.tables.keys {
            guard let pa = tablePA[table] else { throw SessionError.layout("stage-1 table 0x\(String(table, radix: 16)) has no PA") }
            scenario.planted.append((PhysicalAddress(pa), tables.image(of: table)))
        }
        // Stage-2 state the fault-level model starts from: what the session identity-maps and
        // the three table pages above.
        var mapped: [(start: UInt64, size: UInt64)] = [
            (layout.payload.rawValue, layout.payloadWindow),
            (layout.nested.rawValue, layout.nestedSize), (root, 3 * page),
        ]
        func level(_ ipa: UInt64) throws -> Int {
            guard let l = Stage2FaultModel.translationFaultLevel(ipa: ipa, mapped: mapped, granule: .k4, startLevel: 1) else {
                throw SessionError.layout("IPA 0x\(String(ipa, radix: 16)) would not fault")
            }
            return l
        }
        var faults: [Stage2FaultExpectation] = []
        var results: [Int: UInt64] = [:]
        var memory: [(PhysicalAddress, [UInt8])] = []
        var ops = scenario.ops
        // The SYSREG_WRITE ops report the value written.
        for (i, op) in ops.enumerated() where op.kind == .sysregWrite { results[i] = op.value }
        results[3] = 0  // TLBI_VMALLE1 leaves x11 = 0
        func load(_ n: Int, reg: Int = 11) -> ExpectedAccess { .data(bytes: n, write: false, register: reg, sixtyFourBit: n == 8) }

        var accessFlagSetAt: [PhysicalAddress] = []
        if permissionVariant {
            // T3c readable but not writable at stage 2; dC mapped read/write.
            scenario.initialMappings.append(
                Stage2Mapping(
                    ipa: IPA(t3c), pa: PhysicalAddress(tablePA[t3c]!), size: page,
                    attributes: Stage2Attributes(permissions: [.read])))
            scenario.initialMappings.append(Stage2Mapping(ipa: IPA(dC), pa: PhysicalAddress(dataPA[dC]!), size: page, attributes: rw))
            let planted: UInt64 = 0xC0C0_0000_0000_0010
            scenario.planted.append((PhysicalAddress(dataPA[dC]! + 0x10), word(planted)))
            let i = ops.count
            ops.append(GuestOp(.load64, address: vaC + 0x10))
            // The walk reads T3c (allowed), finds AF = 0 with HA = 1 and writes the descriptor
            // back with AF = 1 (Arm ARM D8.5): that write needs stage-2 write permission → a
            // stage-2 permission fault on the stage-1 walk, at the level of the stage-2 leaf
            // mapping T3c (level 3), HPFAR = T3c's page.
            let descriptor = tables.descriptorIPA(level: 3, va: vaC)!
            faults.append(
                Stage2FaultExpectation(
                    opIndex: i, far: vaC + 0x10, ipa: descriptor, s1ptw: true,
                    kind: .permission, level: 3, access: load(8)))
            results[i] = planted
            accessFlagSetAt.append(PhysicalAddress(tablePA[t3c]! + (descriptor - t3c)))
            scenario.notes.append(
                "TCR_EL1.HA = 1; VA 0x\(String(vaC, radix: 16)) has AF = 0 in a level-3 table at IPA 0x\(String(t3c, radix: 16)) that stage 2 maps read-only"
            )
        } else {
            let pA: UInt64 = 0xA1A1_0000_0000_0010
            let pA2: UInt64 = 0x1000_0000_0000_0001
            let pB: UInt64 = 0xB2B2_0000_0000_0010
            let pB2: UInt64 = 0xB2B2_0000_0000_0020
            scenario.planted += [
                (PhysicalAddress(dataPA[dA]! + 0x10), word(pA)), (PhysicalAddress(dataPA[dA]! + 0x18), word(pA2)),
                (PhysicalAddress(dataPA[dB]! + 0x10), word(pB)), (PhysicalAddress(dataPA[dB]! + 0x20), word(pB2)),
            ]
            let base = ops.count
            let stored: UInt64 = 0x5707_E000_0000_0008
            let inc: UInt64 = 0x22
            let swapped: UInt64 = 0xCA5C_A5CA_5CA5_CA50
            ops += [
                GuestOp(.load64, address: vaA + 0x10),  // S1PTW (T3a) then data fault
                GuestOp(.store64, address: vaB + 0x8, value: stored),  // S1PTW (T3b) then data fault
                GuestOp(.ldadd64, address: vaA + 0x18, value: inc, repeatCount: 3),
                GuestOp(.cas64, address: vaB + 0x10, value: swapped, aux: pB),  // compare equal: swaps
                GuestOp(.cas64, address: vaB + 0x20, value: swapped, aux: pB2 ^ 1),  // compare differs: no store
                GuestOp(.load64, address: vaB + 0x8),
                GuestOp(.load64, address: vaA + 0x10),  // mapped: no fault
                GuestOp(.load32, address: vaD + 0x20),  // S1PTW (T3d, stage-2 L2), data fault
                GuestOp.exec(at: vaE + 0x40),  // S1PTW on a fetch (T3e), fetch fault
            ]
            let pD: UInt64 = 0xD4D4_D4D4
            let imm: UInt16 = 0x51E1
            scenario.planted += [
                (PhysicalAddress(dataPA[dD]! + 0x20), Array(word(pD).prefix(4))),
                (PhysicalAddress(dataPA[dE]! + 0x40), Stage2FaultModel.plantedCode(returning: imm)),
            ]
            // Fault order per op: the walk needs the level-3 table first (S1PTW), then the
            // output IPA is translated (Arm ARM D8.2: each stage-1 descriptor fetch is itself
            // translated by stage 2 before the final access).
            for (i, va, table, data, access) in [
                (base, vaA + 0x10, t3a, dA, load(8)),
                (
                    base + 1, vaB + 0x8, t3b, dB,
                    ExpectedAccess.data(bytes: 8, write: true, register: 12, sixtyFourBit: true)
                ),
                (base + 7, vaD + 0x20, t3d, dD, load(4)),
                (base + 8, vaE + 0x40, t3e, dE, ExpectedAccess.fetch),
            ] {
                let descriptor = tables.descriptorIPA(level: 3, va: va)!
                faults.append(
                    Stage2FaultExpectation(
                        opIndex: i, far: va, ipa: descriptor, s1ptw: true,
                        kind: .translation, level: try level(descriptor), access: access))
                mapped.append((table, page))
                let ipa = tables.translate(va)!.output
                faults.append(
                    Stage2FaultExpectation(
                        opIndex: i, far: va, ipa: ipa, s1ptw: false,
                        kind: .translation, level: try level(ipa), access: access))
                mapped.append((data, page))
            }
            // LDADD Xs, Xt, [Xn] returns the old value and stores old + Xs (Arm ARM C6.2.x LDADD):
            // three repetitions leave pA2 + 3*inc and return pA2 + 2*inc.
            results[base] = pA
            results[base + 1] = 0
            results[base + 2] = pA2 &+ 2 &* inc
            // CAS Xs, Xt, [Xn]: compares [Xn] with Xs; equal → stores Xt; Xs gets the old
            // value either way (Arm ARM C6.2.x CAS). The interpreter's Xs is x11 = aux.
            results[base + 3] = pB
            results[base + 4] = pB2
            results[base + 5] = stored
            results[base + 6] = pA
            results[base + 7] = pD
            results[base + 8] = UInt64(imm)
            memory = [
                (PhysicalAddress(dataPA[dA]! + 0x10), word(pA)), (PhysicalAddress(dataPA[dA]! + 0x18), word(pA2 &+ 3 &* inc)),
                (PhysicalAddress(dataPA[dB]! + 0x8), word(stored)), (PhysicalAddress(dataPA[dB]! + 0x10), word(swapped)),
                (PhysicalAddress(dataPA[dB]! + 0x20), word(pB2)),
            ]
            scenario.notes.append(
                "stage-1 level-3 tables at IPAs 0x\(String(t3a, radix: 16)), 0x\(String(t3b, radix: 16)), 0x\(String(t3d, radix: 16)), 0x\(String(t3e, radix: 16)) (fetch) unmapped at stage 2; data at IPA 0x\(String(dA, radix: 16))"
            )
        }
        scenario.ops = ops
        scenario.expectedResults = results
        scenario.expectedMemory = memory
        scenario.notes.insert(
            "nested stage 1: 4K granule, \(vaBits)-bit VA, TTBR0 0x\(String(root, radix: 16)), MAIR_EL1 0x\(String(Stage1.mair, radix: 16)), TCR_EL1 0x\(String(Stage1.tcr(vaBits: vaBits, ipaBits: ipaBits, hardwareAccessFlag: permissionVariant), radix: 16)), SCTLR_EL1 0x\(String(Stage1.sctlrMMUOn, radix: 16)) written at EL1 by the nested guest",
            at: 0)
        return Plan(
            scenario: scenario, faults: faults, backing: backing, protectOnPermission: permissionVariant,
            accessFlagSetAt: accessFlagSetAt, needsHardwareAccessFlag: permissionVariant, tables: tables)
    }
}
