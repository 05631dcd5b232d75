import AArch64
import Testing

@testable import Stage2

struct WalkerTests {
    var tlb = RecordingTLB()

    @Test mutating func translationsReportLevelSizeAndAttributes() throws {
        var t = try makeTables(.k4, ipaBits: 40)
        try t.map(ipa: IPA(0x4000_0000), pa: PhysicalAddress(0x8000_0000), size: 0x4000_0000, attributes: .normalRWX, tlb: &tlb)
        try t.map(ipa: IPA(0x20_0000), pa: PhysicalAddress(0x9000_0000), size: 0x20_0000, attributes: .normalRWX, tlb: &tlb)
        try t.map(
            ipa: IPA(0x1000), pa: PhysicalAddress(0xA000_0000), size: 0x1000,
            attributes: Stage2Attributes(permissions: [.read], memory: .deviceNGnRE), tlb: &tlb)
        let g1 = try #require(t.walk(IPA(0x4123_4567)).translation)
        #expect(g1.level == 1 && g1.blockSize == 1 << 30 && g1.outputAddress.rawValue == 0x8123_4567)
        let m2 = try #require(t.walk(IPA(0x2F_FFFF)).translation)
        #expect(m2.level == 2 && m2.blockSize == 1 << 21 && m2.outputAddress.rawValue == 0x900F_FFFF)
        let p = try #require(t.walk(IPA(0x1ABC)).translation)
        #expect(p.level == 3 && p.outputAddress.rawValue == 0xA000_0ABC && p.attributes.memory == .deviceNGnRE)
        // Unmapped neighbours: a level-3 translation fault (the L3 table exists) and a level-2
        // one in the same 1G region where no L3 table exists.
        #expect(t.walk(IPA(0x2000)).fault == Stage2Fault(kind: .translation, level: 3, ipa: IPA(0x2000), access: .read))
        #expect(t.walk(IPA(0x40_0000)).fault?.level == 2)
        // Nothing under a root entry: level 1 (the start level).
        #expect(t.walk(IPA(0x1_0000_0000)).fault?.level == 1)
        // Beyond the 40-bit IPA: level-0 translation fault.
        #expect(t.walk(IPA(1 << 40)).fault == Stage2Fault(kind: .translation, level: 0, ipa: IPA(1 << 40), access: .read))
    }

    @Test mutating func permissionAndAccessFlagFaults() throws {
        var t = try makeTables(.k4, ipaBits: 40)
        try t.map(
            ipa: IPA(0x1000), pa: PhysicalAddress(0x8000_1000), size: 0x1000,
            attributes: Stage2Attributes(permissions: [.read]), tlb: &tlb)
        try t.map(
            ipa: IPA(0x2000), pa: PhysicalAddress(0x8000_2000), size: 0x1000,
            attributes: Stage2Attributes(permissions: [.write]), tlb: &tlb)
        try t.map(
            ipa: IPA(0x3000), pa: PhysicalAddress(0x8000_3000), size: 0x1000,
            attributes: Stage2Attributes(accessFlag: false), tlb: &tlb)
        try t.map(
            ipa: IPA(0x4000), pa: PhysicalAddress(0x8000_4000), size: 0x1000, attributes: Stage2Attributes(permissions: []), tlb: &tlb)
        #expect(t.walk(IPA(0x1000), access: .read).translation != nil)
        let w = try #require(t.walk(IPA(0x1000), access: .write).fault)
        #expect(w.kind == .permission && w.level == 3 && w.statusCode == 0x0F)
        #expect(t.walk(IPA(0x1000), access: .fetchEL1).fault?.kind == .permission)
        // Write-only page: reads fault (the "Remove stage 2 read fault check" case).
        #expect(t.walk(IPA(0x2000), access: .read).fault?.kind == .permission)
        #expect(t.walk(IPA(0x2000), access: .write).translation != nil)
        // AF = 0: access-flag fault at level 3, FSC 0b001011.
        let af = try #require(t.walk(IPA(0x3000), access: .read).fault)
        #expect(af.kind == .accessFlag && af.statusCode == 0x0B)
        // No access at all (S2AP 00, XN 10): every access is a permission fault.
        for a in [Stage2Access.read, .write, .fetchEL1, .fetchEL0] { #expect(t.walk(IPA(0x4000), access: a).fault?.kind == .permission) }
        // With VTCR_EL2.HA the AF = 0 page translates.
        var p = t.walkParameters
        p.hardwareAccessFlag = true
        #expect(p.walk(IPA(0x3000), memory: t.memory).translation != nil)
    }

    @Test mutating func executeNeverMatrixWithAndWithoutXNX() throws {
        var t = try makeTables(.k4, ipaBits: 40)
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x4000, attributes: .normalRWX, tlb: &tlb)
        // Raw XN[1:0] patterns on pages 0..3 (the CVE-2026-53200 / XNX cases).
        for xn in UInt64(0)...3 {
            let d = (try t.readDescriptor(ipa: IPA(xn * 0x1000), level: 3) & ~(UInt64(3) << 53)) | xn << 53
            try t.writeRawDescriptor(ipa: IPA(xn * 0x1000), level: 3, value: d)
        }
        // With FEAT_XNX: 00 both, 01 EL0 only, 10 none, 11 EL1 only.
        let withXNX: [(Bool, Bool)] = [(true, true), (false, true), (false, false), (true, false)]
        // Without FEAT_XNX only XN[1] counts: 00/01 executable, 10/11 not.
        let withoutXNX: [(Bool, Bool)] = [(true, true), (true, true), (false, false), (false, false)]
        var p = t.walkParameters
        for xn in 0..<4 {
            let ipa = IPA(UInt64(xn) * 0x1000)
            p.xnx = true
            #expect((p.walk(ipa, access: .fetchEL1, memory: t.memory).translation != nil) == withXNX[xn].0, "XNX xn=\(xn) EL1")
            #expect((p.walk(ipa, access: .fetchEL0, memory: t.memory).translation != nil) == withXNX[xn].1, "XNX xn=\(xn) EL0")
            p.xnx = false
            #expect((p.walk(ipa, access: .fetchEL1, memory: t.memory).translation != nil) == withoutXNX[xn].0, "!XNX xn=\(xn) EL1")
            #expect((p.walk(ipa, access: .fetchEL0, memory: t.memory).translation != nil) == withoutXNX[xn].1, "!XNX xn=\(xn) EL0")
        }
    }

    @Test mutating func addressSizeFaults() throws {
        var t = try makeTables(.k4, ipaBits: 40, outputBits: 40)
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x2000, attributes: .normalRWX, tlb: &tlb)
        // A page whose OA (bit 44) is beyond the 40-bit PS: address-size fault, level 3, FSC 0x03.
        let d = try t.readDescriptor(ipa: IPA(0x1000), level: 3)
        try t.writeRawDescriptor(ipa: IPA(0x1000), level: 3, value: d | 1 << 44)
        let f = try #require(t.walk(IPA(0x1000)).fault)
        #expect(f.kind == .addressSize && f.level == 3 && f.statusCode == 0x03)
        // OA[51:48] non-zero (RES0 without FEAT_LPA): address-size fault as well.
        try t.writeRawDescriptor(ipa: IPA(0x1000), level: 3, value: d | 1 << 49)
        #expect(t.walk(IPA(0x1000)).fault?.kind == .addressSize)
        // A table pointer beyond PS: address-size fault at the level of the table descriptor.
        let l2 = try t.readDescriptor(ipa: IPA(0), level: 2)
        try t.writeRawDescriptor(ipa: IPA(0), level: 2, value: l2 | 1 << 41)
        #expect(t.walk(IPA(0)).fault == Stage2Fault(kind: .addressSize, level: 2, ipa: IPA(0), access: .read, descriptor: l2 | 1 << 41))
        // VTTBR.BADDR beyond PS: address-size fault reported at level 0.
        var p = t.walkParameters
        p.root = PhysicalAddress(1 << 40)
        #expect(p.walk(IPA(0), memory: t.memory).fault == Stage2Fault(kind: .addressSize, level: 0, ipa: IPA(0), access: .read))
    }

    @Test mutating func unbackedTableAndInconsistentStartLevel() throws {
        var t = try makeTables(.k4, ipaBits: 40)
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        // Point the level-2 entry at memory the table memory does not back: external abort on
        // the level-3 walk (FSC 0b010111 = 0x17).
        try t.writeRawDescriptor(ipa: IPA(0), level: 2, value: 0x7000_0003)
        let f = try #require(t.walk(IPA(0)).fault)
        #expect(f.kind == .externalAbortOnWalk && f.level == 3 && f.statusCode == 0x17)
        // A VTCR with SL0 inconsistent with T0SZ (4K, T0SZ 24, SL0 0b00 = level 2): level-0 fault.
        let p = try Stage2WalkParameters(vtcr: VTCR(rawValue: 0x8002_3518), vttbr: t.vttbr)
        #expect(!p.consistent)
        #expect(p.walk(IPA(0), memory: t.memory).fault == Stage2Fault(kind: .translation, level: 0, ipa: IPA(0), access: .read))
        // Reserved TG0 cannot be walked.
        #expect(throws: Stage2RegisterError.reservedGranule(3)) {
            _ = try Stage2WalkParameters(vtcr: VTCR(rawValue: 0x8002_F558), vttbr: 0)
        }
    }

    @Test mutating func walkerFromRegistersMatchesTables() throws {
        var t = try makeTables(.k16, ipaBits: 40, poolPages: 64)
        try t.map(ipa: IPA(0x200_0000), pa: PhysicalAddress(0x8000_0000), size: 0x200_4000, attributes: .normalRWX, tlb: &tlb)
        let p = try Stage2WalkParameters(vtcr: VTCR(rawValue: t.vtcr), vttbr: t.vttbr)
        for ipa: UInt64 in [0, 0x200_0000, 0x3FF_C000, 0x400_0000, 0x400_3FFF, 0x400_4000] {
            #expect(p.walk(IPA(ipa), memory: t.memory) == t.walk(IPA(ipa)))
        }
        #expect(t.walk(IPA(0x200_0000)).translation?.level == 2)  // 32M block
        #expect(t.walk(IPA(0x400_0000)).translation?.level == 3)
    }

    @Test func walkerFromRegistersAcceptsSmallerArchitecturalIPASizes() throws {
        // 4K, T0SZ 34 (30-bit IPA), SL0 0b00 = level 2: consistent (sl_min_iasize 22, max 34).
        // The level-2 table has 2^(30−21) = 512 entries; map IPA 0x3FE0_0000 (entry 511) as a
        // 2M block by hand and walk it.
        let memory = ByteBufferTableMemory(base: PhysicalAddress(0x1000), size: 0x1000)
        memory.writeDescriptor(
            Stage2Descriptor.leaf(output: PhysicalAddress(0x8000_0000), attributes: .normalRWX, level: 2),
            at: PhysicalAddress(0x1000 + 511 * 8))
        let vtcr = VTCR(rawValue: 0x8000_3500 | 34)
        #expect(vtcr.isConsistent && vtcr.ipaBits == 30 && vtcr.startLevel == 2)
        let p = try Stage2WalkParameters(vtcr: vtcr, vttbr: 0x1000)
        #expect(p.walk(IPA(0x3FE1_2345), memory: memory).translation?.outputAddress.rawValue == 0x8001_2345)
        #expect(
            p.walk(IPA(0x4000_0000), memory: memory).fault
                == Stage2Fault(kind: .translation, level: 0, ipa: IPA(0x4000_0000), access: .read))
        // T0SZ 40 (24 bits) is beyond the architectural range: every walk faults at level 0.
        #expect(!VTCR(rawValue: 0x8000_3500 | 40).isConsistent)
    }
}
