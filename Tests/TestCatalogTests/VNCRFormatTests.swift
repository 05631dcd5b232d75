import AArch64
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// The format pieces of `vncr`: the `setVNCR` host step (a reply writing VNCR_EL2), the
/// `el2Load` op (a load at vEL2 whose result is compared) and the TPIDR_EL2 selector of the
/// sysreg ops. `move-vncr` runs against a scripted payload: as written it passes, and each
/// compared value fed wrong once fails naming what differs.
@Suite struct VNCRFormat {
    static let layout = SessionLayout.standard
    static let vncrA = layout.dataPool.rawValue + 0x20_0000
    static let vncrB = vncrA + 0x1_0000

    static func variant(_ name: String) throws -> (TestVariant, Scenario) {
        let t = try #require(Catalog.test(named: "vncr"))
        let v = try #require(t.variants.first { $0.name == name })
        return (v, try v.scenario(HostFacts()))
    }

    static func load(_ text: String) throws -> Scenario {
        try ScenarioLoader.load(Array(text.utf8), file: "t.json").variants[0].scenario(HostFacts())
    }

    @Test func theFileBuildsVNCRStepsEL2LoadsAndTPIDRAccesses() throws {
        let (v, s) = try Self.variant("move-vncr")
        #expect(v.requirements.contains(.nv2))
        // HCR_EL2.NV [42] and NV2 [45] (Arm ARM D24.2 HCR_EL2); NV1 [43] stays 0.
        #expect(s.hcrSet == 1 << 42 | 1 << 45)
        var vncrs: [UInt64] = []
        for case .setVNCR(let x) in s.events.flatMap(\.reactions) { vncrs.append(x) }
        #expect(vncrs == [Self.vncrA, Self.vncrB])
        let loads = s.ops.filter { $0.kind == .el2Load64 }.map(\.address)
        #expect(loads == [Self.vncrA + 0x90, Self.vncrB + 0x90, Self.vncrA + 0x90])
        let tpidr = s.ops.filter { [.sysregWrite, .sysregRead].contains($0.kind) }
        #expect(tpidr.count == 3 && tpidr.allSatisfy { $0.aux == NestedSystemRegister.tpidrEL2.rawValue })
        #expect(NestedSystemRegister.tpidrEL2.rawValue == 5 && OpKind.el2Load64.rawValue == 22)
        // Both VNCR pages are checked after the run (the harness does not model them).
        let pas = s.expectedMemory.map(\.0.rawValue)
        #expect(pas.contains(Self.vncrA + 0x90) && pas.contains(Self.vncrB + 0x90))
        // replace-backing moves page A with a copy; replace-unread with a new value in the slot.
        for (name, copied, planted) in [("replace-backing", true, 0), ("replace-unread", false, 1)] {
            let (_, r) = try Self.variant(name)
            var replaced: [UInt64] = []
            for case let .replaceBacking(pa, size, copy, plant) in r.events.flatMap(\.reactions) {
                replaced.append(pa.rawValue)
                #expect(size == 0x1_0000 && copy == copied && plant.count == planted)
                #expect(plant.allSatisfy { $0.0.rawValue == Self.vncrA + 0x90 })
            }
            #expect(replaced == [Self.vncrA], "\(name)")
        }
    }

    @Test func badValuesNameTheirJSONPath() throws {
        let base = #"""
            {"format": 1, "name": "t", "summary": "s", "granule": "4k", "hcrSet": "(1 << 42) + (1 << 45)",
             "ops": [{"op": "hvc", "value": 1, "raises": [{"hvc": "hvcImm", "host": [{"setVNCR": "dataPool + 0x20_0000"}]}]},
                     {"op": "sysregWrite", "register": "TPIDR_EL2", "value": 5, "result": 5},
                     {"op": "el2Load", "at": "dataPool + 0x20_0090", "result": 5}],
             "variants": [{"name": "v", "summary": "v"}]}
            """#
        let s = try Self.load(base)
        #expect(s.ops.map(\.kind) == [.hvc, .sysregWrite, .el2Load64])
        for (old, new, says) in [
            (
                #""setVNCR": "dataPool + 0x20_0000""#, #""setVNCR": "dataPool + 0x20_0008""#,
                "$.ops[0].raises[0].host[0].setVNCR: VNCR_EL2 0x40a00008 is not a 4K-aligned"
            ),
            (#""setVNCR": "dataPool + 0x20_0000""#, #""setVNCR": "1 << 48""#, "$.ops[0].raises[0].host[0].setVNCR"),
            (#""setVNCR": "dataPool + 0x20_0000""#, #""setVNCR": "vncr""#, "unknown name 'vncr'"),
            (#""at": "dataPool + 0x20_0090""#, #""at": "dataPool + 0x20_0094""#, "$.ops[2].at: an el2Load reads 8 bytes"),
            (#""at": "dataPool + 0x20_0090", "result": 5"#, #""result": 5"#, "el2Load needs 'at'"),
            (
                #""at": "dataPool + 0x20_0090", "result": 5"#, #""at": "dataPool + 0x20_0090""#,
                "$.ops[2].result: an el2Load needs \"result\""
            ),
            (#""register": "TPIDR_EL2""#, #""register": "TPIDR_EL3""#, "register 'TPIDR_EL3'; expected one of: SCTLR_EL1"),
        ] {
            let text = base.replacing(old, with: new)
            #expect(text != base)
            do {
                _ = try Self.load(text)
                Issue.record("\(new) loaded")
            } catch {
                #expect("\(error)".contains(says), "\(error)")
            }
        }
    }

    /// `copy`: the new memory holds the old bytes, so a load after the move reads the planted
    /// value; without it the memory is zero-filled and the load reads 0.
    @Test func aCopyingReplacementKeepsTheModelledBytes() throws {
        let base = #"""
            {"format": 1, "name": "t", "summary": "s", "granule": "4k",
             "memory": [{"name": "r", "ipa": "1 << 39", "size": "page", "access": "rw"}],
             "plant": [{"at": "r + 8", "bytes": 8, "value": "0x1234"}],
             "ops": [{"op": "hvc", "value": 1, "raises": [{"hvc": "hvcImm", "host": [
                        {"replaceBacking": {"pa": "dataPool", "size": "page", "copy": true}}]}]},
                     {"op": "load", "bytes": 8, "at": "r + 8"}],
             "variants": [{"name": "v", "summary": "v"}]}
            """#
        let copied = try Self.load(base)
        #expect(copied.expectedResults[1] == 0x1234)
        guard case .replaceBacking(_, _, true, _)? = copied.events[0].reactions.first else {
            Issue.record("\(copied.events[0].reactions)")
            return
        }
        let fresh = try Self.load(base.replacing(#", "copy": true"#, with: ""))
        #expect(fresh.expectedResults[1] == 0)
    }

    /// The reply to each hvc (VNCR_EL2 in it), then DONE with `results` and the VNCR pages'
    /// contents as a payload that behaves would leave them.
    func runMoveVNCR(
        results: [UInt64]? = nil, pageA: UInt64? = nil, pageB: UInt64? = nil
    ) throws -> (Outcome, [(UInt32, UInt64)]) {
        let (v, s) = try Self.variant("move-vncr")
        let hvcAt = try #require(ScenarioBuilder.payloadInstruction(0xD400_0002 | UInt32(GuestABI.hvcOp) << 5))
        // HELLO's x7: ID_AA64MMFR4_EL1 0xe100000, what Linux 7.3.4 gives vEL2 (NV_frac = 1).
        let hello = ScriptedBackend.send(SimulatedHello.message(more: [0, 0, 0, 0, 0xE10_0000]))
        var replies: [(UInt32, UInt64)] = []
        func capture(_ b: ScriptedBackend) throws {
            let r = try b.read(b.layout.message, count: GuestABI.messageSize)
            replies.append((r.loadLE(UInt32.self, at: GuestABI.rplOffFlags), r.loadLE(UInt64.self, at: GuestABI.rplOffVNCR)))
        }
        func hvc(seq: UInt64, op: Int) -> (ScriptedBackend) throws -> BackendExit {
            { b in
                if seq > 2 { try capture(b) }
                var gprs = Array(repeating: UInt64(0), count: 31)
                gprs[0] = 0x4E32_0000 + UInt64(op == 0 ? 0 : 1)
                return try ScriptedBackend.send(
                    MailboxMessage(
                        kind: .trap, seq: seq, esr: 0x5A00_0000 | UInt64(GuestABI.hvcOp),
                        elr: Self.layout.payload.rawValue + hvcAt + 4, spsr: 0x3C5, opIndex: op, gprs: gprs))(b)
            }
        }
        let done: (ScriptedBackend) throws -> BackendExit = { b in
            try capture(b)
            let values = results ?? s.ops.indices.map { s.expectedResults[$0]! }
            for (i, value) in values.enumerated() {
                let at = Self.layout.results.rawValue + UInt64(i * GuestABI.resultSize)
                try b.write64(value, at: PhysicalAddress(at))
                try b.write64(1, at: PhysicalAddress(at + 8))
            }
            for (pa, want) in s.expectedMemory { try b.write(want, at: pa) }
            if let pageA { try b.write64(pageA, at: PhysicalAddress(Self.vncrA + 0x90)) }
            if let pageB { try b.write64(pageB, at: PhysicalAddress(Self.vncrB + 0x90)) }
            return try ScriptedBackend.send(MailboxMessage(kind: .done, seq: 4, opIndex: s.ops.count))(b)
        }
        let backend = ScriptedBackend([hello, hvc(seq: 2, op: 0), hvc(seq: 3, op: 3), done])
        let outcome = ScenarioRunner(log: { _ in }).run(s, requirements: v.requirements, backend: backend) { _, _ in }.outcome
        return (outcome, replies)
    }

    @Test func moveVNCRPassesAsWrittenAndEachWrongValueFails() throws {
        let (ok, replies) = try runMoveVNCR()
        #expect(ok == .pass, "\(ok)")
        // Each hvc's reply asks vEL2 to write VNCR_EL2 (flag 0x10), first page A, then page B.
        #expect(replies.map(\.0) == [GuestABI.rplFlagVNCR, GuestABI.rplFlagVNCR])
        #expect(replies.map(\.1) == [Self.vncrA, Self.vncrB])

        let (_, s) = try Self.variant("move-vncr")
        let good = s.ops.indices.map { s.expectedResults[$0]! }
        let valueA = good[1]
        // What a stale VNCR mapping would give: page A's value where page B's is expected.
        for (op, wrong, kind) in [(4, valueA, "SYSREG_READ"), (6, valueA, "EL2_LOAD64"), (7, good[5], "EL2_LOAD64")] {
            var r = good
            r[op] = wrong
            let (o, _) = try runMoveVNCR(results: r)
            guard case .fail(let m) = o else {
                Issue.record("op \(op) = 0x\(String(wrong, radix: 16)) passed")
                continue
            }
            #expect(m.contains("op \(op) (\(kind)") && m.contains("produced 0x\(String(wrong, radix: 16))"), "\(m)")
        }
        // The host's check of the pages after the run: the write landed in the old page.
        let (stale, _) = try runMoveVNCR(pageA: good[5], pageB: 0)
        guard case .fail(let m) = stale else {
            Issue.record("stale pages passed")
            return
        }
        #expect(m.contains("guest-physical 0x\(String(Self.vncrA + 0x90, radix: 16))"), "\(m)")
    }
}
