import AArch64
import Testing

@testable import Stage2

/// Break-before-make, TLB batches, splitting, freeing and failure atomicity.
struct EditTests {
    @Test func unmapInsideBlockSplitsWithOneInvalidation() throws {
        var (t, checker) = try makeCheckedTables(.k4, ipaBits: 40)
        var tlb = CheckedTLB(checker: checker)
        try t.map(ipa: IPA(0x20_0000), pa: PhysicalAddress(0x8020_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(checker.batches.isEmpty)  // nothing valid was replaced
        #expect(t.walk(IPA(0x20_1000)).translation?.level == 2)
        try t.unmap(ipa: IPA(0x20_1000), size: 0x1000, tlb: &tlb)
        // The block entry was broken, invalidated by IPA with its level, then replaced by a table.
        #expect(checker.batches == [[.ipa(IPA(0x20_0000), level: 2, granule: .k4)]])
        #expect(t.walk(IPA(0x20_1000)).fault == Stage2Fault(kind: .translation, level: 3, ipa: IPA(0x20_1000), access: .read))
        #expect(t.walk(IPA(0x20_0000)).translation?.outputAddress.rawValue == 0x8020_0000)
        #expect(t.walk(IPA(0x3F_F000)).translation?.outputAddress.rawValue == 0x803F_F000)
        // Unmapping one more page of the now-split table: one invalidation, level 3.
        try t.unmap(ipa: IPA(0x20_2000), size: 0x1000, tlb: &tlb)
        #expect(checker.batches.last == [.ipa(IPA(0x20_2000), level: 3, granule: .k4)])
        #expect(checker.violations == [])
    }

    /// Pages mapped one at a time into an existing last-level table (the demand-paging case,
    /// which takes the builder's single-page path) keep the per-table bookkeeping exact: the
    /// table is freed only when the last of them is unmapped. A fresh page needs no invalidation.
    @Test func singlePagesIntoAnExistingTableAreCountedAndFreed() throws {
        var (t, checker) = try makeCheckedTables(.k4, ipaBits: 40)
        var tlb = CheckedTLB(checker: checker)
        try t.map(ipa: IPA(0x1000), pa: PhysicalAddress(0x8000_1000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.tablePages == 4)  // root (2 pages) + L2 + L3
        for k: UInt64 in [2, 5, 511] {
            try t.map(
                ipa: IPA(k << 12), pa: PhysicalAddress(0x8000_0000 + (k << 12)), size: 0x1000,
                attributes: Stage2Attributes(permissions: [.read]), tlb: &tlb)
            let tr = t.walk(IPA(k << 12 | 0x18))
            #expect(tr.translation?.outputAddress.rawValue == 0x8000_0018 + (k << 12))
            #expect(tr.translation?.level == 3)
            #expect(t.walk(IPA(k << 12), access: .write).fault?.kind == .permission)
        }
        #expect(checker.batches.isEmpty)  // invalid -> valid only
        #expect(t.tablePages == 4)
        for k: UInt64 in [1, 2, 5] { try t.unmap(ipa: IPA(k << 12), size: 0x1000, tlb: &tlb) }
        #expect(t.tablePages == 4)  // page 511 still holds the L3 table
        try t.unmap(ipa: IPA(511 << 12), size: 0x1000, tlb: &tlb)
        #expect(t.tablePages == 2)
        #expect(checker.violations == [])
    }

    @Test func emptiedTablesAreFreedAfterTheirInvalidation() throws {
        var (t, checker) = try makeCheckedTables(.k4, ipaBits: 40)
        var tlb = CheckedTLB(checker: checker)
        try t.map(ipa: IPA(0x1000), pa: PhysicalAddress(0x8000_0000), size: 0x2000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.tablePages == 2 + 2)  // root (2 pages) + L2 + L3
        try t.unmap(ipa: IPA(0x1000), size: 0x1000, tlb: &tlb)
        #expect(t.tablePages == 4)
        try t.unmap(ipa: IPA(0x2000), size: 0x1000, tlb: &tlb)
        // Last page gone: the L3 table, then the L2 table emptied; both links broken, and one
        // invalidation without a level hint for each removed table (walk caches).
        #expect(
            checker.batches.last == [
                .ipa(IPA(0x2000), level: 3, granule: .k4),
                .ipa(IPA(0), level: nil, granule: .k4),
                .ipa(IPA(0), level: nil, granule: .k4),
            ])
        #expect(t.tablePages == 2)
        #expect(checker.violations == [])
    }

    @Test func mapOverExistingReplacesWithBreakBeforeMake() throws {
        var (t, checker) = try makeCheckedTables(.k4, ipaBits: 40)
        var tlb = CheckedTLB(checker: checker)
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x4000, attributes: .normalRWX, tlb: &tlb)
        try t.map(
            ipa: IPA(0x1000), pa: PhysicalAddress(0x9000_0000), size: 0x1000, attributes: Stage2Attributes(permissions: [.read]), tlb: &tlb)
        #expect(checker.batches == [[.ipa(IPA(0x1000), level: 3, granule: .k4)]])
        #expect(t.walk(IPA(0x1000)).translation?.outputAddress.rawValue == 0x9000_0000)
        #expect(t.walk(IPA(0x1000), access: .write).fault?.kind == .permission)
        // Mapping a 2M block over the L3 table replaces the table: its pages are invalidated,
        // the table link too, and the table is freed.
        let before = t.tablePages
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0xA000_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.tablePages == before - 1)
        #expect(t.walk(IPA(0x1000)).translation?.level == 2)
        let last = try #require(checker.batches.last)
        #expect(last.contains(.ipa(IPA(0), level: nil, granule: .k4)))
        #expect(last.filter { if case .ipa(_, 3, _) = $0 { true } else { false } }.count == 4)
        #expect(checker.violations == [])
    }

    @Test func protectSplitsAndKeepsOutputs() throws {
        var (t, checker) = try makeCheckedTables(.k64, ipaBits: 42, poolPages: 16)
        var tlb = CheckedTLB(checker: checker)
        try t.map(ipa: IPA(0x2000_0000), pa: PhysicalAddress(0x1_0000_0000), size: 0x2000_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.walk(IPA(0x2000_0000)).translation?.level == 2)  // 512M block
        try t.protect(ipa: IPA(0x2001_0000), size: 0x1_0000, permissions: [.read], tlb: &tlb)
        #expect(t.walk(IPA(0x2001_0000), access: .write).fault?.kind == .permission)
        #expect(t.walk(IPA(0x2001_0000)).translation?.outputAddress.rawValue == 0x1_0001_0000)
        #expect(t.walk(IPA(0x2002_0000), access: .write).translation?.outputAddress.rawValue == 0x1_0002_0000)
        // Protect leaves unmapped pages unmapped.
        try t.protect(ipa: IPA(0), size: 0x1000_0000, permissions: .rwx, tlb: &tlb)
        #expect(t.walk(IPA(0)).fault?.kind == .translation)
        #expect(checker.violations == [])
    }

    @Test func contiguousHintOnWholeGroupsOnlyAndRemovedWhenCut() throws {
        var (t, checker) = try makeCheckedTables(.k4, ipaBits: 40)
        var tlb = CheckedTLB(checker: checker)
        let a = Stage2Attributes(contiguous: true)
        // 17 pages from a 64K-aligned IPA and PA: entries 0–15 form one group (4K level 3: 16).
        try t.map(ipa: IPA(0x10_0000), pa: PhysicalAddress(0x8010_0000), size: 17 * 0x1000, attributes: a, tlb: &tlb)
        for i: UInt64 in 0..<17 {
            let d = try t.readDescriptor(ipa: IPA(0x10_0000 + i * 0x1000), level: 3)
            #expect((d & Stage2Descriptor.contiguousBit != 0) == (i < 16), "page \(i)")
        }
        // A misaligned PA gets no hint.
        try t.map(ipa: IPA(0x20_0000), pa: PhysicalAddress(0x8000_1000), size: 16 * 0x1000, attributes: a, tlb: &tlb)
        #expect(try t.readDescriptor(ipa: IPA(0x20_0000), level: 3) & Stage2Descriptor.contiguousBit == 0)
        // Cutting the group: the unmapped page and the 15 others are all broken and invalidated,
        // and the others come back without the hint.
        try t.unmap(ipa: IPA(0x10_5000), size: 0x1000, tlb: &tlb)
        let last = try #require(checker.batches.last)
        #expect(Set(last.map { "\($0)" }).count == 16)
        for i: UInt64 in 0..<16 where i != 5 {
            let d = try t.readDescriptor(ipa: IPA(0x10_0000 + i * 0x1000), level: 3)
            #expect(d & 1 == 1 && d & Stage2Descriptor.contiguousBit == 0)
        }
        #expect(throws: Stage2Error.contiguousInProtect) {
            try t.protect(ipa: IPA(0x10_0000), size: 0x1000, attributes: a, tlb: &tlb)
        }
        #expect(checker.violations == [])
    }

    @Test func largeRangesBecomeOneVMIDInvalidation() throws {
        var t = try makeTables(.k4, ipaBits: 40, blocks: false, poolPages: 64)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x40_0000, attributes: .normalRWX, tlb: &tlb)
        try t.unmap(ipa: IPA(0), size: 0x40_0000, tlb: &tlb)  // 1024 pages
        #expect(tlb.batches == [[.allForVMID]])
        #expect(t.tablePages == 2)
    }

    // MARK: Failures leave the tables as they were

    func snapshot(_ t: Stage2Tables<ByteBufferTableMemory>) -> [UInt8] { t.memory.bytes }

    @Test func poolExhaustedBeforeAnythingIsWritten() throws {
        // Root (2 pages) + 1 free page; a first page mapping needs an L2 and an L3 table.
        var t = try makeTables(.k4, ipaBits: 40, poolPages: 3)
        var tlb = RecordingTLB()
        let before = snapshot(t)
        #expect(throws: Stage2Error.poolExhausted(needed: 2, available: 1)) {
            try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        }
        #expect(snapshot(t) == before && tlb.batches.isEmpty && t.freePages == 1)
        #expect(t.walk(IPA(0)).fault == Stage2Fault(kind: .translation, level: 1, ipa: IPA(0), access: .read))
        // A 2M block fits (one L2 table).
        try t.map(ipa: IPA(0x20_0000), pa: PhysicalAddress(0x8020_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.freePages == 0)
        // Splitting it needs an L3 table: refused, the block stays whole and mapped.
        let mid = snapshot(t)
        #expect(throws: Stage2Error.poolExhausted(needed: 1, available: 0)) { try t.unmap(ipa: IPA(0x20_1000), size: 0x1000, tlb: &tlb) }
        #expect(throws: Stage2Error.poolExhausted(needed: 1, available: 0)) {
            try t.protect(ipa: IPA(0x20_1000), size: 0x1000, permissions: [.read], tlb: &tlb)
        }
        #expect(throws: Stage2Error.poolExhausted(needed: 1, available: 0)) {
            try t.map(ipa: IPA(0x20_1000), pa: PhysicalAddress(0x9000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        }
        #expect(snapshot(t) == mid && tlb.batches.isEmpty)
        for ipa: UInt64 in [0x20_0000, 0x20_1000, 0x3F_F000] {
            let tr = try #require(t.walk(IPA(ipa)).translation)
            #expect(tr.level == 2 && tr.outputAddress.rawValue == ipa + 0x8000_0000)
        }
        // Unmapping the whole block needs no page and frees the L2 table.
        try t.unmap(ipa: IPA(0x20_0000), size: 0x20_0000, tlb: &tlb)
        #expect(t.freePages == 1)
    }

    @Test func gigabyteBlockSplitNeedsTwoPages() throws {
        var t = try makeTables(.k4, ipaBits: 40, poolPages: 3)  // 2 root pages + 1
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0x4000_0000), pa: PhysicalAddress(0x4000_0000), size: 0x4000_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.freePages == 1)
        let before = snapshot(t)
        #expect(throws: Stage2Error.poolExhausted(needed: 2, available: 1)) { try t.unmap(ipa: IPA(0x4000_3000), size: 0x1000, tlb: &tlb) }
        #expect(snapshot(t) == before)
        #expect(t.walk(IPA(0x4000_3000)).translation?.level == 1)
        // Cutting at a 2M boundary needs only the L2 table.
        try t.unmap(ipa: IPA(0x4000_0000), size: 0x20_0000, tlb: &tlb)
        #expect(t.walk(IPA(0x4000_0000)).fault?.level == 2)
        #expect(t.walk(IPA(0x4020_0000)).translation?.level == 2)
    }

    @Test func invalidInputsAreTypedErrors() throws {
        var t = try makeTables(.k16, ipaBits: 36, poolPages: 8)
        var tlb = RecordingTLB()
        let a = Stage2Attributes.normalRWX
        #expect(throws: Stage2Error.zeroSize) { try t.map(ipa: IPA(0), pa: PhysicalAddress(0), size: 0, attributes: a, tlb: &tlb) }
        #expect(throws: Stage2Error.misaligned(what: "size", value: 0x1000, granule: .k16)) {
            try t.map(ipa: IPA(0), pa: PhysicalAddress(0), size: 0x1000, attributes: a, tlb: &tlb)
        }
        #expect(throws: Stage2Error.misaligned(what: "IPA", value: 0x1000, granule: .k16)) {
            try t.unmap(ipa: IPA(0x1000), size: 0x4000, tlb: &tlb)
        }
        #expect(throws: Stage2Error.misaligned(what: "PA", value: 0x2000, granule: .k16)) {
            try t.map(ipa: IPA(0), pa: PhysicalAddress(0x2000), size: 0x4000, attributes: a, tlb: &tlb)
        }
        #expect(throws: Stage2Error.ipaOutOfRange(IPA(0xF_FFFF_C000), size: 0x8000, ipaBits: 36)) {
            try t.map(ipa: IPA(0xF_FFFF_C000), pa: PhysicalAddress(0), size: 0x8000, attributes: a, tlb: &tlb)
        }
        #expect(throws: Stage2Error.ipaOutOfRange(IPA(0xFFFF_FFFF_FFFF_C000), size: 0x8000, ipaBits: 36)) {
            try t.unmap(ipa: IPA(0xFFFF_FFFF_FFFF_C000), size: 0x8000, tlb: &tlb)
        }
        let memory = ByteBufferTableMemory(base: PhysicalAddress(0x1000), size: 0x10000)
        #expect(throws: Stage2Error.poolMisaligned(PhysicalAddress(0x1000), granule: .k16)) {
            _ = try Stage2Tables(
                configuration: Stage2Configuration(granule: .k16, ipaBits: 36), memory: memory,
                poolBase: PhysicalAddress(0x1000), poolBytes: 0x8000)
        }
        #expect(throws: Stage2Error.poolSizeInvalid(0x6000, granule: .k16)) {
            _ = try Stage2Tables(
                configuration: Stage2Configuration(granule: .k16, ipaBits: 36), memory: memory,
                poolBase: PhysicalAddress(0x4000), poolBytes: 0x6000)
        }
        // A foreign table pointer (raw-written) is refused before anything changes.
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x4000, attributes: a, tlb: &tlb)
        try t.writeRawDescriptor(ipa: IPA(0), level: 2, value: 0x7000_0003)
        #expect(throws: Stage2Error.foreignTable(ipa: IPA(0), level: 2, address: PhysicalAddress(0x7000_0000))) {
            try t.unmap(ipa: IPA(0), size: 0x4000, tlb: &tlb)
        }
    }

    @Test func failingTLBMaintenanceLeavesEntriesInvalidNotHalfMade() throws {
        struct Failing: TLBMaintenance, Error { mutating func invalidate(_ batch: [TLBInvalidation]) throws { throw self } }
        var t = try makeTables(.k4, ipaBits: 40)
        var ok = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &ok)
        var bad = Failing()
        #expect(throws: Stage2Error.self) { try t.unmap(ipa: IPA(0x1000), size: 0x1000, tlb: &bad) }
        // The block was broken and, with no acknowledged invalidation, not replaced.
        #expect(t.walk(IPA(0)).fault?.kind == .translation)
        #expect(t.walk(IPA(0x1000)).fault?.kind == .translation)
    }

    @Test func oneGigabyteOfPagesNeedsExactlyTheArchitecturalTables() throws {
        // 4K, 40-bit: 262144 pages = 512 level-3 tables + 1 level-2 table + the 2-page root.
        var t = try makeTables(.k4, ipaBits: 40, blocks: false, poolPages: 515)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 1 << 30, attributes: .normalRWX, tlb: &tlb)
        #expect(t.tablePages == 515 && t.freePages == 0 && tlb.batches.isEmpty)
        #expect(t.walk(IPA(0x3FFF_F123)).translation?.outputAddress.rawValue == 0xBFFF_F123)
        // One page short: refused up front.
        var short = try makeTables(.k4, ipaBits: 40, blocks: false, poolPages: 514)
        #expect(throws: Stage2Error.poolExhausted(needed: 513, available: 512)) {
            try short.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 1 << 30, attributes: .normalRWX, tlb: &tlb)
        }
        #expect(short.tablePages == 2 && short.walk(IPA(0)).fault?.level == 1)
        // With blocks and a 2M-aligned (not 1G-aligned) PA: 512 level-2 blocks in one table.
        var blocks = try makeTables(.k4, ipaBits: 40, poolPages: 3)
        try blocks.map(ipa: IPA(0), pa: PhysicalAddress(0x8020_0000), size: 1 << 30, attributes: .normalRWX, tlb: &tlb)
        #expect(blocks.tablePages == 3)
        #expect(blocks.walk(IPA(0x3FFF_F000)).translation?.level == 2)
    }
}
