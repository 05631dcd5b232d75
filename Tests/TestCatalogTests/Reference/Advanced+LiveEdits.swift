import AArch64
import GuestProtocol
import Stage2

@testable import Runtime
@testable import TestCatalog

/// The Swift scripts catalog/break-before-make.json, vmid-isolation.json and tlbi-scope.json
/// were converted from, kept as the reference ConversionTests compare with.
extension Advanced {
    // MARK: break-before-make

    /// The plan for `break-before-make` (pure; unit-tested).
    static func bbmPlan() -> LivePlan {
        var p = LivePlan()
        p.load(x, expect: pagePattern(1), times: 64)
        p.hostCall("remap \(hex(x)): \(hex(pagePA(1))) -> \(hex(pagePA(2)))")
        p.load(x, expect: pagePattern(2))  // the first access after the maintenance
        p.load(x, expect: pagePattern(2), times: 64)
        p.store(x + 8, storedValue)  // must land in the new page
        p.load(x + 8, expect: storedValue)
        p.load(y + 5 * page, expect: blockPattern(5), times: 64)
        p.load(y, expect: blockPattern(0), times: 64)
        p.hostCall("split the block at \(hex(y)): remap \(hex(y + 5 * page)) -> \(hex(pagePA(3)))")
        p.load(y + 5 * page, expect: pagePattern(3))
        p.load(y + 5 * page, expect: pagePattern(3), times: 64)
        p.load(y, expect: blockPattern(0), times: 16)  // the former block's other pages: unchanged
        p.load(y + 4 * page, expect: blockPattern(4))
        p.load(y + 6 * page, expect: blockPattern(6))
        p.load(y + 511 * page, expect: blockPattern(511))
        return p
    }
    static let storedValue: UInt64 = 0x0BB0_1234_5678_9ABC

    static func bbmScenario() -> Scenario {
        let plan = bbmPlan()
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: plan.ops)
        s.initialMappings = [
            Stage2Mapping(ipa: IPA(x), pa: PhysicalAddress(pagePA(1)), size: page, attributes: rw),
            Stage2Mapping(ipa: IPA(y), pa: PhysicalAddress(blockPA), size: block, attributes: rw),
        ]
        plantPages(&s, 1...3)
        for j in 0..<UInt64(512) { s.planted.append((PhysicalAddress(blockPA + j * page), le64(blockPattern(j)))) }
        s.expectedResults = plan.expectedResults
        s.expectedMemory = [
            (PhysicalAddress(pagePA(2) + 8), le64(storedValue)),  // the store went to the new page
            (PhysicalAddress(pagePA(1) + 8), le64(0)),  // not through a stale entry
            (PhysicalAddress(pagePA(1)), le64(pagePattern(1))),
        ]
        s.notes = [
            "IPA \(hex(x)) page, \(hex(y)) 2 MiB block; TLB maintenance per edit in the exit: TLBI IPAS2E1IS (TTL hint with FEAT_TTL), TLBI VMALLE1IS"
        ]
        return s
    }

    // MARK: VMID isolation

    static func vmidSwitchPlan() -> LivePlan {
        var p = LivePlan()
        p.hostCall("install A (VMID 2)")
        p.load(x, expect: pagePattern(1), times: 32)
        p.hostCall("switch to B (VMID 3)")
        p.load(x, expect: pagePattern(2), times: 32)
        p.hostCall("switch to A")
        p.load(x, expect: pagePattern(1), times: 32)
        p.hostCall("remap x in B -> page 3, TLBI under VMID 3, resume under A")
        p.load(x, expect: pagePattern(1), times: 32)
        p.hostCall("switch to B")
        p.load(x, expect: pagePattern(3))
        p.load(x, expect: pagePattern(3), times: 32)
        p.hostCall("remap x in A -> page 4, TLBI under VMID 2, resume under B")
        p.load(x, expect: pagePattern(3), times: 32)
        p.hostCall("switch to A")
        p.load(x, expect: pagePattern(4))
        p.load(x, expect: pagePattern(4), times: 32)
        return p
    }

    static func vmidSwitchScenario() -> Scenario {
        let plan = vmidSwitchPlan()
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: plan.ops)
        plantPages(&s, 1...4)
        s.expectedResults = plan.expectedResults
        s.notes = [
            "table set A: VMID 2, pool \(poolPA(0)); B: VMID 3, pool \(poolPA(1)); both map \(hex(x)); the session's own tables (VMID 1) run until the first host call"
        ]
        return s
    }

    /// VMIDBits, ID_AA64MMFR1_EL1 [7:4]: 0b0000 8 bits, 0b0010 16 bits (Arm ARM D24.2
    /// ID_AA64MMFR1_EL1). CnP, ID_AA64MMFR2_EL1 [3:0]: 0b0001 FEAT_TTCNP (ID_AA64MMFR2_EL1).
    static func has16BitVMIDs(_ f: VCPUFacts) -> Bool { (f.mmfr1 >> 4) & 0xF == 0b0010 }
    static func hasCnP(_ f: VCPUFacts) -> Bool { f.mmfr2 & 0xF != 0 }

    /// The other name of table set A's context: with `cnp`, VTTBR_EL2.CnP [0] = 1 (CnP only
    /// allows sharing TLB entries between PEs, it names no new context); else VMID[15:8]
    /// (VTTBR_EL2 [63:56]) = 0x01. Arm ARM, VTTBR_EL2.VMID: with a 16-bit VMID implemented,
    /// "VTCR_EL2.VS selects whether VMID[15:8] are ignored by the hardware for every purpose
    /// except reading back the register, or ... used for allocation and matching in the TLB";
    /// VS = 0 here, so VMID 0x0102 and 0x0002 are one VMID.
    static func aliasVTTBR(_ vttbr: UInt64, cnp: Bool) -> UInt64 { cnp ? vttbr | 1 : vttbr | 0x01 << 56 }

    static func vmidAliasPlan(cnp: Bool) -> LivePlan {
        let other = cnp ? "CnP=1" : "VMID 0x0102"
        let plain = cnp ? "CnP=0" : "VMID 0x0002"
        var p = LivePlan()
        p.hostCall("install A (\(plain))")
        p.load(x, expect: pagePattern(1), times: 32)
        p.hostCall("remap x -> page 2, TLBI under \(other), resume under \(plain)")
        p.load(x, expect: pagePattern(2))
        p.load(x, expect: pagePattern(2), times: 32)
        p.hostCall("switch to \(other) (same BADDR)")
        p.load(x, expect: pagePattern(2), times: 32)
        p.hostCall("remap x -> page 3, TLBI under \(plain), resume under \(other)")
        p.load(x, expect: pagePattern(3))
        p.load(x, expect: pagePattern(3), times: 32)
        return p
    }

    static func vmidAliasScenario(cnp: Bool) -> Scenario {
        let plan = vmidAliasPlan(cnp: cnp)
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: plan.ops)
        plantPages(&s, 1...3)
        s.expectedResults = plan.expectedResults
        s.notes = [
            cnp
                ? "table set A: VMID 2; its other name sets VTTBR_EL2.CnP"
                : "table set A: VMID 0x0002 with VTCR_EL2.VS=0; its other name carries VMID[15:8]=0x01"
        ]
        return s
    }

    // MARK: TLBI scope

    /// Five consecutive pages x + i·4K → page 10 + i; page 2 is remapped to page 15.
    static func tlbiScopePlan() -> LivePlan {
        var p = LivePlan()
        p.hostCall("install A (VMID 2)")
        for i in UInt64(0)..<5 { p.load(x + i * page, expect: pagePattern(10 + i), times: 8) }
        p.hostCall("remap \(hex(x + 2 * page)) -> page 15 with TLBI IPAS2E1 + VMALLE1IS")
        p.load(x + 2 * page, expect: pagePattern(15))
        for i in [UInt64(0), 1, 3, 4] { p.load(x + i * page, expect: pagePattern(10 + i)) }
        p.load(x + 2 * page, expect: pagePattern(15), times: 8)
        return p
    }

    /// TLBI IPAS2E1 Xt (Arm ARM C5.5 "TLBI IPAS2E1"): IPA[47:12] in [35:0]; TTL [47:44] =
    /// TG [3:2] (0b01 4KB) and level [1:0] when `hint`, 0b0000 (no information) otherwise.
    /// After the stage-2-only invalidation, VMALLE1IS drops combined stage 1+2 entries
    /// (Arm ARM D8.16.x, "TLB maintenance ... when stage 2 translation is changed").
    static func scopeOperations(_ batch: [TLBInvalidation], hint: Bool) -> [TLBIOperation] {
        var ops: [TLBIOperation] = []
        for inv in batch {
            switch inv {
            case .ipa: ops.append(.ipas2e1(inv.operand(ttl: hint) ?? 0))
            case .allForVMID: ops.append(.vmalls12e1)
            }
        }
        return ops + [.vmalle1is]
    }

    static func tlbiScopeScenario(hint: Bool) -> Scenario {
        let plan = tlbiScopePlan()
        var s = Scenario(granule: granule, ipaBits: ipaBits, ops: plan.ops)
        plantPages(&s, 10...15)
        s.expectedResults = plan.expectedResults
        s.notes = [
            "pages \(hex(x))..+5 pages → PA \(hex(pagePA(10)))..; TLBI IPAS2E1 \(hint ? "with TTL 4K/level 3" : "without a TTL hint")"
        ]
        return s
    }
}
