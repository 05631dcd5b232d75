import AArch64
import GuestProtocol
import Stage2
import Testing

@testable import Runtime
@testable import TestCatalog

/// The scenario files build the same scenarios the Swift definitions they replace built:
/// the same ops, expected results, planted and expected memory, mappings, backing, and the
/// same events with the same host reactions.
@Suite struct ConversionTests {
    static func differences(file a: Scenario, swift b: Scenario) -> [String] {
        var bad: [String] = []
        func same<T: Equatable>(_ what: String, _ x: T, _ y: T) { if x != y { bad.append("\(what): file \(x), Swift \(y)") } }
        same("granule", a.granule, b.granule)
        same("ipaBits", a.ipaBits, b.ipaBits)
        same("vmIPABits", a.vmIPABits, b.vmIPABits)
        same("nonVHE", a.nonVHE, b.nonVHE)
        same("hcrSet", a.hcrSet, b.hcrSet)
        same("vmid", a.vmid, b.vmid)
        same("ops", a.ops, b.ops)
        same("expectedResults", a.expectedResults, b.expectedResults)
        func bytes(_ l: [(PhysicalAddress, [UInt8])]) -> [UInt64: UInt8] {
            var d: [UInt64: UInt8] = [:]
            for (pa, bs) in l { for (i, x) in bs.enumerated() { d[pa.rawValue + UInt64(i)] = x } }
            return d
        }
        same("planted", bytes(a.planted), bytes(b.planted))
        same("expectedMemory", bytes(a.expectedMemory), bytes(b.expectedMemory))
        same(
            "initialMappings", a.initialMappings.map { "\($0.ipa) \($0.pa) \($0.size) \($0.attributes)" },
            b.initialMappings.map { "\($0.ipa) \($0.pa) \($0.size) \($0.attributes)" })
        same("backing", a.backing, b.backing)
        if b.events.isEmpty {
            // A Swift scenario with expectedFaults + a demand-map policy: one event per fault.
            let faults = a.events.compactMap { e -> ExpectedFault? in if case .stage2Fault(let f) = e.kind { f } else { nil } }
            same("faults", faults, b.expectedFaults)
            same("event count", a.events.count, b.expectedFaults.count)
            if case let .demandMap(blockSize, attributes) = b.policy {
                for e in a.events {
                    guard case let .demandMap(unit, attr)? = e.reactions.first, e.reactions.count == 1 else {
                        bad.append("\(e): reactions \(e.reactions), expected one demandMap")
                        continue
                    }
                    same("demand-map unit", unit, blockSize ?? b.granule.bytes)
                    same("demand-map attributes", attr, attributes)
                }
            } else {
                bad.append("the Swift scenario has no demand-map policy")
            }
        } else {
            same("events", a.events.map(\.description), b.events.map(\.description))
            same(
                "faults", a.events.compactMap { e -> ExpectedFault? in if case .stage2Fault(let f) = e.kind { f } else { nil } },
                b.events.compactMap { e -> ExpectedFault? in if case .stage2Fault(let f) = e.kind { f } else { nil } })
            same("reactions", a.events.map { "\($0.reactions)" }, b.events.map { "\($0.reactions)" })
            same("resume", a.events.map { "\($0.resume)" }, b.events.map { "\($0.resume)" })
        }
        return bad
    }

    static func check(
        _ name: String, _ variant: String, host: HostFacts = HostFacts(vmIPABits: 48),
        _ swift: () throws -> Scenario
    ) throws {
        let test = try #require(Catalog.test(named: name), "\(name) is in the catalog")
        let v = try #require(test.variants.first { $0.name == variant }, "\(name)/\(variant)")
        let diff = differences(file: try v.scenario(host), swift: try swift())
        #expect(diff.isEmpty, "\(name)/\(variant): \(diff.joined(separator: "; "))")
    }

    @Test func demandPaging() throws {
        for (n, g) in [("4k", Granule.k4), ("16k", .k16), ("64k", .k64)] {
            try Self.check("demand-paging", n) { try DemandPaging.scenario(granule: g, ipaBits: 40) }
            try Self.check("demand-paging-e2h0", n) {
                var s = try DemandPaging.scenario(granule: g, ipaBits: 40)
                s.nonVHE = true
                return s
            }
            for bits in [32, 36, 40, 44, 48] {
                try Self.check("demand-paging-matrix", "\(n)-\(bits)bit") {
                    var s = try DemandPaging.scenario(granule: g, ipaBits: bits)
                    if bits > 40 { s.vmIPABits = bits }
                    return s
                }
            }
        }
        try Self.check("demand-paging", "4k-2m-blocks") { try DemandPaging.scenario(granule: .k4, ipaBits: 40, blockSize: 2 << 20) }
    }

    @Test func stage2Faults() throws {
        for (n, g) in [("4k", Granule.k4), ("16k", .k16), ("64k", .k64)] {
            try Self.check("permission-faults", n) { try Stage2Faults.permission(granule: g) }
        }
        try Self.check("access-flag-faults", "4k") { try Stage2Faults.accessFlag(granule: .k4, withBlock: true) }
        try Self.check("access-flag-faults", "64k") { try Stage2Faults.accessFlag(granule: .k64, withBlock: false) }
        for (g, bits) in [(Granule.k4, 48), (.k4, 40), (.k16, 48), (.k16, 40), (.k64, 48), (.k64, 40)] {
            try Self.check("translation-levels", "\(g.specName)-\(bits)bit") { try Stage2Faults.levels(granule: g, ipaBits: bits) }
        }
        try Self.check("address-size", "ipa-above-t0sz") { try Stage2Faults.ipaAboveT0SZ() }
        try Self.check("address-size", "baddr-above-ps") { try Stage2Faults.baddrAbovePS() }
        try Self.check("block-split", "4k-2m") { try Stage2Faults.blockSplit(granule: .k4) }
        try Self.check("block-split", "16k-32m") { try Stage2Faults.blockSplit(granule: .k16) }
        try Self.check("hvc-smc", "4k") { try Stage2Faults.hvcSmc() }
        try Self.check("mmio-passthrough", "4k") { try Stage2Faults.mmio(granule: .k4) }
        try Self.check("execute-never", "xnx") { try Stage2Faults.executeNever(xnx: true) }
        try Self.check("execute-never", "no-xnx") { try Stage2Faults.executeNever(xnx: false) }
        try Self.check("walk-external-abort", "4k") { try Stage2Faults.walkExternalAbort() }
        for c in Stage2Faults.illegalVTCRCases {
            try Self.check("illegal-vtcr", c.name) { try Stage2Faults.illegalVTCR(c) }
        }
        // 64K with 512 MiB blocks: the block gets RAM of its own above the session's (the data
        // pool is smaller), the same region in both.
        try Self.check("block-split", "64k-512m") { try Stage2Faults.blockSplit(granule: .k64) }
        let v = try #require(Catalog.test(named: "block-split")?.variants.first { $0.name == "64k-512m" })
        let file = try v.scenario(HostFacts(vmIPABits: 48))
        let swift = try Stage2Faults.blockSplit(granule: .k64)
        #expect(file.extraRAM.count == 1 && file.extraRAM == swift.extraRAM)
        #expect(file.extraRAM.first.map { $0.size == 512 << 20 && $0.base.rawValue % (512 << 20) == 0 } == true)
    }

    /// The live-edit tests were Swift scripts: the ops, results, planted memory, mappings and
    /// the host-call events (one hvc per host call, at the same ops) must agree; the host's
    /// steps are checked in the emulated host. The file's expected memory also covers every
    /// planted byte (the guest never writes them), so it contains the Swift one.
    static func checkLive(_ name: String, _ variant: String, _ swift: Scenario, plan: LivePlan) throws {
        let test = try #require(Catalog.test(named: name))
        let v = try #require(test.variants.first { $0.name == variant })
        let a = try v.scenario(HostFacts(vmIPABits: 48))
        // A load's value matters only when the guest checks every repetition against it
        // (LivePlan also fills it in for single loads, where the payload ignores it).
        func significant(_ ops: [GuestOp]) -> [GuestOp] {
            ops.map { op in
                var o = op
                if o.kind.isLoad && !o.checkEveryRepetition { o.value = 0 }
                return o
            }
        }
        #expect(significant(a.ops) == significant(swift.ops), "\(name)/\(variant) ops")
        #expect(a.expectedResults == swift.expectedResults, "\(name)/\(variant) results")
        func bytes(_ l: [(PhysicalAddress, [UInt8])]) -> [UInt64: UInt8] {
            var d: [UInt64: UInt8] = [:]
            for (pa, bs) in l { for (i, x) in bs.enumerated() { d[pa.rawValue + UInt64(i)] = x } }
            return d
        }
        #expect(bytes(a.planted) == bytes(swift.planted), "\(name)/\(variant) planted")
        let mine = bytes(a.expectedMemory)
        for (k, x) in bytes(swift.expectedMemory) { #expect(mine[k] == x, "\(name)/\(variant) memory at 0x\(String(k, radix: 16))") }
        #expect(
            a.initialMappings.map { "\($0.ipa) \($0.pa) \($0.size) \($0.attributes)" }
                == swift.initialMappings.map { "\($0.ipa) \($0.pa) \($0.size) \($0.attributes)" })
        #expect(
            a.events.map(\.description) == plan.hostCalls.map { ExpectedEvent(.hvc(imm: GuestABI.hvcOp, opIndex: $0.opIndex)).description })
    }

    /// two-vcpus was a Swift script: each vCPU's ops and results, the fault vCPU 0 must take,
    /// the hvc events (vCPU 0's hands over to vCPU 1), the host's steps and the planted pages
    /// must be the Swift ones.
    @Test func twoVCPUs() throws {
        let test = try #require(Catalog.test(named: "two-vcpus"))
        func significant(_ ops: [GuestOp]) -> [GuestOp] {
            ops.map { op in
                var o = op
                if o.kind.isLoad && !o.checkEveryRepetition { o.value = 0 }
                return o
            }
        }
        func bytes(_ l: [(PhysicalAddress, [UInt8])]) -> [UInt64: UInt8] {
            var d: [UInt64: UInt8] = [:]
            for (pa, bs) in l { for (i, x) in bs.enumerated() { d[pa.rawValue + UInt64(i)] = x } }
            return d
        }
        func planted(_ ks: [UInt64]) -> [UInt64: UInt8] {
            bytes(ks.map { (PhysicalAddress(Advanced.pagePA($0)), le64(Advanced.pagePattern($0))) })
        }
        let hvc = { (op: Int) in ExpectedEvent.Kind.hvc(imm: GuestABI.hvcOp, opIndex: op) }

        let unmap = try #require(test.variants.first { $0.name == "tlbi-is-unmap" }).scenario(HostFacts())
        let (a, b, faultOp) = Advanced.twoVCPUPlans()
        #expect(unmap.schedule == .lockstep && unmap.vcpus.map(\.id) == [0, 1] && unmap.vcpus.allSatisfy { $0.tables == nil })
        #expect(significant(unmap.vcpus[0].ops) == significant(a.ops) && significant(unmap.vcpus[1].ops) == significant(b.ops))
        #expect(unmap.vcpus[0].expectedResults == a.expectedResults && unmap.vcpus[1].expectedResults == b.expectedResults)
        #expect(bytes(unmap.planted) == planted([1, 2, 5]))
        let e0 = unmap.vcpus[0].events
        let e1 = unmap.vcpus[1].events
        #expect(e0.map(\.kind) == [hvc(1), .stage2Fault(Advanced.twoVCPUExpectedFault(op: faultOp))])
        #expect(e0.map(\.switchTo) == [1, nil] && e1.map(\.kind) == [hvc(1)] && e1[0].switchTo == nil)
        #expect(
            e0[1].reactions.map { "\($0)" } == [
                "\(ExpectedEvent.Reaction.mapIn(set: nil, ipa: IPA(Advanced.x), pa: PhysicalAddress(Advanced.pagePA(2)), size: 0x1000, attributes: Advanced.rw, tlbiUnder: nil, tlbi: nil))"
            ])
        #expect(
            e1[0].reactions.map { "\($0)" } == [
                "\(ExpectedEvent.Reaction.unmap(ipa: IPA(Advanced.x), size: 0x1000))",
                "\(ExpectedEvent.Reaction.expectUnmapped(set: nil, ipa: IPA(Advanced.x)))",
            ])
        #expect(
            unmap.initialMappings.map { "\($0.ipa) \($0.pa) \($0.size) \($0.attributes)" } == [
                "\(IPA(Advanced.x)) \(PhysicalAddress(Advanced.pagePA(1))) 4096 \(Advanced.rw)",
                "\(IPA(Advanced.x + 0x1000)) \(PhysicalAddress(Advanced.pagePA(5))) 4096 \(Advanced.rw)",
            ])

        let same = try #require(test.variants.first { $0.name == "same-vmid-vmalls12" }).scenario(HostFacts())
        let (c, d) = Advanced.sameVMIDPlans()
        #expect(same.vcpus.map(\.tables) == ["T0", "T1"])
        #expect(significant(same.vcpus[0].ops) == significant(c.ops) && significant(same.vcpus[1].ops) == significant(d.ops))
        #expect(same.vcpus[0].expectedResults == c.expectedResults && same.vcpus[1].expectedResults == d.expectedResults)
        #expect(bytes(same.planted) == planted([1, 2, 3]) && same.initialMappings.isEmpty)
        #expect(
            same.tableSets.map { "\($0.name) \($0.vmid) \($0.pool) \($0.poolBytes) \($0.mappings.map { m in "\(m.ipa)->\(m.pa)" })" } == [
                "T0 5 \(Advanced.poolPA(0)) \(Advanced.poolBytes) [\"\(IPA(Advanced.x))->\(PhysicalAddress(Advanced.pagePA(1)))\"]",
                "T1 5 \(Advanced.poolPA(1)) \(Advanced.poolBytes) [\"\(IPA(Advanced.x))->\(PhysicalAddress(Advanced.pagePA(2)))\"]",
            ])
        #expect(same.vcpus[0].events.map(\.kind) == [hvc(1)] && same.vcpus[0].events[0].switchTo == 1)
        let remap =
            "\(ExpectedEvent.Reaction.mapIn(set: "T0", ipa: IPA(Advanced.x), pa: PhysicalAddress(Advanced.pagePA(3)), size: 0x1000, attributes: Advanced.rw, tlbiUnder: nil, tlbi: [.vmalls12e1is]))"
        #expect(same.vcpus[1].events.map(\.kind) == [hvc(1)] && same.vcpus[1].events[0].reactions.first.map { "\($0)" } == remap)
    }

    @Test func liveEdits() throws {
        try Self.checkLive("break-before-make", "4k", Advanced.bbmScenario(), plan: Advanced.bbmPlan())
        try Self.checkLive("vmid-isolation", "switch", Advanced.vmidSwitchScenario(), plan: Advanced.vmidSwitchPlan())
        try Self.checkLive("vmid-isolation", "vs0-alias", Advanced.vmidAliasScenario(cnp: false), plan: Advanced.vmidAliasPlan(cnp: false))
        try Self.checkLive("vmid-isolation", "cnp", Advanced.vmidAliasScenario(cnp: true), plan: Advanced.vmidAliasPlan(cnp: true))
        try Self.checkLive("tlbi-scope", "ttl-hint", Advanced.tlbiScopeScenario(hint: true), plan: Advanced.tlbiScopePlan())
        try Self.checkLive("tlbi-scope", "no-hint", Advanced.tlbiScopeScenario(hint: false), plan: Advanced.tlbiScopePlan())
        // The TLBI operands the file gives are the Swift ones: IPAS2E1 with and without TTL.
        let x: UInt64 = (1 << 39) + 0x2000
        let inv = TLBInvalidation.ipa(IPA(x), level: 3, granule: .k4)
        #expect(Advanced.scopeOperations([inv], hint: true) == [.ipas2e1((x >> 12) + (0b0111 << 44)), .vmalle1is])
        #expect(Advanced.scopeOperations([inv], hint: false) == [.ipas2e1(x >> 12), .vmalle1is])
        let scope = try #require(Catalog.test(named: "tlbi-scope"))
        for (variant, hint) in [("ttl-hint", true), ("no-hint", false)] {
            let s = try #require(scope.variants.first { $0.name == variant }).scenario(HostFacts())
            let ops = s.events[1].reactions.compactMap { r -> [TLBIOperation]? in
                if case let .mapIn(_, _, _, _, _, _, tlbi) = r { tlbi } else { nil }
            }
            #expect(ops == [Advanced.scopeOperations([inv], hint: hint)], "\(variant)")
        }
    }

    /// Two-level demand paging: the same ops, results and memory, and the same events — each
    /// stage-2 fault (level, FAR, access) followed by the KVM_EXIT_MMIO at the unbacked PA.
    @Test func twoLevelDemandPaging() throws {
        let plan = try TwoLevel.plan()
        let v = try #require(Catalog.test(named: "two-level-demand-paging")?.variants.first)
        let a = try v.scenario(HostFacts())
        #expect(a.ops == plan.scenario.ops)
        #expect(a.expectedResults == plan.scenario.expectedResults)
        #expect(a.expectedMemory.map { "\($0.0) \($0.1)" } == plan.scenario.expectedMemory.map { "\($0.0) \($0.1)" })
        #expect(a.events.count == plan.events.count)
        for (e, want) in zip(a.events, plan.events) {
            switch (e.kind, want) {
            case let (.stage2Fault(f), .stage2Fault(w)):
                #expect(
                    f.opIndex == w.opIndex && f.address == w.far && f.address == w.ipa && f.kind == w.kind
                        && f.level == w.level && f.access == w.access && f.hpfarValid, "\(f) vs \(w)")
                guard case .map(let ipa, let pa, 0x1000, let attr)? = e.reactions.first else {
                    Issue.record("\(e.reactions)")
                    continue
                }
                #expect(plan.backing[ipa.rawValue] == pa && attr == Stage2Attributes(permissions: [.read, .write]))
            case let (.mmio(address, bytes, write, data), .hostFault(op, wantAddress, n, w, d)):
                #expect(address.rawValue == wantAddress && bytes == n && write == w && (data ?? 0) == d, "\(e) vs \(want)")
                guard case let .backWithMemory(opIndex, plant, maxHostPage)? = e.reactions.first else {
                    Issue.record("\(e.reactions)")
                    continue
                }
                #expect(opIndex == op && maxHostPage == TwoLevel.stride)
                let wantPlant = plan.plantOnAdd.filter { $0.0.rawValue & ~(TwoLevel.stride - 1) == wantAddress & ~(TwoLevel.stride - 1) }
                #expect(plant.map { "\($0.0) \($0.1)" } == wantPlant.map { "\($0.0) \($0.1)" })
            default:
                Issue.record("event \(e) where the plan has \(want)")
            }
        }
    }
}
