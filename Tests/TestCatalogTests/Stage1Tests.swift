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

/// catalog/stage1-on.json: the expectations it builds, derived by hand (the values the Swift
/// plan it replaced asserted), and the `stage1` fields' errors and checks.
@Suite struct Stage1FileTests {
    static func variant(_ name: String) throws -> (TestVariant, Scenario) {
        let t = try #require(Catalog.test(named: "stage1-on"))
        let v = try #require(t.variants.first { $0.name == name })
        return (v, try v.scenario(HostFacts()))
    }
    static func faults(_ s: Scenario) -> [ExpectedFault] {
        s.events.compactMap { if case .stage2Fault(let f) = $0.kind { f } else { nil } }
    }

    @Test func s1ptwVariant() throws {
        let (v, s) = try Self.variant("s1ptw")
        #expect(v.requirements == [.stage2Granule(.k4), .physicalAddressBits(40), .lse, .stage1Granule4K])
        // Ops 0-4 turn stage 1 on: MAIR, TCR, TTBR0, TLBI VMALLE1, SCTLR (last), each with the
        // value the Arm ARM register layouts give (Stage1EncodingTests).
        #expect(s.ops.prefix(5).map(\.kind) == [.sysregWrite, .sysregWrite, .sysregWrite, .tlbiVMALLE1, .sysregWrite])
        #expect(s.ops.prefix(5).map(\.aux) == [4, 1, 2, 0, 0])
        #expect(s.ops[0].value == 0x44_00FF && s.ops[1].value == 0x2_8099_3519 && s.ops[2].value == 0x80_0000_0000)
        #expect(s.ops[4].value == 0x30D0_1805)
        // Eight faults, two per op: S1PTW for the level-3 table at 0x80_4000_0000 (its stage-2
        // level-1 entry is empty → level 1), the data page 0xC0_0000_0000 (level 1); S1PTW for
        // the table at 0x80_0000_5000 (next to the mapped table pages → level 3), the data page
        // 0xC0_0000_1000 (level-3 table built for 0xC0_0000_0000 → level 3); S1PTW for the table
        // at 0x80_0020_0000 (level-1 entry valid, level-2 entry for that 2 MiB empty → level 2),
        // data 0xC0_0000_3000 (level 3); and for the fetch: the table at 0x80_0000_7000 (level 3),
        // then the code page 0xC0_0000_4000 (level 3).
        let f = Self.faults(s)
        #expect(f.count == 8 && s.events.count == 8)
        #expect(f.map(\.s1ptw) == [true, false, true, false, true, false, true, false])
        #expect(f.map(\.level) == [1, 1, 3, 3, 2, 3, 3, 3])
        #expect(
            f.map { $0.faultIPA & ~0xFFF } == [
                0x80_4000_0000, 0xC0_0000_0000, 0x80_0000_5000, 0xC0_0000_1000,
                0x80_0020_0000, 0xC0_0000_3000, 0x80_0000_7000, 0xC0_0000_4000,
            ])
        // The descriptors' IPAs: level-3 index 0 of each table; the data IPAs keep the VA's offset.
        #expect(f[0].faultIPA == 0x80_4000_0000 && f[1].faultIPA == 0xC0_0000_0010 && f[3].faultIPA == 0xC0_0000_1008)
        #expect(
            f.map(\.address) == [
                0x20_0000_0010, 0x20_0000_0010, 0x20_0020_0008, 0x20_0020_0008,
                0x20_0060_0020, 0x20_0060_0020, 0x20_0080_0040, 0x20_0080_0040,
            ])
        #expect(f.map(\.opIndex) == [5, 5, 6, 6, 12, 12, 13, 13])
        #expect(f[6].access == .fetch && f[7].access == .fetch)
        // HPFAR is checked on every one (S1PTW: HPFAR_EL2 is valid for a fault on the walk).
        #expect(f.allSatisfy { $0.hpfarValid })
        // LDADD ×3 of 0x22 on 0x1000_0000_0000_0001: returns the value before the last add,
        // memory holds + 0x66. CAS equal → returns the old value and stores the new one; CAS
        // unequal → returns memory, stores nothing.
        #expect(s.expectedResults[7] == 0x1000_0000_0000_0045)
        #expect(s.expectedResults[8] == 0xB2B2_0000_0000_0010)
        #expect(s.expectedResults[9] == 0xB2B2_0000_0000_0020)
        #expect(s.expectedResults[10] == 0x5707_E000_0000_0008 && s.expectedResults[11] == 0xA1A1_0000_0000_0010)
        #expect(s.expectedResults[3] == 0 && s.expectedResults[4] == 0x30D0_1805)
        let memory = Dictionary(s.expectedMemory.map { ($0.0.rawValue, $0.1[0]) }) { a, _ in a }
        func word(_ pa: UInt64) -> UInt64? {
            var v: UInt64 = 0
            for i in 0..<8 {
                guard let b = memory[pa + UInt64(i)] else { return nil }
                v |= UInt64(b) << (8 * UInt64(i))
            }
            return v
        }
        let dataPA = try #require(s.backing[IPA(0xC0_0000_0000)]).rawValue
        let dataB = try #require(s.backing[IPA(0xC0_0000_1000)]).rawValue
        #expect(word(dataPA + 0x18) == 0x1000_0000_0000_0067)
        #expect(word(dataB + 0x10) == 0xCA5C_A5CA_5CA5_CA50 && word(dataB + 0x20) == 0xB2B2_0000_0000_0020)
        // Every stage-1 table is planted (root: a table entry for the identity maps' 1 GiB and
        // one for the test VAs' L1 index 128 → the level-2 tables at +0x1000 and +0x2000).
        let rootPA = try #require(s.initialMappings.first { $0.ipa == IPA(0x80_0000_0000) }).pa.rawValue
        let root = try #require(s.planted.first { $0.0.rawValue == rootPA && $0.1.count == 4096 }).1
        func entry(_ table: [UInt8], _ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(table[i * 8 + $1]) << (8 * UInt64($1)) } }
        #expect(entry(root, 1) == 0x80_0000_1003 && entry(root, 128) == 0x80_0000_2003)
        #expect(s.planted.filter { $0.1.count == 4096 }.count == 7)
        #expect(word(rootPA + 8) == 0x80_0000_1003, "the tables are in the memory checked afterwards")
    }

    @Test func permissionVariant() throws {
        let (v, s) = try Self.variant("s1ptw-permission")
        #expect(v.requirements == [.stage2Granule(.k4), .physicalAddressBits(40), .hardwareAccessFlag, .stage1Granule4K])
        let f = Self.faults(s)
        #expect(f.count == 1)
        #expect(f[0].s1ptw && f[0].kind == .permission && f[0].level == 3 && f[0].faultIPA == 0x80_0000_6000)
        #expect(f[0].address == 0x20_0040_0010 && f[0].hpfarValid)
        #expect(s.ops[1].value == 0x82_8099_3519)  // TCR with HA
        let t3c = try #require(s.initialMappings.first { $0.ipa == IPA(0x80_0000_6000) })
        #expect(t3c.attributes.permissions == [.read])
        guard case .protect(let ipa, let size, let attributes)? = s.events.first?.reactions.first else {
            Issue.record("expected a protect reaction: \(String(describing: s.events.first?.reactions))")
            return
        }
        #expect(ipa == IPA(0x80_0000_6000) && size == 0x1000 && attributes.permissions == [.read, .write])
        // The descriptor for VA 0x20_0040_0000 is entry 0 of that table: planted with AF = 0,
        // expected afterwards with AF = 1 (bit 10: byte 1, bit 2) and nothing else changed.
        let planted = try #require(s.planted.first { $0.0 == t3c.pa && $0.1.count == 4096 }).1
        #expect(planted[1] & 0x04 == 0 && planted[0] & 3 == 3)
        let after = s.expectedMemory.first { $0.0.rawValue == t3c.pa.rawValue + 1 }?.1
        #expect(after == [planted[1] | 0x04])
        #expect(s.expectedMemory.first { $0.0 == t3c.pa }?.1 == [planted[0]])
    }

    static let small = #"""
        {
          "format": 1, "name": "t", "summary": "s", "granule": "4k",
          "let": {"tables": "1 << 39", "va": "1 << 30 << 7"},
          "memory": [{"name": "s1", "ipa": "tables", "size": "3 * page", "align": "page", "access": "rw"},
                     {"name": "d", "ipa": "tables + block", "size": "page", "access": "rw"}],
          "stage1": {"vaBits": 39, "root": "tables", "hardwareAccessFlag": true,
                     "tables": [{"level": 2, "va": "payloadBase", "ipa": "tables + page"},
                                {"level": 2, "va": "va", "ipa": "tables + 2 * page"}],
                     "map": [{"va": "va", "ipa": "d", "size": "block", "access": "rw", "accessFlag": false}]},
          "ops": [
            {"op": "sysregWrite", "register": "MAIR_EL1", "value": "s1MAIR", "result": "s1MAIR"},
            {"op": "sysregWrite", "register": "TCR_EL1", "value": "s1TCR", "result": "s1TCR"},
            {"op": "sysregWrite", "register": "TTBR0_EL1", "value": "tables", "result": "tables"},
            {"op": "sysregWrite", "register": "SCTLR_EL1", "value": "s1SCTLR", "result": "s1SCTLR"},
            {"op": "load", "bytes": 8, "at": "va + 0x18",
             "raises": [{"fault": "permission", "stage1Walk": 2, "level": 3, "host": [{"protect": {"region": "s1", "access": "rw"}}]}]}
          ],
          "atDone": [{"expectStage1Descriptor": {"va": "va", "level": 2, "set": "afBit"}}],
          "variants": [{"name": "v", "summary": "v"}]
        }
        """#

    @Test func smallFileBuilds() throws {
        let t = try ScenarioLoader.load(Array(Self.small.utf8), file: "t.json")
        let s = try t.variants[0].scenario(HostFacts())
        let f = Self.faults(s)
        // A 2 MiB block at level 2: the walk's level-2 descriptor is entry 0 of tables + 2 pages.
        #expect(f.count == 1 && f[0].s1ptw && f[0].faultIPA == (1 << 39) + 0x2000 && f[0].address == (1 << 37) + 0x18)
        // The load reads the data IPA (block + 0x18) from its region: a value naming the op.
        #expect(s.expectedResults[4].map { $0 >> 56 } == 0xA5)
    }

    @Test func badValuesAreNamed() {
        for (old, new, says) in [
            (#""vaBits": 39"#, #""vaBits": 20"#, "$.stage1.vaBits: vaBits 20; expected 25 to 48"),
            (#""access": "rw", "accessFlag""#, #""access": "rx", "accessFlag""#, "$.stage1.map[0].access: access 'rx'"),
            (#"{"level": 2, "va": "va""#, #"{"level": 4, "va": "va""#, "$.stage1.tables[1].level: level 4"),
            (#""stage1Walk": 2"#, #""stage1Walk": 4"#, "$.ops[4].raises[0].stage1Walk: stage1Walk 4"),
            (#""register": "TCR_EL1""#, #""register": "TCR_EL2""#, "$.ops[1].register: register 'TCR_EL2'; expected one of: SCTLR_EL1"),
            (#""hardwareAccessFlag": true,"#, #""hardwareAccessFlag": true, "root2": 1,"#, "$.stage1.root2: unknown key 'root2'"),
            (#""set": "afBit"}"#, #""sett": "afBit"}"#, "$.atDone[0].expectStage1Descriptor.sett: unknown key 'sett'"),
        ] {
            Self.expectError(old, new, says, atLoad: true)
        }
        for (old, new, says) in [
            (
                #""value": "tables", "result""#, #""value": "tables + page", "result""#,
                "$.ops[2].value: TTBR0_EL1 0x8000001000 is not the stage-1 root"
            ),
            (#""value": "s1TCR""#, #""value": "s1TCR + 1""#, "$.ops[1].value: TCR_EL1 0x828099351a is not the one"),
            (#""value": "s1MAIR""#, #""value": "0xFF""#, "$.ops[0].value: MAIR_EL1 0xff is not s1MAIR"),
            (
                #"{"level": 2, "va": "va", "ipa": "tables + 2 * page"}"#, #"{"level": 2, "va": "0", "ipa": "tables + 2 * page"}"#,
                "$.stage1.map[0]: no table placed for {\"level\": 2, \"va\": \"0x2000000000\"}"
            ),
            (
                #""root": "tables""#, #""root": "tables + 0x10_0000""#,
                "$.stage1.root: the stage-1 table at IPA 0x8000100000 is in no region"
            ),
            (
                #""stage1Walk": 2"#, #""stage1Walk": 3"#,
                "$.ops[4].raises[0].stage1Walk: a walk of VA 0x2000000018 reads no level-3 descriptor"
            ),
        ] {
            Self.expectError(old, new, says, atLoad: false)
        }
        // SCTLR_EL1.M = 1 without tables; stage1Walk while the stage 1 is off.
        Self.expectError(#""stage1": {"#, #""stage1x": {"#, "$.stage1x: unknown key 'stage1x'", atLoad: true)
        let noStage1 = Self.small.replacing(
            #"{"op": "sysregWrite", "register": "SCTLR_EL1", "value": "s1SCTLR", "result": "s1SCTLR"},"#, with: ""
        )
        .replacing(#""at": "va + 0x18","#, with: #""at": "va + 0x18", "result": "unchecked","#)
        Self.expectError(
            noStage1, #""stage1Walk": 2"#, #""stage1Walk": 2"#, "$.ops[3].raises[0].stage1Walk: the nested stage 1 is off at this op",
            atLoad: false)
    }

    static func expectError(_ old: String, _ new: String, _ says: String, atLoad: Bool) {
        expectError(small, old, new, says, atLoad: atLoad)
    }
    static func expectError(_ base: String, _ old: String, _ new: String, _ says: String, atLoad: Bool) {
        let text = base.replacing(old, with: new)
        #expect(text != base || old == new)
        do {
            let t = try ScenarioLoader.load(Array(text.utf8), file: "t.json")
            #expect(!atLoad, "\(new): loaded")
            _ = try t.variants[0].scenario(HostFacts())
            Issue.record("\(new) built")
        } catch {
            #expect("\(error)".contains("t.json: " + says), "\(new): \(error)")
        }
    }

    /// The requirements a "stage1" file and `requires.lse` add decide skips from the ID registers.
    @Test func stage1Requirements() {
        var facts = VCPUFacts(currentEL: 2 << 2, hcrAtEntry: 0, mmfr0: 0xF << 28, mmfr1: 0, mmfr2: 0)
        #expect(facts.unmet(.stage1Granule4K)?.contains("TGran4 = 0b1111") == true)
        facts.mmfr0 = 0
        #expect(facts.unmet(.stage1Granule4K) == nil)
        #expect(facts.unmet(.lse)?.contains("Atomic = 0") == true)
        facts.isar0 = 0b0010 << 20
        #expect(facts.unmet(.lse) == nil)
    }
}
