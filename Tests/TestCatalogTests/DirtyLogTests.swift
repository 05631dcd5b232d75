import AArch64
import GuestProtocol
import Testing

@testable import Runtime
@testable import TestCatalog

@Suite struct DirtyLogPlanTests {
    /// Which pages each round writes, derived from the op list by hand: round 1 (ops 0-5)
    /// stores to pages 0, 2, 5, 0; round 2 (ops 7-11) stores to pages 3 and 7.
    @Test(arguments: [UInt64(0x1000), 0x4000, 0x10000])
    func rounds(pageSize: UInt64) throws {
        let p = try DirtyLog.plan(pageSize: pageSize)
        #expect(p.dirtyAtCheckpoint == [0, 2, 5])
        #expect(p.dirtyAtDone == [3, 7])
        #expect(p.checkpointOp == 6 && p.scenario.ops[6].kind == .hvc)
        func page(_ op: Int) -> Int { Int((p.scenario.ops[op].address - DirtyLog.ipaBase) / pageSize) }
        let stores1 = Set((0..<6).filter { p.scenario.ops[$0].kind.isStore }.map(page))
        let stores2 = Set((7..<12).filter { p.scenario.ops[$0].kind.isStore }.map(page))
        #expect(stores1 == [0, 2, 5] && stores2 == [3, 7])
        // Page 5's store is its last 32-bit word.
        #expect(p.scenario.ops[4].address == DirtyLog.ipaBase + 6 * pageSize - 4)
        // Stage 2 maps all 8 pages up front: no faults expected.
        #expect(p.scenario.initialMappings.count == 1 && p.scenario.initialMappings[0].size == 8 * pageSize)
        // Page 3: a 4-byte read of the planted 0x93939393, then 0xBEEF stored at +2.
        #expect(
            p.scenario.expectedMemory.contains {
                $0.0 == PhysicalAddress(DirtyLog.regionBase + 3 * pageSize + 0x40) && $0.1 == [0x93, 0x93, 0xEF, 0xBE]
            })
        #expect(p.scenario.expectedResults[6] == 3)  // the host's answer: 3 dirty pages
    }

    @Test func refusesOddPageSizes() {
        #expect(throws: SessionError.self) { _ = try DirtyLog.plan(pageSize: 0x2000) }
        #expect(throws: SessionError.self) { _ = try DirtyLog.plan(pageSize: 0x20000) }
    }
}

@Suite struct DirtyLogRAMSlotPlanTests {
    /// The standard layout: message page 0x4010_1000, vEL2 stack top 0x4011_0000 (its frames
    /// live in the page below, 0x4010_F000), results 0x4030_0000; test pages in the data pool
    /// at 0x4080_0000.
    @Test func payloadPages() throws {
        let p4 = try DirtyLog.plan(pageSize: 0x1000, slot: .ram)
        #expect(p4.regionName == "ram" && p4.regionBase == 0x4080_0000)
        #expect(p4.payloadPages == [0x4010_1000, 0x4010_F000, 0x4030_0000])
        #expect(p4.scenario.initialMappings[0].pa == PhysicalAddress(0x4080_0000))
        // 64 KiB host pages: message and stack share the page at 0x4010_0000.
        let p64 = try DirtyLog.plan(pageSize: 0x10000, slot: .ram)
        #expect(p64.payloadPages == [0x4010_0000, 0x4030_0000])
        #expect(try DirtyLog.plan(pageSize: 0x1000).payloadPages == [])
    }
}
