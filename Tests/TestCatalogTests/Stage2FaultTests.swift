import AArch64
import GuestProtocol
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// The demand-paging matrix's start levels, concatenation and VTCR_EL2 fields, derived by
/// hand from the Arm ARM: AArch64.S2InconsistentSL (an IPA of n bits at start level s
/// needs n ≥ (3−s)·stride + granuleBits + 1 and n ≤ that + (stride − 1) + 4, i.e. at most
/// 16 concatenated tables; e.g. 4K/44-bit: level 1 would need 2^14 entries = 32 tables, so
/// level 0 with 32 entries), the builder's policy of the fewest levels but at least two (as
/// KVM), and D24.2 VTCR_EL2: T0SZ [5:0] = 64 − n, SL0 [7:6] (4K: 2 − s; 16K/64K: 3 − s),
/// TG0 [15:14] (4K 0b00, 64K 0b01, 16K 0b10), HA [21] = 0.
@Suite struct DemandPagingMatrixGeometry {
    // (granule, IPA bits, start level, concatenated root tables)
    static let table: [(Granule, Int, Int, Int)] = [
        (.k4, 32, 2, 4), (.k4, 36, 1, 1), (.k4, 40, 1, 2), (.k4, 44, 0, 1), (.k4, 48, 0, 1),
        (.k16, 32, 2, 1), (.k16, 36, 2, 1), (.k16, 40, 2, 16), (.k16, 44, 1, 1), (.k16, 48, 1, 2),
        (.k64, 32, 2, 1), (.k64, 36, 2, 1), (.k64, 40, 2, 1), (.k64, 44, 2, 4), (.k64, 48, 1, 1),
    ]

    @Test func startLevelsAndVTCR() throws {
        for (g, bits, level, concat) in Self.table {
            let geometry = try Stage2Geometry(granule: g, ipaBits: bits)
            #expect(geometry.startLevel == level, "\(g) \(bits)-bit")
            #expect(geometry.concatenatedTables == concat, "\(g) \(bits)-bit")
            let vtcr = VTCR(geometry: geometry, outputBits: 32, vmid16: false).rawValue
            #expect(vtcr & 0x3F == UInt64(64 - bits), "\(g) \(bits)-bit T0SZ")
            let sl0: UInt64 = g == .k4 ? UInt64(2 - level) : UInt64(3 - level)
            #expect((vtcr >> 6) & 3 == sl0, "\(g) \(bits)-bit SL0")
            let tg0: UInt64 =
                switch g {
                case .k4: 0b00
                case .k64: 0b01
                case .k16: 0b10
                }
            #expect((vtcr >> 14) & 3 == tg0, "\(g) \(bits)-bit TG0")
            #expect(vtcr & (1 << 21) == 0, "HA must be 0 (access-flag faults rely on it)")
        }
    }

    @Test func everyMatrixVariantBuildsAndFaults() throws {
        let matrix = try #require(Catalog.test(named: "demand-paging-matrix"))
        #expect(matrix.variants.count == 15)
        for v in matrix.variants {
            let s = try v.scenario(HostFacts(vmIPABits: 48))
            #expect(s.events.count >= 6, "\(v.name)")
            #expect((s.vmIPABits ?? 40) >= s.ipaBits, "\(v.name): the VM must span the nested IPA space")
            for op in s.ops { #expect(op.address < 1 << UInt64(s.ipaBits)) }
        }
        // A host limited to 40 bits skips 44 and 48.
        let v44 = matrix.variants.first { $0.name == "4k-44bit" }!
        #expect(throws: SessionError.self) { try v44.scenario(HostFacts(vmIPABits: 40)) }
    }
}

/// The fault tests' expectation builders against hand-derived kinds, levels, FSCs.
@Suite struct Stage2FaultExpectations {
    func faults(_ s: Scenario) -> [ExpectedFault] {
        s.events.compactMap { if case .stage2Fault(let f) = $0.kind { f } else { nil } }
    }
    /// The 6-bit FSC for a fault (D24.2 ESR_EL2 DFSC): translation 0b0001ll, access flag
    /// 0b0010ll, permission 0b0011ll, address size 0b0000ll.
    func fsc(_ f: ExpectedFault) -> UInt8 {
        let base: UInt8 =
            switch f.kind {
            case .addressSize: 0x00
            case .translation: 0x04
            case .accessFlag: 0x08
            case .permission: 0x0C
            default: 0xFF
            }
        return base + UInt8(f.level)
    }

    @Test(arguments: [Granule.k4, .k16, .k64])
    func permission(granule: Granule) throws {
        let s = try Stage2Faults.permission(granule: granule)
        let f = faults(s)
        #expect(f.count == 5)
        #expect(f.map(fsc) == [0x0F, 0x0F, 0x0F, 0x0F, 0x0F])
        #expect(
            f.map(\.access) == [
                .data(bytes: 8, write: true, register: 12, sixtyFourBit: true),
                .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
                .data(bytes: 4, write: false, register: 11, sixtyFourBit: false),
                .data(bytes: 4, write: true, register: 12, sixtyFourBit: false),
                .fetch,
            ])
        #expect(f.allSatisfy { !$0.hpfarValid })  // HPFAR_EL2 UNKNOWN for permission faults
        // The mappings: r, w, none, rw with XN (S2AP [7:6], XN [54:53] = 0b10).
        let mask: UInt64 = 0b11 << 6 | 0b11 << 53
        let bits: [UInt64] = s.initialMappings.map { $0.attributes.descriptorBits & mask }
        let xn: UInt64 = 0b10 << 53
        let want: [UInt64] = [0b01 << 6 | xn, 0b10 << 6 | xn, xn, 0b11 << 6 | xn]
        #expect(bits == want)
        // Each fault's reaction grants what the access needs.
        for e in s.events {
            guard case .stage2Fault(let want) = e.kind, case .protect(_, _, let a)? = e.reactions.first else {
                Issue.record("permission fault without a protect reaction")
                continue
            }
            switch want.access {
            case .fetch: #expect(a.permissions.contains(.executeEL1))
            case .data(_, let w, _, _): #expect(a.permissions.contains(w ? .write : .read))
            }
        }
    }

    @Test func accessFlag() throws {
        let s = try Stage2Faults.accessFlag(granule: .k4, withBlock: true)
        let f = faults(s)
        #expect(f.map(fsc) == [0x0B, 0x0A])  // page (L3), 2 MiB block (L2)
        #expect(f.allSatisfy { $0.hpfarValid })
        #expect(s.initialMappings.allSatisfy { $0.attributes.descriptorBits & (1 << 10) == 0 })
        #expect(s.initialMappings.map(\.size) == [0x1000, 0x20_0000])
        for e in s.events {
            guard case .editDescriptor(_, let level, let set, _)? = e.reactions.first,
                case .stage2Fault(let want) = e.kind
            else {
                Issue.record("no AF edit")
                continue
            }
            #expect(set == 1 << 10)
            #expect(level == want.level)
        }
        let s64 = try Stage2Faults.accessFlag(granule: .k64, withBlock: false)
        #expect(faults(s64).map(fsc) == [0x0B])
    }

    @Test func translationLevels() throws {
        // A page mapped at 2^39; probes one entry further at each level, from the last up to
        // the start level (hand-derived from the table above).
        let want: [(Granule, Int, [Int])] = [
            (.k4, 48, [3, 2, 1, 0]), (.k4, 40, [3, 2, 1]), (.k16, 48, [3, 2, 1]), (.k16, 40, [3, 2]),
            (.k64, 48, [3, 2, 1]), (.k64, 40, [3, 2]),
        ]
        for (g, bits, levels) in want {
            let s = try Stage2Faults.levels(granule: g, ipaBits: bits)
            let f = faults(s)
            #expect(f.map(\.level) == levels, "\(g) \(bits)-bit")
            #expect(f.allSatisfy { $0.kind == .translation })
            // The probes: 2^39 + one entry span at that level (+0x40).
            for x in f {
                #expect(x.address == (1 << 39) + (1 << UInt64(g.entryShift(atLevel: x.level))) + 0x40)
            }
            // 4K level 0 probe = 2^40 + 0x40: needs a VM IPA above 40 bits.
            if bits == 48 { #expect(s.vmIPABits == 48) }
        }
    }

    @Test func addressSize() throws {
        let a = faults(try Stage2Faults.ipaAboveT0SZ())
        #expect(a.count == 1 && a[0].kind == .translation && a[0].level == 0 && a[0].address == (1 << 40) + 0x10)
        let s = try Stage2Faults.baddrAbovePS()
        let b = faults(s)
        #expect(b.count == 1 && fsc(b[0]) == 0x00 && b[0].access == .fetch)
        guard case .hvc(1, 0) = s.events[0].kind, case .setVTTBRBits(let bad)? = s.events[0].reactions.first else {
            Issue.record("first event must be the hvc installing the bad VTTBR")
            return
        }
        #expect(bad == 1 << 40)
    }

    @Test func blockSplit() throws {
        let s = try Stage2Faults.blockSplit(granule: .k4)
        #expect(s.initialMappings.map(\.size) == [2 << 20])
        let f = faults(s)
        #expect(f.count == 1 && fsc(f[0]) == 0x0F && f[0].access == .data(bytes: 8, write: true, register: 12, sixtyFourBit: true))
        #expect(f[0].address == (1 << 39) + (1 << 20) + 0x20)
        let s16 = try Stage2Faults.blockSplit(granule: .k16)
        #expect(s16.initialMappings.map(\.size) == [32 << 20])
        #expect(s16.extraRAM.isEmpty)
        // 64K: a 512 MiB level-2 block (2^29, D8.3) does not fit the 64 MiB session; it gets
        // RAM of its own, 512 MiB-aligned above the session's RAM (0x4000_0000 + 64 MiB).
        let s64 = try Stage2Faults.blockSplit(granule: .k64)
        #expect(s64.initialMappings.map(\.size) == [512 << 20])
        #expect(s64.extraRAM == [ExtraRAM(name: "block-0", base: PhysicalAddress(0x6000_0000), size: 512 << 20)])
        #expect(s64.initialMappings[0].pa == PhysicalAddress(0x6000_0000))
        #expect(faults(s64).count == 1 && faults(s64)[0].level == 3)
    }

    /// A scenario that asks the data pool for more than it holds is our mistake: building it
    /// throws a layout error (a failure), never a skip.
    @Test func dataPoolExhaustionIsAFailure() throws {
        var p = FaultPlan(granule: .k4, ipaBits: 40)
        _ = try p.allocate(SessionLayout.standard.dataPoolSize)
        do {
            _ = try p.allocate(0x1000)
            Issue.record("allocation beyond the data pool succeeded")
        } catch SessionError.layout(let m) {
            #expect(m.contains("data pool"))
        } catch {
            Issue.record("expected a layout error, got \(error)")
        }
    }

    @Test func hvcSmcAndMMIO() throws {
        let s = try Stage2Faults.hvcSmc()
        #expect(s.hcrSet == 1 << 19)  // HCR_EL2.TSC
        #expect(s.events.map(\.kind) == [.hvc(imm: 1, opIndex: 0), .smc(imm: 0, opIndex: 1), .hvc(imm: 1, opIndex: 2)])
        #expect(s.events.map { $0.resume == .skip } == [false, true, false])
        let m = try Stage2Faults.mmio(granule: .k4)
        #expect(
            m.events.map(\.kind) == [
                .mmio(address: PhysicalAddress(0x0900_0010), bytes: 4, write: true, data: 0xDEAD_BEEF),
                .mmio(address: PhysicalAddress(0x0900_0018), bytes: 8, write: false, data: nil),
                .mmio(address: PhysicalAddress(0x0900_0003), bytes: 1, write: true, data: 0x5C),
                .mmio(address: PhysicalAddress(0x0900_0006), bytes: 2, write: false, data: nil),
                .mmio(address: PhysicalAddress(0x0900_0020), bytes: 8, write: true, data: 0x0123_4567_89AB_CDEF),
            ])
        #expect(m.expectedResults[1] == 0xFEED_FACE_CAFE_BEEF && m.expectedResults[3] == 0x7A11)
    }

    @Test func executeNeverMatrix() throws {
        // EL1 fetch: with FEAT_XNX XN 01 (PXN) and 10 fault; without it XN[0] is ignored, so
        // 10 and 11 fault. Ops 0..3 are the pages with XN 00, 01, 10, 11.
        let with = try Stage2Faults.executeNever(xnx: true)
        #expect(faults(with).map(\.opIndex) == [1, 2])
        let without = try Stage2Faults.executeNever(xnx: false)
        #expect(faults(without).map(\.opIndex) == [2, 3])
        for f in faults(with) + faults(without) { #expect(fsc(f) == 0x0F && f.access == .fetch) }
        let xn: [UInt64] = with.initialMappings.map { ($0.attributes.descriptorBits >> 53) & 3 }
        #expect(xn == [0b00, 0b01, 0b10, 0b11])
    }

    @Test func walkExternalAbort() throws {
        let s = try Stage2Faults.walkExternalAbort()
        let f = faults(s)
        // FSC 0b010111: synchronous external abort on a translation table walk, level 3.
        #expect(f.count == 1 && f[0].kind == .synchronousExternalOnWalk && f[0].level == 3)
        #expect(FaultStatus(code: 0x17).kind == .synchronousExternalOnWalk && FaultStatus(code: 0x17).level == 3)
        guard case .swapDescriptor(_, 2, let v)? = s.events.first?.reactions.first else {
            Issue.record("the hvc must swap the level-2 entry")
            return
        }
        #expect(v == 0x0900_0003)  // table descriptor (bits[1:0] = 0b11) → PA 0x0900_0000
    }

    @Test func xnxRequirement() {
        let with = VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: 0, mmfr1: 1 << 28, mmfr2: 0)
        let without = VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: 0, mmfr1: 0x0FFF_FFFF, mmfr2: 0)
        #expect(with.unmet(.xnx(true)) == nil && with.unmet(.xnx(false)) != nil)
        #expect(without.unmet(.xnx(false)) == nil && without.unmet(.xnx(true)) != nil)
    }

    /// Each illegal-vtcr case really is illegal per AArch64.S2InvalidSL/S2InconsistentSL,
    /// computed here from the pseudocode's formula, not the builder's code.
    @Test func illegalVTCRCasesAreIllegal() throws {
        for c in Stage2Faults.illegalVTCRCases {
            let granuleBits = c.granule.pageShift
            let stride = granuleBits - 3
            let t0sz = c.t0sz ?? UInt64(64 - c.ipaBits)
            let sl0 = c.sl0!
            let iasize = 64 - Int(t0sz)
            let start: Int? =
                switch c.granule {
                case .k4: sl0 == 0b11 ? 3 : 2 - Int(sl0)  // 0b11: level 3 only with FEAT_TTST
                default: sl0 == 0b11 ? nil : 3 - Int(sl0)  // 16K 0b11 needs DS; 64K 0b11 reserved
                }
            if let start {
                let slMin = (3 - start) * stride + granuleBits + 1
                let slMax = slMin + stride - 1 + 4
                #expect(iasize < slMin || iasize > slMax, "\(c.name): \(iasize) bits fits level \(start) [\(slMin), \(slMax)]")
            }
            let s = try Stage2Faults.illegalVTCR(c)
            let f = faults(s)
            #expect(f.count == 1 && f[0].kind == .translation && f[0].level == 0 && f[0].access == .fetch)
        }
    }
}
