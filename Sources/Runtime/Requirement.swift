import AArch64
import GuestProtocol
import Machine
import Stage2

/// Something a variant needs from the vCPU; checked against the ID registers the payload
/// reads at vEL2 (HELLO) before the nested guest runs. Unmet → skip with the reason.
public enum Requirement: Sendable, Equatable, CustomStringConvertible {
    /// ID_AA64MMFR0_EL1.TGran{4,16,64}_2 says the granule is supported at stage 2.
    case stage2Granule(Granule)
    /// ID_AA64MMFR0_EL1.PARange covers this many IPA/PA bits.
    case physicalAddressBits(Int)
    /// FEAT_XNX present (true) or absent (false): ID_AA64MMFR1_EL1.XNX, bits [31:28].
    case xnx(Bool)
    /// FEAT_TTL: ID_AA64MMFR2_EL1.TTL, bits [51:48], non-zero.
    case ttl
    /// 16-bit VMIDs: ID_AA64MMFR1_EL1.VMIDBits, bits [7:4], = 0b0010.
    case vmid16
    /// FEAT_TTCNP: ID_AA64MMFR2_EL1.CnP, bits [3:0], non-zero.
    case cnp
    /// FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB, bits [59:56], = 0b0010.
    case tlbiRange
    /// FEAT_HAFDBS: ID_AA64MMFR1_EL1.HAFDBS, bits [3:0], non-zero (hardware Access flag).
    case hardwareAccessFlag
    /// FEAT_LPA2 at stage 2 for this granule: ID_AA64MMFR0_EL1.TGran4_2/TGran16_2 = 0b0011
    /// (52-bit input and output addresses; VTCR_EL2.DS is RES0 otherwise).
    case lpa2(Granule)
    /// FEAT_S2FWB (HCR_EL2.FWB): ID_AA64MMFR2_EL1.FWB, bits [43:40], non-zero.
    case stage2FWB
    /// FEAT_NV2 (HCR_EL2.NV2, VNCR_EL2) at vEL2: the guest hypervisor can nest a hypervisor.
    case nv2
    public var description: String {
        switch self {
        case .stage2Granule(let g): "\(g) granule at stage 2"
        case .physicalAddressBits(let b): "\(b)-bit physical addresses"
        case .xnx(let present): present ? "FEAT_XNX" : "no FEAT_XNX"
        case .ttl: "FEAT_TTL"
        case .vmid16: "16-bit VMIDs"
        case .cnp: "FEAT_TTCNP"
        case .tlbiRange: "FEAT_TLBIRANGE"
        case .hardwareAccessFlag: "FEAT_HAFDBS"
        case .lpa2(let g): "FEAT_LPA2 (\(g) at stage 2)"
        case .stage2FWB: "FEAT_S2FWB"
        case .nv2: "FEAT_NV2 at vEL2"
        }
    }
}
