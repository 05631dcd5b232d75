/// Where a stage-2 table, block or page descriptor keeps its output (or next-level table)
/// address. Arm ARM D8.3 "Translation table descriptor formats" (VMSAv8-64), the OA and
/// next-level table address field definitions, and the pseudocode `AArch64.LeafBase` /
/// `AArch64.NextTableBase`; the same layouts as Linux arch/arm64/include/asm/pgtable-hwdef.h
/// (PTE_ADDR_HIGH 0xf << 12 shifted by 36 for 64K pages; 0x3 << 8 shifted by 42 otherwise).
public enum Stage2AddressFormat: Sendable, Hashable, CustomStringConvertible {
    /// 48-bit OA: address [47:granule] in bits [47:granule]. Bits [51:48] are RES0 (the walker
    /// reads a non-zero value as an address beyond any 48-bit PS: an address-size fault).
    case bits48
    /// FEAT_LPA with the 64KB granule: OA[47:16] in bits [47:16], OA[51:48] in bits [15:12].
    case lpa64K
    /// FEAT_LPA2 with VTCR_EL2.DS = 1 (4KB and 16KB granules): OA[49:granule] in bits
    /// [49:granule], OA[51:50] in bits [9:8]. Bits [9:8] no longer hold SH[1:0]: the
    /// shareability of every stage-2 block and page is VTCR_EL2.SH0.
    case lpa2

    /// The format a walk with these parameters uses: DS = 1 selects FEAT_LPA2's; the 64KB
    /// granule on a PE whose PA size is 52 bits (FEAT_LPA) reads bits [15:12] as OA[51:48]
    /// whatever VTCR_EL2.PS says (`AArch64.LeafBase`; with PS < 52 such an address is then out
    /// of range: an address-size fault).
    public init(granule: Granule, ds: Bool, paMax: Int) {
        if ds && granule != .k64 {
            self = .lpa2
        } else if granule == .k64 && paMax >= 52 {
            self = .lpa64K
        } else {
            self = .bits48
        }
    }

    /// Descriptor bits that hold the address (aligned to `granule`).
    @inlinable public func fieldMask(_ g: Granule) -> UInt64 {
        switch self {
        case .bits48: 0x0000_FFFF_FFFF_FFFF & ~(g.bytes - 1)
        case .lpa64K: (0x0000_FFFF_FFFF_FFFF & ~(g.bytes - 1)) | 0xF << 12
        case .lpa2: (0x0003_FFFF_FFFF_FFFF & ~(g.bytes - 1)) | 0b11 << 8
        }
    }

    /// The address a descriptor holds (granule aligned).
    @inlinable @inline(__always) public func address(_ d: UInt64, _ g: Granule) -> UInt64 {
        switch self {
        case .bits48: d & 0x0000_FFFF_FFFF_FFFF & ~(g.bytes - 1)
        case .lpa64K: (d & 0x0000_FFFF_FFFF_FFFF & ~(g.bytes - 1)) | ((d >> 12) & 0xF) << 48
        case .lpa2: (d & 0x0003_FFFF_FFFF_FFFF & ~(g.bytes - 1)) | ((d >> 8) & 0b11) << 50
        }
    }

    /// The descriptor bits for a granule-aligned address below 2^52 (`bits48`: below 2^48).
    @inlinable @inline(__always) public func field(_ address: UInt64) -> UInt64 {
        switch self {
        case .bits48: address
        case .lpa64K: (address & 0x0000_FFFF_FFFF_FFFF) | ((address >> 48) & 0xF) << 12
        case .lpa2: (address & 0x0003_FFFF_FFFF_FFFF) | ((address >> 50) & 0b11) << 8
        }
    }

    /// Levels with block descriptors (pseudocode `AArch64.BlockDescSupported`): besides the
    /// 48-bit ones (`Granule.blockAllowed`), DS = 1 adds 4KB level 0 (512GB) and 16KB level 1
    /// (64GB), and FEAT_LPA adds 64KB level 1 (4TB).
    @inlinable public func blockAllowed(_ g: Granule, atLevel level: Int) -> Bool {
        if g.blockAllowed(atLevel: level) { return true }
        switch (self, g) {
        case (.lpa2, .k4): return level == 0
        case (.lpa2, .k16), (.lpa64K, .k64): return level == 1
        default: return false
        }
    }

    /// Whether bits [9:8] are SH[1:0] (they are OA[51:50] with FEAT_LPA2).
    @inlinable public var hasShareabilityField: Bool { self != .lpa2 }

    /// The widest output address the format can express.
    public var maximumBits: Int { self == .bits48 ? 48 : 52 }

    public var description: String {
        switch self {
        case .bits48: "48-bit OA"
        case .lpa64K: "52-bit OA (FEAT_LPA, OA[51:48] in [15:12])"
        case .lpa2: "52-bit OA (FEAT_LPA2, OA[51:50] in [9:8], SH from VTCR_EL2.SH0)"
        }
    }
}
