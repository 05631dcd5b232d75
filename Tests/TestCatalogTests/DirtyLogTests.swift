import AArch64
import GuestProtocol
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// catalog/dirty-log.json, built for each host page size: the rounds, the host's checks and
/// the memory; and the dirty-log comparison fed wrong logs.
@Suite struct DirtyLogFileTests {
    static func scenario(_ variant: String, pageSize: UInt64) throws -> Scenario {
        let (_, variants) = try #require(Catalog.select("dirty-log/" + variant))
        return try variants[0].scenario(HostFacts(hostPageSize: pageSize))
    }
    static let ipaBase: UInt64 = 1 << 39

    /// Which pages each round writes, derived from the op list by hand: round 1 (ops 0-5)
    /// stores to pages 0, 2, 5, 0; round 2 (ops 7-11) stores to pages 3 and 7. The host's
    /// checks say the same.
    @Test(arguments: [UInt64(0x1000), 0x4000, 0x10000])
    func rounds(pageSize: UInt64) throws {
        let s = try Self.scenario("4k", pageSize: pageSize)
        #expect(s.ops[6].kind == .hvc)
        func page(_ op: Int) -> Int { Int((s.ops[op].address - Self.ipaBase) / pageSize) }
        let stores1 = Set((0..<6).filter { s.ops[$0].kind.isStore }.map(page))
        let stores2 = Set((7..<12).filter { s.ops[$0].kind.isStore }.map(page))
        #expect(stores1 == [0, 2, 5] && stores2 == [3, 7])
        #expect(s.events.count == 1)
        let dirty = s.events[0].reactions.compactMap { r -> [Int]? in if case .expectDirty(let p, true) = r { p } else { nil } }
        #expect(dirty == [[0, 2, 5]])
        guard s.atDone.count == 2, case .expectDirty([3, 7], true) = s.atDone[0], case .expectDirty([], false) = s.atDone[1] else {
            Issue.record("atDone: \(s.atDone)")
            return
        }
        // Page 5's store is its last 32-bit word.
        #expect(s.ops[4].address == Self.ipaBase + 6 * pageSize - 4)
        // Stage 2 maps all 8 pages up front: no faults expected.
        #expect(s.initialMappings.count == 1 && s.initialMappings[0].size == 8 * pageSize)
        // Page 3: a 4-byte read of the planted 0x93939393, then 0xBEEF stored at +2.
        let memory = Dictionary(s.expectedMemory.map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { a, _ in a })
        let page3 = 0x5000_0000 + 3 * pageSize + 0x40
        #expect((0..<4).map { memory[page3 + $0] } == [[0x93], [0x93], [0xEF], [0xBE]])
        #expect(s.expectedResults[6] == 3)  // the host's answer: 3 dirty pages
        #expect(s.expectedResults[3] == 0x9393_9393 && s.expectedResults[10] == 0x5A)
        // Its own memslot, created with the flag.
        #expect(s.extraRAM == [ExtraRAM(name: "logged", base: PhysicalAddress(0x5000_0000), size: 8 * pageSize, logDirtyPages: true)])
        #expect(s.dirtyLog?.memslot == "logged" && s.dirtyLog?.ramSlot == false && s.dirtyLog?.payloadPages == [])
    }

    /// The standard layout: message page 0x4010_1000, vEL2 stack top 0x4011_0000 (its frames
    /// live in the page below, 0x4010_F000), results 0x4030_0000; test pages in the data pool
    /// at 0x4080_0000.
    @Test func ramSlotPayloadPages() throws {
        let s4 = try Self.scenario("4k-ram-slot", pageSize: 0x1000)
        #expect(s4.dirtyLog?.memslot == "ram" && s4.dirtyLog?.ramSlot == true && s4.extraRAM.isEmpty)
        #expect(s4.dirtyLog?.base == PhysicalAddress(0x4080_0000))
        #expect(s4.dirtyLog?.payloadPages == [0x4010_1000, 0x4010_F000, 0x4030_0000])
        #expect(s4.initialMappings[0].pa == PhysicalAddress(0x4080_0000))
        // 64 KiB host pages: message and stack share the page at 0x4010_0000.
        let s64 = try Self.scenario("4k-ram-slot", pageSize: 0x10000)
        #expect(s64.dirtyLog?.payloadPages == [0x4010_0000, 0x4030_0000])
    }

    /// The comparison: exact, both ways (a missing page, an extra page, a payload page).
    @Test func dirtyLogComparisonFires() {
        let d = DirtyLogPlan(
            memslot: "ram", ramSlot: true, base: PhysicalAddress(0x4080_0000), size: 0x8000, pageSize: 0x1000,
            payloadPages: [0x4010_1000])
        let right: [UInt64] = [0x4010_1000, 0x4080_0000, 0x4080_2000]
        #expect(d.mismatch(got: right, pages: [0, 2], payload: true, when: "x") == nil)
        #expect(
            d.mismatch(got: [0x4010_1000, 0x4080_0000], pages: [0, 2], payload: true, when: "x")?.contains("expected exactly") == true)
        #expect(d.mismatch(got: right + [0x4080_3000], pages: [0, 2], payload: true, when: "x")?.contains("page 3") == true)
        #expect(d.mismatch(got: right, pages: [0, 2], payload: false, when: "x")?.contains("0x40101000") == true)
    }
}
