import AArch64
import Testing

@testable import Stage2

/// Random op sequences, checked page by page against `IntervalModel`.
struct PropertyTests {
    static let seed: UInt64 = 0x5EED_0005_7A6E_0002

    struct Case: CustomStringConvertible, Sendable {
        var granule: Granule
        var ipaBits: Int
        var blocks: Bool
        var startLevel: Int?
        /// 52: a 52-bit descriptor format (FEAT_LPA for 64K, FEAT_LPA2 with `lpa2`), and
        /// output addresses from `paBase` up, with OA[51:48] ≠ 0.
        var outputBits: Int? = nil
        var lpa2 = false
        var paBase: UInt64 = 0x8000_0000
        var description: String {
            var s = "\(granule) \(ipaBits)-bit blocks=\(blocks) start=\(startLevel.map(String.init) ?? "default")"
            if let o = outputBits { s += " PS=\(o)\(lpa2 ? " DS" : "") PA 0x\(String(paBase, radix: 16))" }
            return s
        }
    }
    static let cases: [Case] = [
        Case(granule: .k4, ipaBits: 40, blocks: true, startLevel: nil),
        Case(granule: .k4, ipaBits: 32, blocks: true, startLevel: nil),
        Case(granule: .k4, ipaBits: 48, blocks: true, startLevel: nil),
        Case(granule: .k4, ipaBits: 40, blocks: false, startLevel: 0),
        Case(granule: .k4, ipaBits: 39, blocks: true, startLevel: 1),
        Case(granule: .k16, ipaBits: 40, blocks: true, startLevel: nil),
        Case(granule: .k16, ipaBits: 47, blocks: true, startLevel: nil),
        Case(granule: .k16, ipaBits: 40, blocks: false, startLevel: 1),
        Case(granule: .k64, ipaBits: 42, blocks: true, startLevel: nil),
        Case(granule: .k64, ipaBits: 48, blocks: true, startLevel: nil),
        Case(granule: .k64, ipaBits: 32, blocks: true, startLevel: 3),
        Case(granule: .k64, ipaBits: 36, blocks: false, startLevel: nil),
        // 52-bit output addresses: every bit of OA[51:48] (and OA[51:50] for LPA2) in use.
        Case(granule: .k64, ipaBits: 42, blocks: true, startLevel: nil, outputBits: 52, paBase: 0xF_0000_8000_0000),
        Case(granule: .k64, ipaBits: 48, blocks: true, startLevel: nil, outputBits: 52, paBase: 0x5_0000_0000_0000),
        Case(granule: .k4, ipaBits: 40, blocks: true, startLevel: nil, outputBits: 52, lpa2: true, paBase: 0xD_0000_8000_0000),
        Case(granule: .k4, ipaBits: 48, blocks: true, startLevel: nil, outputBits: 52, lpa2: true, paBase: 0x3_0000_0000_0000),
        Case(granule: .k16, ipaBits: 40, blocks: true, startLevel: nil, outputBits: 52, lpa2: true, paBase: 0xC_0000_0000_0000),
        Case(granule: .k16, ipaBits: 47, blocks: false, startLevel: nil, outputBits: 52, lpa2: true, paBase: 0xE_0000_4000_0000),
    ]

    @Test(arguments: cases)
    func randomOperationsMatchModel(_ c: Case) throws {
        var rng = SplitMix64(seed: Self.seed ^ UInt64(c.ipaBits) ^ (UInt64(c.granule.pageShift) << 8) ^ UInt64(c.startLevel ?? 9) << 16)
        print("PropertyTests seed 0x\(String(Self.seed, radix: 16)) case \(c)")
        let g = c.granule
        var (tables, checker) = try makeCheckedTables(
            g, ipaBits: c.ipaBits, blocks: c.blocks, startLevel: c.startLevel, poolPages: 4096, outputBits: c.outputBits, lpa2: c.lpa2)
        var tlb = CheckedTLB(checker: checker)
        var model = IntervalModel()
        let limit: UInt64 = 1 << UInt64(c.ipaBits)
        // Units: page, the level-2 block and (4K) the level-1 block, and a contiguous group.
        var units: [UInt64] = [g.bytes, g.bytes * 16, 1 << UInt64(g.entryShift(atLevel: 2))]
        if g == .k4 { units.append(1 << 30) }
        let window: UInt64 = min(limit, units.max()! * 4)
        let permissionsChoices: [Stage2Permissions] = [
            .rwx, [.read], [.read, .write], [], [.execute], [.read, .executeEL1], [.write, .executeEL0],
        ]
        let memories: [Stage2MemoryType] = [.normal, .deviceNGnRE, .deviceNGnRnE]
        var opsDone = 0
        for step in 0..<70 {
            let unit = units[Int(rng.next() % UInt64(units.count))]
            let top = rng.next() % 5 == 0  // sometimes near the top of the IPA space
            let base: UInt64 = top ? limit - window : 0
            var start = base + (rng.next() % (window / unit)) * unit
            if rng.next() % 3 == 0 { start += (rng.next() % 8) * g.bytes }
            var size = (1 + rng.next() % 2) * unit
            if rng.next() % 3 == 0 { size += (rng.next() % 4) * g.bytes }
            if rng.next() % 4 == 0 { size = (1 + rng.next() % 40) * g.bytes }
            if start >= limit { start = limit - g.bytes }
            size = min(size, limit - start)
            let kind = rng.next() % 10
            let attributes = Stage2Attributes(
                permissions: permissionsChoices[Int(rng.next() % UInt64(permissionsChoices.count))],
                memory: memories[Int(rng.next() % 3)], accessFlag: rng.next() % 8 != 0,
                contiguous: rng.next() % 3 == 0)
            do {
                if kind < 5 {
                    var pa = (rng.next() % 64) * units.max()! + c.paBase
                    if rng.next() % 2 == 0 { pa += (start % units.max()!) }  // same alignment as the IPA: blocks possible
                    if rng.next() % 3 == 0 { pa += (rng.next() % 4) * g.bytes }
                    try tables.map(ipa: IPA(start), pa: PhysicalAddress(pa), size: size, attributes: attributes, tlb: &tlb)
                    var a = attributes
                    a.contiguous = false
                    model.map(start, start + size, pa: pa, a)
                } else if kind < 8 {
                    try tables.unmap(ipa: IPA(start), size: size, tlb: &tlb)
                    model.remove(start, start + size)
                } else if kind == 8 {
                    var a = attributes
                    a.contiguous = false
                    try tables.protect(ipa: IPA(start), size: size, attributes: a, tlb: &tlb)
                    model.protect(start, start + size, a)
                } else {
                    let p = attributes.permissions
                    try tables.protect(ipa: IPA(start), size: size, permissions: p, tlb: &tlb)
                    for s in model.remove(start, start + size) {
                        var a = s.attributes
                        a.permissions = p
                        model.map(s.start, s.end, pa: s.pa, a)
                    }
                }
                opsDone += 1
            } catch {
                Issue.record("\(c) step \(step): unexpected error \(error)")
                return
            }
            // Boundary pages of this op and of every model segment, plus random pages.
            var probes: [UInt64] = [start, start + size - g.bytes, start &- g.bytes, start + size]
            for s in model.segments { probes += [s.start, s.end - g.bytes, s.end, s.start &- g.bytes] }
            for _ in 0..<24 { probes.append(base + (rng.next() % (window / g.bytes)) * g.bytes + rng.next() % g.bytes) }
            for ipa in probes where ipa < limit {
                let r = tables.walk(IPA(ipa), access: .read)
                let expected = model.lookup(ipa)
                switch (r, expected) {
                case (.fault(let f), nil):
                    #expect(f.kind == .translation, "\(c) step \(step) IPA 0x\(String(ipa, radix: 16)): \(f)")
                case (.translation(let tr), let e?):
                    var got = tr.attributes
                    got.contiguous = false
                    #expect(
                        tr.outputAddress.rawValue == e.pa && got == e.attributes,
                        "\(c) step \(step) IPA 0x\(String(ipa, radix: 16)): walker \(tr.outputAddress) \(got), model 0x\(String(e.pa, radix: 16)) \(e.attributes)"
                    )
                    // Every access kind is allowed exactly when the model's permissions say so.
                    let kinds: [(Stage2Access, Stage2Permissions)] = [(.write, .write), (.fetchEL1, .executeEL1), (.fetchEL0, .executeEL0)]
                    for (access, bit) in kinds {
                        let allowed = tables.walk(IPA(ipa), access: access).translation != nil
                        #expect(
                            allowed == e.attributes.permissions.contains(bit), "\(c) step \(step) IPA 0x\(String(ipa, radix: 16)) \(access)"
                        )
                    }
                case (.fault(let f), let e?):
                    // Faults the attributes themselves provoke (AF = 0, no read permission) are right.
                    let ok =
                        (f.kind == .accessFlag && !e.attributes.accessFlag)
                        || (f.kind == .permission && e.attributes.accessFlag && !e.attributes.permissions.contains(.read))
                    #expect(ok, "\(c) step \(step) IPA 0x\(String(ipa, radix: 16)): walker \(f), model mapped 0x\(String(e.pa, radix: 16))")
                    if e.attributes.accessFlag {
                        let kinds: [(Stage2Access, Stage2Permissions)] = [
                            (.write, .write), (.fetchEL1, .executeEL1), (.fetchEL0, .executeEL0),
                        ]
                        for (access, bit) in kinds {
                            let r = tables.walk(IPA(ipa), access: access)
                            #expect(
                                (r.translation?.outputAddress.rawValue == e.pa) == e.attributes.permissions.contains(bit),
                                "\(c) step \(step) IPA 0x\(String(ipa, radix: 16)) \(access): \(r)")
                        }
                    }
                case (.translation(let tr), nil):
                    Issue.record("\(c) step \(step) IPA 0x\(String(ipa, radix: 16)): walker maps it to \(tr.outputAddress), model unmapped")
                }
            }
        }
        #expect(opsDone == 70)
        // Unmapping everything leaves only the root: empty tables were all freed.
        try tables.unmap(ipa: IPA(0), size: limit, tlb: &tlb)
        #expect(tables.tablePages == tables.geometry.concatenatedTables, "\(c): \(tables.tablePages) pages still in use")
        #expect(checker.violations == [], "\(c)")
        #expect(checker.writes > 1000)
    }
}
