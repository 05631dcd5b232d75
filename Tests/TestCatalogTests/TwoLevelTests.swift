import AArch64
import GuestProtocol
import Testing

@testable import Runtime
@testable import TestCatalog

@Suite struct TwoLevelPlanTests {
    @Test func events() throws {
        let p = try TwoLevel.plan()
        // Per page: a stage-2 translation fault (level 1 for the first IPA under an empty
        // level-1 entry, then level 3 in the same level-3 table), then KVM_EXIT_MMIO at the
        // PA stage 2 now maps it to (0x6000_0000 + k * 64 KiB + offset).
        #expect(p.events.count == 6)
        guard case .stage2Fault(let f0) = p.events[0], case .hostFault(0, 0x6000_0008, 8, true, 0x2222_0000_0000_0008) = p.events[1],
            case .stage2Fault(let f1) = p.events[2], case .hostFault(1, 0x6001_0010, 8, false, 0) = p.events[3],
            case .stage2Fault(let f2) = p.events[4], case .hostFault(2, 0x6002_0020, 4, true, 0x2020_2020) = p.events[5]
        else {
            Issue.record("event order: \(p.events)")
            return
        }
        #expect([f0.level, f1.level, f2.level] == [1, 3, 3])
        #expect([f0.ipa, f1.ipa, f2.ipa] == [0x80_0000_0008, 0x80_0001_0010, 0x80_0002_0020])
        #expect(p.backing[0x80_0001_0000] == PhysicalAddress(0x6001_0000))
        // Re-reads after the retries: the values written, and the value planted on add.
        #expect(p.scenario.expectedResults[3] == 0x2222_0000_0000_0008)
        #expect(p.scenario.expectedResults[4] == 0x2020_2020)
        #expect(p.scenario.expectedResults[5] == 0x1111_0000_0000_0010)
    }
}
