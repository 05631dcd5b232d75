import AArch64

@testable import Stage2

/// SplitMix64: a small deterministic generator so a failing seed replays exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The independent model: a plain sorted list of non-overlapping IPA intervals, each mapped
/// linearly to output addresses with one set of attributes.
struct IntervalModel {
    struct Segment: Equatable {
        var start: UInt64
        var end: UInt64
        var pa: UInt64
        var attributes: Stage2Attributes
    }
    var segments: [Segment] = []

    /// Remove [s, e) and return the removed pieces.
    @discardableResult
    mutating func remove(_ s: UInt64, _ e: UInt64) -> [Segment] {
        var kept: [Segment] = []
        var removed: [Segment] = []
        for seg in segments {
            if seg.end <= s || seg.start >= e {
                kept.append(seg)
                continue
            }
            if seg.start < s { kept.append(Segment(start: seg.start, end: s, pa: seg.pa, attributes: seg.attributes)) }
            if seg.end > e { kept.append(Segment(start: e, end: seg.end, pa: seg.pa + (e - seg.start), attributes: seg.attributes)) }
            let a = max(s, seg.start)
            let b = min(e, seg.end)
            removed.append(Segment(start: a, end: b, pa: seg.pa + (a - seg.start), attributes: seg.attributes))
        }
        segments = kept.sorted { $0.start < $1.start }
        return removed
    }
    mutating func map(_ s: UInt64, _ e: UInt64, pa: UInt64, _ a: Stage2Attributes) {
        remove(s, e)
        segments.append(Segment(start: s, end: e, pa: pa, attributes: a))
        segments.sort { $0.start < $1.start }
    }
    mutating func protect(_ s: UInt64, _ e: UInt64, _ a: Stage2Attributes) {
        let pieces = remove(s, e)
        for var p in pieces {
            p.attributes = a
            segments.append(p)
        }
        segments.sort { $0.start < $1.start }
    }
    func lookup(_ ipa: UInt64) -> (pa: UInt64, attributes: Stage2Attributes)? {
        for s in segments where s.start <= ipa && ipa < s.end { return (s.pa + (ipa - s.start), s.attributes) }
        return nil
    }
}

func makeTables(
    _ granule: Granule, ipaBits: Int, blocks: Bool = true, startLevel: Int? = nil, outputBits: Int? = nil,
    poolBase: UInt64 = 0x4000_0000, poolPages: Int = 256, vmid: UInt16 = 1
) throws -> Stage2Tables<ByteBufferTableMemory> {
    let bytes = UInt64(poolPages) * granule.bytes
    let memory = ByteBufferTableMemory(base: PhysicalAddress(poolBase), size: bytes)
    return try Stage2Tables(
        configuration: Stage2Configuration(
            granule: granule, ipaBits: ipaBits, vmid: vmid, startLevel: startLevel,
            outputBits: outputBits, blocks: blocks),
        memory: memory, poolBase: PhysicalAddress(poolBase), poolBytes: bytes)
}

/// Checks break-before-make online, as the writes happen. It tracks which table pages are
/// reachable from the root (and at which level); writes into unreachable pages (tables being
/// built) are free. In reachable pages: (1) no entry changes valid→valid in one write;
/// (2) an entry broken (valid→invalid) is not made valid again before the next invalidation
/// batch; (3) a table page whose link was broken is not written (or reused) before the next
/// batch; (4) batches are never empty.
final class BBMChecker {
    let granule: Granule
    var linked: [UInt64: Int] = [:]  // page → level
    var broken = Set<UInt64>()
    var unlinkedPending = Set<UInt64>()
    var violations: [String] = []
    var batches: [[TLBInvalidation]] = []
    var writes = 0

    init(granule: Granule, root: UInt64, rootBytes: UInt64, startLevel: Int) {
        self.granule = granule
        var p = root
        while p < root + rootBytes {
            linked[p] = startLevel
            p += granule.bytes
        }
    }
    func note(_ s: String) { if violations.count < 20 { violations.append(s) } }
    func page(_ a: UInt64) -> UInt64 { a & ~(granule.bytes - 1) }

    func link(_ table: UInt64, level: Int, memory: ByteBufferTableMemory) {
        linked[table] = level
        guard level < 3 else { return }
        for i in 0..<UInt64(granule.entriesPerTable) {
            let d = memory.readDescriptor(at: PhysicalAddress(table + i * 8))
            if d & 3 == 3 { link(d & Stage2Descriptor.addressMask(granule), level: level + 1, memory: memory) }
        }
    }
    func unlink(_ table: UInt64, memory: ByteBufferTableMemory) {
        guard let level = linked.removeValue(forKey: table) else { return }
        unlinkedPending.insert(table)
        guard level < 3 else { return }
        for i in 0..<UInt64(granule.entriesPerTable) {
            let d = memory.readDescriptor(at: PhysicalAddress(table + i * 8))
            if d & 3 == 3 { unlink(d & Stage2Descriptor.addressMask(granule), memory: memory) }
        }
    }

    func write(_ new: UInt64, at a: UInt64, memory: ByteBufferTableMemory) {
        writes += 1
        let old = memory.readDescriptor(at: PhysicalAddress(a))
        let hexA = "0x" + String(a, radix: 16)
        if unlinkedPending.contains(page(a)) { note("write into table page \(hexA) unlinked but not yet invalidated") }
        guard let level = linked[page(a)] else { return }
        if old & 1 != 0 && new & 1 != 0 && old != new {
            note("valid→valid write at \(hexA): 0x\(String(old, radix: 16)) → 0x\(String(new, radix: 16))")
        }
        if new & 1 != 0 && broken.contains(a) { note("entry \(hexA) made valid again before any invalidation") }
        if old & 1 != 0 && new & 1 == 0 {
            broken.insert(a)
            if level < 3 && old & 3 == 3 { unlink(old & Stage2Descriptor.addressMask(granule), memory: memory) }
        }
        if level < 3 && new & 3 == 3 { link(new & Stage2Descriptor.addressMask(granule), level: level + 1, memory: memory) }
    }
    func invalidate(_ batch: [TLBInvalidation]) {
        if batch.isEmpty { note("empty invalidation batch") }
        batches.append(batch)
        broken.removeAll()
        unlinkedPending.removeAll()
    }
}

final class CheckedMemory: TableMemory {
    let inner: ByteBufferTableMemory
    var checker: BBMChecker?
    init(inner: ByteBufferTableMemory) { self.inner = inner }
    func readDescriptor(at pa: PhysicalAddress) -> UInt64 { inner.readDescriptor(at: pa) }
    func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress) {
        checker?.write(value, at: pa.rawValue, memory: inner)
        inner.writeDescriptor(value, at: pa)
    }
    func isBacked(_ pa: PhysicalAddress) -> Bool { inner.isBacked(pa) }
}

struct CheckedTLB: TLBMaintenance {
    let checker: BBMChecker
    mutating func invalidate(_ batch: [TLBInvalidation]) throws { checker.invalidate(batch) }
}

/// Tables over a `CheckedMemory` with the checker attached after the root exists.
func makeCheckedTables(
    _ granule: Granule, ipaBits: Int, blocks: Bool = true, startLevel: Int? = nil,
    poolPages: Int = 256, outputBits: Int? = nil, lpa2: Bool = false
) throws -> (Stage2Tables<CheckedMemory>, BBMChecker) {
    let base: UInt64 = 0x4000_0000
    let bytes = UInt64(poolPages) * granule.bytes
    let memory = CheckedMemory(inner: ByteBufferTableMemory(base: PhysicalAddress(base), size: bytes))
    let t = try Stage2Tables(
        configuration: Stage2Configuration(
            granule: granule, ipaBits: ipaBits, vmid: 1, startLevel: startLevel, outputBits: outputBits, blocks: blocks,
            lpa2: lpa2),
        memory: memory, poolBase: PhysicalAddress(base), poolBytes: bytes)
    let checker = BBMChecker(
        granule: granule, root: t.rootAddress.rawValue, rootBytes: t.geometry.rootBytes, startLevel: t.geometry.startLevel)
    memory.checker = checker
    return (t, checker)
}
