import AArch64

/// What one entry needs for an operation. The counting pass and the writing pass both use
/// `decide`, so the pages counted are exactly the pages allocated.
enum EntryAction {
    case none
    /// New value for the entry (leaf or 0).
    case write(UInt64)
    /// Recurse into this existing table.
    case descend(UInt64)
    /// A new table: empty (nil) or reproducing this block (a split).
    case newTable(split: UInt64?)
    /// Drop the table subtree here and write `replacement` (0 or a leaf).
    case removeTable(UInt64, replacement: UInt64)
}

extension Stage2Tables {
    @inlinable @inline(__always) var g: Granule { geometry.granule }

    @inline(__always)
    func entryCount(isRoot: Bool) -> Int { isRoot ? geometry.rootEntries : g.entriesPerTable }

    /// Inclusive index range of `table` entries that [op.start, op.end) touches.
    @inline(__always)
    func indexRange(_ op: Operation, level: Int, tableIPA: UInt64, isRoot: Bool) -> (Int, Int, Int) {
        let shift = g.entryShift(atLevel: level)
        let span = UInt64(entryCount(isRoot: isRoot)) << UInt64(shift)
        let lo = max(op.start, tableIPA)
        let hi = min(op.end, tableIPA &+ span)
        return (Int((lo - tableIPA) >> UInt64(shift)), Int((hi - 1 - tableIPA) >> UInt64(shift)), shift)
    }

    /// Whether the contiguous group holding entry `i` lies wholly inside the operation's range
    /// (and inside the table).
    @inline(__always)
    func groupCovered(_ op: Operation, level: Int, index i: Int, tableIPA: UInt64, shift: Int, isRoot: Bool) -> Int? {
        guard let n = g.contiguousEntries(atLevel: level) else { return nil }
        let first = i & ~(n - 1)
        guard first + n <= entryCount(isRoot: isRoot) else { return nil }
        let base = tableIPA + UInt64(first) << UInt64(shift)
        let end = base + UInt64(n) << UInt64(shift)
        return op.start <= base && end <= op.end ? n : nil
    }

    @inline(__always)
    func isLegalLeaf(_ d: UInt64, level: Int) -> Bool {
        Stage2Descriptor.isValid(d)
            && (level == 3
                ? Stage2Descriptor.hasTableOrPageBit(d) : (!Stage2Descriptor.hasTableOrPageBit(d) && blockAllowed(atLevel: level)))
    }

    /// Block descriptors are legal at `level` in this table set's descriptor format.
    @inline(__always)
    func blockAllowed(atLevel level: Int) -> Bool { addressFormat.blockAllowed(g, atLevel: level) }

    /// `count` leaves for consecutive output addresses from `oa`. In the 48-bit format one
    /// descriptor run (the OA field is contiguous); in the 52-bit formats each value is encoded
    /// on its own (OA[51:48] or OA[51:50] sit below the attribute bits).
    @inlinable @inline(__always)
    func writeLeafRun(oa: UInt64, bits: UInt64, step: UInt64, count: Int, at ea: UInt64) {
        if count == 1 {  // a block: one descriptor
            memory.writeDescriptor(addressFormat.field(oa) | bits, at: PhysicalAddress(ea))
            return
        }
        if addressFormat == .bits48 {
            memory.writeDescriptorRun(first: oa | bits, step: step, count: count, at: PhysicalAddress(ea))
            return
        }
        for k in 0..<count {
            memory.writeDescriptor(addressFormat.field(oa + UInt64(k) * step) | bits, at: PhysicalAddress(ea + UInt64(k) * 8))
        }
    }

    func decide(_ op: Operation, _ d: UInt64, level: Int, index i: Int, tableIPA: UInt64, shift: Int, isRoot: Bool) -> EntryAction {
        let size: UInt64 = 1 << UInt64(shift)
        let cb = tableIPA + UInt64(i) << UInt64(shift)
        let full = op.start <= cb && cb + size <= op.end
        let isTable = Stage2Descriptor.isTable(d, level: level)
        let next = addressFormat.address(d, g)
        switch op.kind {
        case .map:
            if full {
                let oa = op.pa + (cb - op.start)
                if level == 3 || (configuration.blocks && blockAllowed(atLevel: level) && oa & (size - 1) == 0) {
                    var v = addressFormat.field(oa) | op.bits | Stage2Descriptor.leafType(level: level)
                    if op.contiguous, let n = groupCovered(op, level: level, index: i, tableIPA: tableIPA, shift: shift, isRoot: isRoot) {
                        let groupOA = oa - UInt64(i & (n - 1)) * size
                        if groupOA & (UInt64(n) * size - 1) == 0 { v |= Stage2Descriptor.contiguousBit }
                    }
                    if isTable { return .removeTable(next, replacement: v) }
                    return d == v ? .none : .write(v)
                }
            }
            if isTable { return .descend(next) }
            if !full && isLegalLeaf(d, level: level) { return .newTable(split: d) }
            return .newTable(split: nil)
        case .unmap:
            if !Stage2Descriptor.isValid(d) { return .none }
            if isTable { return full ? .removeTable(next, replacement: 0) : .descend(next) }
            if full { return .write(0) }
            return isLegalLeaf(d, level: level) ? .newTable(split: d) : .none
        case .protect:
            if !Stage2Descriptor.isValid(d) { return .none }
            if isTable { return .descend(next) }
            if !isLegalLeaf(d, level: level) { return .none }
            if !full { return .newTable(split: d) }
            var v: UInt64
            if op.permissionsOnly {
                v = (d & ~Stage2Descriptor.permissionMask) | op.bits
            } else {
                v = (d & (addressFormat.fieldMask(g) | Stage2Descriptor.typeMask | Stage2Descriptor.contiguousBit)) | op.bits
            }
            if v & Stage2Descriptor.contiguousBit != 0
                && groupCovered(op, level: level, index: i, tableIPA: tableIPA, shift: shift, isRoot: isRoot) == nil
            {
                v &= ~Stage2Descriptor.contiguousBit
            }
            return v == d ? .none : .write(v)
        }
    }

    /// Entry `i` of the table a block `parent` (at level − 1) splits into.
    @inline(__always)
    func splitChild(_ parent: UInt64, index i: Int, level: Int) -> UInt64 {
        let parentSize: UInt64 = 1 << UInt64(g.entryShift(atLevel: level - 1))
        let childSize: UInt64 = 1 << UInt64(g.entryShift(atLevel: level))
        let base = addressFormat.address(parent, g) & ~(parentSize - 1)
        let attributes = parent & ~(addressFormat.fieldMask(g) | Stage2Descriptor.typeMask | Stage2Descriptor.contiguousBit)
        return addressFormat.field(base + UInt64(i) * childSize) | attributes | Stage2Descriptor.leafType(level: level)
    }

    // MARK: Counting pass (reads only; validates table pointers)

    enum Content {
        case live(UInt64)
        case empty
        case split(UInt64)
    }

    func countNeeded(_ op: Operation, _ content: Content, level: Int, tableIPA: UInt64, isRoot: Bool) throws(Stage2Error) -> Int {
        if level == 3 { return 0 }
        let (i0, i1, shift) = indexRange(op, level: level, tableIPA: tableIPA, isRoot: isRoot)
        var n = 0
        if case .empty = content {
            // An all-invalid table: only a map needs tables below it, and every fully covered
            // child is alike (same output alignment), so count one of each kind.
            guard op.kind == .map else { return 0 }
            let size: UInt64 = 1 << UInt64(shift)
            let firstBase = tableIPA + UInt64(i0) << UInt64(shift)
            let lastBase = tableIPA + UInt64(i1) << UInt64(shift)
            let firstPartial = op.start > firstBase || op.end < firstBase + size
            let lastPartial = i1 != i0 && op.end < lastBase + size
            if firstPartial { n += 1 + (try countNeeded(op, .empty, level: level + 1, tableIPA: firstBase, isRoot: false)) }
            if lastPartial { n += 1 + (try countNeeded(op, .empty, level: level + 1, tableIPA: lastBase, isRoot: false)) }
            let fullFirst = i0 + (firstPartial ? 1 : 0)
            let fullLast = i1 - (lastPartial ? 1 : 0)
            if fullFirst <= fullLast {
                let cb = tableIPA + UInt64(fullFirst) << UInt64(shift)
                let oa = op.pa &+ (cb &- op.start)
                let blockable = configuration.blocks && blockAllowed(atLevel: level) && oa & (size - 1) == 0
                if !blockable {
                    n += (fullLast - fullFirst + 1) * (1 + (try countNeeded(op, .empty, level: level + 1, tableIPA: cb, isRoot: false)))
                }
            }
            return n
        }
        var memo: Int? = nil  // for fully covered children of empty content, all alike
        for i in i0...i1 {
            let d: UInt64
            switch content {
            case .live(let t): d = memory.readDescriptor(at: PhysicalAddress(t + UInt64(i) * 8))
            case .empty: d = 0
            case .split(let p): d = splitChild(p, index: i, level: level)
            }
            let cb = tableIPA + UInt64(i) << UInt64(shift)
            switch decide(op, d, level: level, index: i, tableIPA: tableIPA, shift: shift, isRoot: isRoot) {
            case .none, .write: break
            case .descend(let next):
                guard pool.isTablePage(next) else { throw .foreignTable(ipa: IPA(cb), level: level, address: PhysicalAddress(next)) }
                n += try countNeeded(op, .live(next), level: level + 1, tableIPA: cb, isRoot: false)
            case .newTable(let split):
                if let split {
                    n += 1 + (try countNeeded(op, .split(split), level: level + 1, tableIPA: cb, isRoot: false))
                } else {
                    let size: UInt64 = 1 << UInt64(shift)
                    let full = op.start <= cb && cb + size <= op.end
                    if full, let m = memo {
                        n += m
                        continue
                    }
                    let m = 1 + (try countNeeded(op, .empty, level: level + 1, tableIPA: cb, isRoot: false))
                    if full { memo = m }
                    n += m
                }
            case .removeTable(let next, _):
                try checkSubtree(next, level: level + 1, ipa: cb, parentLevel: level)
            }
        }
        return n
    }

    func checkSubtree(_ table: UInt64, level: Int, ipa: UInt64, parentLevel: Int) throws(Stage2Error) {
        guard pool.isTablePage(table) else { throw .foreignTable(ipa: IPA(ipa), level: parentLevel, address: PhysicalAddress(table)) }
        guard level < 3 else { return }
        let shift = g.entryShift(atLevel: level)
        for i in 0..<g.entriesPerTable {
            let d = memory.readDescriptor(at: PhysicalAddress(table + UInt64(i) * 8))
            if Stage2Descriptor.isTable(d, level: level) {
                try checkSubtree(
                    addressFormat.address(d, g), level: level + 1,
                    ipa: ipa + UInt64(i) << UInt64(shift), parentLevel: level)
            }
        }
    }

    /// Fast path for unmapping one page (demand paging, the unmap benchmark): follows
    /// existing tables to a level-3 page and breaks it, then breaks and schedules the tables
    /// it empties. Returns false (having changed nothing) when the general path is needed:
    /// a block to split, a contiguous group, a table pointer that is not ours.
    mutating func unmapSinglePage(_ ipa: UInt64) -> Bool {
        // The 48-bit format gets its own copy: one AND per level, no format test.
        addressFormat == .bits48 ? unmapSinglePage(ipa, narrow: true) : unmapSinglePage(ipa, narrow: false)
    }

    @inline(__always)
    mutating func unmapSinglePage(_ ipa: UInt64, narrow: Bool) -> Bool {
        let g = self.g
        let stride = UInt64(g.stride)
        let format = addressFormat
        let narrowMask = Stage2AddressFormat.bits48.fieldMask(g)
        var level = geometry.startLevel
        var shift = cachedWalkParameters.derived.rootShift
        var indexMask = cachedWalkParameters.derived.rootIndexMask
        var table = rootAddress.rawValue
        // Entry addresses along the path, by level.
        var e0: UInt64 = 0
        var e1: UInt64 = 0
        var e2: UInt64 = 0
        var d: UInt64
        var ea: UInt64
        // Pool facts for the "is this one of our table pages" check, hoisted.
        let poolBase = pool.base
        let pageShift = UInt64(pool.pageShift)
        let pageCount = UInt64(pool.pageCount)
        let state = pool.state.p
        while true {
            ea = table &+ ((ipa &>> shift) & indexMask) &* 8
            d = memory.readDescriptor(at: PhysicalAddress(ea))
            if !Stage2Descriptor.isValid(d) { return true }  // nothing mapped: nothing to do
            if level == 3 { break }
            if !Stage2Descriptor.hasTableOrPageBit(d) { return false }  // a block: split needed
            let next = narrow ? d & narrowMask : format.address(d, g)
            let o = next &- poolBase
            guard o & (g.bytes &- 1) == 0, o &>> pageShift < pageCount, state[Int(truncatingIfNeeded: o &>> pageShift)] == 1 else {
                return false
            }
            switch level {
            case 0: e0 = ea
            case 1: e1 = ea
            default: e2 = ea
            }
            table = next
            level &+= 1
            shift &-= stride
            indexMask = UInt64(g.entriesPerTable - 1)
        }
        if d & Stage2Descriptor.contiguousBit != 0 { return false }
        memory.writeDescriptor(0, at: PhysicalAddress(ea))
        pool.adjustCount(entry: ea, old: d, new: 0)
        addInvalidation(ipa: ipa, level: 3)
        // Free the tables this emptied, bottom up (never the root).
        var child = table
        var l = 3
        while l > geometry.startLevel && pool.count(ofTable: child) == 0 {
            let parentEntry: UInt64 = l == 3 ? e2 : l == 2 ? e1 : e0
            let parentValue = memory.readDescriptor(at: PhysicalAddress(parentEntry))
            memory.writeDescriptor(0, at: PhysicalAddress(parentEntry))
            pool.adjustCount(entry: parentEntry, old: parentValue, new: 0)
            let parentShift = UInt64(g.entryShift(atLevel: l - 1))
            addInvalidation(ipa: ipa & ~((1 &<< parentShift) &- 1), level: nil)
            pending.frees.append(child)
            child = parentEntry & ~(g.bytes - 1)
            l -= 1
        }
        return true
    }

    /// The common demand-paging case, without the general engine: one page whose last-level
    /// table exists and whose entry is invalid gets `leaf` (invalid → valid needs no
    /// invalidation, Arm ARM D8.16 "Translation table entry changes"). Walks our own tables
    /// (each next table must be one of the pool's table pages, as in `unmapSinglePage`).
    /// Returns false, having changed nothing, for anything else (a missing table, a block, a
    /// valid entry): the caller then takes the general path.
    @inlinable mutating func mapSinglePage(_ ipa: UInt64, leaf: UInt64) -> Bool {
        addressFormat == .bits48 ? mapSinglePage(ipa, leaf: leaf, narrow: true) : mapSinglePage(ipa, leaf: leaf, narrow: false)
    }

    @inlinable @inline(__always)
    mutating func mapSinglePage(_ ipa: UInt64, leaf: UInt64, narrow: Bool) -> Bool {
        let g = self.g
        let stride = UInt64(g.stride)
        let format = addressFormat
        let narrowMask = Stage2AddressFormat.bits48.fieldMask(g)
        var level = geometry.startLevel
        var shift = cachedWalkParameters.derived.rootShift
        var indexMask = cachedWalkParameters.derived.rootIndexMask
        var table = rootAddress.rawValue
        let poolBase = pool.base
        let pageShift = UInt64(pool.pageShift)
        let pageCount = UInt64(pool.pageCount)
        let state = pool.state.p
        while true {
            let ea = table &+ ((ipa &>> shift) & indexMask) &* 8
            let d = memory.readDescriptor(at: PhysicalAddress(ea))
            if level == 3 {
                guard !Stage2Descriptor.isValid(d) else { return false }
                memory.writeDescriptor(leaf, at: PhysicalAddress(ea))
                pool.adjustCount(entry: ea, old: d, new: leaf)
                return true
            }
            guard Stage2Descriptor.isTable(d, level: level) else { return false }  // no table here (hole or block)
            let next = narrow ? d & narrowMask : format.address(d, g)
            let o = next &- poolBase
            guard o & (g.bytes &- 1) == 0, o &>> pageShift < pageCount, state[Int(truncatingIfNeeded: o &>> pageShift)] == 1 else {
                return false
            }
            table = next
            level &+= 1
            shift &-= stride
            indexMask = UInt64(g.entriesPerTable - 1)
        }
    }

    /// Fast path for a map whose leaves all fall in one table (a block, a run of blocks, or
    /// pages inside one last-level table). The leaf level is the general path's choice: the
    /// first level from the start level down where blocks are allowed and IPA, PA and size
    /// are all aligned to its block size, else level 3. Follows our own tables to that level
    /// (each next table must be one of the pool's table pages), creates the missing ones, and
    /// writes the leaves into invalid entries: invalid → valid needs no invalidation (Arm ARM
    /// D8.16). New tables are filled before they are linked, top table allocated first, as the
    /// general path does. Returns false, having changed nothing, for anything else (the range
    /// crosses a table, a valid entry or a block is in the way, a table is not ours, the pool
    /// is short): the general path then does it or reports why.
    @inlinable mutating func mapLeafRun(_ ipa: UInt64, pa: UInt64, size: UInt64, bits: UInt64) -> Bool {
        let g = self.g
        let w = cachedWalkParameters.derived
        let start = geometry.startLevel
        // The shift of a level's entries: the root's, less a stride per level below it.
        @inline(__always) func entryShift(_ l: Int) -> UInt64 { w.rootShift &- UInt64(truncatingIfNeeded: l &- start) &* w.stride }
        var leafLevel = 3
        if configuration.blocks {
            let aligned = ipa | pa | size
            var l = start
            while l < 3 {
                if w.blockLevels &>> UInt64(truncatingIfNeeded: l) & 1 != 0 && aligned & ((1 &<< entryShift(l)) &- 1) == 0 {
                    leafLevel = l
                    break
                }
                l &+= 1
            }
        }
        let leafShift = entryShift(leafLevel)
        if leafLevel > start {
            let tableShift = entryShift(leafLevel &- 1)
            guard ipa &>> tableShift == (ipa &+ size &- 1) &>> tableShift else { return false }
        }
        let tableIndexMask = w.tableIndexMask
        var table = rootAddress.rawValue
        var level = start
        var shift = w.rootShift
        var indexMask = w.rootIndexMask
        var parentEntry: UInt64? = nil  // the invalid entry the first new table goes into
        while level < leafLevel {
            let ea = table &+ ((ipa &>> shift) & indexMask) &* 8
            let d = memory.readDescriptor(at: PhysicalAddress(ea))
            if Stage2Descriptor.isTable(d, level: level) {
                let next = addressFormat.address(d, g)
                guard pool.isTablePage(next) else { return false }
                table = next
                level &+= 1
                shift &-= w.stride
                indexMask = tableIndexMask
                continue
            }
            guard !Stage2Descriptor.isValid(d) else { return false }  // a block: split or replace
            parentEntry = ea
            break
        }
        let count = Int(size >> leafShift)
        let leaf = bits | Stage2Descriptor.leafType(level: leafLevel)
        guard let parentEntry else {
            // The leaf table exists: every entry the range covers must be invalid.
            let first = table &+ ((ipa &>> shift) & indexMask) &* 8
            for k in 0..<count where Stage2Descriptor.isValid(memory.readDescriptor(at: PhysicalAddress(first + UInt64(k) * 8))) {
                return false
            }
            writeLeafRun(oa: pa, bits: leaf, step: 1 << leafShift, count: count, at: first)
            pool.counts[pool.page(of: table)] &+= UInt16(truncatingIfNeeded: count)
            return true
        }
        // Tables for levels level+1 ... leafLevel, allocated top first (as the general path
        // does). Each is linked into the new one above it as it comes: none is reachable until
        // the top one is linked into the live entry, last.
        let missing = leafLevel &- level
        guard missing <= pool.available else { return false }
        let top = newEmptyTable()
        var t = top
        var k = 1
        while k < missing {
            let child = newEmptyTable()
            let ea = t &+ ((ipa &>> entryShift(level &+ k)) & tableIndexMask) &* 8
            memory.writeDescriptor(addressFormat.field(child) | Stage2Descriptor.typeMask, at: PhysicalAddress(ea))
            pool.counts[pool.page(of: t)] = 1
            t = child
            k &+= 1
        }
        writeLeafRun(oa: pa, bits: leaf, step: 1 << leafShift, count: count, at: t &+ ((ipa &>> leafShift) & tableIndexMask) &* 8)
        pool.counts[pool.page(of: t)] = UInt16(truncatingIfNeeded: count)
        memory.writeDescriptor(addressFormat.field(top) | Stage2Descriptor.typeMask, at: PhysicalAddress(parentEntry))
        // An invalid entry became valid, in the root or one of the pool's tables.
        pool.counts[pool.page(of: parentEntry)] &+= 1
        return true
    }

    // MARK: Writing pass

    @usableFromInline mutating func perform(_ op: Operation, tlb: inout some TLBMaintenance) throws(Stage2Error) {
        let root = rootAddress.rawValue
        let needed = try countNeeded(op, .live(root), level: geometry.startLevel, tableIPA: 0, isRoot: true)
        guard needed <= pool.available else { throw .poolExhausted(needed: needed, available: pool.available) }
        apply(op, table: root, level: geometry.startLevel, tableIPA: 0, isRoot: true, live: true, freshEmpty: false)
        try flush(tlb: &tlb)
    }

    @inline(__always)
    mutating func addInvalidation(ipa: UInt64, level: Int?) {
        if pending.allForVMID { return }
        if pending.invalidations.count >= Self.maximumIPAInvalidationsPerBatch {
            pending.allForVMID = true
            pending.invalidations.removeAll(keepingCapacity: true)
            return
        }
        pending.invalidations.append(.ipa(IPA(ipa), level: level, granule: g))
    }

    /// Write `new` into entry `ea`. In a reachable (`live`) table a valid entry is broken
    /// first: written invalid, its invalidation recorded, the new value deferred until after
    /// the TLB maintenance batch.
    @inline(__always)
    mutating func writeEntry(_ ea: UInt64, old: UInt64, new: UInt64, live: Bool, ipa: UInt64, level: Int?) {
        if !live || !Stage2Descriptor.isValid(old) {
            memory.writeDescriptor(new, at: PhysicalAddress(ea))
            pool.adjustCount(entry: ea, old: old, new: new)
            return
        }
        memory.writeDescriptor(0, at: PhysicalAddress(ea))
        addInvalidation(ipa: ipa, level: level)
        if Stage2Descriptor.isValid(new) {
            pending.makeAddresses.append(ea)
            pending.makeValues.append(new)
        } else {
            pool.adjustCount(entry: ea, old: old, new: 0)
        }
    }

    /// A zeroed table page from the pool.
    @inlinable @inline(__always) mutating func newEmptyTable() -> UInt64 {
        let t = pool.allocate()
        memory.zero(at: PhysicalAddress(t), bytes: g.bytes)
        return t
    }

    mutating func newTable(split: UInt64?, level: Int) -> UInt64 {
        let t = newEmptyTable()
        if let split {
            for i in 0..<g.entriesPerTable {
                memory.writeDescriptor(splitChild(split, index: i, level: level), at: PhysicalAddress(t + UInt64(i) * 8))
            }
            pool.counts[pool.page(of: t)] = UInt16(g.entriesPerTable)
        }
        return t
    }

    mutating func apply(_ op: Operation, table: UInt64, level: Int, tableIPA: UInt64, isRoot: Bool, live: Bool, freshEmpty: Bool) {
        let (i0, i1, shift) = indexRange(op, level: level, tableIPA: tableIPA, isRoot: isRoot)
        let size: UInt64 = 1 << UInt64(shift)
        if freshEmpty {
            guard op.kind == .map else { return }
            if !op.contiguous {
                applyFreshMap(op, table: table, level: level, tableIPA: tableIPA, i0: i0, i1: i1, shift: shift)
                return
            }
        }
        if live, let n = g.contiguousEntries(atLevel: level) {
            breakContiguousEdges(op, table: table, level: level, tableIPA: tableIPA, isRoot: isRoot, i0: i0, i1: i1, shift: shift, n: n)
        }
        for i in i0...i1 {
            let ea = table + UInt64(i) * 8
            let d = memory.readDescriptor(at: PhysicalAddress(ea))
            let cb = tableIPA + UInt64(i) << UInt64(shift)
            switch decide(op, d, level: level, index: i, tableIPA: tableIPA, shift: shift, isRoot: isRoot) {
            case .none: break
            case .write(let v):
                writeEntry(ea, old: d, new: v, live: live, ipa: cb, level: level)
            case .descend(let next):
                apply(op, table: next, level: level + 1, tableIPA: cb, isRoot: false, live: live, freshEmpty: false)
                if op.kind == .unmap && pool.count(ofTable: next) == 0 {
                    writeEntry(ea, old: d, new: 0, live: live, ipa: cb, level: nil)
                    pending.frees.append(next)
                }
            case .newTable(let split):
                let t = newTable(split: split, level: level + 1)
                apply(op, table: t, level: level + 1, tableIPA: cb, isRoot: false, live: false, freshEmpty: split == nil)
                writeEntry(ea, old: d, new: addressFormat.field(t) | Stage2Descriptor.typeMask, live: live, ipa: cb, level: level)
            case .removeTable(let next, let replacement):
                if live { invalidateSubtree(next, level: level + 1, ipa: cb) }
                collectSubtree(next, level: level + 1)
                writeEntry(ea, old: d, new: replacement, live: live, ipa: cb, level: nil)
            }
        }
        _ = size
    }

    /// Map into a freshly allocated, all-invalid table: nothing to break, plain stores.
    mutating func applyFreshMap(_ op: Operation, table: UInt64, level: Int, tableIPA: UInt64, i0: Int, i1: Int, shift: Int) {
        let size: UInt64 = 1 << UInt64(shift)
        let firstIPA = tableIPA + UInt64(i0) << UInt64(shift)
        if level == 3 {
            // Every touched entry is a whole page of the range.
            writeLeafRun(
                oa: op.pa + (firstIPA - op.start), bits: op.bits | Stage2Descriptor.leafType(level: 3), step: size,
                count: i1 - i0 + 1, at: table + UInt64(i0) * 8)
            pool.counts[pool.page(of: table)] &+= UInt16(i1 - i0 + 1)
            return
        }
        let blockLevel = configuration.blocks && blockAllowed(atLevel: level)
        var written = 0
        var i = i0
        while i <= i1 {
            let cb = tableIPA + UInt64(i) << UInt64(shift)
            let ea = table + UInt64(i) * 8
            let full = op.start <= cb && cb + size <= op.end
            let oa = op.pa &+ (cb &- op.start)
            if full && blockLevel && oa & (size - 1) == 0 {
                // A run of whole blocks: every following fully covered entry is alike.
                var n = 1
                while i + n <= i1 && tableIPA + UInt64(i + n + 1) << UInt64(shift) <= op.end { n += 1 }
                writeLeafRun(oa: oa, bits: op.bits | Stage2Descriptor.leafType(level: level), step: size, count: n, at: ea)
                written += n
                i += n
                continue
            } else {
                let t = newTable(split: nil, level: level + 1)
                applyFreshMap(
                    op, table: t, level: level + 1, tableIPA: cb,
                    i0: indexRange(op, level: level + 1, tableIPA: cb, isRoot: false).0,
                    i1: indexRange(op, level: level + 1, tableIPA: cb, isRoot: false).1,
                    shift: shift - g.stride)
                memory.writeDescriptor(addressFormat.field(t) | Stage2Descriptor.typeMask, at: PhysicalAddress(ea))
            }
            written += 1
            i += 1
        }
        pool.counts[pool.page(of: table)] &+= UInt16(written)
    }

    /// An operation that cuts a contiguous group must take the hint off the group's other
    /// entries too (each change to a contiguous group is break-before-make on all of it).
    mutating func breakContiguousEdges(
        _ op: Operation, table: UInt64, level: Int, tableIPA: UInt64, isRoot: Bool,
        i0: Int, i1: Int, shift: Int, n: Int
    ) {
        let entries = entryCount(isRoot: isRoot)
        for k in 0..<(i0 == i1 ? 1 : 2) {
            let e = k == 0 ? i0 : i1
            let d = memory.readDescriptor(at: PhysicalAddress(table + UInt64(e) * 8))
            guard isLegalLeaf(d, level: level), d & Stage2Descriptor.contiguousBit != 0 else { continue }
            if groupCovered(op, level: level, index: e, tableIPA: tableIPA, shift: shift, isRoot: isRoot) != nil { continue }
            let first = e & ~(n - 1)
            for j in first..<min(first + n, entries) where j < i0 || j > i1 {
                let ea = table + UInt64(j) * 8
                let dj = memory.readDescriptor(at: PhysicalAddress(ea))
                if Stage2Descriptor.isValid(dj) && dj & Stage2Descriptor.contiguousBit != 0 {
                    writeEntry(
                        ea, old: dj, new: dj & ~Stage2Descriptor.contiguousBit, live: true,
                        ipa: tableIPA + UInt64(j) << UInt64(shift), level: level)
                }
            }
        }
    }

    /// Record an invalidation for every valid leaf below `table` (or switch to all-VMID).
    mutating func invalidateSubtree(_ table: UInt64, level: Int, ipa: UInt64) {
        let shift = g.entryShift(atLevel: level)
        for i in 0..<g.entriesPerTable {
            if pending.allForVMID { return }
            let d = memory.readDescriptor(at: PhysicalAddress(table + UInt64(i) * 8))
            guard Stage2Descriptor.isValid(d) else { continue }
            let a = ipa + UInt64(i) << UInt64(shift)
            if Stage2Descriptor.isTable(d, level: level) {
                invalidateSubtree(addressFormat.address(d, g), level: level + 1, ipa: a)
            } else {
                addInvalidation(ipa: a, level: level)
            }
        }
    }

    /// Schedule every table page of a subtree to be returned to the pool after the batch.
    mutating func collectSubtree(_ table: UInt64, level: Int) {
        if level < 3 {
            for i in 0..<g.entriesPerTable {
                let d = memory.readDescriptor(at: PhysicalAddress(table + UInt64(i) * 8))
                if Stage2Descriptor.isTable(d, level: level) { collectSubtree(addressFormat.address(d, g), level: level + 1) }
            }
        }
        pending.frees.append(table)
    }

    /// Hand the recorded invalidations to `tlb`, then write the deferred entries and free pages.
    /// Nothing to do after the fast paths (they record nothing): that test is inlined.
    @inlinable @inline(__always) mutating func flush(tlb: inout some TLBMaintenance) throws(Stage2Error) {
        if pending.isEmpty && pending.frees.isEmpty { return }
        try flushPending(tlb: &tlb)
    }

    @inlinable @inline(never) mutating func flushPending(tlb: inout some TLBMaintenance) throws(Stage2Error) {
        if pending.isEmpty {
            // Only unlinked fresh pages (none in practice).
            for f in pending.frees { pool.release(f) }
            pending.frees.removeAll(keepingCapacity: true)
            return
        }
        do {
            if pending.allForVMID { try tlb.invalidate([.allForVMID]) } else { try tlb.invalidate(pending.invalidations) }
        } catch {
            // The broken entries stay invalid; their deferred values are dropped, and the
            // unlinked pages are not reused (no invalidation covers them).
            for ea in pending.makeAddresses { pool.adjustCount(entry: ea, old: 1, new: 0) }
            clearPending()
            throw .tlbMaintenanceFailed(String(describing: error))
        }
        for k in pending.makeAddresses.indices {
            memory.writeDescriptor(pending.makeValues[k], at: PhysicalAddress(pending.makeAddresses[k]))
        }
        for f in pending.frees { pool.release(f) }
        clearPending()
    }

    @inlinable @inline(__always)
    mutating func clearPending() {
        @inline(__always) func clear<T>(_ a: inout [T]) {
            if a.count == 1 { a.removeLast() } else if !a.isEmpty { a.removeAll(keepingCapacity: true) }
        }
        clear(&pending.invalidations)
        pending.allForVMID = false
        clear(&pending.makeAddresses)
        clear(&pending.makeValues)
        clear(&pending.frees)
    }
}
