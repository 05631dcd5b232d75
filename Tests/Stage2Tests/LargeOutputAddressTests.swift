import AArch64
import Testing

@testable import Stage2

/// 52-bit output addresses against the bit positions of the Arm ARM (D8.3, the OA and
/// next-level table address fields of the VMSAv8-64 descriptors; pseudocode `AArch64.LeafBase`,
/// `AArch64.PhysicalAddressSize`), which Linux's pgtable-hwdef.h uses as well: FEAT_LPA with
/// 64KB keeps OA[51:48] in bits [15:12]; FEAT_LPA2 (VTCR_EL2.DS = 1) keeps OA[49:48] in
/// bits [49:48] and OA[51:50] in bits [9:8].
struct LargeOutputAddressTests {
    @Test func lpaPageDescriptorBits() throws {
        var t = try makeTables(.k64, ipaBits: 42, outputBits: 52)
        var tlb = RecordingTLB()
        let pa: UInt64 = 0xA_1234_5678_0000
        try t.map(ipa: IPA(0x1_0000), pa: PhysicalAddress(pa), size: 0x1_0000, attributes: .normalRWX, tlb: &tlb)
        let d = try t.readDescriptor(ipa: IPA(0x1_0000), level: 3)
        #expect((d >> 12) & 0xF == 0xA, "OA[51:48] in [15:12]: \(String(d, radix: 16))")
        #expect(d & 0x0000_FFFF_FFFF_0000 == 0x1234_5678_0000, "OA[47:16] in [47:16]")
        #expect((d >> 48) & 0xF == 0, "bits [51:48] stay RES0 with FEAT_LPA")
        #expect((d >> 8) & 3 == 0b11, "SH stays in [9:8]")
        #expect(t.walk(IPA(0x1_0ABC)).translation?.outputAddress.rawValue == pa | 0xABC)
        // VTCR_EL2.PS = 0b110, BADDR[51:48] moves to VTTBR_EL2[5:2].
        #expect(t.vtcrFields.ps == 0b110)
        #expect(t.vtcrFields.ds == false)
    }

    @Test func lpa2PageDescriptorBits() throws {
        for g in [Granule.k4, .k16] {
            let memory = ByteBufferTableMemory(base: PhysicalAddress(0x4000_0000), size: 64 * g.bytes)
            var t = try Stage2Tables(
                configuration: Stage2Configuration(granule: g, ipaBits: 40, outputBits: 52, lpa2: true),
                memory: memory, poolBase: PhysicalAddress(0x4000_0000), poolBytes: 64 * g.bytes)
            var tlb = RecordingTLB()
            let pa: UInt64 = 0xE_3000_0001_C000 & ~(g.bytes - 1)  // OA[51:50] = 0b11, OA[49:48] = 0b10
            try t.map(ipa: IPA(g.bytes), pa: PhysicalAddress(pa), size: g.bytes, attributes: .normalRWX, tlb: &tlb)
            let d = try t.readDescriptor(ipa: IPA(g.bytes), level: 3)
            #expect((d >> 8) & 3 == 0b11, "\(g): OA[51:50] in [9:8]: \(String(d, radix: 16))")
            #expect((d >> 48) & 3 == 0b10, "\(g): OA[49:48] in [49:48]")
            #expect(d & 0x0000_FFFF_FFFF_FFFF & ~(g.bytes - 1) == pa & 0x0000_FFFF_FFFF_FFFF)
            #expect(t.walk(IPA(g.bytes + 0x18)).translation?.outputAddress.rawValue == pa | 0x18, "\(g)")
            #expect(t.vtcrFields.ds && t.vtcrFields.ps == 0b110 && t.vtcr & (1 << 32) != 0)
        }
    }

    /// The same map in a 48-bit table set gives the descriptors it always gave.
    @Test func fortyEightBitFormatUnchanged() throws {
        for g in Granule.allCases {
            var t = try makeTables(g, ipaBits: 40)
            var tlb = RecordingTLB()
            let pa: UInt64 = 0x8_1234_0000 & ~(g.bytes - 1) | 0x8000_0000_0000 & ~(g.bytes - 1)
            let a = Stage2Attributes(permissions: [.read, .write], shareability: .outerShareable)
            try t.map(ipa: IPA(g.bytes * 3), pa: PhysicalAddress(pa), size: g.bytes, attributes: a, tlb: &tlb)
            let d = try t.readDescriptor(ipa: IPA(g.bytes * 3), level: 3)
            #expect(d == pa | a.descriptorBits | 0b11, "\(g): \(String(d, radix: 16))")
            #expect(t.addressFormat == .bits48 && t.vtcrFields.ps == 0b101 && !t.vtcrFields.ds)
            #expect(Stage2Descriptor.leaf(output: PhysicalAddress(pa), attributes: a, level: 3) == d)
        }
    }

    /// Registers → walk parameters: the wide BADDR and DS round-trip, and the walk from the
    /// registers alone sees what the builder's own walk sees.
    @Test(arguments: [(Granule.k64, false), (.k4, true), (.k16, true)])
    func registersRoundTrip(_ g: Granule, _ lpa2: Bool) throws {
        let poolBase: UInt64 = 0x7_0000_4000_0000
        let memory = ByteBufferTableMemory(base: PhysicalAddress(poolBase), size: 64 * g.bytes)
        var t = try Stage2Tables(
            configuration: Stage2Configuration(granule: g, ipaBits: 40, vmid: 5, outputBits: 52, lpa2: lpa2),
            memory: memory, poolBase: PhysicalAddress(poolBase), poolBytes: 64 * g.bytes)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x9_0000_0000_0000), size: 4 * g.bytes, attributes: .normalRWX, tlb: &tlb)
        #expect((t.vttbr >> 2) & 0xF == 0x7, "BADDR[51:48] in VTTBR_EL2[5:2]: \(String(t.vttbr, radix: 16))")
        #expect((t.vttbr >> 48) & 0xFF == 5)
        let p = try Stage2WalkParameters(vtcr: VTCR(rawValue: t.vtcr), vttbr: t.vttbr, paMax: 52)
        #expect(p.root == t.rootAddress)
        #expect(Stage2Dump(parameters: p, memory: memory).text(vtcr: t.vtcr, vttbr: t.vttbr).contains("BADDR 0x7000040000000"))
        #expect(p.addressFormat == t.addressFormat)
        for o: UInt64 in [0, g.bytes + 8, 3 * g.bytes + 0x40] {
            #expect(p.walk(IPA(o), memory: memory) == t.walk(IPA(o)))
            #expect(p.walk(IPA(o), memory: memory).translation?.outputAddress.rawValue == 0x9_0000_0000_0000 + o)
        }
    }

    /// `AArch64.PhysicalAddressSize`: PS is capped at the PE's PA size, and at 48 bits for
    /// 4KB/16KB unless DS = 1. With FEAT_LPA a 64KB descriptor's bits [15:12] are OA[51:48]
    /// whatever PS says, so with PS = 48 they make the output address too large: an
    /// address-size fault at the leaf's level.
    @Test func outputSizeLimits() throws {
        var t = try makeTables(.k64, ipaBits: 42, outputBits: 52)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x3_0000_0001_0000), size: 0x1_0000, attributes: .normalRWX, tlb: &tlb)
        var p = t.walkParameters
        #expect(p.walk(IPA(8), memory: t.memory).translation?.outputAddress.rawValue == 0x3_0000_0001_0008)
        p.outputBits = 48
        let f = p.walk(IPA(8), memory: t.memory).fault
        #expect(f?.kind == .addressSize && f?.level == 3, "\(String(describing: f))")
        // A PE with 48-bit PAs: PS = 52 acts as 48.
        p.outputBits = 52
        p.paMax = 48
        #expect(p.effectiveOutputBits == 48)
        // 4KB without DS: never more than 48 bits, whatever PS and PARange say.
        let q = Stage2WalkParameters(granule: .k4, ipaBits: 40, startLevel: 1, root: PhysicalAddress(0), outputBits: 52, paMax: 52)
        #expect(q.effectiveOutputBits == 48 && q.addressFormat == .bits48)
        let r = Stage2WalkParameters(
            granule: .k4, ipaBits: 40, startLevel: 1, root: PhysicalAddress(0), outputBits: 52, ds: true, paMax: 52)
        #expect(r.effectiveOutputBits == 52 && r.addressFormat == .lpa2)
    }

    /// Block levels the 52-bit formats add (`AArch64.BlockDescSupported`).
    @Test func extraBlockLevels() throws {
        #expect(Stage2AddressFormat.lpa2.blockAllowed(.k4, atLevel: 0))
        #expect(!Stage2AddressFormat.bits48.blockAllowed(.k4, atLevel: 0))
        #expect(Stage2AddressFormat.lpa2.blockAllowed(.k16, atLevel: 1))
        #expect(Stage2AddressFormat.lpa64K.blockAllowed(.k64, atLevel: 1))
        #expect(!Stage2AddressFormat.bits48.blockAllowed(.k64, atLevel: 1))
        // A 4TB level-1 block with FEAT_LPA at an OA with OA[51:48] ≠ 0.
        var t = try makeTables(.k64, ipaBits: 48, outputBits: 52)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(1 << 42), pa: PhysicalAddress(0x5 << 48), size: 1 << 42, attributes: .normalRWX, tlb: &tlb)
        let tr = try #require(t.walk(IPA((1 << 42) + 0x1234_5678)).translation)
        #expect(tr.level == 1 && tr.blockSize == 1 << 42 && tr.outputAddress.rawValue == 0x5 << 48 | 0x1234_5678)
        if case .block(let oa, _) = Stage2Descriptor.decode(tr.descriptor, level: 1, granule: .k64, format: .lpa64K) {
            #expect(oa.rawValue == 0x5 << 48)
        } else {
            Issue.record("level-1 64K descriptor \(String(tr.descriptor, radix: 16)) does not decode as a block")
        }
    }

    @Test func configurationChecks() {
        let memory = ByteBufferTableMemory(base: PhysicalAddress(0x4000_0000), size: 0x10_0000)
        #expect(throws: Stage2Error.unsupportedLargeOutput(granule: .k4, lpa2: false)) {
            _ = try Stage2Tables(
                configuration: Stage2Configuration(granule: .k4, ipaBits: 40, outputBits: 52),
                memory: memory, poolBase: PhysicalAddress(0x4000_0000), poolBytes: 0x10_0000)
        }
        #expect(throws: Stage2Error.unsupportedLargeOutput(granule: .k64, lpa2: true)) {
            _ = try Stage2Tables(
                configuration: Stage2Configuration(granule: .k64, ipaBits: 40, lpa2: true),
                memory: memory, poolBase: PhysicalAddress(0x4000_0000), poolBytes: 0x10_0000)
        }
    }
}
