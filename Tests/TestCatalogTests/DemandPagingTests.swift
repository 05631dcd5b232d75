import AArch64
import GuestProtocol
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// Expectations derived by hand from the Arm ARM's translation-table geometry (D8.2):
/// 4K granule, 40-bit IPA → start level 1 with two concatenated level-1 tables; a level-1
/// entry spans 1 GiB, a level-2 entry 2 MiB, a level-3 entry 4 KiB.
@Suite struct TranslationFaultLevelModel {
    let identity: [(start: UInt64, size: UInt64)] = [(0x4000_0000, 1 << 20), (0x4020_0000, 2 << 20)]

    @Test func fourK() {
        func level(_ ipa: UInt64, _ mapped: [(start: UInt64, size: UInt64)]) -> Int? {
            DemandPaging.translationFaultLevel(ipa: ipa, mapped: mapped, granule: .k4, startLevel: 1)
        }
        // Nothing under the 1 GiB level-1 entry of 0x80_0000_0000: the walk stops at level 1.
        #expect(level(0x80_0000_0010, identity) == 1)
        let one = identity + [(0x80_0000_0000, 0x1000)]
        #expect(level(0x80_0000_0010, one) == nil)  // now mapped
        #expect(level(0x80_0000_1020, one) == 3)  // same level-3 table, empty entry
        #expect(level(0x80_0020_0001, one) == 2)  // next 2 MiB: no level-3 table there
        #expect(level(0x80_4000_0006, one) == 1)  // next 1 GiB
        // The identity-mapped payload is mapped.
        #expect(level(0x4000_0123, identity) == nil)
        // A 2 MiB block covers its whole level-2 entry.
        #expect(level(0x80_001F_F008, identity + [(0x80_0000_0000, 2 << 20)]) == nil)
    }

    @Test func sixtyFourK() {
        // 64K granule, 40-bit IPA → start level 2 (a level-2 entry spans 512 MiB).
        let mapped = identity + [(0x80_0000_0000, 0x1_0000)]
        #expect(DemandPaging.translationFaultLevel(ipa: 0x80_0001_0020, mapped: mapped, granule: .k64, startLevel: 2) == 3)
        #expect(DemandPaging.translationFaultLevel(ipa: 0x80_2000_0001, mapped: mapped, granule: .k64, startLevel: 2) == 2)
    }
}

@Suite struct DemandPagingScenario {
    @Test(arguments: [Granule.k4, .k16, .k64])
    func pageScenarioShape(granule: Granule) throws {
        let s = try DemandPaging.scenario(granule: granule, ipaBits: 40)
        let page = granule.bytes
        // One expected fault per distinct page, and each names an op that touches that page first.
        let pages = Set(s.ops.map { $0.address & ~(page - 1) })
        #expect(s.expectedFaults.count == pages.count)
        #expect(Set(s.expectedFaults.map { $0.address & ~(page - 1) }) == pages)
        for f in s.expectedFaults {
            let first = s.ops.firstIndex { $0.address & ~(page - 1) == f.address & ~(page - 1) }
            #expect(first == f.opIndex)
            #expect(f.kind == .translation)
        }
        // Several pages per granule, across last-level and intermediate table boundaries.
        #expect(pages.count >= 6)
        #expect(Set(s.expectedFaults.map(\.level)).count >= 2)
        // Loads/stores are naturally aligned (the nested guest's stage 1 is off: Device memory).
        for op in s.ops { if let n = op.kind.accessBytes { #expect(op.address % UInt64(n) == 0) } }
        // Reads, writes and executes are all present.
        #expect(s.ops.contains { $0.kind.isLoad } && s.ops.contains { $0.kind.isStore } && s.ops.contains { $0.kind == .exec })
        // Every page has backing, distinct and inside the data pool.
        let layout = SessionLayout.standard
        #expect(Set(s.backing.values).count == s.backing.count)
        for pa in s.backing.values {
            #expect(pa.rawValue >= layout.dataPool.rawValue && pa.rawValue + page <= layout.dataPool.rawValue + layout.dataPoolSize)
        }
    }

    @Test func blocksScenario() throws {
        let s = try DemandPaging.scenario(granule: .k4, ipaBits: 40, blockSize: 2 << 20)
        let blocks = Set(s.ops.map { $0.address >> 21 })
        #expect(s.expectedFaults.count == blocks.count)
        #expect(s.expectedFaults.allSatisfy { $0.level <= 2 })
        #expect(s.backing.values.allSatisfy { $0.isAligned(to: 2 << 20) })
    }

    /// Planted code: `movz x0, #0x5a04; ret` (MOVZ: sf=1 opc=10 100101 hw=00 imm16 Rd).
    @Test func plantedCodeEncoding() {
        let bytes = DemandPaging.plantedCode(returning: 0x5A04)
        #expect(bytes == [0x80, 0x40, 0x8B, 0xD2, 0xC0, 0x03, 0x5F, 0xD6])
    }

    @Test func expectedValuesComeFromTheModel() throws {
        let s = try DemandPaging.scenario(granule: .k4, ipaBits: 40)
        // op 2 stores 0x99AABBCC at page+0x20 and op 3 loads one byte of it back.
        #expect(s.ops[2].kind == .store32 && s.ops[3].kind == .load8 && s.ops[2].address == s.ops[3].address)
        #expect(s.expectedResults[3] == 0xCC)
    }
}

@Suite struct VCPUFactsDecoding {
    /// ID_AA64MMFR0_EL1 as QEMU's -cpu max reported it in the emulated host:
    /// TGran4_2 = 2, TGran64_2 = 2, TGran16_2 = 2 → all supported; PARange 5 (48 bits).
    @Test func emulatedHostValue() {
        let f = VCPUFacts(currentEL: 8, hcrAtEntry: 0x4_8000_0000, mmfr0: 0x1100_0222_0010_0125, mmfr1: 0, mmfr2: 0x1201_0111_0000_1011)
        #expect(f.supportsStage2(.k4) && f.supportsStage2(.k16) && f.supportsStage2(.k64))
        #expect(f.paBits == 48)
        #expect(f.e2h)
        #expect(f.hasTTL)
    }

    @Test func unsupportedGranules() {
        // TGran16_2 = 0b0001 (not supported); TGran64_2 = 0 with TGran64 = 0b1111 (not implemented).
        let mmfr0: UInt64 = 0b0001 << 32 | 0b1111 << 24
        let f = VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: mmfr0, mmfr1: 0, mmfr2: 0)
        #expect(!f.supportsStage2(.k16))
        #expect(!f.supportsStage2(.k64))
        #expect(f.supportsStage2(.k4))  // TGran4_2 = 0 and TGran4 = 0 → supported
        #expect(f.unmet(.stage2Granule(.k16)) != nil)
        #expect(!f.hasTTL)
    }
}
