import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import TestCatalog

/// The concurrent remap's pure parts: per-vCPU plans and layouts, and the watch-record
/// check, fed one wrong field at a time.
@Suite struct ConcurrentRemapPlans {
    let plan = Advanced.RemapPlan(vcpus: 4, tlbi: .ipas2e1is)

    @Test func plansSayWhoDoesWhat() {
        #expect(plan.watchers == [0, 2, 3])
        let w = plan.watcherPlan(2)
        #expect(
            w.ops == [
                GuestOp(
                    .watch64, address: Advanced.x, value: Advanced.RemapPlan.flag,
                    aux: Advanced.RemapPlan.record(2), repeatCount: plan.tail)
            ])
        #expect(w.expectedResults[0] == Advanced.pagePattern(2))
        let r = plan.remapperPlan()
        // host call (break), flag = 1, host call (make), DSB, flag = 2, DONE at op 5.
        #expect(r.ops.map(\.kind) == [.hvc, .store64, .hvc, .barrier, .store64])
        #expect(r.ops[1].address == Advanced.RemapPlan.flag && r.ops[1].value == 1)
        #expect(r.ops[4].address == Advanced.RemapPlan.flag && r.ops[4].value == 2)
        #expect(r.expectedExits.last == .done(opIndex: 5))
    }

    @Test func layoutsAreValidAndDisjoint() throws {
        let layouts = (0..<4).map { Advanced.vcpuLayout($0, of: 4) }
        for l in layouts { try l.validate(imageBytes: 4096) }
        #expect(Set(layouts.map(\.config)).count == 4 && Set(layouts.map(\.message)).count == 4)
        #expect(Set(layouts.map(\.ops)).count == 4 && Set(layouts.map(\.results)).count == 4)
        #expect(Set(layouts.map(\.tablePool)).count == 4)
        // Each vCPU's control block lies above the previous one's vEL2 stack top.
        for k in 1..<4 { #expect(layouts[k].config.rawValue >= layouts[k - 1].el2StackTop.rawValue) }
        // The flag and the records: inside the identity-mapped region, clear of every result slot.
        let l0 = layouts[0]
        #expect(Advanced.RemapPlan.flag >= l0.nested.rawValue && Advanced.RemapPlan.record(3) + 48 <= l0.nested.rawValue + l0.nestedSize)
        #expect(
            Advanced.RemapPlan.flag >= l0.results.rawValue + 0x1000
                && Advanced.RemapPlan.record(3) + 48 <= l0.nestedStackTop.rawValue - 0x1_0000)
        // The data pages stay inside the shrunk data pool, below the extra table pools.
        #expect(Advanced.pagePA(2) + 0x1000 <= l0.dataPool.rawValue + l0.dataPoolSize)
        #expect(layouts[1].tablePool.rawValue == l0.dataPool.rawValue + l0.dataPoolSize)
    }

    @Test func watchRecordLayoutMatchesTheHeaderOffsets() throws {
        var bytes = [UInt8](repeating: 0, count: GuestABI.watchSize)
        for (i, v) in [UInt64(1), 2, 3, 4, 5, 6].enumerated() { bytes.storeLE(v, at: 8 * i) }
        #expect(try WatchRecord(bytes: bytes) == WatchRecord(first: 1, second: 2, changes: 3, stale: 4, reads: 5, flagged: 6))
        #expect(throws: GuestProtocolError.self) { try WatchRecord(bytes: Array(bytes.prefix(40))) }
    }

    var good: WatchRecord {
        WatchRecord(first: plan.old, second: plan.new, changes: 1, stale: 0, reads: 5000, flagged: 1000)
    }

    /// block-split watches page 3 of the 2 MiB block at y (old: the block's page 3, faults at
    /// level 2 while the block entry is invalid); vmid-switch watches x like the page remap.
    @Test func newVariantsWatchWhatTheyEdit() {
        let split = Advanced.RemapPlan(vcpus: 2, tlbi: .ipas2e1is, edit: .blockSplit)
        #expect(split.watched == Advanced.y + 3 * Advanced.page && split.faultLevel == 2)
        #expect(split.old == Advanced.blockPattern(3) && split.oldPA == Advanced.blockPA + 3 * Advanced.page)
        #expect(split.watcherPlan(0).ops[0].address == split.watched)
        #expect(Advanced.y % Advanced.block == 0 && Advanced.blockPA % Advanced.block == 0)
        // y shares x's level-2 table (4K granule: 1 GiB per level-1 entry).
        #expect(Advanced.x >> 30 == Advanced.y >> 30 && Advanced.x >> 21 != Advanced.y >> 21)
        let vmid = Advanced.RemapPlan(vcpus: 4, tlbi: .ipas2e1is, edit: .vmidSwitch)
        #expect(vmid.watched == Advanced.x && vmid.faultLevel == 3 && vmid.old == Advanced.pagePattern(1))
        // The old value of a split differs from every other value the test plants.
        #expect(Set([split.old, split.new, Advanced.pagePattern(1), Advanced.pagePattern(5)]).count == 4)
        // A watcher that read the block's old page after the flag fails (stale).
        var r = WatchRecord(first: split.old, second: split.new, changes: 1, stale: 1, reads: 900, flagged: 300)
        #expect(Advanced.watchMismatches(r, split).contains { $0.contains("stale translation") })
        r.stale = 0
        #expect(Advanced.watchMismatches(r, split).isEmpty)
        r.first = Advanced.pagePattern(1)
        #expect(Advanced.watchMismatches(r, split).contains { $0.contains("first read") })
    }

    @Test func oldThenNewPasses() {
        #expect(Advanced.watchMismatches(good, plan).isEmpty)
    }

    /// Each field of the record wrong on its own must fail, naming what was wrong.
    @Test(arguments: [
        ("first", "first read"),
        ("second", "first change was to"),
        ("never", "never changed"),
        ("twice", "changed 2 times"),
        ("stale", "stale translation"),
        ("tail", "after the flag"),
    ])
    func eachWrongFieldFails(field: String, message: String) {
        var r = good
        switch field {
        case "first": r.first = Advanced.pagePattern(3)
        case "second": r.second = Advanced.pagePattern(3)
        case "never":
            r.changes = 0
            r.second = 0
        case "twice": r.changes = 2
        case "stale": r.stale = 1
        default: r.flagged = UInt64(plan.tail) - 1
        }
        let bad = Advanced.watchMismatches(r, plan)
        #expect(bad.count == 1 && bad[0].contains(message), "\(field): \(bad)")
    }
}
