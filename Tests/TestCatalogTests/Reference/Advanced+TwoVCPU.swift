import AArch64
import GuestProtocol
import Stage2

@testable import Runtime
@testable import TestCatalog

/// The op lists of the Swift script catalog/two-vcpus.json was converted from, kept as the
/// reference ConversionTests compare with.
extension Advanced {
    /// vCPU 0 reads x, waits at a host call, reads x again (faults once, then the new page);
    /// vCPU 1 reads x, unmaps it at a host call, reads a neighbour that stays mapped.
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

    /// Same VMID (5), T0 (x -> page 1) for vCPU 0 and T1 (x -> page 2) for vCPU 1; vCPU 1's
    /// host call remaps x in T0 to page 3 with TLBI VMALLS12E1IS executed on vCPU 1.
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
}
