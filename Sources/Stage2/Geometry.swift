/// The shape of one stage-2 table set: granule, input (IPA) size, start level and the
/// concatenated root tables. Rules: Arm ARM D8.2 and the pseudocode
/// `AArch64.S2InvalidSL` / `AArch64.S2InconsistentSL`.
public struct Stage2Geometry: Equatable, Sendable, CustomStringConvertible {
    public let granule: Granule
    public let ipaBits: Int
    public let startLevel: Int

    /// Builds the geometry, validating the start level against T0SZ.
    public init(granule: Granule, ipaBits: Int, startLevel: Int? = nil) throws(Stage2Error) {
        guard (Self.minimumIPABits...Self.maximumIPABits).contains(ipaBits) else {
            throw .ipaBitsOutOfRange(ipaBits)
        }
        let level = startLevel ?? Self.defaultStartLevel(granule: granule, ipaBits: ipaBits)
        guard Self.isValidStartLevel(level, granule: granule),
            Self.isConsistent(granule: granule, ipaBits: ipaBits, startLevel: level)
        else {
            throw .inconsistentStartLevel(level: level, granule: granule, ipaBits: ipaBits)
        }
        self.granule = granule
        self.ipaBits = ipaBits
        self.startLevel = level
    }

    /// Unchecked; used by the walker to describe a (possibly inconsistent) VTCR.
    init(uncheckedGranule granule: Granule, ipaBits: Int, startLevel: Int) {
        self.granule = granule
        self.ipaBits = ipaBits
        self.startLevel = startLevel
    }

    public static let minimumIPABits = 32
    /// 48 without FEAT_LPA/LPA2 (VTCR_EL2.T0SZ minimum 16).
    public static let maximumIPABits = 48

    /// `AArch64.S2InvalidSL` without FEAT_LPA2/FEAT_TTST, assuming the CPU's PARange is 48 bits
    /// (so 4KB start level 0 and 16KB/64KB start level 1 are implemented).
    public static func isValidStartLevel(_ level: Int, granule: Granule) -> Bool {
        switch granule {
        case .k4: (0...2).contains(level)
        case .k16, .k64: (1...3).contains(level)
        }
    }

    /// Arm pseudocode `AArch64.S2InconsistentSL` (negated): the IPA size must need at least one
    /// bit at the start level, and at most one full level plus 4 bits (16 concatenated tables).
    ///   sl_min_iasize = levels·stride + granulebits + 1; sl_max_iasize = sl_min_iasize + (stride−1) + 4
    /// where levels = 3 − startLevel.
    public static func isConsistent(granule: Granule, ipaBits: Int, startLevel: Int) -> Bool {
        let levels = 3 - startLevel
        let minimum = levels * granule.stride + granule.pageShift + 1
        let maximum = minimum + (granule.stride - 1) + 4
        return ipaBits >= minimum && ipaBits <= maximum
    }

    /// The fewest levels that can resolve `ipaBits` with at most 16 concatenated root tables,
    /// but at least two levels (start level ≤ 2), which is also what Linux KVM chooses
    /// (`kvm_get_vtcr`/`stage2_pgtable_levels`): e.g. 4K/40-bit → level 1 with 2 tables.
    public static func defaultStartLevel(granule: Granule, ipaBits: Int) -> Int {
        var level = 2
        while level > granule.lowestStartLevel && !isConsistent(granule: granule, ipaBits: ipaBits, startLevel: level) {
            level -= 1
        }
        return level
    }

    /// Shift of the region one start-level entry maps.
    @inlinable public var rootShift: Int { granule.entryShift(atLevel: startLevel) }
    /// Entries in the (concatenated) root: 2^(ipaBits − rootShift).
    @inlinable public var rootEntries: Int { 1 << (ipaBits - rootShift) }
    /// Number of concatenated root tables (1...16).
    public var concatenatedTables: Int { max(1, rootEntries / granule.entriesPerTable) }
    /// Bytes of the root (one granule, or n granules when concatenated); also its alignment.
    public var rootBytes: UInt64 { UInt64(concatenatedTables) * granule.bytes }
    @inlinable @inline(__always) public var ipaLimit: UInt64 { 1 << UInt64(ipaBits) }

    /// VTCR_EL2.T0SZ = 64 − IPA bits.
    public var t0sz: UInt64 { UInt64(64 - ipaBits) }
    /// VTCR_EL2.SL0: 4KB: 0b00 level 2, 0b01 level 1, 0b10 level 0;
    /// 16KB/64KB: 0b00 level 3, 0b01 level 2, 0b10 level 1 (Arm ARM, VTCR_EL2.SL0).
    public var sl0: UInt64 {
        granule == .k4 ? UInt64(2 - startLevel) : UInt64(3 - startLevel)
    }
    public static func startLevel(sl0: UInt64, granule: Granule) -> Int? {
        switch granule {
        case .k4: sl0 <= 2 ? 2 - Int(sl0) : nil  // 0b11: level 3 only with FEAT_TTST
        case .k16: sl0 <= 2 ? 3 - Int(sl0) : nil  // 0b11: level 0 only with DS=1
        case .k64: sl0 <= 2 ? 3 - Int(sl0) : nil  // 0b11: reserved
        }
    }

    public var description: String {
        "\(granule) granule, \(ipaBits)-bit IPA, start level \(startLevel), \(concatenatedTables) root table\(concatenatedTables == 1 ? "" : "s")"
    }
}
