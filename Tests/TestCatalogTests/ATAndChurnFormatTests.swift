import AArch64
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// The format pieces of `at-s12` and `shadow-mmu-churn`: result patterns (a mask and
/// alternatives, for PAR_EL1), the FEAT_S2FWB and FEAT_NV2 requirements, the dirty-log and
/// backing-replacement host steps and the teardown order. Each check is fed a wrong value.
@Suite struct ATAndChurnFormat {
    static func variant(_ test: String, _ name: String) throws -> Scenario {
        let t = try #require(Catalog.test(named: test))
        let v = try #require(t.variants.first { $0.name == name })
        return try v.scenario(HostFacts())
    }

    /// PAR_EL1 F = 0 (Arm ARM D24.2): F [0], SH [8:7], PA [47:12], ATTR [63:56] compared.
    @Test func aResultPatternComparesOnlyItsMaskAndAcceptsEachAlternative() {
        let p = ResultPattern(values: [0x04 << 56 | 0x4090_0100, 0x4090_0100], mask: 0xFF00_FFFF_FFFF_F181, why: "w")
        let op = GuestOp(.atS12E1R, address: 1 << 39)
        func bad(_ v: UInt64) -> [String] {
            OpResultCheck.failures(ops: [op], results: [OpResult(value: v, count: 1)], expected: [:], patterns: [0: p])
        }
        #expect(bad(0x04 << 56 | 0x4090_0100).isEmpty)
        #expect(bad(0x4090_0100).isEmpty)
        #expect(bad(0x04 << 56 | 0x4090_0100 | 1 << 9 | 1 << 11).isEmpty, "NS/NSE are outside the mask")
        let wrong = bad(0xFF << 56 | 0x4090_0180)
        #expect(wrong.count == 1 && wrong[0].contains("produced 0xff00000040900180") && wrong[0].contains("under mask"), "\(wrong)")
        #expect(bad(0x04 << 56 | 0x4090_1100).count == 1, "another PA")
        #expect(bad(0x04 << 56 | 0x4090_0101).count == 1, "F = 1")
    }

    @Test func atS12FileBuildsPatternsForEveryATOp() throws {
        let s = try Self.variant("at-s12", "s1-on")
        let atOps = s.ops.indices.filter { [.atS12E1R, .atS12E1W].contains(s.ops[$0].kind) }
        #expect(atOps.count == 7)
        for i in atOps { #expect(s.resultPatterns[i] != nil && s.expectedResults[i] == nil) }
        #expect(s.resultPatterns.values.allSatisfy { !$0.why.isEmpty })
        // The Normal page: stage 1 and stage 2 Write-Back, Inner Shareable (D8.5.5): 0xFF, SH 0b11.
        let normal = try #require(atOps.first { s.ops[$0].address == (1 << 39) + 2 * 0x1000 + 0x123 })
        let p = try #require(s.resultPatterns[normal])
        #expect(p.matches(0xFF << 56 | 0x4090_2180))
        #expect(!p.matches(0x4090_2100), "Device-nGnRnE, Outer Shareable: what stage 1 off without HCR_EL2.DC gives")
        // A stage-2 translation fault at level 3: F, FST 0x07, S; PTW clear.
        let fault = try #require(atOps.first { s.ops[$0].address == (1 << 39) + 16 * 0x1000 })
        #expect(s.resultPatterns[fault]!.matches(0xA0F))
        #expect(!s.resultPatterns[fault]!.matches(0xB0F), "PTW set")
        #expect(!s.resultPatterns[fault]!.matches(0x20F & ~0x200), "S clear")
        #expect(try Self.variant("at-s12", "dc").hcrSet == 1 << 12)
        #expect(try Self.variant("at-s12", "s1-on-fwb").hcrSet == 1 << 46)
    }

    @Test func resultPatternKeysAreChecked() throws {
        for (result, says) in [
            (#"{"value": 1, "oneOf": [1]}"#, "'value' or a non-empty 'oneOf'"),
            (#"{"oneOf": []}"#, "'value' or a non-empty 'oneOf'"),
            (#"{"value": 1, "mask": 3}"#, "needs 'why'"),
            (#"{"value": 1, "masc": 3}"#, "unknown key 'masc'"),
        ] {
            let text = """
                {"format": 1, "name": "t", "summary": "s", "granule": "4k",
                 "ops": [{"op": "atS12E1R", "at": "1 << 39", "result": \(result)}],
                 "variants": [{"name": "v", "summary": "v"}]}
                """
            do {
                _ = try ScenarioLoader.load(Array(text.utf8), file: "t.json").variants[0].scenario(HostFacts())
                Issue.record("\(result) loaded")
            } catch {
                #expect("\(error)".contains(says), "\(error)")
            }
        }
    }

    /// ID_AA64MMFR2_EL1.FWB [43:40]; .NV [27:24] = 0b0010 is FEAT_NV2; ID_AA64MMFR4_EL1.NV_frac
    /// [23:20] = 0b0001 is FEAT_NV2 without FEAT_NV (Arm ARM D24.2).
    @Test func fwbAndNV2ReadTheIDRegisters() {
        func facts(mmfr2: UInt64 = 0, mmfr4: UInt64 = 0) -> VCPUFacts {
            VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: 0, mmfr1: 0, mmfr2: mmfr2, mmfr4: mmfr4)
        }
        #expect(facts(mmfr2: 1 << 40).unmet(.stage2FWB) == nil)
        #expect(facts(mmfr2: ~(UInt64(0xF) << 40)).unmet(.stage2FWB)?.contains("FWB = 0") == true)
        #expect(facts(mmfr2: 0b0010 << 24).unmet(.nv2) == nil)
        #expect(facts(mmfr4: 0b0001 << 20).unmet(.nv2) == nil)
        #expect(facts(mmfr2: 0b0001 << 24).unmet(.nv2)?.contains("NV = 1") == true)
        // What Linux 7.3.4 gave the guest hypervisor in the emulated host.
        let seen = facts(mmfr2: 0x1201_0111_0000_1011).unmet(.nv2)
        #expect(seen?.contains("ID_AA64MMFR2_EL1.NV = 0, ID_AA64MMFR4_EL1.NV_frac = 0") == true, "\(seen ?? "nil")")
    }

    @Test func churnFileBuildsHostStepsAndTeardown() throws {
        func reactions(_ v: String) throws -> (Scenario, [ExpectedEvent.Reaction]) {
            let s = try Self.variant("shadow-mmu-churn", v)
            return (s, s.events.flatMap(\.reactions))
        }
        let (dirty, dr) = try reactions("dirty-log")
        #expect(dirty.teardown == .vmBeforeVCPUs)
        var toggles: [Bool] = []
        var dirtyChecks = 0
        for r in dr {
            if case .dirtyLogging(let on) = r { toggles.append(on) }
            if case .expectDirtyAddresses(let list) = r { dirtyChecks += list.count }
        }
        #expect(toggles == [true, false, true] && dirtyChecks == 2)
        let (munmap, mr) = try reactions("munmap")
        #expect(munmap.teardown == .standard)
        var replaced: [(PhysicalAddress, UInt64, Int)] = []
        for case let .replaceBacking(pa, size, _, plant) in mr { replaced.append((pa, size, plant.count)) }
        #expect(replaced.count == 1 && replaced[0].1 == 0x1_0000 && replaced[0].2 == 1)
        // The store-through-a-table-set page is not modelled: what it holds is the file's word.
        #expect(munmap.expectedMemory.contains { $0.0 == replaced[0].0 })
    }

    @Test func replaceBackingAndTeardownKeysAreChecked() throws {
        let base = #"""
            {"format": 1, "name": "t", "summary": "s", "granule": "4k", "teardown": "vmBeforeVCPUs",
             "ops": [{"op": "hvc", "value": 1, "raises": [{"hvc": "hvcImm", "host": [
               {"replaceBacking": {"pa": "dataPool", "size": "page", "plant": [{"pa": "dataPool + 8", "bytes": 8, "value": 5}]}},
               {"dirtyLogging": true}, {"expectDirtyAt": ["dataPool"]}]}]}],
             "variants": [{"name": "v", "summary": "v"}]}
            """#
        let s = try ScenarioLoader.load(Array(base.utf8), file: "t.json").variants[0].scenario(HostFacts())
        #expect(s.teardown == .vmBeforeVCPUs && s.events[0].reactions.count == 3)
        for (old, new, says) in [
            (#""pa": "dataPool", "size""#, #""pa": "0x4000_0000", "size""#, "inside the data pool"),
            (#""pa": "dataPool + 8""#, #""pa": "dataPool + page""#, "inside the replaced range"),
            (#""teardown": "vmBeforeVCPUs""#, #""teardown": "later""#, "expected \"standard\" or \"vmBeforeVCPUs\""),
            (#"{"dirtyLogging": true}"#, #"{"dirtyLogging": 1}"#, "dirtyLogging"),
            (#""size": "page", "plant""#, #""size": "page", "copy": "yes", "plant""#, "replaceBacking.copy"),
        ] {
            let text = base.replacing(old, with: new)
            #expect(text != base)
            do {
                _ = try ScenarioLoader.load(Array(text.utf8), file: "t.json").variants[0].scenario(HostFacts())
                Issue.record("\(new) loaded")
            } catch {
                #expect("\(error)".contains(says), "\(error)")
            }
        }
    }

    @Test func dirtyLogCheckNamesAPageTheLogMisses() {
        let page: UInt64 = 0x1000
        #expect(DirtyLogCheck.failures(expected: [PhysicalAddress(0x40A4_0008)], dirty: [0x40A4_0000], hostPageSize: page).isEmpty)
        let bad = DirtyLogCheck.failures(expected: [PhysicalAddress(0x40A4_0008)], dirty: [0x40A3_0000], hostPageSize: page)
        #expect(bad.count == 1 && bad[0].contains("0x40a40008"), "\(bad)")
        // 64K host pages: one dirty page covers sixteen 4K guest pages.
        #expect(DirtyLogCheck.failures(expected: [PhysicalAddress(0x40A4_F000)], dirty: [0x40A4_0000], hostPageSize: 0x10000).isEmpty)
    }
}
