import AArch64

/// Every way a stage-2 operation can fail. On any error the tables are unchanged (the
/// operation is checked, and its table pages counted and reserved, before anything is
/// written), except `.tlbMaintenanceFailed`, after which broken entries stay invalid.
public enum Stage2Error: Error, Equatable, Sendable, CustomStringConvertible {
    case ipaBitsOutOfRange(Int)
    case inconsistentStartLevel(level: Int, granule: Granule, ipaBits: Int)
    case invalidOutputBits(Int)
    /// 52-bit output needs the 64KB granule (FEAT_LPA) or DS = 1 (FEAT_LPA2, 4KB/16KB only).
    case unsupportedLargeOutput(granule: Granule, lpa2: Bool)
    case vmidOutOfRange(UInt32, bits: Int)
    case poolMisaligned(PhysicalAddress, granule: Granule)
    case poolSizeInvalid(UInt64, granule: Granule)
    case poolBeyondOutputSize(end: UInt64, outputBits: Int)
    case poolExhausted(needed: Int, available: Int)
    case zeroSize
    case misaligned(what: String, value: UInt64, granule: Granule)
    case ipaOutOfRange(IPA, size: UInt64, ipaBits: Int)
    case outputAddressOutOfRange(PhysicalAddress, size: UInt64, outputBits: Int)
    case contiguousInProtect
    case foreignTable(ipa: IPA, level: Int, address: PhysicalAddress)
    case noTable(ipa: IPA, level: Int)
    case levelOutOfRange(Int)
    case tlbMaintenanceFailed(String)

    public var description: String {
        switch self {
        case .ipaBitsOutOfRange(let b): "IPA size \(b) bits is outside 32...48"
        case let .inconsistentStartLevel(l, g, b):
            "start level \(l) is not valid/consistent for a \(g) granule with a \(b)-bit IPA (AArch64.S2InvalidSL/S2InconsistentSL)"
        case .invalidOutputBits(let b): "output size \(b) bits is not a VTCR_EL2.PS size (32, 36, 40, 42, 44, 48, 52)"
        case let .unsupportedLargeOutput(g, lpa2):
            lpa2
                ? "VTCR_EL2.DS (FEAT_LPA2) applies to the 4K and 16K granules only, not \(g)"
                : "a 52-bit output size with the \(g) granule needs VTCR_EL2.DS = 1 (FEAT_LPA2)"
        case let .vmidOutOfRange(v, bits): "VMID \(v) does not fit in \(bits) bits"
        case let .poolMisaligned(pa, g): "table pool base \(pa) is not aligned to the \(g) granule"
        case let .poolSizeInvalid(s, g): "table pool size 0x\(String(s, radix: 16)) is zero or not a multiple of the \(g) granule"
        case let .poolBeyondOutputSize(end, bits): "table pool ends at 0x\(String(end, radix: 16)), beyond the \(bits)-bit output size"
        case let .poolExhausted(n, a): "table pool exhausted: the operation needs \(n) table page\(n == 1 ? "" : "s"), \(a) free"
        case .zeroSize: "size is zero"
        case let .misaligned(what, v, g): "\(what) 0x\(String(v, radix: 16)) is not a multiple of the \(g) granule"
        case let .ipaOutOfRange(ipa, s, b): "IPA range \(ipa)+0x\(String(s, radix: 16)) exceeds the \(b)-bit IPA space"
        case let .outputAddressOutOfRange(pa, s, b): "output range \(pa)+0x\(String(s, radix: 16)) exceeds the \(b)-bit output size"
        case .contiguousInProtect: "protect cannot set the contiguous hint (map with contiguous: true instead)"
        case let .foreignTable(ipa, l, a): "level-\(l) entry for IPA \(ipa) points to \(a), which is not a table page of this pool"
        case let .noTable(ipa, l): "no level-\(l) table for IPA \(ipa)"
        case .levelOutOfRange(let l): "level \(l) is outside the table set"
        case .tlbMaintenanceFailed(let e): "TLB maintenance failed: \(e)"
        }
    }
}
