import AArch64
import GuestProtocol
import Runtime
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

/// Stage-1 tables for one TTBR0 (4 KB granule, `vaBits`-bit VAs: 39 → levels 1-3,
/// 48 → levels 0-3). Tables are kept as data (table IPA → index → descriptor); the caller
/// places each table at an IPA of its choice (so a test can put a table where stage 2 does not
/// map), writes the images into guest memory through its own IPA → PA backing, and maps the
/// table IPAs at stage 2 as it sees fit.
public struct Stage1Tables: Sendable {
    public let vaBits: Int
    public let startLevel: Int
    public let root: UInt64
    public private(set) var tables: [UInt64: [Int: UInt64]]
    /// (level, VA span base) → table IPA.
    public private(set) var placement: [Stage1TableKey: UInt64] = [:]

    public init(vaBits: Int, root: UInt64) throws(SessionError) {
        guard (25...48).contains(vaBits) else { throw .layout("stage-1 VA size \(vaBits) is outside 25...48 bits") }
        guard root & 0xFFF == 0 else { throw .layout("stage-1 root table 0x\(String(root, radix: 16)) is not 4 KB aligned") }
        self.vaBits = vaBits
        // Each level resolves 9 bits above the 12-bit page offset (D8.2.x, 4 KB granule).
        startLevel = 3 - (vaBits - 12 - 1) / 9
        self.root = root
        tables = [root: [:]]
        placement[Stage1TableKey(level: startLevel, base: 0)] = root
    }

    /// Maps `size` bytes (4 KiB pages at level 3, or one 2 MiB level-2 / 1 GiB level-1 block
    /// when `size` is that) at `va` to `output`. `tableAt(level, vaBase)` gives the IPA for a
    /// table the mapping needs and that does not exist yet.
    public mutating func map(
        va: UInt64, output: UInt64, size: UInt64, attributes: Stage1.Attributes,
        tableAt: (Int, UInt64) -> UInt64
    ) throws(SessionError) {
        guard va >> UInt64(vaBits) == 0, (va &+ size &- 1) >> UInt64(vaBits) == 0 else {
            throw .layout("VA 0x\(String(va, radix: 16)) + 0x\(String(size, radix: 16)) exceeds the \(vaBits)-bit stage-1 range")
        }
        let leafLevel: Int
        switch size {
        case 1 << 30: leafLevel = 1
        case 2 << 20: leafLevel = 2
        default:
            guard size > 0, size % 0x1000 == 0 else {
                throw .layout("stage-1 mapping size 0x\(String(size, radix: 16)) is not pages or one block")
            }
            leafLevel = 3
        }
        guard leafLevel >= startLevel else { throw .layout("no level-\(leafLevel) blocks with a level-\(startLevel) start") }
        let unit: UInt64 = 1 << Stage1.shift(level: leafLevel)
        guard va % unit == 0, output % unit == 0 else { throw .layout("stage-1 mapping not aligned to 0x\(String(unit, radix: 16))") }
        var offset: UInt64 = 0
        while offset < size {
            let v = va + offset
            var table = root
            for level in startLevel..<leafLevel {
                let i = Stage1.index(of: v, level: level)
                let span: UInt64 = 1 << Stage1.shift(level: level)
                if let d = tables[table]![i] {
                    guard d & 3 == 3 else { throw .layout("VA 0x\(String(v, radix: 16)) is already mapped by a level-\(level) block") }
                    table = d & Stage1.addressMask
                } else {
                    let next = tableAt(level + 1, v & ~(span - 1))
                    guard next & 0xFFF == 0, tables[next] == nil else {
                        throw .layout("stage-1 table IPA 0x\(String(next, radix: 16)) is misaligned or already used")
                    }
                    tables[next] = [:]
                    placement[Stage1TableKey(level: level + 1, base: v & ~(span - 1))] = next
                    tables[table]![i] = Stage1.tableDescriptor(next: next)
                    table = next
                }
            }
            let i = Stage1.index(of: v, level: leafLevel)
            guard tables[table]![i] == nil else { throw .layout("VA 0x\(String(v, radix: 16)) is already mapped") }
            let out = output + offset
            tables[table]![i] =
                leafLevel == 3
                ? Stage1.pageDescriptor(output: out, attributes: attributes)
                : Stage1.blockDescriptor(output: out, attributes: attributes)
            offset += unit
        }
    }

    /// The IPA of the table used at `level` to translate `va` (nil if the walk does not get there).
    public func tableIPA(level: Int, va: UInt64) -> UInt64? {
        var table = root
        for l in startLevel...3 {
            if l == level { return table }
            guard let d = tables[table]?[Stage1.index(of: va, level: l)], d & 3 == 3, l < 3 else { return nil }
            table = d & Stage1.addressMask
        }
        return nil
    }

    /// The IPA of the descriptor a walk of `va` reads at `level`.
    public func descriptorIPA(level: Int, va: UInt64) -> UInt64? {
        tableIPA(level: level, va: va).map { $0 + UInt64(Stage1.index(of: va, level: level)) * 8 }
    }

    /// A software walk (D8.2): the output address and the leaf level, nil on a fault.
    public func translate(_ va: UInt64) -> (output: UInt64, level: Int)? {
        guard va >> UInt64(vaBits) == 0 else { return nil }
        var table = root
        for level in startLevel...3 {
            guard let d = tables[table]?[Stage1.index(of: va, level: level)], d & 1 == 1 else { return nil }
            let isTable = d & 2 != 0 && level < 3
            if !isTable {
                if level < 3 && d & 2 != 0 { return nil }
                if level == 3 && d & 2 == 0 { return nil }  // 0b01 at level 3 is reserved (invalid)
                let mask: UInt64 = (1 << Stage1.shift(level: level)) - 1
                return ((d & Stage1.addressMask & ~mask) | (va & mask), level)
            }
            table = d & Stage1.addressMask
        }
        return nil
    }

    /// The 4 KiB image of one table (little-endian descriptors, zeros elsewhere).
    public func image(of table: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4096)
        for (i, d) in tables[table] ?? [:] {
            for k in 0..<8 { bytes[i * 8 + k] = UInt8(truncatingIfNeeded: d >> (8 * UInt64(k))) }
        }
        return bytes
    }
}

public struct Stage1TableKey: Hashable, Sendable {
    public var level: Int
    public var base: UInt64
}
