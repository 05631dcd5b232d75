import AArch64

/// Output (physical) address size encodings of VTCR_EL2.PS (Arm ARM, VTCR_EL2.PS):
/// 0b000 32 bits, 0b001 36, 0b010 40, 0b011 42, 0b100 44, 0b101 48, 0b110 52.
public enum PhysicalAddressSize {
    public static let bitsByEncoding: [Int] = [32, 36, 40, 42, 44, 48, 52]
    public static func encoding(bits: Int) -> UInt64? {
        bitsByEncoding.firstIndex(of: bits).map { UInt64($0) }
    }
    public static func bits(encoding: UInt64) -> Int? {
        encoding < UInt64(bitsByEncoding.count) ? bitsByEncoding[Int(encoding)] : nil
    }
    /// Smallest PS that holds `maxAddress` (inclusive), up to `maximum` bits (48 unless the
    /// descriptors use a 52-bit format: FEAT_LPA or FEAT_LPA2).
    public static func smallestBits(holding maxAddress: UInt64, maximum: Int = 48) -> Int? {
        bitsByEncoding.first { $0 <= maximum && (maxAddress >> UInt64($0)) == 0 }
    }
}

/// VTCR_EL2, field by field (Arm ARM D19, VTCR_EL2). Encode with `rawValue`, decode with
/// `init(rawValue:)`; bits this type doesn't name are kept in `otherBits` so a decode/encode
/// round trip is exact.
public struct VTCR: Equatable, Sendable, CustomStringConvertible {
    public var t0sz: UInt64  // [5:0]   IPA size = 64 − T0SZ
    public var sl0: UInt64  // [7:6]   start level (granule dependent)
    public var irgn0: UInt64  // [9:8]   inner cacheability of table walks (0b01 WB RA WA)
    public var orgn0: UInt64  // [11:10] outer cacheability of table walks
    public var sh0: UInt64  // [13:12] shareability of table walks (0b11 inner)
    public var tg0: UInt64  // [15:14] granule
    public var ps: UInt64  // [18:16] output address size
    public var vs: Bool  // [19]    16-bit VMID
    public var ha: Bool  // [21]    hardware access flag
    public var hd: Bool  // [22]    hardware dirty state
    public var res1Bit31: Bool  // [31]    RES1
    public var ds: Bool  // [32]    FEAT_LPA2 descriptor format (4KB/16KB)
    public var otherBits: UInt64

    // Bits [18:0], 19, 21, 22 and 31 (the fields above). Kept as two typed halves: Debian's
    // Swift 6.2.3 cannot type-check the one long literal expression in reasonable time.
    static let namedLow: UInt64 = 0x3F | (0x3 << 6) | (0x3 << 8) | (0x3 << 10) | (0x3 << 12)
    static let namedHigh: UInt64 = (0x3 << 14) | (0x7 << 16) | (1 << 19) | (1 << 21) | (1 << 22) | (1 << 31) | (1 << 32)
    static let namedMask: UInt64 = namedLow | namedHigh

    public init(rawValue v: UInt64) {
        t0sz = v & 0x3F
        sl0 = (v >> 6) & 3
        irgn0 = (v >> 8) & 3
        orgn0 = (v >> 10) & 3
        sh0 = (v >> 12) & 3
        tg0 = (v >> 14) & 3
        ps = (v >> 16) & 7
        vs = (v >> 19) & 1 == 1
        ha = (v >> 21) & 1 == 1
        hd = (v >> 22) & 1 == 1
        res1Bit31 = (v >> 31) & 1 == 1
        ds = (v >> 32) & 1 == 1
        otherBits = v & ~Self.namedMask
    }

    /// The value this library programs: walks inner-shareable, write-back read/write-allocate
    /// (IRGN0 = ORGN0 = 0b01, SH0 = 0b11, as KVM does), RES1 bit 31 set. `ds` selects the
    /// FEAT_LPA2 descriptor format (then SH0 is also the shareability of every block and page).
    public init(geometry: Stage2Geometry, outputBits: Int, vmid16: Bool, ds: Bool = false) {
        t0sz = geometry.t0sz
        sl0 = geometry.sl0
        irgn0 = 0b01
        orgn0 = 0b01
        sh0 = 0b11
        tg0 = geometry.granule.tg0
        ps = PhysicalAddressSize.encoding(bits: outputBits) ?? 0b101
        vs = vmid16
        ha = false
        hd = false
        res1Bit31 = true
        self.ds = ds
        otherBits = 0
    }

    public var rawValue: UInt64 {
        t0sz | sl0 << 6 | irgn0 << 8 | orgn0 << 10 | sh0 << 12 | tg0 << 14 | ps << 16
            | (vs ? 1 << 19 : 0) | (ha ? 1 << 21 : 0) | (hd ? 1 << 22 : 0) | (res1Bit31 ? 1 << 31 : 0)
            | (ds ? 1 << 32 : 0) | otherBits
    }

    public var granule: Granule? { Granule(tg0: tg0) }
    public var ipaBits: Int { 64 - Int(t0sz) }
    public var startLevel: Int? { granule.flatMap { Geometry.startLevel(sl0: sl0, granule: $0) } }
    public var outputBits: Int? { PhysicalAddressSize.bits(encoding: ps) }
    typealias Geometry = Stage2Geometry

    /// Whether the start level is encodable and consistent with T0SZ (else every walk
    /// takes a level-0 translation fault). T0SZ is taken in its architectural range without
    /// FEAT_LPA/TTST, 16...39 (25- to 48-bit IPA), wider than the 32...48 bits the builder makes.
    public var isConsistent: Bool {
        guard let g = granule, let l = startLevel else { return false }
        return (25...Stage2Geometry.maximumIPABits).contains(ipaBits)
            && Stage2Geometry.isValidStartLevel(l, granule: g)
            && Stage2Geometry.isConsistent(granule: g, ipaBits: ipaBits, startLevel: l)
    }

    public var description: String {
        let g = granule.map { "\($0)" } ?? "reserved TG0=\(tg0)"
        let l = startLevel.map { "start level \($0)" } ?? "reserved SL0"
        let p = outputBits.map { "PS=\($0)-bit" } ?? "reserved PS=\(ps)"
        var s =
            "VTCR_EL2 0x\(String(rawValue, radix: 16)): T0SZ=\(t0sz) (\(ipaBits)-bit IPA), SL0=\(sl0) (\(l)), TG0=\(tg0) (\(g)), \(p), SH0=\(sh0) IRGN0=\(irgn0) ORGN0=\(orgn0), VS=\(vs ? 1 : 0)"
        if ha { s += ", HA" }
        if hd { s += ", HD" }
        if ds { s += ", DS (FEAT_LPA2 descriptors)" }
        s += res1Bit31 ? ", RES1[31]=1" : ", RES1[31]=0 (should be 1)"
        if otherBits != 0 { s += ", other bits 0x\(String(otherBits, radix: 16))" }
        if !isConsistent { s += " — start level inconsistent with T0SZ (every walk faults at level 0)" }
        return s
    }
}

/// VTTBR_EL2 (Arm ARM D19, VTTBR_EL2): BADDR [47:1] (low bits below the root's alignment are
/// RES0), CnP [0], VMID [55:48], or [63:48] when VTCR_EL2.VS = 1. With a 52-bit output size
/// (VTCR_EL2.PS = 0b110 with FEAT_LPA's 64KB format or FEAT_LPA2's DS = 1) bits [5:2] hold
/// BADDR[51:48] and the base is at least 64-byte aligned (Arm ARM VTTBR_EL2.BADDR; Linux
/// `phys_to_ttbr` moves PA[51:48] to TTBR[5:2] the same way).
public struct VTTBR: Equatable, Sendable, CustomStringConvertible {
    public var baseAddress: PhysicalAddress
    public var vmid: UInt16
    public var commonNotPrivate: Bool
    /// Bits [63:56] when decoded with an 8-bit VMID (RES0 then).
    public var upperBits: UInt64
    /// BADDR[51:48] in bits [5:2] (52-bit output size).
    public var wideBase: Bool

    public init(baseAddress: PhysicalAddress, vmid: UInt16, commonNotPrivate: Bool = false, wideBase: Bool = false) {
        self.baseAddress = baseAddress
        self.vmid = vmid
        self.commonNotPrivate = commonNotPrivate
        self.wideBase = wideBase
        upperBits = 0
    }
    public init(rawValue v: UInt64, vmid16: Bool, wideBase: Bool = false) {
        self.wideBase = wideBase
        baseAddress = PhysicalAddress(
            wideBase ? (v & 0x0000_FFFF_FFFF_FFC0) | ((v >> 2) & 0xF) << 48 : v & 0x0000_FFFF_FFFF_FFFE)
        commonNotPrivate = v & 1 == 1
        if vmid16 {
            vmid = UInt16(truncatingIfNeeded: v >> 48)
            upperBits = 0
        } else {
            vmid = UInt16(truncatingIfNeeded: (v >> 48) & 0xFF)
            upperBits = v >> 56
        }
    }
    public var rawValue: UInt64 {
        let b = baseAddress.rawValue
        let base = wideBase ? (b & 0x0000_FFFF_FFFF_FFC0) | ((b >> 48) & 0xF) << 2 : b
        return base | UInt64(vmid) << 48 | upperBits << 56 | (commonNotPrivate ? 1 : 0)
    }
    public var description: String {
        var s = "VTTBR_EL2 0x\(String(rawValue, radix: 16)): BADDR \(baseAddress), VMID \(vmid), CnP \(commonNotPrivate ? 1 : 0)"
        if upperBits != 0 { s += ", RES0 bits [63:56] = 0x\(String(upperBits, radix: 16))" }
        return s
    }
}
