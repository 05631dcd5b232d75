import AArch64
import GuestProtocol
import Machine
import Stage2

/// ID registers as the vCPU reports them at vEL2 (HELLO message).
public struct VCPUFacts: Sendable, Equatable {
    public var currentEL: UInt64
    public var hcrAtEntry: UInt64
    public var mmfr0: UInt64
    public var mmfr1: UInt64
    public var mmfr2: UInt64
    /// ID_AA64ISAR0_EL1 (0 from a payload that does not report it: no TLB range operations).
    public var isar0: UInt64 = 0
    /// ID_AA64MMFR4_EL1 (0 from a payload that does not report it).
    public var mmfr4: UInt64 = 0

    /// HCR_EL2.E2H (bit 34): the guest hypervisor runs VHE-style.
    public var e2h: Bool { hcrAtEntry & (1 << 34) != 0 }
    /// FEAT_TTL: ID_AA64MMFR2_EL1.TTL, bits [51:48] (Arm ARM D24.2 ID_AA64MMFR2_EL1).
    public var hasTTL: Bool { (mmfr2 >> 48) & 0xF != 0 }
    /// FEAT_XNX: ID_AA64MMFR1_EL1.XNX, bits [31:28] (Arm ARM D24.2 ID_AA64MMFR1_EL1).
    public var hasXNX: Bool { (mmfr1 >> 28) & 0xF != 0 }
    /// FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB, bits [59:56], = 0b0010 (Arm ARM D24.2 ID_AA64ISAR0_EL1;
    /// 0b0001 is FEAT_TLBIOS alone).
    public var hasTLBIRange: Bool { (isar0 >> 56) & 0xF == 0b0010 }
    /// FEAT_HAFDBS: ID_AA64MMFR1_EL1.HAFDBS, bits [3:0], 0b0001 (AF) or more (Arm ARM D24.2).
    public var hasHardwareAccessFlag: Bool { mmfr1 & 0xF != 0 }
    /// FEAT_NV2: ID_AA64MMFR2_EL1.NV, bits [27:24], = 0b0010, or NV = 0 with
    /// ID_AA64MMFR4_EL1.NV_frac, bits [23:20], = 0b0001 (FEAT_NV2 without FEAT_NV) (Arm ARM D24.2).
    public var hasNV2: Bool {
        let nv = (mmfr2 >> 24) & 0xF
        return nv == 0b0010 || (nv == 0 && (mmfr4 >> 20) & 0xF == 0b0001)
    }
    /// FEAT_S2FWB: ID_AA64MMFR2_EL1.FWB, bits [43:40] (Arm ARM D24.2 ID_AA64MMFR2_EL1).
    public var hasStage2FWB: Bool { (mmfr2 >> 40) & 0xF != 0 }
    /// ID_AA64MMFR0_EL1 decoded once, by the same code `harness doctor` uses (Machine's
    /// `IDAA64MMFR0`, Arm ARM D24.2 ID_AA64MMFR0_EL1).
    public var mmfr0Fields: IDAA64MMFR0 { IDAA64MMFR0(rawValue: mmfr0) }
    /// ID_AA64MMFR0_EL1.PARange → bits; a reserved encoding counts as the architectural
    /// minimum, 32 bits, so no requirement is met on its strength.
    public var paBits: Int { mmfr0Fields.physicalAddressBits ?? 32 }

    /// Stage-2 granule support from TGran<N>_2 (0b0000 defers to the stage-1 TGran<N> field,
    /// whose encodings differ per granule); reserved encodings count as unsupported.
    public func supportsStage2(_ granule: Granule) -> Bool { mmfr0Fields.stage2(granule).isSupported }

    public func unmet(_ r: Requirement) -> String? {
        switch r {
        case .stage2Granule(let g):
            supportsStage2(g)
                ? nil : "the vCPU does not support the \(g) granule at stage 2 (ID_AA64MMFR0_EL1 0x\(String(mmfr0, radix: 16)))"
        case .physicalAddressBits(let b):
            paBits >= b ? nil : "the vCPU's PARange is \(paBits) bits, the test needs \(b)"
        case .xnx(let want):
            hasXNX == want
                ? nil
                : "the vCPU \(hasXNX ? "has" : "lacks") FEAT_XNX (ID_AA64MMFR1_EL1 0x\(String(mmfr1, radix: 16))); this variant is for a vCPU that \(want ? "has" : "lacks") it"
        case .ttl:
            hasTTL ? nil : "FEAT_TTL is not implemented (ID_AA64MMFR2_EL1.TTL = 0): the TTL field is RES0"
        case .vmid16:
            (mmfr1 >> 4) & 0xF == 0b0010
                ? nil
                : "the vCPU has 8-bit VMIDs (ID_AA64MMFR1_EL1.VMIDBits = \((mmfr1 >> 4) & 0xF)): VMID[15:8] are RES0, nothing can alias"
        case .cnp:
            mmfr2 & 0xF != 0
                ? nil : "FEAT_TTCNP is not implemented (ID_AA64MMFR2_EL1.CnP = 0, 0x\(String(mmfr2, radix: 16))): VTTBR_EL2.CnP is RES0"
        case .tlbiRange:
            hasTLBIRange
                ? nil
                : "FEAT_TLBIRANGE is not implemented (ID_AA64ISAR0_EL1.TLB = \((isar0 >> 56) & 0xF), 0x\(String(isar0, radix: 16))): TLBI RIPAS2E1IS is UNDEFINED"
        case .lpa2(let g):
            mmfr0Fields.stage2(g) == .supported52Bit
                ? nil
                : "the vCPU lacks FEAT_LPA2 for the \(g) granule at stage 2 (ID_AA64MMFR0_EL1 0x\(String(mmfr0, radix: 16)): TGran\(g.pageShift == 12 ? 4 : 16)_2 = 0b\(String(mmfr0Fields.stage2Field(g), radix: 2)), not 0b11): VTCR_EL2.DS is RES0"
        case .hardwareAccessFlag:
            hasHardwareAccessFlag
                ? nil : "FEAT_HAFDBS is not implemented (ID_AA64MMFR1_EL1.HAFDBS = 0, 0x\(String(mmfr1, radix: 16))): VTCR_EL2.HA is RES0"
        case .stage2FWB:
            hasStage2FWB
                ? nil : "FEAT_S2FWB is not implemented (ID_AA64MMFR2_EL1.FWB = 0, 0x\(String(mmfr2, radix: 16))): HCR_EL2.FWB is RES0"
        case .nv2:
            hasNV2
                ? nil
                : "KVM does not give the guest hypervisor FEAT_NV2 (ID_AA64MMFR2_EL1.NV = \((mmfr2 >> 24) & 0xF), ID_AA64MMFR4_EL1.NV_frac = \((mmfr4 >> 20) & 0xF); MMFR2 0x\(String(mmfr2, radix: 16)), MMFR4 0x\(String(mmfr4, radix: 16))): HCR_EL2.NV2 and VNCR_EL2 are RES0 or UNDEFINED at vEL2, so no VNCR page can exist"
        }
    }
}
