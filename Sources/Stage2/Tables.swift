import AArch64

/// What a table set is built for.
public struct Stage2Configuration: Sendable, Equatable {
    public var granule: Granule
    /// IPA size, 32...48 bits (VTCR_EL2.T0SZ = 64 − ipaBits).
    public var ipaBits: Int
    public var vmid: UInt16
    /// 16-bit VMID (VTCR_EL2.VS = 1); otherwise the VMID must fit in 8 bits.
    public var vmid16: Bool
    /// Force the start level (must be valid and consistent); nil = fewest levels.
    public var startLevel: Int?
    /// Force VTCR_EL2.PS (32, 36, 40, 42, 44, 48, 52); nil = smallest size holding every output
    /// address mapped and the table pool. 52 selects a 52-bit descriptor format: FEAT_LPA's
    /// with the 64KB granule, FEAT_LPA2's with `lpa2`.
    public var outputBits: Int?
    /// VTCR_EL2.DS = 1 (FEAT_LPA2, 4KB/16KB granules): descriptors carry OA[51:50] in bits
    /// [9:8], and the shareability of blocks and pages is VTCR_EL2.SH0 (inner).
    public var lpa2: Bool
    /// Allow block descriptors.
    public var blocks: Bool
    /// VTTBR_EL2.CnP.
    public var commonNotPrivate: Bool

    public init(
        granule: Granule, ipaBits: Int, vmid: UInt16 = 0, vmid16: Bool = false, startLevel: Int? = nil,
        outputBits: Int? = nil, blocks: Bool = true, commonNotPrivate: Bool = false, lpa2: Bool = false
    ) {
        self.lpa2 = lpa2
        self.granule = granule
        self.ipaBits = ipaBits
        self.vmid = vmid
        self.vmid16 = vmid16
        self.startLevel = startLevel
        self.outputBits = outputBits
        self.blocks = blocks
        self.commonNotPrivate = commonNotPrivate
    }
}

/// A stage-2 table set whose pages live in a pool inside a guest-physical region.
///
/// Every edit follows break-before-make: a valid entry that must change is first written
/// invalid; the required invalidations are handed to the `TLBMaintenance` in one batch; only
/// then are the new entries written and removed table pages returned to the pool. Before
/// anything is written, an operation is validated and the table pages it needs are counted;
/// if the pool cannot supply them it fails with `.poolExhausted` and nothing changes.
///
/// A value type over memory it does not own: keep one copy per table set (two copies edited
/// independently would both write the same pages). `vtcr` follows the outputs mapped so far
/// (automatic PS), so read it after the last `map` before installing the tables.
///
/// 52-bit output addresses: `outputBits: 52` with the 64KB granule (FEAT_LPA) or with `lpa2`
/// (FEAT_LPA2, DS = 1), see `Stage2AddressFormat`; those formats also allow 4K level-0, 16K
/// level-1 and 64K level-1 blocks. Not covered: IPAs above 48 bits (start level -1 with 4KB,
/// VTCR_EL2.SL2; level 0 with 16KB), start level 3 with 4KB (FEAT_TTST).
public struct Stage2Tables<Memory: TableMemory> {
    public let configuration: Stage2Configuration
    public let geometry: Stage2Geometry
    public let memory: Memory
    public let poolBase: PhysicalAddress
    public let poolBytes: UInt64
    public let rootAddress: PhysicalAddress
    /// How descriptors hold output and table addresses (48-bit, FEAT_LPA or FEAT_LPA2).
    public let addressFormat: Stage2AddressFormat

    @usableFromInline var pool: TablePool
    /// Highest output address mapped so far (for the automatic VTCR_EL2.PS).
    @usableFromInline var maxOutputAddress: UInt64 = 0
    @usableFromInline var pending = PendingMaintenance()

    /// More single-IPA invalidations than this in one batch become one `.allForVMID`.
    public static var maximumIPAInvalidationsPerBatch: Int { 512 }

    public init(
        configuration: Stage2Configuration, memory: Memory, poolBase: PhysicalAddress,
        poolBytes: UInt64
    ) throws(Stage2Error) {
        let g = configuration.granule
        let geometry = try Stage2Geometry(granule: g, ipaBits: configuration.ipaBits, startLevel: configuration.startLevel)
        let vmidBits = configuration.vmid16 ? 16 : 8
        guard UInt32(configuration.vmid) >> UInt32(vmidBits) == 0 else {
            throw .vmidOutOfRange(UInt32(configuration.vmid), bits: vmidBits)
        }
        if let ob = configuration.outputBits, PhysicalAddressSize.encoding(bits: ob) == nil {
            throw .invalidOutputBits(ob)
        }
        if configuration.lpa2 && g == .k64 { throw .unsupportedLargeOutput(granule: g, lpa2: true) }
        if configuration.outputBits == 52 && g != .k64 && !configuration.lpa2 {
            throw .unsupportedLargeOutput(granule: g, lpa2: false)
        }
        let format: Stage2AddressFormat =
            configuration.lpa2 ? .lpa2 : (configuration.outputBits == 52 ? .lpa64K : .bits48)
        guard poolBase.isAligned(to: g.bytes) else { throw .poolMisaligned(poolBase, granule: g) }
        guard poolBytes > 0, poolBytes % g.bytes == 0 else { throw .poolSizeInvalid(poolBytes, granule: g) }
        let (end, overflow) = poolBase.rawValue.addingReportingOverflow(poolBytes)
        let outputLimit: UInt64 = 1 << UInt64(configuration.outputBits ?? format.maximumBits)
        guard !overflow, end <= outputLimit else {
            throw .poolBeyondOutputSize(end: end, outputBits: configuration.outputBits ?? format.maximumBits)
        }
        guard
            let pool = TablePool(
                base: poolBase.rawValue, bytes: poolBytes, pageShift: g.pageShift,
                rootBytes: geometry.rootBytes)
        else {
            throw .poolExhausted(needed: geometry.concatenatedTables, available: Int(poolBytes >> UInt64(g.pageShift)))
        }
        self.configuration = configuration
        self.geometry = geometry
        self.addressFormat = format
        self.memory = memory
        self.poolBase = poolBase
        self.poolBytes = poolBytes
        self.pool = pool
        let root = PhysicalAddress(pool.address(ofPage: pool.rootPage))
        self.rootAddress = root
        cachedWalkParameters = Stage2WalkParameters(
            granule: g, ipaBits: geometry.ipaBits, startLevel: geometry.startLevel,
            root: root, outputBits: 48, ds: configuration.lpa2, paMax: format.maximumBits)
        memory.zero(at: root, bytes: geometry.rootBytes)
        updateOutputBits()
        cachedWalkParameters.outputBits = currentOutputBits
    }

    // MARK: Registers

    /// VTCR_EL2.PS in use: forced, or the smallest holding all outputs and the pool.
    public var outputBits: Int { currentOutputBits }
    @usableFromInline var currentOutputBits: Int = 48
    @usableFromInline mutating func updateOutputBits() {
        currentOutputBits =
            configuration.outputBits
            ?? PhysicalAddressSize.smallestBits(
                holding: max(maxOutputAddress, poolBase.rawValue + poolBytes - 1), maximum: addressFormat.maximumBits) ?? 48
    }
    public var vtcrFields: VTCR {
        VTCR(geometry: geometry, outputBits: outputBits, vmid16: configuration.vmid16, ds: configuration.lpa2)
    }
    public var vtcr: UInt64 { vtcrFields.rawValue }
    public var vttbrFields: VTTBR {
        VTTBR(
            baseAddress: rootAddress, vmid: configuration.vmid, commonNotPrivate: configuration.commonNotPrivate,
            wideBase: addressFormat != .bits48 && outputBits == 52)
    }
    public var vttbr: UInt64 { vttbrFields.rawValue }
    /// The walk parameters `vtcr`/`vttbr` describe.
    @inlinable public var walkParameters: Stage2WalkParameters { cachedWalkParameters }
    @usableFromInline var cachedWalkParameters: Stage2WalkParameters

    // MARK: Pool facts

    /// Table pages in use (root included).
    public var tablePages: Int { pool.pagesInUse }
    public var tableBytesInUse: UInt64 { UInt64(pool.pagesInUse) << UInt64(geometry.granule.pageShift) }
    public var freePages: Int { pool.available }
    /// Host memory this object uses besides the table memory itself (pool bookkeeping).
    public var bookkeepingBytes: Int { pool.bookkeepingBytes + pending.bookkeepingBytes }

    // MARK: Walk

    /// Translate `ipa` as the hardware would with `vtcr`/`vttbr` installed.
    @inlinable @inline(__always)
    public func walk(_ ipa: IPA, access: Stage2Access = .read) -> Stage2WalkResult {
        walkParameters.walk(ipa, access: access, memory: memory)
    }

    // MARK: Edits

    /// Map [ipa, ipa+size) to [pa, pa+size), replacing whatever is mapped there, with the
    /// largest blocks alignment allows (when `configuration.blocks`), pages otherwise.
    /// Inlinable (with the single-page path it takes) so a caller's table memory type is
    /// specialised in: unspecialised, every descriptor access and field read went through
    /// witness tables and type metadata (the harness's demand-fault path maps one page per fault).
    /// Never inlined itself: the specialised body stays one function (Swift 6.2.3's optimizer
    /// crashed in SimplifyCFG on a caller that had it inlined inside a class property access).
    @inlinable @inline(never)
    public mutating func map(
        ipa: IPA, pa: PhysicalAddress, size: UInt64, attributes: Stage2Attributes,
        tlb: inout some TLBMaintenance
    ) throws(Stage2Error) {
        try checkRange(ipa: ipa, size: size)
        try checkOutput(pa: pa, size: size)
        var bits = attributes.descriptorBits & ~Stage2Descriptor.contiguousBit
        bits &= ~Stage2Descriptor.typeMask
        if !addressFormat.hasShareabilityField { bits &= ~Stage2Descriptor.shareabilityMask }
        if size == geometry.granule.bytes && !attributes.contiguous
            && mapSinglePage(ipa.rawValue, leaf: addressFormat.field(pa.rawValue) | bits | Stage2Descriptor.leafType(level: 3))
        {
            // One fresh page in an existing last-level table: nothing to invalidate.
            try flush(tlb: &tlb)
        } else if !attributes.contiguous && mapLeafRun(ipa.rawValue, pa: pa.rawValue, size: size, bits: bits) {
            // Leaves into invalid entries of one table (new tables filled, then linked).
            try flush(tlb: &tlb)
        } else {
            let op = Operation(
                kind: .map, start: ipa.rawValue, end: ipa.rawValue + size, pa: pa.rawValue,
                bits: bits, permissionsOnly: false, contiguous: attributes.contiguous)
            try perform(op, tlb: &tlb)
        }
        let last = pa.rawValue &+ (size &- 1)  // checked above: no overflow
        if last > maxOutputAddress {
            maxOutputAddress = last
            // PS grows only when the new highest output address is beyond it.
            if maxOutputAddress >> UInt64(currentOutputBits) != 0 {
                updateOutputBits()
                if cachedWalkParameters.outputBits != currentOutputBits { cachedWalkParameters.outputBits = currentOutputBits }
            }
        }
    }

    /// Remove every mapping in [ipa, ipa+size); blocks the range cuts are split; tables left
    /// empty are freed (after the invalidation that covers them).
    public mutating func unmap(ipa: IPA, size: UInt64, tlb: inout some TLBMaintenance) throws(Stage2Error) {
        try checkRange(ipa: ipa, size: size)
        if size == geometry.granule.bytes && unmapSinglePage(ipa.rawValue) {
            try flush(tlb: &tlb)
            return
        }
        let op = Operation(
            kind: .unmap, start: ipa.rawValue, end: ipa.rawValue + size, pa: 0, bits: 0,
            permissionsOnly: false, contiguous: false)
        try perform(op, tlb: &tlb)
    }

    /// Give every mapped page in [ipa, ipa+size) these attributes (output addresses kept;
    /// unmapped pages stay unmapped). Contiguous hints of groups wholly inside the range are
    /// kept, groups cut by the range lose theirs; `attributes.contiguous` must be false.
    public mutating func protect(
        ipa: IPA, size: UInt64, attributes: Stage2Attributes,
        tlb: inout some TLBMaintenance
    ) throws(Stage2Error) {
        guard !attributes.contiguous else { throw .contiguousInProtect }
        try checkRange(ipa: ipa, size: size)
        var bits = attributes.descriptorBits & ~Stage2Descriptor.typeMask
        if !addressFormat.hasShareabilityField { bits &= ~Stage2Descriptor.shareabilityMask }
        let op = Operation(
            kind: .protect, start: ipa.rawValue, end: ipa.rawValue + size, pa: 0,
            bits: bits, permissionsOnly: false, contiguous: false)
        try perform(op, tlb: &tlb)
    }

    /// Change only the permissions (S2AP, XN) of every mapped page in the range.
    public mutating func protect(
        ipa: IPA, size: UInt64, permissions: Stage2Permissions,
        tlb: inout some TLBMaintenance
    ) throws(Stage2Error) {
        try checkRange(ipa: ipa, size: size)
        let bits = Stage2Attributes(permissions: permissions).descriptorBits & Stage2Descriptor.permissionMask
        let op = Operation(
            kind: .protect, start: ipa.rawValue, end: ipa.rawValue + size, pa: 0,
            bits: bits, permissionsOnly: true, contiguous: false)
        try perform(op, tlb: &tlb)
    }

    // MARK: Escape hatch

    /// The address of the level-`level` entry for `ipa`, following existing table descriptors.
    public func descriptorAddress(ipa: IPA, level: Int) throws(Stage2Error) -> PhysicalAddress {
        guard (geometry.startLevel...3).contains(level) else { throw .levelOutOfRange(level) }
        guard ipa.rawValue < geometry.ipaLimit else { throw .ipaOutOfRange(ipa, size: 0, ipaBits: geometry.ipaBits) }
        let g = geometry.granule
        var table = rootAddress.rawValue
        var l = geometry.startLevel
        var shift = geometry.rootShift
        var index = (ipa.rawValue >> UInt64(shift)) & UInt64(geometry.rootEntries - 1)
        while l < level {
            let d = memory.readDescriptor(at: PhysicalAddress(table + index * 8))
            guard Stage2Descriptor.isTable(d, level: l) else { throw .noTable(ipa: ipa, level: l + 1) }
            let next = addressFormat.address(d, g)
            guard pool.isTablePage(next) else { throw .foreignTable(ipa: ipa, level: l, address: PhysicalAddress(next)) }
            table = next
            l += 1
            shift -= g.stride
            index = (ipa.rawValue >> UInt64(shift)) & UInt64(g.entriesPerTable - 1)
        }
        return PhysicalAddress(table + index * 8)
    }

    /// UNSAFE: write `value` verbatim into the level-`level` entry for `ipa` (which must be
    /// reachable through existing tables). No break-before-make, no TLB maintenance, no checks
    /// of the value: for tests that need malformed or unusual descriptors (AF = 0, reserved
    /// encodings, XN[1:0] patterns, table pointers to unbacked memory). Returns the entry's address.
    @discardableResult
    public mutating func writeRawDescriptor(ipa: IPA, level: Int, value: UInt64) throws(Stage2Error) -> PhysicalAddress {
        let at = try descriptorAddress(ipa: ipa, level: level)
        let old = memory.readDescriptor(at: at)
        pool.adjustCount(entry: at.rawValue, old: old, new: value)
        memory.writeDescriptor(value, at: at)
        return at
    }

    /// Read the level-`level` entry for `ipa`.
    public func readDescriptor(ipa: IPA, level: Int) throws(Stage2Error) -> UInt64 {
        memory.readDescriptor(at: try descriptorAddress(ipa: ipa, level: level))
    }

    // MARK: Checks

    @inlinable @inline(__always)
    func checkRange(ipa: IPA, size: UInt64) throws(Stage2Error) {
        let g = geometry.granule
        let offsetMask = g.bytes &- 1
        guard size != 0 else { throw .zeroSize }
        guard size & offsetMask == 0 else { throw .misaligned(what: "size", value: size, granule: g) }
        guard ipa.rawValue & offsetMask == 0 else { throw .misaligned(what: "IPA", value: ipa.rawValue, granule: g) }
        let (end, o) = ipa.rawValue.addingReportingOverflow(size)
        // A table set's geometry is a checked one (32...48 bits): no shift past 63.
        guard !o, end <= 1 &<< UInt64(geometry.ipaBits) else { throw .ipaOutOfRange(ipa, size: size, ipaBits: geometry.ipaBits) }
    }

    @inlinable @inline(__always)
    func checkOutput(pa: PhysicalAddress, size: UInt64) throws(Stage2Error) {
        let g = geometry.granule
        guard pa.rawValue & (g.bytes &- 1) == 0 else { throw .misaligned(what: "PA", value: pa.rawValue, granule: g) }
        let bits = configuration.outputBits ?? addressFormat.maximumBits  // 32...52
        let (end, o) = pa.rawValue.addingReportingOverflow(size)
        guard !o, end <= 1 &<< UInt64(bits) else { throw .outputAddressOutOfRange(pa, size: size, outputBits: bits) }
    }
}

// MARK: - Pool

/// The table pool: granule-sized pages inside [base, base+bytes), handed out from a bump
/// pointer and a free list. Bookkeeping is a few bytes per page (page state, valid-entry count).
@usableFromInline struct TablePool {
    @usableFromInline let base: UInt64
    @usableFromInline let pageShift: Int
    @usableFromInline let pageCount: Int
    @usableFromInline var nextFresh: Int
    @usableFromInline var free: [Int32] = []
    /// Per-page bookkeeping in one allocation (no copy-on-write checks on the hot paths).
    /// Owns the two arrays below (kept alive by the pool).
    let storage: PageBookkeeping
    /// 0 unused, 1 table, 2 root.
    @usableFromInline let state: PagePointer<UInt8>
    /// Valid (bit 0 set) entries of the table in each page.
    @usableFromInline let counts: PagePointer<UInt16>
    let rootPage: Int
    let rootPages: Int

    init?(base: UInt64, bytes: UInt64, pageShift: Int, rootBytes: UInt64) {
        self.base = base
        self.pageShift = pageShift
        pageCount = Int(bytes >> UInt64(pageShift))
        rootPages = Int(rootBytes >> UInt64(pageShift))
        // The (concatenated) root must be aligned to its own size (VTTBR_EL2.BADDR).
        let firstAligned = ((base + rootBytes - 1) & ~(rootBytes - 1)) - base
        let p = Int(firstAligned >> UInt64(pageShift))
        guard p + rootPages <= pageCount else { return nil }
        rootPage = p
        nextFresh = p + rootPages
        storage = PageBookkeeping(pages: pageCount)
        state = PagePointer(p: storage.state)
        counts = PagePointer(p: storage.counts)
        for i in 0..<rootPages { state[p + i] = 2 }
        for i in stride(from: p - 1, through: 0, by: -1) { free.append(Int32(i)) }
    }

    @inlinable var available: Int { free.count &+ (pageCount &- nextFresh) }
    var pagesInUse: Int { pageCount - available }
    var bookkeepingBytes: Int { free.capacity * 4 + pageCount * 3 }

    @inlinable @inline(__always) func address(ofPage p: Int) -> UInt64 { base &+ UInt64(p) &<< UInt64(pageShift) }
    @inlinable @inline(__always) func page(of address: UInt64) -> Int { Int(truncatingIfNeeded: (address &- base) &>> UInt64(pageShift)) }

    /// A page this pool handed out as a (non-root) table.
    @inlinable @inline(__always) func isTablePage(_ address: UInt64) -> Bool {
        let o = address &- base
        guard o & ((1 << UInt64(pageShift)) - 1) == 0 else { return false }
        let p = Int(truncatingIfNeeded: o >> UInt64(pageShift))
        return o >> UInt64(pageShift) < UInt64(pageCount) && state[p] == 1
    }

    /// Caller has checked `available`.
    @inlinable @inline(__always) mutating func allocate() -> UInt64 {
        let p: Int
        if !free.isEmpty {
            p = Int(free.removeLast())
        } else {
            p = nextFresh
            nextFresh &+= 1
        }
        state[p] = 1
        counts[p] = 0
        return address(ofPage: p)
    }
    @inlinable mutating func release(_ address: UInt64) {
        let p = page(of: address)
        state[p] = 0
        counts[p] = 0
        free.append(Int32(p))
    }
    @inlinable @inline(__always) mutating func adjustCount(entry: UInt64, old: UInt64, new: UInt64) {
        let p = page(of: entry)
        guard p >= 0 && p < pageCount else { return }
        let (was, now) = (Stage2Descriptor.isValid(old), Stage2Descriptor.isValid(new))
        if !was && now { counts[p] &+= 1 } else if was && !now { counts[p] &-= 1 }
    }
    @inlinable @inline(__always) func count(ofTable address: UInt64) -> Int { Int(counts[page(of: address)]) }
}

/// Breaks recorded but not yet covered by a TLB maintenance batch.
@usableFromInline struct PendingMaintenance {
    @usableFromInline var invalidations: [TLBInvalidation] = []
    @usableFromInline var allForVMID = false
    /// New values for broken entries: written after the batch.
    @usableFromInline var makeAddresses: [UInt64] = []
    @usableFromInline var makeValues: [UInt64] = []
    /// Table pages unlinked by this operation: returned to the pool after the batch.
    @usableFromInline var frees: [UInt64] = []

    @inlinable var isEmpty: Bool { invalidations.isEmpty && !allForVMID }
    var bookkeepingBytes: Int {
        invalidations.capacity * MemoryLayout<TLBInvalidation>.stride + (makeAddresses.capacity + makeValues.capacity + frees.capacity) * 8
    }
}

@usableFromInline struct Operation {
    @usableFromInline enum Kind { case map, unmap, protect }
    @usableFromInline var kind: Kind
    @usableFromInline var start: UInt64
    @usableFromInline var end: UInt64
    /// map: output address of `start`.
    @usableFromInline var pa: UInt64
    /// map/protect: attribute bits (no OA, type or contiguous bits).
    @usableFromInline var bits: UInt64
    @usableFromInline var permissionsOnly: Bool
    @usableFromInline var contiguous: Bool
    @inlinable init(
        kind: Kind, start: UInt64, end: UInt64, pa: UInt64, bits: UInt64, permissionsOnly: Bool, contiguous: Bool
    ) {
        (self.kind, self.start, self.end, self.pa) = (kind, start, end, pa)
        (self.bits, self.permissionsOnly, self.contiguous) = (bits, permissionsOnly, contiguous)
    }
}

@usableFromInline final class PageBookkeeping {
    @usableFromInline let state: UnsafeMutablePointer<UInt8>
    @usableFromInline let counts: UnsafeMutablePointer<UInt16>
    let pages: Int
    init(pages: Int) {
        self.pages = pages
        state = .allocate(capacity: max(1, pages))
        state.initialize(repeating: 0, count: max(1, pages))
        counts = .allocate(capacity: max(1, pages))
        counts.initialize(repeating: 0, count: max(1, pages))
    }
    deinit {
        state.deallocate()
        counts.deallocate()
    }
}

@usableFromInline struct PagePointer<T> {
    @usableFromInline let p: UnsafeMutablePointer<T>
    @inlinable init(p: UnsafeMutablePointer<T>) { self.p = p }
    @inlinable subscript(i: Int) -> T {
        get { p[i] }
        nonmutating set { p[i] = newValue }
    }
}
