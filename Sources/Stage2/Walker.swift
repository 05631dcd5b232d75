import AArch64

/// The access a walk checks permissions for.
public enum Stage2Access: Sendable, Hashable, CustomStringConvertible {
    case read, write
    /// Instruction fetch by the nested guest at EL1 or EL0.
    case fetchEL1, fetchEL0
    public static let fetch = Stage2Access.fetchEL1
    public var description: String {
        switch self {
        case .read: "read"
        case .write: "write"
        case .fetchEL1: "fetch (EL1)"
        case .fetchEL0: "fetch (EL0)"
        }
    }
}

/// A successful stage-2 translation.
public struct Stage2Translation: Equatable, Sendable {
    public var ipa: IPA
    /// The output address of `ipa` (not just the block base).
    public var outputAddress: PhysicalAddress
    public var level: Int
    /// Size of the block or page that maps it.
    public var blockSize: UInt64
    public var descriptor: UInt64
    public var descriptorAddress: PhysicalAddress
    /// Whether FEAT_XNX applied (see `Stage2WalkParameters.xnx`).
    public var xnx: Bool
    /// The descriptor format the walk read (FEAT_LPA2's has no SH field).
    public var format: Stage2AddressFormat

    @inlinable
    public init(
        ipa: IPA, outputAddress: PhysicalAddress, level: Int, blockSize: UInt64,
        descriptor: UInt64, descriptorAddress: PhysicalAddress, xnx: Bool = true, format: Stage2AddressFormat = .bits48
    ) {
        self.format = format
        self.ipa = ipa
        self.outputAddress = outputAddress
        self.level = level
        self.blockSize = blockSize
        self.descriptor = descriptor
        self.descriptorAddress = descriptorAddress
        self.xnx = xnx
    }

    /// The descriptor's attributes (decoded on demand; without FEAT_XNX only XN[1] counts).
    public var attributes: Stage2Attributes {
        var a = Stage2Attributes(descriptor: descriptor, format: format)
        if !xnx {
            a.permissions.subtract(.execute)
            if descriptor & Stage2Descriptor.xn1Bit == 0 { a.permissions.formUnion(.execute) }
        }
        return a
    }
}

/// The stage-2 fault a hardware walk would raise (DFSC/IFSC = `statusCode`; Arm ARM D19,
/// ESR_ELx ISS "DFSC": 0b0000LL address size, 0b0001LL translation, 0b0010LL access flag,
/// 0b0011LL permission, 0b0101LL synchronous external abort on a table walk; LL = level).
public struct Stage2Fault: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case addressSize, translation, accessFlag, permission, externalAbortOnWalk
    }
    public var kind: Kind
    public var level: Int
    public var ipa: IPA
    public var access: Stage2Access
    /// The descriptor involved (0 when none was read).
    public var descriptor: UInt64

    public init(kind: Kind, level: Int, ipa: IPA, access: Stage2Access, descriptor: UInt64 = 0) {
        self.kind = kind
        self.level = level
        self.ipa = ipa
        self.access = access
        self.descriptor = descriptor
    }

    public var statusCode: UInt8 {
        let base: UInt8 =
            switch kind {
            case .addressSize: 0x00
            case .translation: 0x04
            case .accessFlag: 0x08
            case .permission: 0x0C
            case .externalAbortOnWalk: 0x14
            }
        return base + UInt8(level & 3)
    }
    public var description: String {
        let k =
            switch kind {
            case .addressSize: "address-size fault"
            case .translation: "translation fault"
            case .accessFlag: "access-flag fault"
            case .permission: "permission fault"
            case .externalAbortOnWalk: "synchronous external abort on table walk"
            }
        return "\(k), level \(level) (FSC 0x\(String(statusCode, radix: 16, uppercase: false).leftPadded(2))) for \(access) of IPA \(ipa)"
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

public enum Stage2WalkResult: Equatable, Sendable, CustomStringConvertible {
    case translation(Stage2Translation)
    case fault(Stage2Fault)

    public var translation: Stage2Translation? { if case .translation(let t) = self { t } else { nil } }
    public var fault: Stage2Fault? { if case .fault(let f) = self { f } else { nil } }

    public var description: String {
        switch self {
        case .translation(let t):
            let kind = t.level == 3 ? "page" : "block"
            return "\(t.ipa) → PA \(t.outputAddress) (L\(t.level) \(kind) of \(sizeName(t.blockSize)), \(t.attributes))"
        case .fault(let f): return "\(f.ipa): \(f)"
        }
    }
}

func sizeName(_ s: UInt64) -> String {
    if s >= 1 << 30 && s % (1 << 30) == 0 { return "\(s >> 30)G" }
    if s >= 1 << 20 && s % (1 << 20) == 0 { return "\(s >> 20)M" }
    if s >= 1 << 10 && s % (1 << 10) == 0 { return "\(s >> 10)K" }
    return "0x" + String(s, radix: 16)
}

/// Everything a hardware stage-2 walk depends on, from VTCR_EL2/VTTBR_EL2.
public struct Stage2WalkParameters: Sendable, Equatable {
    public var granule: Granule { didSet { derive() } }
    public var ipaBits: Int { didSet { derive() } }
    public var startLevel: Int { didSet { derive() } }
    public var root: PhysicalAddress { didSet { derive() } }
    public var outputBits: Int { didSet { derive() } }
    /// Start level valid and consistent with T0SZ (AArch64.S2InvalidSL/S2InconsistentSL).
    public var consistent: Bool { didSet { derive() } }
    /// VTCR_EL2.HA: hardware sets AF, so AF = 0 does not fault.
    public var hardwareAccessFlag: Bool { didSet { derive() } }
    /// FEAT_XNX implemented: XN[0] (bit 53) distinguishes EL1/EL0 execution; without it only
    /// XN[1] (bit 54) counts.
    public var xnx: Bool
    /// VTCR_EL2.DS (FEAT_LPA2): 4KB/16KB descriptors use the 52-bit format.
    public var ds: Bool { didSet { derive() } }
    /// The PE's implemented PA size (ID_AA64MMFR0_EL1.PARange, `AArch64.PAMax`): 48 by default;
    /// 52 means FEAT_LPA, so 64KB descriptors carry OA[51:48] in bits [15:12].
    public var paMax: Int { didSet { derive() } }

    /// Constants of the walk, computed once from the fields above.
    @usableFromInline struct Derived: Sendable, Equatable {
        /// 2^(effective output size): PS capped at the PE's PA size, and at 48 bits for
        /// 4KB/16KB without DS (pseudocode `AArch64.PhysicalAddressSize`).
        @usableFromInline var limit: UInt64 = 0
        /// 48-bit format: OA field [47:granule] plus bits [51:48] (RES0): with PS ≤ 48 any of
        /// those high bits puts the address beyond PS, so one compare against `limit` finds
        /// every address-size fault.
        @usableFromInline var addressMask: UInt64 = 0
        @usableFromInline var format: Stage2AddressFormat = .bits48
        @usableFromInline var ipaLimit: UInt64 = 0
        @usableFromInline var rootShift: UInt64 = 0
        @usableFromInline var rootIndexMask: UInt64 = 0
        @usableFromInline var tableIndexMask: UInt64 = 0
        @usableFromInline var stride: UInt64 = 0
        /// Bit n set: a block is legal at level n.
        @usableFromInline var blockLevels: UInt64 = 0
        /// Consistent, and BADDR within PS.
        @usableFromInline var walkable = false
        /// The descriptor bits a load (a store) needs in a leaf: S2AP[0] (S2AP[1]), and AF unless
        /// VTCR_EL2.HA.
        @usableFromInline var readNeed: UInt64 = 0
        @usableFromInline var writeNeed: UInt64 = 0
        /// The OA bits at or above the output size (an address-size fault when any is set).
        @usableFromInline var outputBeyondLimit: UInt64 = 0
        /// The granule's page shift when the walk's fast path applies (walkable, 48-bit
        /// descriptor format), else 0.
        @usableFromInline var fastPageShift: UInt8 = 0
    }
    @usableFromInline var derived = Derived()

    mutating func derive() {
        var d = Derived()
        let pageShift = UInt64(granule.pageShift)
        d.stride = pageShift - 3
        d.format = Stage2AddressFormat(granule: granule, ds: ds, paMax: paMax)
        d.limit = 1 << UInt64(effectiveOutputBits)
        d.addressMask = 0x000F_FFFF_FFFF_FFFF & ~((1 << pageShift) - 1)
        d.ipaLimit = ipaBits >= 64 ? .max : 1 << UInt64(max(0, ipaBits))
        let rootShift = granule.entryShift(atLevel: min(max(startLevel, 0), 3))
        d.rootShift = UInt64(rootShift)
        d.rootIndexMask = ipaBits > rootShift ? (1 << UInt64(ipaBits - rootShift)) - 1 : 0
        d.tableIndexMask = (1 << d.stride) - 1
        d.blockLevels = (0...3).reduce(0) { d.format.blockAllowed(granule, atLevel: $1) ? $0 | 1 << UInt64($1) : $0 }
        d.walkable = consistent && root.rawValue < d.limit
        let af = hardwareAccessFlag ? 0 : Stage2Descriptor.afBit
        d.outputBeyondLimit = d.addressMask & ~(d.limit &- 1)
        d.readNeed = Stage2Descriptor.s2apReadBit | af
        d.writeNeed = Stage2Descriptor.s2apWriteBit | af
        d.fastPageShift = d.walkable && d.format == .bits48 ? UInt8(pageShift) : 0
        derived = d
    }

    public init(
        granule: Granule, ipaBits: Int, startLevel: Int, root: PhysicalAddress, outputBits: Int,
        consistent: Bool = true, hardwareAccessFlag: Bool = false, xnx: Bool = true, ds: Bool = false, paMax: Int = 48
    ) {
        self.granule = granule
        self.ipaBits = ipaBits
        self.startLevel = startLevel
        self.root = root
        self.outputBits = outputBits
        self.consistent = consistent
        self.hardwareAccessFlag = hardwareAccessFlag
        self.xnx = xnx
        self.ds = ds
        self.paMax = paMax
        derive()
    }

    /// The output size the walk checks against (pseudocode `AArch64.PhysicalAddressSize`):
    /// VTCR_EL2.PS, but no more than the PE implements, and no more than 48 bits for the
    /// 4KB/16KB granules unless DS = 1.
    public var effectiveOutputBits: Int {
        let cap = granule == .k64 || ds ? paMax : min(48, paMax)
        return min(outputBits, cap)
    }

    /// The descriptor format the walk reads (see `Stage2AddressFormat`).
    public var addressFormat: Stage2AddressFormat { derived.format }

    /// From register values. Throws for encodings a walk cannot be defined for
    /// (reserved TG0 or PS). `paMax`: the PE's PA size (52 with FEAT_LPA).
    public init(vtcr: VTCR, vttbr rawVTTBR: UInt64, xnx: Bool = true, paMax: Int = 48) throws(Stage2RegisterError) {
        guard let g = vtcr.granule else { throw .reservedGranule(vtcr.tg0) }
        guard let ps = vtcr.outputBits else { throw .reservedOutputSize(vtcr.ps) }
        // DS is RES0 for the 64KB granule and without FEAT_LPA2 (no 52-bit PA).
        let ds = vtcr.ds && g != .k64 && paMax >= 52
        let format = Stage2AddressFormat(granule: g, ds: ds, paMax: paMax)
        let wide = format != .bits48 && min(ps, paMax) == 52
        let vttbr = VTTBR(rawValue: rawVTTBR, vmid16: vtcr.vs, wideBase: wide)
        let level = vtcr.startLevel ?? 0
        var root = vttbr.baseAddress.rawValue
        if vtcr.isConsistent {
            // BADDR bits below the root's size are RES0; treated as zero here.
            let geometry = Stage2Geometry(uncheckedGranule: g, ipaBits: vtcr.ipaBits, startLevel: level)
            root &= ~(geometry.rootBytes - 1)
        }
        self.init(
            granule: g, ipaBits: vtcr.ipaBits, startLevel: level, root: PhysicalAddress(root),
            outputBits: ps, consistent: vtcr.isConsistent, hardwareAccessFlag: vtcr.ha, xnx: xnx, ds: ds, paMax: paMax)
    }

    /// Translate `ipa` for `access` exactly as a stage-2-only hardware walk would
    /// (Arm pseudocode AArch64.S2Walk / AArch64.S2Translate; 52-bit output addresses with
    /// FEAT_LPA/LPA2, IPAs up to 48 bits; no FEAT_S2FWB).
    /// Fault priority: translation/address-size/external abort during the walk, then access
    /// flag, then permission.
    @inlinable @inline(__always)
    public func walk<M: TableMemory>(_ ipa: IPA, access: Stage2Access = .read, memory: M) -> Stage2WalkResult {
        // Loads and stores that translate take an unrolled walk with the granule's constants:
        // the 4K one in line, the 16K and 64K ones (and every other walk) in one call.
        if derived.fastPageShift == 12, let t = translation(ipa, access: access, memory: memory, pageShift: 12) {
            return .translation(t)
        }
        return walkOutOfLine(ipa, access: access, memory: memory)
    }

    /// `walk` past the 4K fast path.
    @inlinable @inline(never)
    func walkOutOfLine<M: TableMemory>(_ ipa: IPA, access: Stage2Access, memory: M) -> Stage2WalkResult {
        if derived.fastPageShift != 12, let t = fastTranslation(ipa, access: access, memory: memory) { return .translation(t) }
        return generalWalk(ipa, access: access, memory: memory)
    }

    /// The fast path alone: loads and stores that translate through 48-bit-format tables; nil
    /// for everything else (any fault, fetches), which the general walk decides.
    /// `@_transparent` (underscored) here and on the two functions below: `@inline(__always)`
    /// was not honoured once the walk grew, and a call per level cost more than the walk.
    @_transparent @usableFromInline
    func fastTranslation<M: TableMemory>(_ ipa: IPA, access: Stage2Access, memory: M) -> Stage2Translation? {
        switch derived.fastPageShift {
        case 12: translation(ipa, access: access, memory: memory, pageShift: 12)
        case 14: translation(ipa, access: access, memory: memory, pageShift: 14)
        case 16: translation(ipa, access: access, memory: memory, pageShift: 16)
        default: nil
        }
    }

    /// The walk without the fast path (what `walk` returns whenever the fast path gives nil).
    @inlinable
    public func generalWalk<M: TableMemory>(_ ipa: IPA, access: Stage2Access = .read, memory: M) -> Stage2WalkResult {
        derived.format == .bits48
            ? walk(ipa, access: access, memory: memory, narrow: true) : walk(ipa, access: access, memory: memory, narrow: false)
    }

    /// The translation of a load or store through 48-bit-format tables, with `pageShift` a
    /// constant after inlining so each level's index is a fixed shift and mask; nil whenever the
    /// walk would fault or leave that case, so the general walk gives the exact fault.
    /// A table address at or above the output-size limit, or outside the table memory, ends it
    /// (the load's `below:` test covers both: a table address is at most its entries' address).
    @_transparent @usableFromInline
    func translation<M: TableMemory>(_ ipa: IPA, access: Stage2Access, memory: M, pageShift: UInt64) -> Stage2Translation? {
        let k = derived
        let i = ipa.rawValue
        guard access == .read || access == .write, i < k.ipaLimit else { return nil }
        let stride = pageShift &- 3
        let indexMask: UInt64 = (1 &<< stride) &- 1
        let need = access == .read ? k.readNeed : k.writeNeed
        var at = root.rawValue &+ ((i &>> k.rootShift) & k.rootIndexMask) &* 8
        // The root's load comes first on every path, so later levels reuse what it read of
        // the table memory's bounds.
        guard var d = memory.loadDescriptor(at: PhysicalAddress(at), below: k.limit) else { return nil }
        var level = startLevel
        // One block per level a walk can start at; a table descriptor moves on to the next.
        if level == 0 {
            if d & 0b11 != 0b11 { return leaf(d, at: at, level: 0, pageShift: pageShift, need: need, ipa: ipa) }
            at = (d & k.addressMask) &+ ((i &>> (pageShift &+ 2 &* stride)) & indexMask) &* 8
            guard let v = memory.loadDescriptor(at: PhysicalAddress(at), below: k.limit) else { return nil }
            d = v
            level = 1
        }
        if level == 1 {
            if d & 0b11 != 0b11 { return leaf(d, at: at, level: 1, pageShift: pageShift, need: need, ipa: ipa) }
            at = (d & k.addressMask) &+ ((i &>> (pageShift &+ stride)) & indexMask) &* 8
            guard let v = memory.loadDescriptor(at: PhysicalAddress(at), below: k.limit) else { return nil }
            d = v
            level = 2
        }
        if level == 2 {
            if d & 0b11 != 0b11 { return leaf(d, at: at, level: 2, pageShift: pageShift, need: need, ipa: ipa) }
            at = (d & k.addressMask) &+ ((i &>> pageShift) & indexMask) &* 8
            guard let v = memory.loadDescriptor(at: PhysicalAddress(at), below: k.limit) else { return nil }
            d = v
        }
        return leaf(d, at: at, level: 3, pageShift: pageShift, need: need, ipa: ipa)
    }

    /// The fast path's end: `d`, read at `at`, ends the walk at `level` (constants after
    /// inlining); nil unless it is a legal leaf there that grants `need`.
    @_transparent @usableFromInline
    func leaf(_ d: UInt64, at: UInt64, level: Int, pageShift: UInt64, need: UInt64, ipa: IPA) -> Stage2Translation? {
        let k = derived
        let size: UInt64 = 1 &<< (pageShift &+ UInt64(3 &- level) &* (pageShift &- 3))
        let base = d & k.addressMask & ~(size &- 1)
        // A page at level 3; a block (0b01, not 0b11: that was a table) where the granule has one.
        let legal = level == 3 ? d & 0b11 == 0b11 : d & 0b11 == 0b01 && k.blockLevels &>> UInt64(level) & 1 != 0
        // The permission and AF bits `need`s, and no OA bit at or above PS. (A block ignores
        // its OA bits below its size; were one of those at or above PS, the general walk would
        // decide the walk: VTCR_EL2.PS is 32 bits or more, the largest such block 1 GiB.)
        guard legal, d & (need | k.outputBeyondLimit) == need else { return nil }
        return Stage2Translation(
            ipa: ipa, outputAddress: PhysicalAddress(base | (ipa.rawValue & (size &- 1))), level: level, blockSize: size,
            descriptor: d, descriptorAddress: PhysicalAddress(at), xnx: xnx, format: .bits48)
    }

    /// The walk, with `narrow` (a constant after inlining) set when the format is `.bits48`.
    @inlinable @inline(__always)
    func walk<M: TableMemory>(_ ipa: IPA, access: Stage2Access, memory: M, narrow: Bool) -> Stage2WalkResult {
        let k = derived
        // Inconsistent SL or an IPA beyond T0SZ: translation fault at level 0.
        // BADDR beyond PS: address-size fault reported at level 0.
        guard k.walkable, ipa.rawValue < k.ipaLimit else { return walkSetupFault(ipa, access: access) }
        var level = startLevel
        var table = root.rawValue
        var shift = k.rootShift
        var indexMask = k.rootIndexMask
        var d: UInt64
        var at: PhysicalAddress
        while true {
            at = PhysicalAddress(table &+ ((ipa.rawValue &>> shift) & indexMask) &* 8)
            guard let v = memory.loadDescriptor(at: at) else { return walkFault(.externalAbortOnWalk, level, 0, ipa, access) }
            d = v
            guard Stage2Descriptor.isTable(d, level: level) else { break }
            table = narrow ? d & k.addressMask : k.format.address(d, granule)
            if table >= k.limit { return walkFault(.addressSize, level, d, ipa, access) }
            level &+= 1
            shift &-= k.stride
            indexMask = k.tableIndexMask
        }
        if !Stage2Descriptor.isValid(d) { return walkFault(.translation, level, d, ipa, access) }
        if level == 3 ? !Stage2Descriptor.hasTableOrPageBit(d) : (k.blockLevels &>> UInt64(truncatingIfNeeded: level)) & 1 == 0 {
            return walkFault(.translation, level, d, ipa, access)
        }
        let size: UInt64 = 1 &<< shift
        let base = (narrow ? d & k.addressMask : k.format.address(d, granule)) & ~(size &- 1)
        if base >= k.limit { return walkFault(.addressSize, level, d, ipa, access) }
        // Loads and stores: AF (bit 10, unless VTCR_EL2.HA) and S2AP[0]/S2AP[1] (bits 6/7) in
        // one test; which fault it is (access flag before permission) only on failure.
        if access == .read || access == .write {
            let need =
                (access == .read ? Stage2Descriptor.s2apReadBit : Stage2Descriptor.s2apWriteBit)
                | (hardwareAccessFlag ? 0 : Stage2Descriptor.afBit)
            if d & need == need {
                return .translation(
                    Stage2Translation(
                        ipa: ipa, outputAddress: PhysicalAddress(base | (ipa.rawValue & (size &- 1))), level: level,
                        blockSize: size, descriptor: d, descriptorAddress: at, xnx: xnx, format: k.format))
            }
        }
        if d & Stage2Descriptor.afBit == 0 && !hardwareAccessFlag { return walkFault(.accessFlag, level, d, ipa, access) }
        let allowed: Bool
        switch access {
        case .read: allowed = d & Stage2Descriptor.s2apReadBit != 0
        case .write: allowed = d & Stage2Descriptor.s2apWriteBit != 0
        case .fetchEL1, .fetchEL0:
            let xn = Stage2Descriptor.xn(d)
            if !xnx {
                allowed = xn & 0b10 == 0
            } else if access == .fetchEL1 {
                allowed = xn == 0b00 || xn == 0b11
            } else {
                allowed = xn == 0b00 || xn == 0b01
            }
        }
        if !allowed { return walkFault(.permission, level, d, ipa, access) }
        return .translation(
            Stage2Translation(
                ipa: ipa, outputAddress: PhysicalAddress(base | (ipa.rawValue & (size &- 1))), level: level,
                blockSize: size, descriptor: d, descriptorAddress: at, xnx: xnx, format: k.format))
    }

    @usableFromInline
    func walkSetupFault(_ ipa: IPA, access: Stage2Access) -> Stage2WalkResult {
        if !consistent || ipa.rawValue >= derived.ipaLimit { return walkFault(.translation, 0, 0, ipa, access) }
        return walkFault(.addressSize, 0, 0, ipa, access)
    }

    @usableFromInline
    func walkFault(_ kind: Stage2Fault.Kind, _ level: Int, _ d: UInt64, _ ipa: IPA, _ access: Stage2Access) -> Stage2WalkResult {
        .fault(Stage2Fault(kind: kind, level: level, ipa: ipa, access: access, descriptor: d))
    }
}

public enum Stage2RegisterError: Error, Equatable, Sendable, CustomStringConvertible {
    case reservedGranule(UInt64)
    case reservedOutputSize(UInt64)
    public var description: String {
        switch self {
        case .reservedGranule(let v): "VTCR_EL2.TG0 = 0b\(String(v, radix: 2)) is reserved"
        case .reservedOutputSize(let v): "VTCR_EL2.PS = 0b\(String(v, radix: 2)) is reserved"
        }
    }
}
