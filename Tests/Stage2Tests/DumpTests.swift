import Foundation
import Testing

@testable import Stage2

struct DumpTests {
    @Test func treeMergesRunsOfLikePages() throws {
        var t = try makeTables(.k4, ipaBits: 40)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x4000, attributes: .normalRWX, tlb: &tlb)
        try t.map(
            ipa: IPA(0x5000), pa: PhysicalAddress(0x8000_5000), size: 0x1000, attributes: Stage2Attributes(permissions: [.read]), tlb: &tlb)
        // Not contiguous in PA: a new run even with equal attributes.
        try t.map(
            ipa: IPA(0x6000), pa: PhysicalAddress(0x9000_0000), size: 0x1000, attributes: Stage2Attributes(permissions: [.read]), tlb: &tlb)
        try t.map(
            ipa: IPA(0x4000_0000), pa: PhysicalAddress(0x4000_0000), size: 0x4000_0000,
            attributes: Stage2Attributes(memory: .deviceNGnRnE, accessFlag: false), tlb: &tlb)
        let lines = t.dump().split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("VTCR_EL2 0x"))
        #expect(lines[1] == "VTTBR_EL2 0x1000040000000: BADDR 0x40000000, VMID 1, CnP 0")
        #expect(lines.contains("      L3[0..3] IPA 0x0-0x3fff → PA 0x80000000-0x80003fff 4 × 4K pages rwx normal-wb inner-sh"))
        #expect(lines.contains("      L3[5] IPA 0x5000-0x5fff → PA 0x80005000-0x80005fff 4K page r-- normal-wb inner-sh"))
        #expect(lines.contains("      L3[6] IPA 0x6000-0x6fff → PA 0x90000000-0x90000fff 4K page r-- normal-wb inner-sh"))
        #expect(lines.contains("  L1[1] IPA 0x40000000-0x7fffffff → PA 0x40000000-0x7fffffff 1G block rwx device-nGnRnE inner-sh AF=0"))
        let dump = t.dumpEntries()
        #expect(dump.entries.count == 6)  // L1 table, L2 table, 3 runs, 1 block
        #expect(dump.parameters.startLevel == 1 && dump.rootTables == 2 && dump.parameters.granule == .k4)
        let run = try #require(dump.entries.first { $0.kind == .page })
        #expect(run.count == 4 && run.address == 0x8000_0000 && run.size == 0x4000 && run.attributes?.permissions == .rwx)
        let block = try #require(dump.entries.first { $0.kind == .block })
        #expect(block.attributes?.accessFlag == false && block.attributes?.memory == .deviceNGnRnE && block.level == 1)
    }

    @Test func reservedEntriesAndUnbackedTablesAreShown() throws {
        var t = try makeTables(.k16, ipaBits: 40, poolPages: 32)
        var tlb = RecordingTLB()
        try t.map(ipa: IPA(0), pa: PhysicalAddress(0x8000_0000), size: 0x8000, attributes: .normalRWX, tlb: &tlb)
        try t.writeRawDescriptor(ipa: IPA(0x4000), level: 3, value: 0x8000_4001)  // bit 1 clear at level 3
        let text = t.dump()
        #expect(text.contains("L3[1] IPA 0x4000-0x7fff reserved descriptor 0x80004001 (translation fault)"))
        #expect(
            t.walk(IPA(0x4000)).fault == Stage2Fault(kind: .translation, level: 3, ipa: IPA(0x4000), access: .read, descriptor: 0x8000_4001)
        )
        try t.writeRawDescriptor(ipa: IPA(0), level: 2, value: 0x7000_0003)
        #expect(t.dump().contains("table @0x70000000 (unbacked: walks abort)"))
    }

    @Test func moreDescriptorKnownAnswers() {
        // 16K level-2 block (32M) at 0x200_0000: OA | 0x7FC attributes | 0b01 = 0x200_07FD.
        let b = Stage2Descriptor.leaf(output: PhysicalAddress(0x200_0000), attributes: .normalRWX, level: 2)
        #expect(b == 0x200_07FD)
        #expect(Stage2Descriptor.decode(b, level: 2, granule: .k16) == .block(PhysicalAddress(0x200_0000), .normalRWX))
        // 64K page at 0x1_0000: 0x1_07FF; OA field [47:16].
        #expect(Stage2Descriptor.leaf(output: PhysicalAddress(0x1_0000), attributes: .normalRWX, level: 3) == 0x1_07FF)
        #expect(Stage2Descriptor.addressMask(.k64) == 0x0000_FFFF_FFFF_0000)
        #expect(Stage2Descriptor.addressMask(.k16) == 0x0000_FFFF_FFFF_C000)
        // Contiguous bit 52.
        #expect(
            Stage2Descriptor.leaf(output: PhysicalAddress(0), attributes: Stage2Attributes(contiguous: true), level: 3)
                == 0x0010_0000_0000_07FF)
    }
}
