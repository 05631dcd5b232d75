import AArch64
import Testing

@testable import Stage2

/// The walk's unrolled fast path (48-bit format, loads and stores that translate) must give
/// exactly what the general walk gives: same translation, and nil (so the general walk decides)
/// for every walk that faults.
struct FastWalkTests {
    static let seed: UInt64 = 0x5EED_FA57_3A1C_0001

    /// Table memory filled with random descriptors that mostly point back into it: walks reach
    /// every level, and meet every fault the architecture defines for a stage-2 walk.
    static func randomMemory(_ g: Granule, pages: Int, base: UInt64, rng: inout SplitMix64) -> ByteBufferTableMemory {
        let m = ByteBufferTableMemory(base: PhysicalAddress(base), size: UInt64(pages) << UInt64(g.pageShift))
        let pageMask = ~(g.bytes - 1)
        for o in stride(from: 0, to: m.size, by: 8) {
            let r = rng.next()
            // Attributes: AF, S2AP, XN, SH and MemAttr at random; AF and read mostly set.
            var attributes = r & 0x0060_0000_0000_07FC
            if r >> 40 & 7 != 0 { attributes |= Stage2Descriptor.afBit | Stage2Descriptor.s2apReadBit }
            let target: UInt64
            switch r >> 44 & 15 {
            case 0: target = rng.next() & 0x000F_FFFF_FFFF_F000  // anywhere, OA[51:48] too
            case 1: target = base &- g.bytes  // just below the memory
            case 2: target = base + m.size  // just above it
            default: target = base + (rng.next() % UInt64(pages)) << UInt64(g.pageShift)  // inside it
            }
            let type: UInt64 =
                switch r >> 48 & 7 {
                case 0: 0b00
                case 1: 0b10
                case 2, 3: 0b01
                default: 0b11
                }
            m.writeDescriptor(target & pageMask | attributes | type, at: PhysicalAddress(base + o))
        }
        return m
    }

    @Test func fastPathAgreesWithTheGeneralWalkOnRandomTables() {
        var rng = SplitMix64(seed: Self.seed)
        print("FastWalkTests seed 0x\(String(Self.seed, radix: 16))")
        var fast = 0
        var faults: [Stage2Fault.Kind: Int] = [:]
        let accesses: [Stage2Access] = [.read, .write, .fetchEL1, .fetchEL0]
        for round in 0..<60 {
            let g = Granule.allCases[round % 3]
            // Memory just below 2^30 as well: a 30-bit PS cuts through it.
            let base: UInt64 = rng.next() % 2 == 0 ? 0x4000_0000 : 0x3FF4_0000
            let memory = Self.randomMemory(g, pages: 24, base: base, rng: &rng)
            let ipaBits = 25 + Int(rng.next() % 24)
            let startLevel = Int(rng.next() % 4)
            // Output size: mostly enough for the memory, sometimes below it (address-size faults
            // on table addresses), sometimes cutting into it.
            let outputBits = [48, 44, 40, 32, 31, 30][Int(rng.next() % 6)]
            let rootPage = rng.next() % 24
            let root = rng.next() % 8 == 0 ? rng.next() & 0xFFFF_FFFF_F000 : base + rootPage << UInt64(g.pageShift)
            var p = Stage2WalkParameters(
                granule: g, ipaBits: ipaBits, startLevel: startLevel, root: PhysicalAddress(root), outputBits: outputBits,
                consistent: rng.next() % 8 != 0, hardwareAccessFlag: rng.next() % 4 == 0, xnx: rng.next() % 2 == 0)
            for n in 0..<3000 {
                if n == 1500 { p.hardwareAccessFlag.toggle() }
                let ipa = IPA(rng.next() % 8 == 0 ? rng.next() & 0xFFFF_FFFF_FFFF : rng.next() & ((1 << UInt64(ipaBits)) - 1))
                let access = accesses[Int(rng.next() % 4)]
                let general = p.generalWalk(ipa, access: access, memory: memory)
                let got = p.walk(ipa, access: access, memory: memory)
                #expect(
                    got == general,
                    "\(g) ipaBits \(ipaBits) SL\(startLevel) PS \(outputBits) root 0x\(String(root, radix: 16)) \(access) \(ipa)")
                if got != general { return }
                if p.fastTranslation(ipa, access: access, memory: memory) != nil { fast += 1 }
                if let f = general.fault { faults[f.kind, default: 0] += 1 }
            }
        }
        // The comparison means something only if both paths were taken, and every fault met.
        print("FastWalkTests: \(fast) fast-path translations, faults \(faults)")
        #expect(fast > 4000, "fast-path translations: \(fast)")
        for kind in [Stage2Fault.Kind.translation, .addressSize, .accessFlag, .permission, .externalAbortOnWalk] {
            #expect(faults[kind, default: 0] > 100, "\(kind): \(faults[kind, default: 0]) faults")
        }
    }

    /// Walks the fast path must refuse, each built from a translating walk by one change.
    @Test func fastPathRefusesEveryFault() throws {
        var tlb = CountingTLB()
        var t = try makeTables(.k4, ipaBits: 40, outputBits: 40)
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x2000, attributes: .normalRWX, tlb: &tlb)
        try t.map(ipa: IPA(0x4000_0000), pa: PhysicalAddress(0x4000_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        let p = t.walkParameters
        #expect(p.fastTranslation(IPA(0x1008), access: .read, memory: t.memory)?.outputAddress == PhysicalAddress(0x8000_1008))
        #expect(p.fastTranslation(IPA(0x4010_0000), access: .write, memory: t.memory)?.level == 2)
        let page = try t.readDescriptor(ipa: IPA(0x1000), level: 3)
        let table = try t.readDescriptor(ipa: IPA(0), level: 2)
        let block = try t.readDescriptor(ipa: IPA(0x4000_0000), level: 2)
        let cases: [(String, IPA, Int, UInt64, Stage2Fault.Kind)] = [
            ("page OA beyond PS", IPA(0x1000), 3, page | 1 << 44, .addressSize),
            ("page OA[51:48] set", IPA(0x1000), 3, page | 1 << 49, .addressSize),
            ("page with type 0b01 at level 3", IPA(0x1000), 3, page & ~2, .translation),
            ("invalid page", IPA(0x1000), 3, page & ~1, .translation),
            ("page without AF", IPA(0x1000), 3, page & ~Stage2Descriptor.afBit, .accessFlag),
            ("page without read", IPA(0x1000), 3, page & ~Stage2Descriptor.s2apReadBit, .permission),
            ("table beyond PS", IPA(0x1000), 2, table | 1 << 41, .addressSize),
            ("table outside the table memory", IPA(0x1000), 2, 0x7000_0003, .externalAbortOnWalk),
            ("block beyond PS", IPA(0x4000_0000), 2, block | 1 << 42, .addressSize),
        ]
        for (what, ipa, level, value, kind) in cases {
            var u = t
            let old = try u.readDescriptor(ipa: ipa, level: level)
            try u.writeRawDescriptor(ipa: ipa, level: level, value: value)
            #expect(p.fastTranslation(ipa, access: .read, memory: u.memory) == nil, "\(what)")
            #expect(p.walk(ipa, access: .read, memory: u.memory).fault?.kind == kind, "\(what)")
            try u.writeRawDescriptor(ipa: ipa, level: level, value: old)
        }
        // A store through a read-only page; an IPA beyond T0SZ; a fetch (always the general walk).
        try t.protect(ipa: IPA(0x1000), size: 0x1000, permissions: [.read], tlb: &tlb)
        #expect(p.fastTranslation(IPA(0x1000), access: .write, memory: t.memory) == nil)
        #expect(p.walk(IPA(0x1000), access: .write, memory: t.memory).fault?.kind == .permission)
        #expect(p.fastTranslation(IPA(1 << 40), access: .read, memory: t.memory) == nil)
        #expect(p.fastTranslation(IPA(0), access: .fetchEL1, memory: t.memory) == nil)
        #expect(p.walk(IPA(0), access: .fetchEL1, memory: t.memory).translation != nil)
        // A 4K block at level 0 does not exist in the 48-bit format: translation fault.
        let l0 = Stage2WalkParameters(granule: .k4, ipaBits: 48, startLevel: 0, root: t.walkParameters.root, outputBits: 48)
        t.memory.writeDescriptor(0x8000_0000 | Stage2Descriptor.afBit | Stage2Descriptor.s2apReadBit | 0b01, at: l0.root)
        #expect(l0.fastTranslation(IPA(0), access: .read, memory: t.memory) == nil)
        #expect(
            l0.walk(IPA(0), access: .read, memory: t.memory).fault
                == Stage2Fault(
                    kind: .translation, level: 0, ipa: IPA(0), access: .read,
                    descriptor: 0x8000_0000 | Stage2Descriptor.afBit | Stage2Descriptor.s2apReadBit | 0b01))
    }

    /// `loadDescriptor(at:below:)`: inside the buffer and below the ceiling, nothing else.
    @Test func boundedLoadStopsAtTheBufferAndTheCeiling() {
        let m = ByteBufferTableMemory(base: PhysicalAddress(0x1_0000), size: 0x1000)
        m.writeDescriptor(0xAA, at: PhysicalAddress(0x1_0FF8))
        m.writeDescriptor(0xBB, at: PhysicalAddress(0x1_0000))
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0FF8), below: 1 << 48) == 0xAA)
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0000), below: 1 << 48) == 0xBB)
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0FF9), below: 1 << 48) == nil)
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_1000), below: 1 << 48) == nil)
        #expect(m.loadDescriptor(at: PhysicalAddress(0xFFF8), below: 1 << 48) == nil)
        // The ceiling: the last descriptor wholly below it loads, the one at it does not.
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0800), below: 0x1_0808) == 0)
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0808), below: 0x1_0808) == nil)
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0000), below: 0x1_0000) == nil)
        #expect(m.loadDescriptor(at: PhysicalAddress(0x1_0000), below: 0x8000) == nil)
        // The protocol's default (a memory that only reads and says what is backed) agrees.
        let plain = PlainMemory(inner: m)
        for pa: UInt64 in [0xFFF8, 0x1_0000, 0x1_0800, 0x1_0808, 0x1_0FF8, 0x1_0FF9, 0x1_1000] {
            for ceiling: UInt64 in [0x8000, 0x1_0000, 0x1_0808, 1 << 48] {
                #expect(
                    plain.loadDescriptor(at: PhysicalAddress(pa), below: ceiling)
                        == m.loadDescriptor(at: PhysicalAddress(pa), below: ceiling))
            }
        }
    }
}

/// A table memory with only the protocol's required reads (its defaults do the rest).
private struct PlainMemory: TableMemory {
    let inner: ByteBufferTableMemory
    func readDescriptor(at pa: PhysicalAddress) -> UInt64 { inner.readDescriptor(at: pa) }
    func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress) { inner.writeDescriptor(value, at: pa) }
    func isBacked(_ pa: PhysicalAddress) -> Bool { inner.isBacked(pa) }
}
