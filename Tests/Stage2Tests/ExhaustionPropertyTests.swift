import AArch64
import Testing

@testable import Stage2

/// Random operations on a pool too small for many of them: every refused operation must leave
/// the table bytes exactly as they were and issue no TLB maintenance, and the tables must keep
/// agreeing with the model (which only applies the operations that succeeded).
struct ExhaustionPropertyTests {
    static let seed: UInt64 = 0x0E_4A05_7ED0_0001

    @Test(arguments: [(Granule.k4, 40), (.k16, 40), (.k64, 42), (.k4, 48)])
    func refusedOperationsChangeNothing(_ g: Granule, _ ipaBits: Int) throws {
        print("ExhaustionPropertyTests seed 0x\(String(Self.seed, radix: 16)) \(g) \(ipaBits)-bit")
        var rng = SplitMix64(seed: Self.seed ^ UInt64(g.pageShift) ^ UInt64(ipaBits) << 8)
        let rootPages = try Stage2Geometry(granule: g, ipaBits: ipaBits).concatenatedTables
        var tables = try makeTables(g, ipaBits: ipaBits, poolPages: rootPages + 5)
        var tlb = RecordingTLB()
        var model = IntervalModel()
        let block = UInt64(1) << UInt64(g.entryShift(atLevel: 2))
        let window = block * 8
        var refused = 0
        var done = 0
        for step in 0..<150 {
            var start = (rng.next() % (window / g.bytes)) * g.bytes
            if rng.next() % 2 == 0 { start &= ~(block - 1) }
            let size = min(rng.next() % 3 == 0 ? block : (1 + rng.next() % 8) * g.bytes, window - start)
            let before = tables.memory.bytes
            let batchesBefore = tlb.batches.count
            let a = Stage2Attributes(permissions: rng.next() % 2 == 0 ? .rwx : [.read])
            do {
                switch rng.next() % 3 {
                case 0:
                    let pa = 0x8000_0000 + (rng.next() % 2 == 0 ? start : start + g.bytes)
                    try tables.map(ipa: IPA(start), pa: PhysicalAddress(pa), size: size, attributes: a, tlb: &tlb)
                    model.map(start, start + size, pa: pa, a)
                case 1:
                    try tables.unmap(ipa: IPA(start), size: size, tlb: &tlb)
                    model.remove(start, start + size)
                default:
                    try tables.protect(ipa: IPA(start), size: size, attributes: a, tlb: &tlb)
                    model.protect(start, start + size, a)
                }
                done += 1
            } catch {
                guard case .poolExhausted = error else { throw error }
                refused += 1
                #expect(tables.memory.bytes == before, "\(g) step \(step): a refused operation wrote to the tables")
                #expect(tlb.batches.count == batchesBefore, "\(g) step \(step): a refused operation issued TLB maintenance")
            }
            var probes: [UInt64] = [start, start + size - g.bytes, start &- g.bytes, start + size]
            for _ in 0..<8 { probes.append((rng.next() % (window / g.bytes)) * g.bytes) }
            for probe in probes where probe < window {
                let r = tables.walk(IPA(probe))
                if let e = model.lookup(probe) {
                    #expect(r.translation?.outputAddress.rawValue == e.pa, "\(g) step \(step) 0x\(String(probe, radix: 16)): \(r)")
                } else {
                    #expect(r.fault?.kind == .translation, "\(g) step \(step) 0x\(String(probe, radix: 16)): \(r)")
                }
            }
        }
        // The run must have exercised both outcomes.
        #expect(refused > 0 && done > 0, "refused \(refused), done \(done)")
    }
}
