import AArch64
import Testing

@testable import Stage2

/// Values worked out by hand from the Arm ARM (DDI 0487), field by field.
struct KnownAnswerTests {
    // VTCR_EL2 layout (Arm ARM D19.2, VTCR_EL2): T0SZ [5:0], SL0 [7:6], IRGN0 [9:8],
    // ORGN0 [11:10], SH0 [13:12], TG0 [15:14] (00 4K, 01 64K, 10 16K), PS [18:16]
    // (000 32, 001 36, 010 40, 011 42, 100 44, 101 48), VS [19], RES1 [31].
    // This library uses IRGN0 = ORGN0 = 0b01 (WB RA WA) and SH0 = 0b11 (inner), like KVM:
    //   0x100 | 0x400 | 0x3000 = 0x3500, plus RES1 0x8000_0000.

    @Test func kvmDefault4K40Bit() throws {
        // 4K, 40-bit IPA: T0SZ = 64 − 40 = 24 = 0x18. Fewest levels: level 1 resolves
        // IPA[39:30] = 10 bits = 1024 entries = 2 concatenated 4K tables (≤ 16 allowed),
        // SL0 for 4K level 1 = 0b01 → 0x40. PS 40-bit = 0b010 → 0x20000.
        // 0x8000_0000 + 0x20000 + 0x3500 + 0x40 + 0x18 = 0x80023558.
        let t = try makeTables(.k4, ipaBits: 40, outputBits: 40)
        #expect(t.geometry.startLevel == 1)
        #expect(t.geometry.concatenatedTables == 2)
        #expect(t.geometry.rootBytes == 0x2000)
        #expect(t.vtcr == 0x8002_3558)
        // VTTBR_EL2: BADDR = root (pool base 0x4000_0000, 8K aligned), VMID 1 in [55:48].
        #expect(t.rootAddress.rawValue == 0x4000_0000)
        #expect(t.vttbr == 0x0001_0000_4000_0000)
    }

    @Test func emulatedHostValue4K32BitStartLevel1() throws {
        // The value used on the emulated host: T0SZ = 32 (0x20), SL0 = 0b01 (level 1, forced:
        // level 1 is consistent with a 32-bit IPA since sl_min_iasize = 2·9+12+1 = 31 ≤ 32),
        // PS 40: 0x8000_0000 + 0x20000 + 0x3500 + 0x40 + 0x20 = 0x80023560.
        let t = try makeTables(.k4, ipaBits: 32, startLevel: 1, outputBits: 40)
        #expect(t.vtcr == 0x8002_3560)
        #expect(t.geometry.rootEntries == 4)  // IPA[31:30]
        #expect(t.geometry.concatenatedTables == 1)
    }

    @Test func sixteenK40BitUses16ConcatenatedTables() throws {
        // 16K, 40-bit: level 2 entries map 32MB (shift 25), 2^(40−25) = 32768 entries =
        // 16 tables of 2048: the maximum concatenation; SL0 for 16K level 2 = 0b01 (0x40);
        // TG0 = 0b10 (0x8000); T0SZ 0x18; PS 40 (0x20000):
        // 0x8000_0000 + 0x20000 + 0x8000 + 0x3500 + 0x40 + 0x18 = 0x8002B558.
        let t = try makeTables(.k16, ipaBits: 40, outputBits: 40, poolPages: 32)
        #expect(t.geometry.startLevel == 2)
        #expect(t.geometry.concatenatedTables == 16)
        #expect(t.vtcr == 0x8002_B558)
        // The root (256K) must be aligned to its size: pool base 0x4000_0000 is.
        #expect(t.rootAddress.rawValue % 0x40000 == 0)
    }

    @Test func sixtyFourK48Bit() throws {
        // 64K, 48-bit: T0SZ 16 (0x10); level 2 reaches only 29+13+4 = 46 bits, so level 1
        // (shift 42, 64 entries); SL0 for 64K level 1 = 0b10 (0x80); TG0 0b01 (0x4000);
        // PS 48 = 0b101 (0x50000): 0x8000_0000 + 0x50000 + 0x4000 + 0x3500 + 0x80 + 0x10.
        let t = try makeTables(.k64, ipaBits: 48, outputBits: 48, poolPages: 8)
        #expect(t.geometry.startLevel == 1)
        #expect(t.geometry.rootEntries == 64)
        #expect(t.vtcr == 0x8005_7590)
    }

    @Test func fourK48BitStartsAtLevel0() throws {
        // T0SZ 16, SL0 = 0b10 (level 0) = 0x80, PS 48: 0x80053590.
        let t = try makeTables(.k4, ipaBits: 48, outputBits: 48)
        #expect(t.geometry.startLevel == 0)
        #expect(t.vtcr == 0x8005_3590)
    }

    @Test func automaticPSFollowsOutputsAndPool() throws {
        var t = try makeTables(.k4, ipaBits: 40)  // pool at 1 GiB: 32-bit PS suffices
        #expect(VTCR(rawValue: t.vtcr).outputBits == 32)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x10_0000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        #expect(VTCR(rawValue: t.vtcr).outputBits == 40)  // 0x10_0000_0000 needs 37 bits → 40
        try t.map(ipa: IPA(0x1000), pa: PhysicalAddress(0x8000_0000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        #expect(VTCR(rawValue: t.vtcr).outputBits == 48)
        #expect(throws: Stage2Error.self) {
            try t.map(ipa: IPA(0x2000), pa: PhysicalAddress(0x1_0000_0000_0000), size: 0x1000, attributes: .normalRWX, tlb: &tlb)
        }
    }

    @Test func forcedPSRejectsOutputsBeyondIt() throws {
        var t = try makeTables(.k4, ipaBits: 40, outputBits: 36)
        var tlb = RecordingTLB()
        #expect(throws: Stage2Error.outputAddressOutOfRange(PhysicalAddress(0xF_FFFF_F000), size: 0x2000, outputBits: 36)) {
            try t.map(ipa: IPA(0), pa: PhysicalAddress(0xF_FFFF_F000), size: 0x2000, attributes: .normalRWX, tlb: &tlb)
        }
    }

    @Test func sixteenBitVMIDAndCnP() throws {
        // VS = 1 → bit 19 (0x80000); VMID 0x1234 in VTTBR[63:48]; CnP = bit 0.
        let memory = ByteBufferTableMemory(base: PhysicalAddress(0x4000_0000), size: 0x4000)
        let t = try Stage2Tables(
            configuration: Stage2Configuration(
                granule: .k4, ipaBits: 40, vmid: 0x1234, vmid16: true,
                outputBits: 40, commonNotPrivate: true),
            memory: memory, poolBase: PhysicalAddress(0x4000_0000), poolBytes: 0x4000)
        #expect(t.vtcr == 0x8002_3558 | 0x80000)
        #expect(t.vttbr == 0x1234_0000_4000_0001)
        let d = VTTBR(rawValue: t.vttbr, vmid16: true)
        #expect(d.vmid == 0x1234 && d.commonNotPrivate && d.baseAddress.rawValue == 0x4000_0000)
        // Decoded with an 8-bit VMID the same value has VMID 0x34 and RES0 bits [63:56] = 0x12.
        let d8 = VTTBR(rawValue: t.vttbr, vmid16: false)
        #expect(d8.vmid == 0x34 && d8.upperBits == 0x12 && d8.rawValue == t.vttbr)
        // An 8-bit configuration refuses VMID 256.
        #expect(throws: Stage2Error.vmidOutOfRange(256, bits: 8)) {
            _ = try Stage2Tables(
                configuration: Stage2Configuration(granule: .k4, ipaBits: 40, vmid: 256),
                memory: memory, poolBase: PhysicalAddress(0x4000_0000), poolBytes: 0x4000)
        }
    }

    @Test func vtcrDecodesEveryField() {
        let v = VTCR(rawValue: 0x8002_3558)
        #expect(v.t0sz == 24 && v.sl0 == 1 && v.irgn0 == 1 && v.orgn0 == 1 && v.sh0 == 3 && v.tg0 == 0 && v.ps == 2)
        #expect(v.res1Bit31 && !v.vs && v.granule == .k4 && v.ipaBits == 40 && v.startLevel == 1 && v.outputBits == 40)
        #expect(v.isConsistent)
        // Unnamed bits survive a round trip; RES1 clear is reported; bit 32 is DS (FEAT_LPA2).
        let odd = VTCR(rawValue: 0x0000_0003_0002_3558 | 1 << 21)
        #expect(odd.rawValue == 0x0000_0003_0002_3558 | 1 << 21 && odd.ha && !odd.res1Bit31 && odd.ds && odd.otherBits == 1 << 33)
        // SL0 = 0b10 (level 0) with T0SZ 24 (40-bit) is consistent (min 40); with T0SZ 32 it is not.
        #expect(VTCR(rawValue: 0x8002_3598).isConsistent)
        #expect(!VTCR(rawValue: 0x8002_35A0).isConsistent)
    }

    @Test func defaultStartLevels() {
        // (granule, IPA bits) → (start level, concatenated tables), from S2InconsistentSL with
        // at most 16 concatenated tables and at least two levels.
        let expected: [(Granule, Int, Int, Int)] = [
            (.k4, 32, 2, 4), (.k4, 34, 2, 16), (.k4, 35, 1, 1), (.k4, 40, 1, 2), (.k4, 43, 1, 16), (.k4, 44, 0, 1),
            (.k4, 48, 0, 1), (.k16, 36, 2, 1), (.k16, 40, 2, 16), (.k16, 41, 1, 1), (.k16, 48, 1, 2),
            (.k64, 32, 2, 1), (.k64, 44, 2, 4), (.k64, 46, 2, 16), (.k64, 47, 1, 1), (.k64, 48, 1, 1),
        ]
        for (g, bits, level, tables) in expected {
            let geometry = try? Stage2Geometry(granule: g, ipaBits: bits)
            #expect(geometry?.startLevel == level && geometry?.concatenatedTables == tables, "\(g) \(bits)-bit")
        }
        // Forced start levels the architecture forbids.
        #expect(throws: Stage2Error.self) { _ = try Stage2Geometry(granule: .k4, ipaBits: 40, startLevel: 2) }  // max 34
        #expect(throws: Stage2Error.self) { _ = try Stage2Geometry(granule: .k4, ipaBits: 32, startLevel: 0) }  // min 40
        #expect(throws: Stage2Error.self) { _ = try Stage2Geometry(granule: .k16, ipaBits: 48, startLevel: 0) }  // needs DS
        #expect(throws: Stage2Error.self) { _ = try Stage2Geometry(granule: .k64, ipaBits: 48, startLevel: 0) }  // reserved
        #expect(throws: Stage2Error.ipaBitsOutOfRange(49)) { _ = try Stage2Geometry(granule: .k4, ipaBits: 49) }
        // 64K 32-bit may start at level 3 when forced (SL0 = 0b00, 8 concatenated tables).
        let l3 = try? Stage2Geometry(granule: .k64, ipaBits: 32, startLevel: 3)
        #expect(l3?.concatenatedTables == 8 && l3?.sl0 == 0)
    }

    // Descriptors (Arm ARM D8.3 formats; attributes D8.4/D8.5): valid [0], table/page [1],
    // MemAttr [5:2], S2AP [7:6], SH [9:8], AF [10], OA [47:12], Contiguous [52], XN [54:53].

    @Test func pageDescriptorRWXNormal() {
        // 0x8000_1000 | 0b11 | MemAttr 0b1111<<2 (0x3C) | S2AP 0b11<<6 (0xC0) | SH 0b11<<8 (0x300)
        // | AF (0x400) = 0x8000_17FF; XN = 0b00.
        let d = Stage2Descriptor.leaf(output: PhysicalAddress(0x8000_1000), attributes: .normalRWX, level: 3)
        #expect(d == 0x8000_17FF)
        #expect(Stage2Descriptor.decode(d, level: 3, granule: .k4) == .page(PhysicalAddress(0x8000_1000), .normalRWX))
    }

    @Test func pageDescriptorReadWriteNoExecute() {
        // As above with XN = 0b10 (bit 54): 0x0040_0000_8000_17FF.
        let a = Stage2Attributes(permissions: [.read, .write])
        #expect(Stage2Descriptor.leaf(output: PhysicalAddress(0x8000_1000), attributes: a, level: 3) == 0x0040_0000_8000_17FF)
    }

    @Test func deviceBlockReadOnly() {
        // 2M block at level 2: 0x9000_0000 | 0b01 | MemAttr nGnRE 0b0001<<2 (0x4) | S2AP 0b01<<6 (0x40)
        // | SH 0x300 | AF 0x400 = 0x9000_0745, XN 0b10 → 0x0040_0000_9000_0745.
        let a = Stage2Attributes(permissions: [.read], memory: .deviceNGnRE)
        let d = Stage2Descriptor.leaf(output: PhysicalAddress(0x9000_0000), attributes: a, level: 2)
        #expect(d == 0x0040_0000_9000_0745)
        #expect(Stage2Descriptor.decode(d, level: 2, granule: .k4) == .block(PhysicalAddress(0x9000_0000), a))
        // nGnRnE: MemAttr 0b0000; write-only: S2AP 0b10; AF = 0; non-shareable.
        let b = Stage2Attributes(permissions: [.write], memory: .deviceNGnRnE, shareability: .nonShareable, accessFlag: false)
        #expect(Stage2Descriptor.leaf(output: PhysicalAddress(0x9000_0000), attributes: b, level: 2) == 0x0040_0000_9000_0081)
    }

    @Test func xnFieldEncodings() {
        // XN[1:0] with FEAT_XNX: 0b00 EL1+EL0, 0b01 EL0 only, 0b10 none, 0b11 EL1 only.
        let cases: [(Stage2Permissions, UInt64)] = [(.execute, 0b00), (.executeEL0, 0b01), ([], 0b10), (.executeEL1, 0b11)]
        for (p, xn) in cases {
            let d = Stage2Descriptor.leaf(output: PhysicalAddress(0), attributes: Stage2Attributes(permissions: p.union(.read)), level: 3)
            #expect((d >> 53) & 3 == xn)
            #expect(Stage2Attributes(descriptor: d).permissions == p.union(.read))
        }
    }

    @Test func descriptorRoundTripAllAttributeCombinations() {
        let perms: [Stage2Permissions] = (0..<16).map { Stage2Permissions(rawValue: UInt8($0)) }
        let memories: [Stage2MemoryType] = [.normal, .deviceNGnRE, .deviceNGnRnE, .memAttr(0b0101)]
        for g in Granule.allCases {
            for p in perms {
                for m in memories {
                    for sh in [Stage2Shareability.nonShareable, .outerShareable, .innerShareable] {
                        for af in [true, false] {
                            for contiguous in [true, false] {
                                let a = Stage2Attributes(
                                    permissions: p, memory: m, shareability: sh, accessFlag: af, contiguous: contiguous)
                                let level = 3
                                let oa = PhysicalAddress(0x1234 << UInt64(g.pageShift))
                                let d = Stage2Descriptor.leaf(output: oa, attributes: a, level: level)
                                #expect(Stage2Descriptor.decode(d, level: level, granule: g) == .page(oa, a))
                                #expect(Stage2Attributes(descriptor: d).descriptorBits | (d & 3) | oa.rawValue == d)
                            }
                        }
                    }
                }
            }
        }
        // Reserved encodings: level-3 with bit 1 clear; a 16K level-1 block; a 4K level-0 block.
        #expect(Stage2Descriptor.decode(0x8000_0001, level: 3, granule: .k4) == .reserved)
        #expect(Stage2Descriptor.decode(0x8000_0001, level: 1, granule: .k16) == .reserved)
        #expect(Stage2Descriptor.decode(0x8000_0001, level: 0, granule: .k4) == .reserved)
        #expect(Stage2Descriptor.decode(0x4000_3003, level: 1, granule: .k4) == .table(PhysicalAddress(0x4000_3000)))
    }

    /// The descriptor bits are encoded when a field is set, so each setter must re-encode.
    /// Stage-2 block/page attributes (Arm ARM D8.3.2, D8.5.5): MemAttr [5:2], S2AP [7:6] (6
    /// read, 7 write), SH [9:8], AF [10], Contiguous [52], XN [54:53] (FEAT_XNX: 0b00 EL1 and
    /// EL0, 0b01 EL0 only, 0b10 none, 0b11 EL1 only).
    @Test func descriptorBitsFollowEverySetter() {
        // Normal WB (0b1111 << 2 = 0x3C), RW (0xC0), inner shareable (0b11 << 8 = 0x300), AF (0x400), XN 0b00.
        var a = Stage2Attributes.normalRWX
        #expect(a.descriptorBits == 0x7FC)
        a.permissions = [.read]  // S2AP 0b01, XN 0b10 (no execution): 0x3C | 0x40 | 0x300 | 0x400 | 2 << 53
        #expect(a.descriptorBits == 0x0040_0000_0000_077C)
        a.permissions = [.read, .executeEL0]  // XN 0b01
        #expect(a.descriptorBits == 0x0020_0000_0000_077C)
        a.memory = .deviceNGnRE  // MemAttr 0b0001
        #expect(a.descriptorBits == 0x0020_0000_0000_0744)
        a.shareability = .outerShareable  // SH 0b10
        #expect(a.descriptorBits == 0x0020_0000_0000_0644)
        a.accessFlag = false
        #expect(a.descriptorBits == 0x0020_0000_0000_0244)
        a.contiguous = true
        #expect(a.descriptorBits == 0x0030_0000_0000_0244)
        // Decoding a descriptor of the LPA2 format (no SH field: bits [9:8] are OA[51:50])
        // reports inner shareable, and the bits say so too.
        let lpa2 = Stage2Attributes(descriptor: 0x3_0000_0000_0000 | 0x7FC & ~0x300 | 0x100, format: .lpa2)
        #expect(lpa2.shareability == .innerShareable)
        #expect(lpa2.descriptorBits & 0x300 == 0x300)
    }

    @Test func tlbiOperand() {
        // TLBI IPAS2E1IS Xt: IPA[47:12] in [35:0]; TTL [47:44] = granule (0b01 4K) : level (0b11).
        let i = TLBInvalidation.ipa(IPA(0x8000_1000), level: 3, granule: .k4)
        #expect(i.operand(ttl: false) == 0x8_0001)
        #expect(i.operand(ttl: true) == 0x0000_7000_0008_0001)
        // 64K, level 2: TTL 0b1110.
        #expect(TLBInvalidation.ipa(IPA(0x2000_0000), level: 2, granule: .k64).operand(ttl: true) == 0x0000_E000_0002_0000)
        // No level: TTL 0 even when asked.
        #expect(TLBInvalidation.ipa(IPA(0x20_0000), level: nil, granule: .k4).operand(ttl: true) == 0x200)
        #expect(TLBInvalidation.allForVMID.operand(ttl: true) == nil)
    }
}
