import AArch64

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `harness bench stage2` cases, run inside this module so the generic table code is
/// specialised for `ByteBufferTableMemory` and `CountingTLB` (no unspecialised generics in
/// the hot loops). One call of `measure` is one repetition: the caller alternates it with the
/// baseline's and summarises both the same way.
public enum Stage2Benchmark {
    /// One repetition of a case.
    public struct Sample: Sendable {
        /// Nanoseconds of the timed part, per table set (the block cases time a batch).
        public var nanoseconds: Double
        /// Operations the timed part made per table set: pages of the range, unmap calls, walks.
        public var operations: Int
        /// Table bytes in use after the case's build (pages the architecture needs).
        public var tableBytes: UInt64
        /// Host bytes the table set used: the pool buffer plus bookkeeping.
        public var hostBytes: UInt64
        /// TLB invalidations issued during the timed part.
        public var invalidations: Int
        public var nsPerOp: Double { nanoseconds / Double(operations) }
        public init(nanoseconds: Double, operations: Int, tableBytes: UInt64, hostBytes: UInt64, invalidations: Int) {
            self.nanoseconds = nanoseconds
            self.operations = operations
            self.tableBytes = tableBytes
            self.hostBytes = hostBytes
            self.invalidations = invalidations
        }
    }

    public static let caseNames = ["map-4k", "map-4k-blocks", "map-4k-2m-blocks", "map-64k", "unmap-4k", "walk-4k"]
    public static let gigabyte: UInt64 = 1 << 30
    public static let walkCount = 1_000_000
    /// The seed's fixed layout (VA_BITS = 48): 4K starts at level 0, 64K at level 1.
    public static let baselineIPABits = 48
    /// The harness's own default geometry (40-bit IPA: 4K from a concatenated level-1 root).
    public static let defaultIPABits = 40

    /// What one timed region pays for its two clock reads: the least time between two
    /// back-to-back `nowNanoseconds()` (the thread CPU clock is a system call, ≈ 0.5 µs in a VM:
    /// 0.03 ns per page of the 4.3 µs map-64k region at 40 bits).
    public static let clockOverheadNanoseconds: UInt64 = {
        var best = UInt64.max
        for _ in 0..<1000 {
            let a = nowNanoseconds()
            best = min(best, nowNanoseconds() - a)
        }
        return best
    }()

    /// The benchmark clock (`nowNanoseconds`, thread CPU time), by a name no other module's
    /// `nowNanoseconds` can shadow: both sides start their regions with it.
    @inline(__always) public static func now() -> UInt64 { nowNanoseconds() }

    /// Nanoseconds since `start` (a `now()` reading), less the clock's own cost. Both sides of
    /// the benchmark end their regions with it.
    @inline(__always) public static func elapsedNanoseconds(since start: UInt64) -> UInt64 {
        let ns = nowNanoseconds() - start
        return ns > clockOverheadNanoseconds ? ns - clockOverheadNanoseconds : 0
    }

    /// The granule, output address and blocks setting of a map case (nil for other cases).
    public static func mapParameters(_ name: String) -> (granule: Granule, pageShift: UInt32, pa: UInt64, blocks: Bool)? {
        switch name {
        case "map-4k": (.k4, 12, 0x8000_0000, false)
        case "map-4k-blocks": (.k4, 12, 0x8000_0000, true)
        case "map-4k-2m-blocks": (.k4, 12, 0x8020_0000, true)
        case "map-64k": (.k64, 16, 0x8000_0000, false)
        default: nil
        }
    }

    /// What one operation of case `name` is: a page of the range for the page cases, one map
    /// call of the whole range for the block cases (a handful of descriptors, however large).
    public static func unit(_ name: String) -> String {
        if let m = mapParameters(name) { return m.blocks ? "map call" : "page" }
        return name.hasPrefix("unmap") ? "unmap call" : "walk"
    }

    /// Operations per table set of a map case (see `unit`).
    public static func mapOperations(_ g: Granule, blocks: Bool) -> Int { blocks ? 1 : Int(gigabyte / g.bytes) }

    /// One repetition of case `name` with an `ipaBits` IPA space.
    public static func measure(_ name: String, ipaBits: Int) -> Sample? {
        if let m = mapParameters(name) { return mapCase(m.granule, pa: m.pa, blocks: m.blocks, ipaBits: ipaBits) }
        switch name {
        case "unmap-4k": return unmapCase(ipaBits: ipaBits)
        case "walk-4k": return walkCase(ipaBits: ipaBits)
        default: return nil
        }
    }

    /// The pages mapping 1 GiB at IPA 0 → `pa` needs: the root, and per level below it the
    /// tables down to the leaf level (the lowest level when blocks are off, else the first
    /// level whose block `pa` and the 1 GiB range are aligned to).
    public static func tablePages(_ g: Granule, ipaBits: Int, pa: UInt64, blocks: Bool) -> Int {
        let geometry = try! Stage2Geometry(granule: g, ipaBits: ipaBits)
        var leaf = 3
        if blocks {
            for l in geometry.startLevel...3 where g.blockAllowed(atLevel: l) {
                let span: UInt64 = 1 << UInt64(g.entryShift(atLevel: l))
                if span <= gigabyte && pa % span == 0 {
                    leaf = l
                    break
                }
            }
        }
        var pages = geometry.concatenatedTables
        if geometry.startLevel < leaf {
            for l in (geometry.startLevel + 1)...leaf { pages += max(1, Int(gigabyte >> UInt64(g.entryShift(atLevel: l - 1)))) }
        }
        return pages
    }

    /// A pool of exactly the pages 1 GiB needs (`tablePages`), allocated and zeroed (so
    /// pre-faulted) before any clock runs.
    static func makeTables(_ g: Granule, ipaBits: Int, pa: UInt64, blocks: Bool) -> Stage2Tables<ByteBufferTableMemory> {
        let pages = UInt64(tablePages(g, ipaBits: ipaBits, pa: pa, blocks: blocks))
        let base = PhysicalAddress(0x4000_0000)
        let memory = ByteBufferTableMemory(base: base, size: pages * g.bytes)
        return try! Stage2Tables(
            configuration: Stage2Configuration(granule: g, ipaBits: ipaBits, vmid: 1, blocks: blocks),
            memory: memory, poolBase: base, poolBytes: pages * g.bytes)
    }

    /// Table sets built per timed region: the block cases write a handful of descriptors,
    /// far below the clock's resolution (a clock read costs ~0.4 µs in a VM), so they build
    /// into many prepared table sets per measurement.
    public static func batch(blocks: Bool) -> Int { blocks ? 256 : 1 }

    static func mapCase(_ g: Granule, pa: UInt64, blocks: Bool, ipaBits: Int) -> Sample {
        var tlb = CountingTLB()
        let n = batch(blocks: blocks)
        var sets = (0..<n).map { _ in makeTables(g, ipaBits: ipaBits, pa: pa, blocks: blocks) }
        let attributes = Stage2Attributes.normalRWX  // the C side takes a constant too
        let start = nowNanoseconds()
        for i in 0..<n {
            try! sets[i].map(ipa: IPA(0), pa: PhysicalAddress(pa), size: gigabyte, attributes: attributes, tlb: &tlb)
        }
        let ns = elapsedNanoseconds(since: start)
        return Sample(
            nanoseconds: Double(ns) / Double(n), operations: mapOperations(g, blocks: blocks), tableBytes: sets[0].tableBytesInUse,
            hostBytes: sets[0].memory.size + UInt64(sets[0].bookkeepingBytes), invalidations: tlb.invalidationCount)
    }

    static func unmapCase(ipaBits: Int) -> Sample {
        var t = makeTables(.k4, ipaBits: ipaBits, pa: 0x8000_0000, blocks: false)
        var setup = CountingTLB()
        try! t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: gigabyte, attributes: .normalRWX, tlb: &setup)
        let tableBytes = t.tableBytesInUse
        var tlb = CountingTLB()
        let start = nowNanoseconds()
        var ipa: UInt64 = 0
        while ipa < gigabyte {
            try! t.unmap(ipa: IPA(ipa), size: 4096, tlb: &tlb)
            ipa += 4096
        }
        let ns = elapsedNanoseconds(since: start)
        precondition(t.tablePages == t.geometry.concatenatedTables, "unmap left tables behind")
        return Sample(
            nanoseconds: Double(ns), operations: Int(gigabyte / 4096), tableBytes: tableBytes,
            hostBytes: t.memory.size + UInt64(t.bookkeepingBytes), invalidations: tlb.invalidationCount)
    }

    /// The random IPAs both walk cases use (xorshift64, same seed on both sides).
    public static let walkIPAs: [UInt64] = {
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        return (0..<walkCount).map { _ in
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            return rng & (gigabyte - 1)
        }
    }()

    /// The sum of the output addresses the walks must give (IPA x maps to PA 0x80000000 + x).
    public static let walkSum: UInt64 = walkIPAs.reduce(0) { $0 &+ 0x8000_0000 &+ $1 }

    /// The timed loop, a function of its own: inside the (large) case function the optimizer
    /// stopped inlining the walk into it.
    @inline(never)
    static func walkAll(_ t: Stage2Tables<ByteBufferTableMemory>, _ ipas: [UInt64]) -> UInt64 {
        var sum: UInt64 = 0
        for ipa in ipas {
            if case .translation(let tr) = t.walk(IPA(ipa)) { sum &+= tr.outputAddress.rawValue }
        }
        return sum
    }

    static func walkCase(ipaBits: Int) -> Sample {
        var t = makeTables(.k4, ipaBits: ipaBits, pa: 0x8000_0000, blocks: false)
        var setup = CountingTLB()
        try! t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: gigabyte, attributes: .normalRWX, tlb: &setup)
        let ipas = walkIPAs
        let start = nowNanoseconds()
        let sum = walkAll(t, ipas)
        let ns = elapsedNanoseconds(since: start)
        precondition(sum == walkSum, "the walks gave wrong output addresses")
        return Sample(
            nanoseconds: Double(ns), operations: walkCount, tableBytes: t.tableBytesInUse,
            hostBytes: t.memory.size + UInt64(t.bookkeepingBytes), invalidations: 0)
    }
}

/// The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID): on a machine shared
/// with other work, time the thread spends descheduled does not count. Both sides of the
/// benchmark are timed with it.
@inline(__always) public func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
