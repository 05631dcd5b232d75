import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// catalog/concurrent-remap.json, variant by variant: who watches and who remaps, the watch
/// ops and their expected records, the repeating fault each watcher may take, the remapper's
/// host steps; the per-vCPU layouts; the watch record's byte layout.
@Suite struct ConcurrentRemapFile {
    static let x = Advanced.x
    static let y = Advanced.y
    static let page = Advanced.page
    static let flag = SessionLayout.scratch.rawValue
    static func record(_ v: Int) -> UInt64 { flag + 0x100 + UInt64(v) * 0x40 }

    static func variant(_ name: String) throws -> Scenario {
        let t = try #require(Catalog.test(named: "concurrent-remap"))
        return try #require(t.variants.first { $0.name == name }).scenario(HostFacts())
    }

    @Test func everyVariantOfTheSwiftTestIsThere() throws {
        let t = try #require(Catalog.test(named: "concurrent-remap"))
        #expect(
            t.variants.map(\.name) == [
                "ipas2e1is", "vmalls12e1is", "4vcpu-ipas2e1is", "4vcpu-vmalls12e1is", "block-split", "4vcpu-block-split", "vmid-switch",
                "4vcpu-vmid-switch",
            ])
        #expect(t.variants.allSatisfy { $0.requirements == [.stage2Granule(.k4)] })
        #expect(t.tags == [.multiVCPU, .tlbi])
    }

    /// Each variant: watchers (every vCPU but 1) run one WATCH64 op; vCPU 1 runs host call
    /// (break), flag = 1, host call (make), DSB, flag = 2, DONE at op 5.
    @Test(arguments: [
        ("ipas2e1is", 2, false), ("vmalls12e1is", 2, false), ("4vcpu-ipas2e1is", 4, false), ("4vcpu-vmalls12e1is", 4, false),
        ("block-split", 2, true), ("4vcpu-block-split", 4, true), ("vmid-switch", 2, false), ("4vcpu-vmid-switch", 4, false),
    ])
    func plansSayWhoDoesWhat(name: String, vcpus: Int, split: Bool) throws {
        let s = try Self.variant(name)
        #expect(s.schedule == .concurrent && s.vcpus.map(\.id) == Array(0..<vcpus))
        let watched = split ? Self.y + 3 * Self.page : Self.x
        let old = split ? Advanced.blockPattern(3) : Advanced.pagePattern(1)
        for w in s.vcpus where w.id != 1 {
            #expect(w.ops == [GuestOp(.watch64, address: watched, value: Self.flag, aux: Self.record(w.id), repeatCount: 256)], "\(name)")
            #expect(w.expectedResults == [0: Advanced.pagePattern(2)])
            #expect(
                w.watches == [
                    WatchCheck(opIndex: 0, record: Self.record(w.id), flag: Self.flag, tail: 256, old: old, new: Advanced.pagePattern(2))
                ])
            let want = ExpectedFault(
                opIndex: 0, address: watched, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
                kind: .translation, level: split ? 2 : 3)
            var walkless = want
            walkless.checkSoftwareWalk = false
            // The split: level-2 faults while the block entry is invalid, then level-3 ones once
            // the make has linked the new level-3 table but not yet written the watched entry.
            var levels: [ExpectedEvent.Kind] = [.stage2Fault(walkless)]
            if split {
                walkless.level = 3
                levels.append(.stage2Fault(walkless))
            }
            #expect(w.events.map(\.kind) == levels, "\(name)")
            #expect(w.events.map(\.after) == (split ? ["break", "make"] : ["break"]))
            #expect(w.events.allSatisfy { $0.repeats && $0.whileFlag.map { [$0.at, $0.below] } == [Self.flag, 2] })
            #expect(w.tables == nil)
        }
        let r = s.vcpus[1]
        #expect(r.ops.map(\.kind) == [.hvc, .store64, .hvc, .barrier, .store64])
        #expect(r.ops[1].address == Self.flag && r.ops[1].value == 1 && r.ops[4].address == Self.flag && r.ops[4].value == 2)
        #expect(r.expectedResults == [0: 0x4856_0000, 1: 0, 2: 0x4856_0001, 3: 0, 4: 0])
        #expect(r.events.map(\.kind) == [.hvc(imm: GuestABI.hvcOp, opIndex: 0), .hvc(imm: GuestABI.hvcOp, opIndex: 2)])
        #expect(r.tables == (name.hasSuffix("vmid-switch") ? "vmid2" : nil))
        // The break waits for the watchers, marks, then breaks; the flag must read 2 at the end.
        let steps = r.events[0].reactions.map { "\($0)" }
        #expect(steps.first == "waitForWatchers" && steps.contains("mark(\"break\")"), "\(steps)")
        #expect(s.expectedMemory.contains { $0.0.rawValue == Self.flag && $0.1 == le64(2) })
    }

    /// The remapper's edits per variant: the session's unmap, exactly VMALLS12E1IS, the unmap
    /// under VMID 1's VTTBR with an IPAS2E1IS among the operations then VMID 2 again, or the
    /// block split with its walks checked before and after.
    @Test func eachVariantEditsAsTheSwiftOneDid() throws {
        func steps(_ n: String, _ e: Int) throws -> [String] { try Self.variant(n).vcpus[1].events[e].reactions.map { "\($0)" } }
        let x = IPA(Self.x)
        #expect(try steps("ipas2e1is", 0).contains("\(ExpectedEvent.Reaction.unmap(ipa: x, size: 0x1000))"))
        #expect(
            try steps("vmalls12e1is", 0).contains(
                "\(ExpectedEvent.Reaction.unmapIn(set: nil, ipa: x, size: 0x1000, tlbiUnder: nil, tlbi: [.vmalls12e1is], expectTLBI: []))"))
        let vmid = try steps("vmid-switch", 0)
        #expect(
            vmid.contains(
                "\(ExpectedEvent.Reaction.unmapIn(set: nil, ipa: x, size: 0x1000, tlbiUnder: TableSetVTTBR(set: "session"), tlbi: nil, expectTLBI: [.ipas2e1is]))"
            ))
        #expect(vmid.last == "\(ExpectedEvent.Reaction.resumeUnder(TableSetVTTBR(set: "vmid2")))")
        let sv = try Self.variant("vmid-switch")
        #expect(sv.tableSets.map { "\($0.name) \($0.vmid) \($0.pool) \($0.poolBytes)" } == ["vmid2 2 \(Advanced.poolPA(0)) 1048576"])
        let split = try steps("block-split", 0)
        let watched = IPA(Self.y + 3 * Self.page)
        #expect(
            split == [
                "waitForWatchers",
                "\(ExpectedEvent.Reaction.expectTranslation(set: nil, ipa: watched, pa: PhysicalAddress(Advanced.blockPA + 3 * Self.page), level: 2))",
                "mark(\"break\")", "\(ExpectedEvent.Reaction.unmap(ipa: IPA(Self.y), size: Advanced.block))",
                "\(ExpectedEvent.Reaction.expectUnmapped(set: nil, ipa: watched))",
            ])
        let make = try steps("block-split", 1)
        #expect(make.first == "mark(\"make\")")
        #expect(make.filter { $0.hasPrefix("mapIn") }.count == 3 && make.filter { $0.hasPrefix("expectTranslation") }.count == 3)
        // x + 4K stays mapped (x's level-3 table stays: a fault during the break is at level 3);
        // y is a 2 MiB block in the same level-2 table as x.
        let s = try Self.variant("block-split")
        #expect(s.initialMappings.contains { $0.ipa == IPA(Self.y) && $0.size == Advanced.block && $0.pa.rawValue == Advanced.blockPA })
        #expect(s.initialMappings.contains { $0.ipa == IPA(Self.x + Self.page) })
        #expect(Self.x >> 30 == Self.y >> 30 && Self.x >> 21 != Self.y >> 21)
        #expect(Self.y % Advanced.block == 0 && Advanced.blockPA % Advanced.block == 0)
        // The old value of a split differs from every other value the test plants.
        #expect(Set([Advanced.blockPattern(3), Advanced.pagePattern(2), Advanced.pagePattern(1), Advanced.pagePattern(5)]).count == 4)
    }

    @Test func layoutsAreValidAndDisjoint() throws {
        let layouts = (0..<4).map { SessionLayout.forVCPU($0, of: 4) }
        for l in layouts { try l.validate(imageBytes: 4096) }
        #expect(Set(layouts.map(\.config)).count == 4 && Set(layouts.map(\.message)).count == 4)
        #expect(Set(layouts.map(\.ops)).count == 4 && Set(layouts.map(\.results)).count == 4)
        #expect(Set(layouts.map(\.tablePool)).count == 4)
        // Each vCPU's control block lies above the previous one's vEL2 stack top.
        for k in 1..<4 { #expect(layouts[k].config.rawValue >= layouts[k - 1].el2StackTop.rawValue) }
        // The flag and the records: inside the identity-mapped region, clear of every result slot.
        let l0 = layouts[0]
        #expect(Self.flag >= l0.nested.rawValue && Self.record(3) + 48 <= l0.nested.rawValue + l0.nestedSize)
        #expect(Self.flag >= l0.results.rawValue + 0x1000 && Self.record(3) + 48 <= l0.nestedStackTop.rawValue - 0x1_0000)
        // The data pages stay inside the shrunk data pool, below the extra table pools.
        #expect(Advanced.pagePA(5) + 0x1000 <= l0.dataPool.rawValue + l0.dataPoolSize)
        #expect(Advanced.poolPA(1).rawValue <= l0.dataPool.rawValue + l0.dataPoolSize)
        #expect(layouts[1].tablePool.rawValue == l0.dataPool.rawValue + l0.dataPoolSize)
    }

    @Test func watchRecordLayoutMatchesTheHeaderOffsets() throws {
        var bytes = [UInt8](repeating: 0, count: GuestABI.watchSize)
        for (i, v) in [UInt64(1), 2, 3, 4, 5, 6].enumerated() { bytes.storeLE(v, at: 8 * i) }
        #expect(try WatchRecord(bytes: bytes) == WatchRecord(first: 1, second: 2, changes: 3, stale: 4, reads: 5, flagged: 6))
        #expect(throws: GuestProtocolError.self) { try WatchRecord(bytes: Array(bytes.prefix(40))) }
    }

    /// A watcher that read the block's old page after the flag fails (stale); one that never
    /// saw the split page's old value first fails too.
    @Test func theSplitVariantsRecordCheck() throws {
        let w = try #require(try Self.variant("block-split").vcpus[0].watches.first)
        var r = WatchRecord(
            first: Advanced.blockPattern(3), second: Advanced.pagePattern(2), changes: 1, stale: 1, reads: 900, flagged: 300)
        #expect(w.mismatches(r).contains { $0.contains("stale translation") })
        r.stale = 0
        #expect(w.mismatches(r).isEmpty)
        r.first = Advanced.pagePattern(1)
        #expect(w.mismatches(r).contains { $0.contains("FIRST") })
    }
}
