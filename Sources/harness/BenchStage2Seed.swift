import Stage2
import Stage2SeedBaseline

/// The same cases run on `Stage2SeedBaseline`, the seed's algorithm in C (see its header).
enum SeedBaselineBenchmark {
    static let gigabyte: UInt64 = 1 << 30
    /// Normal WB, S2AP RW, SH inner, AF — the seed's S2_MAP_RW.
    static let attributes: UInt64 = 0x3C | 0xC0 | 0x300 | 0x400

    static func median(_ xs: [UInt64]) -> UInt64 { Stage2Benchmark.useMinimum ? xs.min()! : xs.sorted()[xs.count / 2] }

    /// Returns (nsPerOp, totalMs, tableBytes) or nil for a case the seed cannot express.
    static func run(_ name: String, repetitions: Int) -> (nsPerOp: Double, totalMs: Double, tableBytes: UInt64)? {
        switch name {
        case "map-4k": return map(pageShift: 12, pa: 0x8000_0000, blocks: false, reps: repetitions)
        case "map-4k-blocks": return map(pageShift: 12, pa: 0x8000_0000, blocks: true, reps: repetitions)
        case "map-4k-2m-blocks": return map(pageShift: 12, pa: 0x8020_0000, blocks: true, reps: repetitions)
        case "map-64k": return map(pageShift: 16, pa: 0x8000_0000, blocks: false, reps: repetitions)
        case "unmap-4k": return unmap(reps: repetitions)
        case "walk-4k": return walk(reps: repetitions)
        default: return nil
        }
    }

    static func map(pageShift: UInt32, pa: UInt64, blocks: Bool, reps: Int) -> (Double, Double, UInt64) {
        var times: [UInt64] = []
        var tableBytes: UInt64 = 0
        let n = Stage2Benchmark.batch(blocks: blocks)   // same batching as the Swift cases
        for _ in 0..<max(1, reps) {
            var sets = [seed_tables](repeating: seed_tables(), count: n)
            for i in 0..<n { precondition(seed_init(&sets[i], pageShift, blocks ? 1 : 0) == 0) }
            let start = nowNanoseconds()
            for i in 0..<n { precondition(seed_map(&sets[i], 0, pa, gigabyte, attributes) == 0) }
            times.append(nowNanoseconds() - start)
            tableBytes = sets[0].table_count << UInt64(pageShift)
            for i in 0..<n { seed_destroy(&sets[i]) }
        }
        let m = median(times)
        let pages = Double(gigabyte >> UInt64(pageShift))
        return (Double(m) / pages / Double(n), Double(m) / 1e6 / Double(n), tableBytes)
    }

    static func unmap(reps: Int) -> (Double, Double, UInt64) {
        var times: [UInt64] = []
        var tableBytes: UInt64 = 0
        // The seed's unmap scans every entry of each table per call (≈ µs per page): one
        // repetition of the full 1 GiB is enough.
        for _ in 0..<1 {
            var t = seed_tables()
            precondition(seed_init(&t, 12, 0) == 0)
            precondition(seed_map(&t, 0, 0x8000_0000, gigabyte, attributes) == 0)
            tableBytes = t.table_count << 12
            let start = nowNanoseconds()
            var ipa: UInt64 = 0
            while ipa < gigabyte { seed_unmap(&t, ipa, 4096); ipa += 4096 }
            times.append(nowNanoseconds() - start)
            precondition(t.table_count == 1)
            seed_destroy(&t)
        }
        let m = median(times)
        return (Double(m) / Double(gigabyte >> 12), Double(m) / 1e6, tableBytes)
    }

    static func walk(reps: Int) -> (Double, Double, UInt64) {
        var t = seed_tables()
        precondition(seed_init(&t, 12, 0) == 0)
        precondition(seed_map(&t, 0, 0x8000_0000, gigabyte, attributes) == 0)
        var ipas: [UInt64] = []
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D   // same sequence as Stage2Benchmark.walkCase
        for _ in 0..<Stage2Benchmark.walkCount {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            ipas.append(rng & (gigabyte - 1))
        }
        var times: [UInt64] = []
        var sum: UInt64 = 0
        for _ in 0..<max(1, reps) {
            let start = nowNanoseconds()
            for ipa in ipas { sum &+= seed_walk(&t, ipa) }
            times.append(nowNanoseconds() - start)
        }
        precondition(sum != 0)
        let tableBytes = t.table_count << 12
        seed_destroy(&t)
        let m = median(times)
        return (Double(m) / Double(Stage2Benchmark.walkCount), Double(m) / 1e6, tableBytes)
    }
}
