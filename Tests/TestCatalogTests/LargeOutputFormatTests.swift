import AArch64
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// The format keys of the 52-bit output-address and hidden-granule tests: `outputBits`, `lpa2`,
/// `requires.lpa2`, a region's `backAt`, and `patchVTCR`'s `ps` / `tg0`.
@Suite struct LargeOutputFormat {
    static let file = #"""
        {
          "format": 1, "name": "t", "summary": "s", "granule": "4k",
          "let": {"base": "1 << 39"},
          "outputBits": 52, "lpa2": true, "vmIPABits": 52,
          "requires": {"paBits": 52, "lpa2": true},
          "memory": [{"name": "hi", "ipa": "base", "size": "page", "backAt": "0xC << 48"}],
          "plant": [{"at": "hi + 0x10", "bytes": 8, "value": "0x1234"}],
          "ops": [
            {"op": "load", "bytes": 8, "at": "hi + 0x10"},
            {"op": "hvc", "value": "1", "raises": [{"hvc": "hvcImm", "host": [{"patchVTCR": {"ps": "0b101", "tg0": "0b10"}}]}]}
          ],
          "variants": [{"name": "v", "summary": "v"}]
        }
        """#

    @Test func keysDecodeIntoTheScenario() throws {
        let t = try ScenarioLoader.load(Array(Self.file.utf8), file: "t.json")
        let s = try t.variants[0].scenario(HostFacts(vmIPABits: 52))
        #expect(s.outputBits == 52 && s.lpa2)
        #expect(t.variants[0].requirements == [.stage2Granule(.k4), .physicalAddressBits(52), .lpa2(.k4)])
        #expect(s.extraRAM == [ExtraRAM(name: "hi", base: PhysicalAddress(0xC << 48), size: 0x1000)])
        #expect(s.initialMappings.first { $0.ipa == IPA(1 << 39) }?.pa == PhysicalAddress(0xC << 48))
        // The region is modelled: the load's expected result is the planted value.
        #expect(s.expectedResults[0] == 0x1234)
        guard case .patchVTCR(let sl0, let t0sz, let ps, let tg0)? = s.events.first?.reactions.first else {
            Issue.record("expected a patchVTCR reaction, got \(String(describing: s.events.map(\.reactions)))")
            return
        }
        #expect(sl0 == nil && t0sz == nil && ps == 0b101 && tg0 == 0b10)
        // A host whose VM cannot reach 2^52 skips, naming the IPA size.
        do {
            _ = try t.variants[0].scenario(HostFacts(vmIPABits: 48))
            Issue.record("built for a 48-bit VM")
        } catch SessionError.skip(let why) {
            #expect(
                why == "KVM_CAP_ARM_VM_IPA_SIZE is 48 bits; this variant's memory needs a 52-bit VM (guest-physical addresses up to 2^52)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func badValuesAreNamed() {
        for (old, new, says) in [
            (#""outputBits": 52"#, #""outputBits": 50"#, "expected a VTCR_EL2.PS size"),
            (#""granule": "4k""#, #""granule": "64k""#, "4k and 16k granules only"),
            (#""lpa2": true, "vmIPABits""#, #""vmIPABits""#, "needs \"lpa2\": true"),
            (#""vmIPABits": 52"#, #""vmIPABits": 48"#, "beyond the VM's 48-bit IPA space"),
            (#""backAt": "0xC << 48"}"#, #""backAt": "0xC << 48", "pa": "0"}"#, "leave out 'unit', 'pa' and 'align'"),
            (#""tg0": "0b10"}"#, #""tg0": "0b10", "sh0": 1}"#, "unknown key"),
        ] {
            let text = Self.file.replacing(old, with: new)
            #expect(text != Self.file)
            do {
                let t = try ScenarioLoader.load(Array(text.utf8), file: "t.json")
                _ = try t.variants[0].scenario(HostFacts(vmIPABits: 52))
                Issue.record("\(new) loaded")
            } catch {
                #expect("\(error)".contains(says), "\(new): \(error)")
            }
        }
    }

    /// FEAT_LPA2 at stage 2 is TGran<N>_2 = 0b0011 (Arm ARM D24.2 ID_AA64MMFR0_EL1); 0b0010
    /// (supported, 48-bit) is not enough.
    @Test func lpa2RequirementReadsTGranN2() {
        func facts(_ mmfr0: UInt64) -> VCPUFacts { VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: mmfr0, mmfr1: 0, mmfr2: 0) }
        #expect(facts(0x3 << 40 | 0x6).unmet(.lpa2(.k4)) == nil)
        #expect(facts(0x3 << 32 | 0x6).unmet(.lpa2(.k16)) == nil)
        let no = facts(0x2 << 40 | 0x2 << 32 | 0x5).unmet(.lpa2(.k4))
        #expect(no?.contains("TGran4_2 = 0b10") == true, "\(String(describing: no))")
        #expect(facts(0x3 << 40).unmet(.lpa2(.k16)) != nil)
    }
}
