import AArch64
import GuestProtocol
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// Stage-1 descriptor and register encodings, each value derived by hand from the Arm ARM
/// (D8.3 descriptor formats, D8.4 AP/PXN/UXN, D8.6 AttrIndx/SH, D24.2 TCR_EL1/SCTLR_EL1/MAIR_EL1).
@Suite struct Stage1EncodingTests {
    @Test func descriptors() {
        // Table: next-level address [47:12] | 0b11.
        #expect(Stage1.tableDescriptor(next: 0x80_0000_2000) == 0x80_0000_2003)
        // Page, Normal (AttrIndx 0), EL1 RW (AP 0b00), Inner Shareable (SH 0b11 → 0x300),
        // AF (0x400), PXN (bit 53) and UXN (bit 54) → 0x0060_0000_0000_0000, bits[1:0] = 0b11.
        #expect(Stage1.pageDescriptor(output: 0xC0_0000_0000, attributes: .normalData) == 0x0060_00C0_0000_0703)
        // Block (bits[1:0] = 0b01), executable at EL1: PXN clear, UXN set.
        #expect(Stage1.blockDescriptor(output: 0x4000_0000, attributes: .normalCode) == 0x0040_0000_4000_0701)
        // AF clear: bit 10 gone.
        var noAF = Stage1.Attributes.normalData
        noAF.accessFlag = false
        #expect(Stage1.pageDescriptor(output: 0x1000, attributes: noAF) == 0x0060_0000_0000_1303)
        // AttrIndx 1 → bits [4:2] = 0b001 (0x4); AP 0b10 (EL1 read-only) → bit 7 (0x80).
        let ro = Stage1.Attributes(attrIndex: 1, ap: 0b10, shareability: 0, accessFlag: true, pxn: false, uxn: false)
        #expect(Stage1.pageDescriptor(output: 0x2000, attributes: ro) == 0x2487)
        // The output address is masked to [47:12].
        #expect(Stage1.tableDescriptor(next: 0xFFFF_0000_0000_1FFF) == 0x0000_0000_0000_1003)
    }

    @Test func registers() {
        // T0SZ 25 (0x19), IRGN0 01 (0x100), ORGN0 01 (0x400), SH0 11 (0x3000), TG0 00,
        // T1SZ 25 (0x19_0000), EPD1 (0x80_0000), TG1 10 (0x8000_0000), IPS 010 = 40 bits (0x2_0000_0000).
        #expect(Stage1.tcr(vaBits: 39, ipaBits: 40) == 0x2_8099_3519)
        // HA is bit 39.
        #expect(Stage1.tcr(vaBits: 39, ipaBits: 40, hardwareAccessFlag: true) == 0x82_8099_3519)
        // IPS 101 = 48 bits; T0SZ = T1SZ = 16 (0x10, 0x10_0000); EPD1 0x80_0000.
        #expect(Stage1.tcr(vaBits: 48, ipaBits: 48) == 0x5_8090_3510)
        // M, C, I + EOS, TSCXT, EIS, SPAN, nTLSMD, LSMAOE.
        #expect(Stage1.sctlrMMUOn == 0x30D0_1805)
        // Attr0 0xFF (Normal WB RW-allocate), Attr1 0x00 (Device-nGnRnE), Attr2 0x44 (Normal NC).
        #expect(Stage1.mair & 0xFF == 0xFF && (Stage1.mair >> 8) & 0xFF == 0 && (Stage1.mair >> 16) & 0xFF == 0x44)
    }

    @Test func indexesAndStartLevel() throws {
        // 4 KB granule: level 1 takes VA[38:30], level 2 VA[29:21], level 3 VA[20:12].
        #expect(Stage1.index(of: 0x20_0000_0010, level: 1) == 128)
        #expect(Stage1.index(of: 0x20_0020_0008, level: 2) == 1)
        #expect(Stage1.index(of: 0x20_0020_5008, level: 3) == 5)
        #expect(try Stage1Tables(vaBits: 39, root: 0x1000).startLevel == 1)
        #expect(try Stage1Tables(vaBits: 48, root: 0x1000).startLevel == 0)
        #expect(try Stage1Tables(vaBits: 30, root: 0x1000).startLevel == 2)
        #expect(throws: SessionError.self) { _ = try Stage1Tables(vaBits: 39, root: 0x1008) }
    }

    @Test func builderPlacesTablesWhereAsked() throws {
        var t = try Stage1Tables(vaBits: 39, root: 0x10_0000)
        var next: UInt64 = 0x20_0000
        let at: (Int, UInt64) -> UInt64 = { _, _ in
            defer { next += 0x1000 }
            return next
        }
        try t.map(va: 0x20_0000_3000, output: 0xC0_0000_5000, size: 0x2000, attributes: .normalData, tableAt: at)
        // Level-2 table at 0x20_0000, level-3 at 0x20_1000. (Optionals are unwrapped before
        // #expect: Swift 6.2.3 crashes in SILGen comparing a UInt64? with a literal in it.)
        let level1 = try #require(t.tables[0x10_0000])
        let level2 = try #require(t.tables[0x20_0000])
        let level3 = try #require(t.tables[0x20_1000])
        let entries = try [level1[128], level2[0], level3[3], level3[4]].map { try #require($0) }
        #expect(entries == [0x20_0003, 0x20_1003, 0x0060_00C0_0000_5703, 0x0060_00C0_0000_6703])
        let entryIPA = try #require(t.descriptorIPA(level: 3, va: 0x20_0000_4ABC))
        #expect(entryIPA == 0x20_1000 + 4 * 8)
        let page = try #require(t.translate(0x20_0000_4ABC))
        #expect(page.output == 0xC0_0000_6ABC)
        #expect(t.translate(0x20_0000_6000) == nil)
        // Images are little-endian descriptors at index * 8.
        let image = t.image(of: 0x10_0000)
        #expect(Array(image[1024..<1032]) == [0x03, 0x00, 0x20, 0, 0, 0, 0, 0])
        // Double mapping and out-of-range VAs are refused.
        #expect(throws: SessionError.self) { try t.map(va: 0x20_0000_3000, output: 0, size: 0x1000, attributes: .normalData, tableAt: at) }
        #expect(throws: SessionError.self) { try t.map(va: 0x80_0000_0000, output: 0, size: 0x1000, attributes: .normalData, tableAt: at) }
        // A 2 MiB block at level 2.
        try t.map(va: 0x4000_0000, output: 0x4000_0000, size: 2 << 20, attributes: .normalCode, tableAt: at)
        let block = try #require(t.translate(0x4001_2345))
        #expect(block.output == 0x4001_2345)
        #expect(block.level == 2)
    }
}

/// The stage1-on plans: expected faults, results and memory derived by hand.
@Suite struct NestedStage1PlanTests {
    @Test func s1ptwPlan() throws {
        let p = try NestedStage1.plan(permissionVariant: false)
        // Ops 0-4 turn stage 1 on: MAIR, TCR, TTBR0, TLBI VMALLE1, SCTLR (last).
        #expect(p.scenario.ops.prefix(5).map(\.kind) == [.sysregWrite, .sysregWrite, .sysregWrite, .tlbiVMALLE1, .sysregWrite])
        #expect(p.scenario.ops[4].aux == NestedSystemRegister.sctlrEL1.rawValue && p.scenario.ops[4].value == 0x30D0_1805)
        #expect(p.scenario.ops[2].value == 0x80_0000_0000)
        // Eight faults, two per op: S1PTW for the level-3 table at 0x80_4000_0000 (its stage-2
        // level-1 entry is empty → level 1), the data page 0xC0_0000_0000 (level 1); S1PTW for
        // the table at 0x80_0000_5000 (next to the mapped table pages → level 3), the data page
        // 0xC0_0000_1000 (level-3 table built for 0xC0_0000_0000 → level 3); S1PTW for the table
        // at 0x80_0020_0000 (level-1 entry valid, level-2 entry for that 2 MiB empty → level 2),
        // data 0xC0_0000_3000 (level 3); and for the fetch: the table at 0x80_0000_7000 (level 3),
        // then the code page 0xC0_0000_4000 (level 3).
        let f = p.faults
        #expect(f.count == 8)
        #expect(f.map(\.s1ptw) == [true, false, true, false, true, false, true, false])
        #expect(f.map(\.level) == [1, 1, 3, 3, 2, 3, 3, 3])
        #expect(
            f.map(\.ipaPage) == [
                0x80_4000_0000, 0xC0_0000_0000, 0x80_0000_5000, 0xC0_0000_1000,
                0x80_0020_0000, 0xC0_0000_3000, 0x80_0000_7000, 0xC0_0000_4000,
            ])
        #expect(
            f.map(\.far) == [
                0x20_0000_0010, 0x20_0000_0010, 0x20_0020_0008, 0x20_0020_0008,
                0x20_0060_0020, 0x20_0060_0020, 0x20_0080_0040, 0x20_0080_0040,
            ])
        #expect(f.map(\.opIndex) == [5, 5, 6, 6, 12, 12, 13, 13])
        #expect(f[6].access == .fetch && f[7].access == .fetch)
        #expect(p.scenario.expectedResults[13] == 0x51E1)
        // LDADD ×3 of 0x22 on 0x1000_0000_0000_0001: returns the value before the last add,
        // memory holds + 0x66. CAS equal → returns the old value and stores the new one; CAS
        // unequal → returns memory, stores nothing.
        #expect(p.scenario.expectedResults[7] == 0x1000_0000_0000_0045)
        #expect(p.scenario.expectedResults[8] == 0xB2B2_0000_0000_0010)
        #expect(p.scenario.expectedResults[9] == 0xB2B2_0000_0000_0020)
        #expect(p.scenario.expectedMemory.contains { $0.0 == PhysicalAddress(0x4090_0018) && $0.1 == [0x67, 0, 0, 0, 0, 0, 0, 0x10] })
        #expect(
            p.scenario.expectedMemory.contains {
                $0.0 == PhysicalAddress(0x4090_1010) && $0.1 == [0x50, 0xCA, 0xA5, 0x5C, 0xCA, 0xA5, 0x5C, 0xCA]
            })
        // Every table the builder made is planted; the root is at the data pool's start.
        #expect(p.scenario.planted.contains { $0.0 == PhysicalAddress(0x4080_0000) && $0.1.count == 4096 })
    }

    @Test func permissionPlan() throws {
        let p = try NestedStage1.plan(permissionVariant: true)
        #expect(p.faults.count == 1)
        let f = p.faults[0]
        #expect(f.s1ptw && f.kind == .permission && f.level == 3 && f.ipaPage == 0x80_0000_6000 && f.far == 0x20_0040_0010)
        // The descriptor for VA 0x20_0040_0000 is entry 0 of the table at PA 0x4080_6000.
        #expect(p.accessFlagSetAt == [PhysicalAddress(0x4080_6000)])
        #expect(p.scenario.ops[1].value == 0x82_8099_3519)  // TCR with HA
        #expect(p.scenario.initialMappings.contains { $0.ipa == IPA(0x80_0000_6000) && $0.attributes.permissions == [.read] })
    }

    @Test func faultCheckerCatchesEachField() {
        let want = Stage2FaultExpectation(
            opIndex: 5, far: 0x20_0000_0010, ipa: 0x80_4000_0000, s1ptw: true, kind: .translation,
            level: 1, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true))
        // ESR: EC 0x24 << 26 | IL | S1PTW (bit 7) | DFSC 0b000101 (translation, level 1).
        let esr: UInt64 = 0x24 << 26 | 1 << 25 | 1 << 7 | 0x05
        // HPFAR_EL2.FIPA [43:4] = IPA[51:12].
        let hpfar: UInt64 = (0x80_4000_0000 >> 12) << 4
        let good = want.mismatches(
            esr: esr, far: 0x20_0000_0010, hpfar: hpfar, elr: 0x4000_1230, spsr: 0x3C5,
            opIndex: 5, interpreter: 0x4000_0000..<0x4000_2000)
        #expect(good == [])
        func bad(
            esr e: UInt64 = esr, far: UInt64 = 0x20_0000_0010, hpfar h: UInt64 = hpfar, elr: UInt64 = 0x4000_1230,
            spsr: UInt64 = 0x3C5, op: Int? = 5
        ) -> Int {
            want.mismatches(esr: e, far: far, hpfar: h, elr: elr, spsr: spsr, opIndex: op, interpreter: 0x4000_0000..<0x4000_2000).count
        }
        #expect(bad(esr: esr & ~(1 << 7)) == 1)  // S1PTW clear
        #expect(bad(esr: (esr & ~0x3F) | 0x07) == 1)  // level 3
        #expect(bad(esr: (esr & ~0x3F) | 0x0D) == 1)  // permission fault
        #expect(bad(esr: (esr & ~(0x3F << 26)) | 0x20 << 26) == 1)  // instruction abort
        #expect(bad(far: 0x80_4000_0000) == 1)  // FAR holds the IPA, not the VA
        #expect(bad(hpfar: hpfar + 0x10) == 1)  // next page
        #expect(bad(elr: 0x5000_0000) == 1)
        #expect(bad(spsr: 0x3C9) == 1)
        #expect(bad(op: 6) == 1)
        // Data abort with the nested stage 1 off: ISV/SAS/SRT/SF/WnR are checked.
        let data = Stage2FaultExpectation(
            opIndex: 0, far: 0x80_0000_0008, ipa: 0x80_0000_0008, s1ptw: false, kind: .translation,
            level: 1, access: .data(bytes: 8, write: true, register: 12, sixtyFourBit: true))
        // ISV (24) | SAS 0b11 (23:22) | SRT 12 (20:16) | SF (15) | WnR (6) | DFSC 0x05.
        let dEsr: UInt64 = 0x24 << 26 | 1 << 25 | 1 << 24 | 3 << 22 | 12 << 16 | 1 << 15 | 1 << 6 | 0x05
        #expect(dEsr == 0x93CC_8045)
        let dHpfar: UInt64 = (0x80_0000_0008 >> 12) << 4
        #expect(
            data.mismatches(
                esr: dEsr, far: 0x80_0000_0008, hpfar: dHpfar, elr: 0x4000_1250, spsr: 0x3C5, opIndex: 0,
                interpreter: 0x4000_0000..<0x4000_2000) == [])
        #expect(
            data.mismatches(
                esr: dEsr & ~(1 << 6), far: 0x80_0000_0008, hpfar: dHpfar, elr: 0x4000_1250, spsr: 0x3C5,
                opIndex: 0, interpreter: 0x4000_0000..<0x4000_2000
            ).count == 1)
    }
}
