import AArch64

/// Stage-2 permissions. Read/write come from S2AP[1:0] (descriptor bits [7:6]; Arm ARM D8.4.2,
/// "Stage 2 data access permissions": bit 6 grants read, bit 7 grants write). Execute comes
/// from XN[1:0] (bits [54:53]; Arm ARM D8.4.3 "Stage 2 instruction execution permissions",
/// FEAT_XNX): 0b00 EL1+EL0, 0b01 EL0 only (PXN), 0b10 none, 0b11 EL1 only (UXN).
public struct Stage2Permissions: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = Self(rawValue: 1)
    public static let write = Self(rawValue: 2)
    public static let executeEL1 = Self(rawValue: 4)
    public static let executeEL0 = Self(rawValue: 8)
    public static let execute: Self = [.executeEL1, .executeEL0]
    public static let none: Self = []
    public static let rwx: Self = [.read, .write, .execute]

    /// "rwx" letters; "" = no access. Each of r, w, x at most once.
    public init?(letters: String) {
        var p: Self = []
        for c in letters {
            let bit: Self
            switch c {
            case "r": bit = .read
            case "w": bit = .write
            case "x": bit = .execute
            default: return nil
            }
            if p.contains(bit) { return nil }
            p.formUnion(bit)
        }
        self = p
    }

    public var description: String {
        var s = contains(.read) ? "r" : "-"
        s += contains(.write) ? "w" : "-"
        switch (contains(.executeEL1), contains(.executeEL0)) {
        case (true, true): s += "x"
        case (false, false): s += "-"
        case (true, false): s += "x(EL1)"
        case (false, true): s += "x(EL0)"
        }
        return s
    }
}

/// Stage-2 MemAttr[3:0] (descriptor bits [5:2]) with VTCR/HCR FWB = 0 (Arm ARM D8.5.5,
/// "Stage 2 memory type and Cacheability attributes when FEAT_S2FWB is disabled"):
/// 0b00xx Device (0b0000 nGnRnE, 0b0001 nGnRE, 0b0010 nGRE, 0b0011 GRE); otherwise Normal with
/// [3:2] outer and [1:0] inner (0b01 Non-cacheable, 0b10 Write-Through, 0b11 Write-Back).
public enum Stage2MemoryType: Sendable, Hashable, CustomStringConvertible {
    case normal  // 0b1111: Normal, outer and inner Write-Back
    case deviceNGnRE  // 0b0001
    case deviceNGnRnE  // 0b0000
    case memAttr(UInt8)  // any other MemAttr value, kept verbatim

    @inlinable public var memAttr: UInt64 {
        switch self {
        case .normal: 0b1111
        case .deviceNGnRE: 0b0001
        case .deviceNGnRnE: 0b0000
        case .memAttr(let v): UInt64(v & 0xF)
        }
    }
    public init(memAttr v: UInt64) {
        switch v & 0xF {
        case 0b1111: self = .normal
        case 0b0001: self = .deviceNGnRE
        case 0b0000: self = .deviceNGnRnE
        default: self = .memAttr(UInt8(v & 0xF))
        }
    }
    public var description: String {
        switch self {
        case .normal: "normal-wb"
        case .deviceNGnRE: "device-nGnRE"
        case .deviceNGnRnE: "device-nGnRnE"
        case .memAttr(let v): "memattr=0x" + String(v, radix: 16)
        }
    }
}

/// SH[1:0], descriptor bits [9:8] (Arm ARM D8.5.3): 0b00 non, 0b01 reserved, 0b10 outer, 0b11 inner.
public enum Stage2Shareability: UInt64, Sendable, Hashable, CustomStringConvertible {
    case nonShareable = 0b00
    case reserved = 0b01
    case outerShareable = 0b10
    case innerShareable = 0b11
    public var description: String {
        switch self {
        case .nonShareable: "non-sh"
        case .reserved: "sh=01"
        case .outerShareable: "outer-sh"
        case .innerShareable: "inner-sh"
        }
    }
}

/// Semantic attributes of a stage-2 block or page descriptor.
public struct Stage2Attributes: Sendable, Hashable, CustomStringConvertible {
    public var permissions: Stage2Permissions { didSet { encode() } }
    public var memory: Stage2MemoryType { didSet { encode() } }
    public var shareability: Stage2Shareability { didSet { encode() } }
    /// AF, bit 10. false provokes an access-flag fault (with VTCR_EL2.HA = 0).
    public var accessFlag: Bool { didSet { encode() } }
    /// Contiguous hint, bit 52. `map` sets it only on whole, aligned groups it writes.
    public var contiguous: Bool { didSet { encode() } }
    /// The attribute bits of a block/page descriptor (everything but OA, type and valid bits),
    /// encoded whenever a field is set: `map` reads them once per call.
    public private(set) var descriptorBits: UInt64 = 0

    public init(
        permissions: Stage2Permissions = .rwx, memory: Stage2MemoryType = .normal,
        shareability: Stage2Shareability? = nil, accessFlag: Bool = true, contiguous: Bool = false
    ) {
        self.permissions = permissions
        self.memory = memory
        // Device memory is treated as outer shareable whatever SH says; inner for normal (as KVM).
        self.shareability = shareability ?? .innerShareable
        self.accessFlag = accessFlag
        self.contiguous = contiguous
        encode()
    }

    public static let normalRWX = Stage2Attributes()

    private mutating func encode() {
        var v = memory.memAttr << 2 | shareability.rawValue << 8
        if permissions.contains(.read) { v |= Stage2Descriptor.s2apReadBit }
        if permissions.contains(.write) { v |= Stage2Descriptor.s2apWriteBit }
        if accessFlag { v |= Stage2Descriptor.afBit }
        if contiguous { v |= Stage2Descriptor.contiguousBit }
        v |= Stage2Descriptor.xnField(permissions) << Stage2Descriptor.xnShift
        descriptorBits = v
    }

    /// Decodes the attribute bits of a block/page descriptor (XN per FEAT_XNX).
    public init(descriptor d: UInt64) {
        var p: Stage2Permissions = []
        if d & Stage2Descriptor.s2apReadBit != 0 { p.insert(.read) }
        if d & Stage2Descriptor.s2apWriteBit != 0 { p.insert(.write) }
        switch Stage2Descriptor.xn(d) {
        case 0b00: p.formUnion(.execute)
        case 0b01: p.insert(.executeEL0)
        case 0b11: p.insert(.executeEL1)
        default: break
        }
        permissions = p
        memory = Stage2MemoryType(memAttr: (d >> 2) & 0xF)
        shareability = Stage2Shareability(rawValue: (d >> 8) & 3)!
        accessFlag = d & Stage2Descriptor.afBit != 0
        contiguous = d & Stage2Descriptor.contiguousBit != 0
        encode()
    }

    /// Decodes a block/page descriptor of `format`. With FEAT_LPA2 bits [9:8] are OA[51:50]:
    /// the shareability is VTCR_EL2.SH0, reported as inner (the value this library programs).
    public init(descriptor d: UInt64, format: Stage2AddressFormat) {
        self.init(descriptor: d)
        if !format.hasShareabilityField {
            shareability = .innerShareable
            encode()  // an initializer's own assignments do not run didSet
        }
    }

    public var description: String {
        var s = "\(permissions) \(memory) \(shareability)"
        if !accessFlag { s += " AF=0" }
        if contiguous { s += " contiguous" }
        return s
    }
}

/// Stage-2 descriptor encoding (Arm ARM D8.3, VMSAv8-64 descriptor formats):
/// bit 0 valid; bit 1 = 1 table (levels 0–2) or page (level 3), 0 block (levels 1–2);
/// table: next-level table address [47:granule]; block/page: OA [47:n], attributes above.
public enum Stage2Descriptor {
    public static let validBit: UInt64 = 1
    public static let tableOrPageBit: UInt64 = 2
    /// Bits [1:0], the descriptor type.
    public static let typeMask: UInt64 = 0b11
    /// S2AP[0] (bit 6): reads allowed; S2AP[1] (bit 7): writes allowed.
    public static let s2apReadBit: UInt64 = 1 << 6
    public static let s2apWriteBit: UInt64 = 1 << 7

    /// Bit 0 set.
    @inlinable @inline(__always) public static func isValid(_ d: UInt64) -> Bool { d & validBit != 0 }
    /// Bits [1:0] = 0b11 below level 3: a table descriptor.
    @inlinable @inline(__always) public static func isTable(_ d: UInt64, level: Int) -> Bool {
        level < 3 && d & typeMask == typeMask
    }
    /// Bit 1 set: table (levels 0–2) or page (level 3); clear on a block.
    @inlinable @inline(__always) public static func hasTableOrPageBit(_ d: UInt64) -> Bool { d & tableOrPageBit != 0 }
    /// The type bits [1:0] of a leaf at `level`: 0b11 page, 0b01 block.
    @inlinable @inline(__always) public static func leafType(level: Int) -> UInt64 { level == 3 ? 0b11 : 0b01 }
    public static let contiguousBit: UInt64 = 1 << 52
    public static let afBit: UInt64 = 1 << 10
    /// XN[1:0], bits [54:53] (FEAT_XNX; without it only XN[1], bit 54, counts).
    public static let xnShift: UInt64 = 53
    public static let xn1Bit: UInt64 = 1 << 54
    @inlinable @inline(__always) public static func xn(_ d: UInt64) -> UInt64 { (d &>> xnShift) & 0b11 }
    /// S2AP [7:6] and XN [54:53].
    public static let permissionMask: UInt64 = s2apReadBit | s2apWriteBit | 0b11 << xnShift
    /// Output-address field [47:pageShift] (48-bit OA, no FEAT_LPA).
    @inlinable @inline(__always) public static func addressMask(_ g: Granule) -> UInt64 {
        0x0000_FFFF_FFFF_FFFF & ~(g.bytes - 1)
    }
    /// SH[1:0], bits [9:8] (OA[51:50] in the FEAT_LPA2 format).
    public static let shareabilityMask: UInt64 = 0b11 << 8
    /// Bits [51:48]: RES0 in the 48-bit format, so non-zero means an address beyond any 48-bit
    /// PS (the walker reports an address-size fault). With FEAT_LPA, OA[51:48] is in bits
    /// [15:12]; with FEAT_LPA2, bits [49:48] are OA[49:48] (see `Stage2AddressFormat`).
    public static let highAddressMask: UInt64 = 0xF << 48

    @inlinable static func xnField(_ p: Stage2Permissions) -> UInt64 {
        switch (p.contains(.executeEL1), p.contains(.executeEL0)) {
        case (true, true): 0b00
        case (false, true): 0b01
        case (false, false): 0b10
        case (true, false): 0b11
        }
    }

    /// A block (level < 3) or page (level 3) descriptor. In the FEAT_LPA2 format SH is dropped
    /// (bits [9:8] carry OA[51:50]).
    @inlinable public static func leaf(
        output: PhysicalAddress, attributes: Stage2Attributes, level: Int, format: Stage2AddressFormat = .bits48
    ) -> UInt64 {
        var bits = attributes.descriptorBits
        if !format.hasShareabilityField { bits &= ~shareabilityMask }
        return format.field(output.rawValue) | bits | leafType(level: level)
    }
    @inlinable public static func table(_ next: PhysicalAddress, format: Stage2AddressFormat = .bits48) -> UInt64 {
        format.field(next.rawValue) | typeMask
    }

    /// What a descriptor at `level` is (architectural meaning in the given format).
    public enum Kind: Equatable, Sendable {
        case invalid
        case table(PhysicalAddress)
        case block(PhysicalAddress, Stage2Attributes)
        case page(PhysicalAddress, Stage2Attributes)
        /// Valid bit set but an encoding that faults (block at a level without blocks,
        /// or bit 1 = 0 at level 3): a translation fault at this level.
        case reserved
    }

    public static func decode(_ d: UInt64, level: Int, granule: Granule, format: Stage2AddressFormat = .bits48) -> Kind {
        guard isValid(d) else { return .invalid }
        let oa = PhysicalAddress(format.address(d, granule))
        if level == 3 {
            return hasTableOrPageBit(d) ? .page(oa, Stage2Attributes(descriptor: d, format: format)) : .reserved
        }
        if hasTableOrPageBit(d) { return .table(oa) }
        guard format.blockAllowed(granule, atLevel: level) else { return .reserved }
        // A block's OA is aligned to the block size; lower bits of the field are RES0.
        let blockOA = PhysicalAddress(oa.rawValue & ~((1 << UInt64(granule.entryShift(atLevel: level))) - 1))
        return .block(blockOA, Stage2Attributes(descriptor: d, format: format))
    }
}
