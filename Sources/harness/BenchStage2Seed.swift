import Stage2
import Stage2SeedBaseline

/// The same cases run on `Stage2SeedBaseline`, the seed's algorithm in C (see its header),
/// one repetition per call, on the seed's fixed 48-bit layout with a pre-faulted pool of
/// exactly the pages the case needs (as the Swift side has).
enum SeedBaselineBenchmark {
    static let gigabyte: UInt64 = 1 << 30
    /// Normal WB, S2AP RW, SH inner, AF — the seed's S2_MAP_RW.
    static let attributes: UInt64 = 0x3C | 0xC0 | 0x300 | 0x400

    static func pool(_ g: Granule, pa: UInt64, blocks: Bool) -> UInt64 {
        UInt64(Stage2Benchmark.tablePages(g, ipaBits: Stage2Benchmark.baselineIPABits, pa: pa, blocks: blocks))
    }

    /// One repetition of case `name`, or nil for a case the seed cannot express.
    static func measure(_ name: String) -> Stage2Benchmark.Sample? {
        if let m = Stage2Benchmark.mapParameters(name) { return map(m.granule, pageShift: m.pageShift, pa: m.pa, blocks: m.blocks) }
        switch name {
        case "unmap-4k": return unmap()
        case "walk-4k": return walk()
        default: return nil
        }
    }

    static func map(_ g: Granule, pageShift: UInt32, pa: UInt64, blocks: Bool) -> Stage2Benchmark.Sample {
        let n = Stage2Benchmark.batch(blocks: blocks)  // same batching as the Swift cases
        let pages = pool(g, pa: pa, blocks: blocks)
        var sets = [seed_tables](repeating: seed_tables(), count: n)
        for i in 0..<n { precondition(seed_init(&sets[i], pageShift, blocks ? 1 : 0, pages) == 0) }
        let start = Stage2Benchmark.now()
        for i in 0..<n { precondition(seed_map(&sets[i], 0, pa, gigabyte, attributes) == 0) }
        let ns = Stage2Benchmark.elapsedNanoseconds(since: start)
        let sample = Stage2Benchmark.Sample(
            nanoseconds: Double(ns) / Double(n), operations: Stage2Benchmark.mapOperations(g, blocks: blocks),
            tableBytes: sets[0].table_count << UInt64(pageShift),
            hostBytes: pages << UInt64(pageShift) + pages * 8, invalidations: 0)
        for i in 0..<n { seed_destroy(&sets[i]) }
        return sample
    }

    static func unmap() -> Stage2Benchmark.Sample {
        let pages = pool(.k4, pa: 0x8000_0000, blocks: false)
        var t = seed_tables()
        precondition(seed_init(&t, 12, 0, pages) == 0)
        precondition(seed_map(&t, 0, 0x8000_0000, gigabyte, attributes) == 0)
        let tableBytes = t.table_count << 12
        let start = Stage2Benchmark.now()
        var ipa: UInt64 = 0
        while ipa < gigabyte {
            seed_unmap(&t, ipa, 4096)
            ipa += 4096
        }
        let ns = Stage2Benchmark.elapsedNanoseconds(since: start)
        precondition(t.table_count == 1)
        seed_destroy(&t)
        return Stage2Benchmark.Sample(
            nanoseconds: Double(ns), operations: Int(gigabyte >> 12), tableBytes: tableBytes,
            hostBytes: pages << 12 + pages * 8, invalidations: 0)
    }

    static func walk() -> Stage2Benchmark.Sample {
        let pages = pool(.k4, pa: 0x8000_0000, blocks: false)
        var t = seed_tables()
        precondition(seed_init(&t, 12, 0, pages) == 0)
        precondition(seed_map(&t, 0, 0x8000_0000, gigabyte, attributes) == 0)
        let ipas = Stage2Benchmark.walkIPAs
        var sum: UInt64 = 0
        let start = Stage2Benchmark.now()
        for ipa in ipas { sum &+= seed_walk(&t, ipa) }
        let ns = Stage2Benchmark.elapsedNanoseconds(since: start)
        precondition(sum == Stage2Benchmark.walkSum, "the seed's walks gave wrong output addresses")
        let tableBytes = t.table_count << 12
        seed_destroy(&t)
        return Stage2Benchmark.Sample(
            nanoseconds: Double(ns), operations: Stage2Benchmark.walkCount, tableBytes: tableBytes,
            hostBytes: pages << 12 + pages * 8, invalidations: 0)
    }
}
