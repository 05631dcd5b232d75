import AArch64
import Testing

@testable import Stage2

/// The leaf-run map fast path (`mapLeafRun`) against the general engine, and the byte
/// buffer's "already zero" tracking that lets a fresh table page skip its zeroing.
struct FreshMapTests {
    struct Case: CustomStringConvertible, Sendable {
        var granule: Granule
        var ipaBits: Int
        var blocks = true
        var outputBits: Int? = nil
        var lpa2 = false
        var paBase: UInt64 = 0x8000_0000
        var description: String { "\(granule) \(ipaBits)-bit blocks=\(blocks) PS=\(outputBits ?? 0)\(lpa2 ? " DS" : "")" }
    }
    static let cases: [Case] = [
        Case(granule: .k4, ipaBits: 48),
        Case(granule: .k4, ipaBits: 40),
        Case(granule: .k4, ipaBits: 40, blocks: false),
        Case(granule: .k16, ipaBits: 47),
        Case(granule: .k64, ipaBits: 42),
        Case(granule: .k64, ipaBits: 48, outputBits: 52, paBase: 0x5_0000_0000_0000),
        Case(granule: .k4, ipaBits: 48, outputBits: 52, lpa2: true, paBase: 0x3_0000_0000_0000),
    ]

    static func tables(_ c: Case, memory: ByteBufferTableMemory) throws -> Stage2Tables<ByteBufferTableMemory> {
        try Stage2Tables(
            configuration: Stage2Configuration(
                granule: c.granule, ipaBits: c.ipaBits, vmid: 1, outputBits: c.outputBits, blocks: c.blocks, lpa2: c.lpa2),
            memory: memory, poolBase: memory.base, poolBytes: memory.size)
    }

    /// A random aligned run inside one table at a random level (sometimes several tables, or
    /// misaligned for blocks: the cases the fast path must decline or get exactly right).
    static func randomRun(_ c: Case, _ rng: inout SplitMix64) -> (ipa: UInt64, pa: UInt64, size: UInt64) {
        let g = c.granule
        let limit = min(UInt64(1) << UInt64(c.ipaBits), 1 << 36)
        let levels = (1...3).filter { UInt64(1) << UInt64(g.entryShift(atLevel: $0)) <= limit }
        let level = levels[Int(rng.next() % UInt64(levels.count))]
        let span: UInt64 = 1 << UInt64(g.entryShift(atLevel: level))
        let tableSpan = span << UInt64(g.stride)
        let table = (rng.next() % max(1, limit / tableSpan)) * tableSpan
        let entries = min(UInt64(g.entriesPerTable), limit / span)
        let first = rng.next() % entries
        var count = 1 + rng.next() % min(8, entries - first)
        if rng.next() % 8 == 0 { count += 1 }  // may cross into the next table
        let ipa = table + first * span
        var size = min(count * span, limit - ipa)
        var pa = c.paBase + (rng.next() % 64) * span
        if rng.next() % 4 == 0 { pa += g.bytes }  // blocks misaligned: pages instead
        if rng.next() % 8 == 0 { size = g.bytes * (1 + rng.next() % 4) }
        return (ipa, pa, size)
    }

    /// The offset of the first byte where two memories differ.
    static func firstDifference(_ a: ByteBufferTableMemory, _ b: ByteBufferTableMemory) -> Int? {
        let (x, y) = (a.bytes, b.bytes)
        return x.indices.first { x[$0] != y[$0] }
    }

    /// For random table sets and runs: where the fast path takes a map, the tables are byte for
    /// byte what the general path writes (same pages, same order, same counts); where it
    /// declines, nothing changed. No invalidation either way for maps into invalid entries.
    @Test(arguments: cases)
    func fastPathMatchesGeneralPath(_ c: Case) throws {
        var rng = SplitMix64(seed: 0xFA57_0000 ^ UInt64(c.ipaBits) ^ UInt64(c.granule.pageShift) << 8)
        var taken = 0
        for _ in 0..<60 {
            let pages = c.granule == .k4 ? 64 : 16
            let fast = ByteBufferTableMemory(base: PhysicalAddress(0x4000_0000), size: UInt64(pages) * c.granule.bytes)
            let general = ByteBufferTableMemory(base: PhysicalAddress(0x4000_0000), size: UInt64(pages) * c.granule.bytes)
            var a = try Self.tables(c, memory: fast)
            var b = try Self.tables(c, memory: general)
            var tlbA = CountingTLB()
            var tlbB = CountingTLB()
            // The same history on both (sometimes none): a few maps and unmaps.
            for _ in 0..<Int(rng.next() % 4) {
                let r = Self.randomRun(c, &rng)
                if rng.next() % 3 == 0 {
                    try? a.unmap(ipa: IPA(r.ipa), size: r.size, tlb: &tlbA)
                    try? b.unmap(ipa: IPA(r.ipa), size: r.size, tlb: &tlbB)
                } else {
                    try? a.map(ipa: IPA(r.ipa), pa: PhysicalAddress(r.pa), size: r.size, attributes: .normalRWX, tlb: &tlbA)
                    try? b.map(ipa: IPA(r.ipa), pa: PhysicalAddress(r.pa), size: r.size, attributes: .normalRWX, tlb: &tlbB)
                }
            }
            #expect(Self.firstDifference(fast, general) == nil)
            let r = Self.randomRun(c, &rng)
            var bits = Stage2Attributes.normalRWX.descriptorBits & ~(Stage2Descriptor.contiguousBit | Stage2Descriptor.typeMask)
            if !a.addressFormat.hasShareabilityField { bits &= ~Stage2Descriptor.shareabilityMask }
            let before = fast.bytes
            let pagesBefore = a.tablePages
            let invalidationsBefore = tlbA.invalidationCount
            if a.mapLeafRun(r.ipa, pa: r.pa, size: r.size, bits: bits) {
                taken += 1
                try b.perform(
                    Operation(
                        kind: .map, start: r.ipa, end: r.ipa + r.size, pa: r.pa, bits: bits, permissionsOnly: false,
                        contiguous: false), tlb: &tlbB)
                #expect(
                    Self.firstDifference(fast, general) == nil, "\(c) map 0x\(String(r.ipa, radix: 16)) +0x\(String(r.size, radix: 16))")
                #expect(a.tablePages == b.tablePages)
                #expect(tlbB.invalidationCount == invalidationsBefore)  // the general path broke nothing either
                for p in 0..<pages { #expect(a.pool.counts[p] == b.pool.counts[p]) }
            } else {
                #expect(fast.bytes == before, "the declined fast path changed the tables")
                #expect(a.tablePages == pagesBefore)
            }
        }
        #expect(taken >= 10)  // the fast path was exercised
    }

    /// `zero` skips only bytes still zero since the buffer was allocated: random writes, runs
    /// and zeroings against a plain array.
    @Test func zeroTrackingMatchesAModel() {
        let pageBytes: UInt64 = 4096
        let pages: UInt64 = 16
        let m = ByteBufferTableMemory(base: PhysicalAddress(0x10_0000), size: pages * pageBytes)
        var model = [UInt64](repeating: 0, count: Int(pages * pageBytes / 8))
        var rng = SplitMix64(seed: 0x2E80)
        for step in 0..<3000 {
            let page = rng.next() % pages
            let slot = rng.next() % (pageBytes / 8)
            let at = page * pageBytes + slot * 8
            switch rng.next() % 4 {
            case 0:
                let v = rng.next() % 3 == 0 ? 0 : rng.next() | 1
                m.writeDescriptor(v, at: PhysicalAddress(0x10_0000 + at))
                model[Int(at / 8)] = v
            case 1:
                let n = Int(rng.next() % (pageBytes / 8 - slot)) + 1
                let first = rng.next()
                m.writeDescriptorRun(first: first, step: 0x1000, count: n, at: PhysicalAddress(0x10_0000 + at))
                for k in 0..<n { model[Int(at / 8) + k] = first &+ UInt64(k) * 0x1000 }
            default:
                let n = 1 + rng.next() % min(3, pages - page)
                m.zero(at: PhysicalAddress(0x10_0000 + page * pageBytes), bytes: n * pageBytes)
                for k in Int(page * pageBytes / 8)..<Int((page + n) * pageBytes / 8) { model[k] = 0 }
            }
            if step % 50 == 0 || step == 2999 {
                var same = true
                for i in 0..<model.count where m.readDescriptor(at: PhysicalAddress(0x10_0000 + UInt64(i) * 8)) != model[i] {
                    same = false
                }
                #expect(same, "memory differs from the model after step \(step)")
                if !same { return }
            }
        }
    }

    /// A table page that goes back to the pool with valid entries still in it (a subtree
    /// replaced by a block) is zeroed when it is taken again.
    @Test func reusedTablePageIsZeroed() throws {
        var t = try makeTables(.k4, ipaBits: 40, poolPages: 8)
        var tlb = CountingTLB()
        // PA not 2 MiB aligned: 512 pages in a level-3 table.
        try t.map(ipa: IPA(0x20_0000), pa: PhysicalAddress(0x8000_1000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.walk(IPA(0x20_0000)).translation?.level == 3)
        // Replace the 512 pages by one 2 MiB block: the level-3 table is freed full of pages.
        try t.map(ipa: IPA(0x20_0000), pa: PhysicalAddress(0x8020_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.walk(IPA(0x20_0000)).translation?.level == 2)
        let pagesBefore = t.tablePages
        // One page elsewhere takes that page again as its level-3 table.
        try t.map(ipa: IPA(0x60_0000), pa: PhysicalAddress(0x9000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.tablePages == pagesBefore + 1)
        #expect(t.walk(IPA(0x60_0000)).translation?.outputAddress.rawValue == 0x9000_0000)
        for k: UInt64 in 1..<512 {
            let f = t.walk(IPA(0x60_0000 + k << 12)).fault
            #expect(f?.kind == .translation && f?.level == 3, "IPA 0x\(String(0x60_0000 + k << 12, radix: 16))")
            if f?.kind != .translation { break }
        }
    }

    /// Pages of the pool written before the table set was made (old tables in reused memory)
    /// are zeroed when they become tables.
    @Test func poolPagesWrittenBeforeAreZeroed() throws {
        let memory = ByteBufferTableMemory(base: PhysicalAddress(0x4000_0000), size: 8 * 4096)
        for p: UInt64 in 0..<8 {
            memory.writeDescriptorRun(first: 0x8000_0000 | 0x7C3, step: 0x1000, count: 512, at: PhysicalAddress(0x4000_0000 + p * 4096))
        }
        var t = try Stage2Tables(
            configuration: Stage2Configuration(granule: .k4, ipaBits: 48, vmid: 1), memory: memory,
            poolBase: memory.base, poolBytes: memory.size)
        var tlb = CountingTLB()
        try t.map(ipa: IPA(0x4000_0000), pa: PhysicalAddress(0xC000_0000), size: 0x4000_0000, attributes: .normalRWX, tlb: &tlb)
        #expect(t.walk(IPA(0x4000_0000)).translation?.level == 1)
        #expect(t.walk(IPA(0)).fault?.kind == .translation)
        #expect(t.walk(IPA(0x8000_0000)).fault?.kind == .translation)
        #expect(t.walk(IPA(0x80_0000_0000)).fault?.kind == .translation)
    }
}
