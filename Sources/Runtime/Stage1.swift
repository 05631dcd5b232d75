import AArch64
import GuestProtocol
import Stage2

/// The nested guest's own stage-1 translation (EL1&0 regime, VMSAv8-64, 4 KB granule): the
/// descriptor encodings, a small table builder whose tables live at IPAs the test chooses,
/// and the MAIR/TCR/SCTLR_EL1 values the nested guest programs at EL1 with SYSREG_WRITE ops.
///
/// References (Arm ARM DDI 0487): D8.3 "Translation table descriptor formats" (table, block
/// and page descriptors), D8.4.1 "Data access permissions" (AP[2:1]), D8.4.2 "Execute-never
/// controls" (PXN/UXN), D8.5 "Hardware updates of the Access flag and dirty state", D8.6
/// "Memory region attributes" (AttrIndx, SH), and the register descriptions of MAIR_EL1,
/// TCR_EL1 and SCTLR_EL1 in D24.2.
public enum Stage1 {
    /// Attributes of a stage-1 block or page descriptor.
    public struct Attributes: Sendable, Equatable {
        /// AttrIndx[2:0] (descriptor bits [4:2]): which MAIR_EL1 byte describes the memory.
        public var attrIndex: UInt64
        /// AP[2:1] (bits [7:6]): 0b00 EL1 RW / EL0 none, 0b10 EL1 RO / EL0 none.
        public var ap: UInt64
        /// SH[1:0] (bits [9:8]): 0b11 Inner Shareable.
        public var shareability: UInt64
        /// AF (bit 10).
        public var accessFlag: Bool
        /// PXN (bit 53), UXN/XN (bit 54).
        public var pxn: Bool
        public var uxn: Bool

        public init(
            attrIndex: UInt64 = 0, ap: UInt64 = 0, shareability: UInt64 = 0b11, accessFlag: Bool = true,
            pxn: Bool = true, uxn: Bool = true
        ) {
            self.attrIndex = attrIndex
            self.ap = ap
            self.shareability = shareability
            self.accessFlag = accessFlag
            self.pxn = pxn
            self.uxn = uxn
        }

        /// Normal memory (MAIR index 0), EL1 read/write, not executable.
        public static let normalData = Attributes()
        /// Normal memory, EL1 read/write and executable at EL1 (the interpreter's code).
        public static let normalCode = Attributes(pxn: false)

        /// The attribute bits of a block/page descriptor (D8.3, "Block descriptor and Page
        /// descriptor formats": lower attributes [11:2], upper attributes [63:50]).
        public var bits: UInt64 {
            var v: UInt64 = (attrIndex & 7) << 2
            v |= (ap & 3) << 6
            v |= (shareability & 3) << 8
            if accessFlag { v |= Stage1.afBit }
            if pxn { v |= 1 << 53 }
            if uxn { v |= 1 << 54 }
            return v
        }
    }

    /// Descriptor bit 0: valid; bit 1: table (levels 0-2) or page (level 3), else block.
    public static let validBit: UInt64 = 1
    public static let tableOrPageBit: UInt64 = 1 << 1
    /// AF, bit 10 (D8.3; set by hardware when TCR_EL1.HA = 1, D8.5).
    public static let afBit: UInt64 = 1 << 10
    /// Output/next-level address bits [47:12] (4 KB granule, 48-bit OA).
    public static let addressMask: UInt64 = 0x0000_FFFF_FFFF_F000

    /// Table descriptor: next-level table address [47:12], bits[1:0] = 0b11.
    public static func tableDescriptor(next: UInt64) -> UInt64 {
        (next & addressMask) | tableOrPageBit | validBit
    }
    /// Block descriptor (level 1: 1 GiB, level 2: 2 MiB with a 4 KB granule): bits[1:0] = 0b01.
    public static func blockDescriptor(output: UInt64, attributes: Attributes) -> UInt64 {
        (output & addressMask) | attributes.bits | validBit
    }
    /// Page descriptor (level 3): bits[1:0] = 0b11.
    public static func pageDescriptor(output: UInt64, attributes: Attributes) -> UInt64 {
        (output & addressMask) | attributes.bits | tableOrPageBit | validBit
    }

    /// Bits of VA translated at `level` with a 4 KB granule start at 12 + 9 * (3 - level)
    /// (D8.2 "Translation process": 512 entries of 8 bytes per 4 KB table).
    public static func shift(level: Int) -> UInt64 { UInt64(12 + 9 * (3 - level)) }
    public static func index(of va: UInt64, level: Int) -> Int { Int((va >> shift(level: level)) & 0x1FF) }

    // MARK: registers

    /// MAIR_EL1: Attr0 = 0xFF (Normal, Inner/Outer Write-Back Non-transient, Read- and
    /// Write-Allocate), Attr1 = 0x00 (Device-nGnRnE), Attr2 = 0x44 (Normal Non-cacheable).
    public static let mair: UInt64 = 0x44_00FF

    /// TCR_EL1 for TTBR0 only: T0SZ = 64 - vaBits [5:0], IRGN0 = ORGN0 = 0b01 (Write-Back
    /// Read/Write-Allocate) [9:8]/[11:10], SH0 = 0b11 (Inner Shareable) [13:12], TG0 = 0b00
    /// (4 KB) [15:14], T1SZ = T0SZ [21:16], EPD1 = 1 (no TTBR1 walks) [23], TG1 = 0b10 (4 KB)
    /// [31:30], IPS [34:32] from the IPA size, HA [39] (hardware Access flag updates).
    public static func tcr(vaBits: Int, ipaBits: Int, hardwareAccessFlag: Bool = false) -> UInt64 {
        let tsz = UInt64(64 - vaBits)
        let ips: UInt64 =
            switch ipaBits {
            case ...32: 0b000
            case 33...36: 0b001
            case 37...40: 0b010
            case 41...42: 0b011
            case 43...44: 0b100
            case 45...48: 0b101
            default: 0b110
            }
        var v: UInt64 = tsz
        v |= UInt64(0b01) << 8  // IRGN0
        v |= UInt64(0b01) << 10  // ORGN0
        v |= UInt64(0b11) << 12  // SH0; TG0 [15:14] = 0b00
        v |= tsz << 16  // T1SZ
        v |= UInt64(1) << 23  // EPD1
        v |= UInt64(0b10) << 30  // TG1
        v |= ips << 32
        if hardwareAccessFlag { v |= 1 << 39 }
        return v
    }

    /// SCTLR_EL1 with the MMU and both caches on: M [0], C [2], I [12], and the bits that are
    /// RES1 when their features are absent, set so their Armv8.0 behaviour holds whatever the
    /// vCPU implements: EOS [11], TSCXT [20], EIS [22], SPAN [23], nTLSMD [28], LSMAOE [29].
    /// Alignment checks (A [1]) and WXN [19] stay off; little-endian (EE [25] = 0).
    public static let sctlrMMUOn: UInt64 = {
        var v: UInt64 = 0
        for bit: UInt64 in [0, 2, 12, 11, 20, 22, 23, 28, 29] { v |= 1 << bit }
        return v
    }()
}
