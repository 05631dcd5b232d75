import AArch64
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `harness bench stage2` cases, run inside this module so the generic table code is
/// specialised for `ByteBufferTableMemory` and `CountingTLB` (no unspecialised generics in
/// the hot loops).
public enum Stage2Benchmark {
    public struct Result: Sendable {
        public var name: String
        /// Nanoseconds per operation (per 4K/64K page of the range, per unmap call, per walk).
        public var nsPerOp: Double
        /// Milliseconds for the whole case (median repetition).
        public var totalMs: Double
        /// Table bytes in use after the case's build (pages the architecture needs).
        public var tableBytes: UInt64
        /// Host bytes the table set used: the pool buffer plus bookkeeping.
        public var hostBytes: UInt64
        public var operations: Int
        /// TLB invalidations issued during the timed part.
        public var invalidations: Int
    }

    public static let caseNames = ["map-4k", "map-4k-blocks", "map-4k-2m-blocks", "map-64k", "unmap-4k", "walk-4k"]
    public static let gigabyte: UInt64 = 1 << 30
    public static let walkCount = 1_000_000

    /// How repetitions are summarised: the median (default) or the minimum (the least
    /// disturbed run, for a machine shared with other work).
    nonisolated(unsafe) public static var useMinimum = false

    public static func run(_ name: String, repetitions: Int = 5) -> Result? {
        switch name {
        case "map-4k": return mapCase(name, .k4, pa: 0x8000_0000, blocks: false, reps: repetitions)
        case "map-4k-blocks": return mapCase(name, .k4, pa: 0x8000_0000, blocks: true, reps: repetitions)
        case "map-4k-2m-blocks": return mapCase(name, .k4, pa: 0x8020_0000, blocks: true, reps: repetitions)
        case "map-64k": return mapCase(name, .k64, pa: 0x8000_0000, blocks: false, reps: repetitions)
        case "unmap-4k": return unmapCase(reps: repetitions)
        case "walk-4k": return walkCase(reps: repetitions)
        default: return nil
        }
    }

    /// Pool for 1 GiB of pages: the tables it needs plus a few spare pages.
    static func makeTables(_ g: Granule, blocks: Bool) -> Stage2Tables<ByteBufferTableMemory> {
        // Exactly the pages 1 GiB of pages needs: the leaf tables, the root, and a level-2
        // table when the root is above level 2.
        // (With blocks the leaf tables are not needed: 1 GiB is blocks at level 1 or 2.)
        let geometry = try! Stage2Geometry(granule: g, ipaBits: 40)
        let leafTables = blocks ? 0 : Int(gigabyte >> UInt64(g.entryShift(atLevel: 2)))
        let pages = UInt64(leafTables + geometry.concatenatedTables + (geometry.startLevel < 2 ? 1 : 0))
        let base = PhysicalAddress(0x4000_0000)
        let memory = ByteBufferTableMemory(base: base, size: pages * g.bytes)
        return try! Stage2Tables(configuration: Stage2Configuration(granule: g, ipaBits: 40, vmid: 1, blocks: blocks),
                                 memory: memory, poolBase: base, poolBytes: pages * g.bytes)
    }

    static func median(_ xs: [UInt64]) -> UInt64 { useMinimum ? xs.min()! : xs.sorted()[xs.count / 2] }

    /// Table sets built per timed region: the block cases write a handful of descriptors,
    /// far below the clock's resolution (a clock read costs ~0.4 µs in a VM), so they build
    /// into many prepared table sets per measurement.
    public static func batch(blocks: Bool) -> Int { blocks ? 256 : 1 }

    static func mapCase(_ name: String, _ g: Granule, pa: UInt64, blocks: Bool, reps: Int) -> Result {
        var times: [UInt64] = []
        var tableBytes: UInt64 = 0, host: UInt64 = 0
        var tlb = CountingTLB()
        let n = batch(blocks: blocks)
        for _ in 0..<max(1, reps) {
            var sets = (0..<n).map { _ in makeTables(g, blocks: blocks) }
            let start = nowNanoseconds()
            for i in 0..<n {
                try! sets[i].map(ipa: IPA(0), pa: PhysicalAddress(pa), size: gigabyte, attributes: .normalRWX, tlb: &tlb)
            }
            times.append(nowNanoseconds() - start)
            tableBytes = sets[0].tableBytesInUse
            host = sets[0].memory.size + UInt64(sets[0].bookkeepingBytes)
        }
        let ops = Int(gigabyte / g.bytes)
        let m = median(times)
        return Result(name: name, nsPerOp: Double(m) / Double(ops * n), totalMs: Double(m) / 1e6 / Double(n), tableBytes: tableBytes,
                      hostBytes: host, operations: ops, invalidations: tlb.invalidationCount)
    }

    static func unmapCase(reps: Int) -> Result {
        var times: [UInt64] = []
        var tableBytes: UInt64 = 0, host: UInt64 = 0, invalidations = 0
        let ops = Int(gigabyte / 4096)
        for _ in 0..<max(1, reps) {
            var t = makeTables(.k4, blocks: false)
            var setup = CountingTLB()
            try! t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: gigabyte, attributes: .normalRWX, tlb: &setup)
            tableBytes = t.tableBytesInUse
            var tlb = CountingTLB()
            let start = nowNanoseconds()
            var ipa: UInt64 = 0
            while ipa < gigabyte {
                try! t.unmap(ipa: IPA(ipa), size: 4096, tlb: &tlb)
                ipa += 4096
            }
            times.append(nowNanoseconds() - start)
            precondition(t.tablePages == t.geometry.concatenatedTables, "unmap left tables behind")
            host = t.memory.size + UInt64(t.bookkeepingBytes)
            invalidations = tlb.invalidationCount
        }
        let m = median(times)
        return Result(name: "unmap-4k", nsPerOp: Double(m) / Double(ops), totalMs: Double(m) / 1e6, tableBytes: tableBytes,
                      hostBytes: host, operations: ops, invalidations: invalidations)
    }

    static func walkCase(reps: Int) -> Result {
        var t = makeTables(.k4, blocks: false)
        var setup = CountingTLB()
        try! t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: gigabyte, attributes: .normalRWX, tlb: &setup)
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        var ipas: [UInt64] = []
        ipas.reserveCapacity(walkCount)
        for _ in 0..<walkCount {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            ipas.append(rng & (gigabyte - 1))
        }
        var times: [UInt64] = []
        var sum: UInt64 = 0
        for _ in 0..<max(1, reps) {
            let start = nowNanoseconds()
            for ipa in ipas {
                if case .translation(let tr) = t.walk(IPA(ipa)) { sum &+= tr.outputAddress.rawValue }
            }
            times.append(nowNanoseconds() - start)
        }
        precondition(sum != 0)
        let m = median(times)
        return Result(name: "walk-4k", nsPerOp: Double(m) / Double(walkCount), totalMs: Double(m) / 1e6, tableBytes: t.tableBytesInUse,
                      hostBytes: t.memory.size + UInt64(t.bookkeepingBytes), operations: walkCount, invalidations: 0)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always) public func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
