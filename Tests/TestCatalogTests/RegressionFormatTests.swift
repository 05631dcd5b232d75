import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// The format keys the regression tests need: `vtcrSet`, `requires.tlbiRange` /
/// `requires.hardwareAccessFlag`, and the `expectDescriptor` host step, which must fail
/// when the descriptor in guest memory does not hold the bits.
@Suite struct RegressionFormat {
    static let file = #"""
        {
          "format": 1, "name": "t", "summary": "s", "granule": "4k",
          "let": {"base": "1 << 39"},
          "memory": [{"name": "pg", "ipa": "base", "size": "page", "access": "rw", "accessFlag": false}],
          "vtcrSet": "1 << 21",
          "idRegisters": [{"register": "ID_AA64MMFR1_EL1", "clear": "0xF << 28"}],
          "requires": {"tlbiRange": true, "hardwareAccessFlag": true},
          "ops": [{"op": "hvc", "value": "0x4856_0000", "raises": [{"hvc": "hvcImm",
                   "host": [{"expectDescriptor": {"ipa": "pg", "level": 3, "set": "afBit"}}]}]}],
          "variants": [{"name": "v", "summary": "v"}]
        }
        """#

    static func scenario() throws -> (CatalogTest, Scenario) {
        let t = try ScenarioLoader.load(Array(file.utf8), file: "t.json")
        return (t, try t.variants[0].scenario(HostFacts()))
    }

    @Test func keysDecodeIntoTheScenario() throws {
        let (t, s) = try Self.scenario()
        #expect(s.vtcrSet == 1 << 21)
        #expect(s.idRegisterWrites == [IDRegisterWrite(register: .ID_AA64MMFR1_EL1, clear: 0xF << 28, set: 0)])
        #expect(t.variants[0].requirements == [.stage2Granule(.k4), .tlbiRange, .hardwareAccessFlag])
        guard case .expectDescriptor(let ipa, let level, let set, let clear)? = s.events.first?.reactions.first else {
            Issue.record("expected an expectDescriptor reaction, got \(String(describing: s.events.first?.reactions))")
            return
        }
        #expect(ipa == IPA(1 << 39) && level == 3 && set == 1 << 10 && clear == 0)
    }

    @Test func badKeysAreNamed() {
        for (old, new, says) in [
            (#""tlbiRange": true"#, #""tlbiRange": false"#, "only `true`"),
            (#""level": 3, "set": "afBit""#, #""level": 3"#, "expectDescriptor needs"),
            (#""set": "afBit"}"#, #""set": "afBit", "value": 1}"#, "expectDescriptor needs"),
            (
                #""register": "ID_AA64MMFR1_EL1""#, #""register": "ID_AA64PFR0_EL1""#,
                "expected one of: ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1, ID_AA64MMFR2_EL1"
            ),
            (#""clear": "0xF << 28"}"#, #""clear": "0xF << 28", "value": 0}"#, "unknown key 'value'"),
        ] {
            let text = Self.file.replacing(old, with: new)
            #expect(text != Self.file)
            do {
                _ = try ScenarioLoader.load(Array(text.utf8), file: "t.json")
                Issue.record("\(new) loaded")
            } catch {
                #expect(error.description.contains(says), "\(error.description)")
            }
        }
    }

    /// ID register fields, Arm ARM D24.2: ID_AA64ISAR0_EL1.TLB [59:56] = 0b0010 is
    /// FEAT_TLBIRANGE (0b0001 only FEAT_TLBIOS); ID_AA64MMFR1_EL1.HAFDBS [3:0] ≠ 0.
    @Test func requirementsReadTheIDRegisters() {
        func facts(isar0: UInt64 = 0, mmfr1: UInt64 = 0) -> VCPUFacts {
            VCPUFacts(currentEL: 8, hcrAtEntry: 0, mmfr0: 0, mmfr1: mmfr1, mmfr2: 0, isar0: isar0)
        }
        #expect(facts(isar0: 0b0010 << 56).unmet(.tlbiRange) == nil)
        #expect(facts(isar0: 0b0001 << 56 | 0x00FF_FFFF_FFFF_FFFF).unmet(.tlbiRange)?.contains("TLB = 1") == true)
        #expect(facts(mmfr1: 0b0001).unmet(.hardwareAccessFlag) == nil)
        #expect(facts(mmfr1: 0b0010).unmet(.hardwareAccessFlag) == nil)
        #expect(facts(mmfr1: ~UInt64(0xF)).unmet(.hardwareAccessFlag)?.contains("HAFDBS = 0") == true)
    }

    /// Runs the file's scenario against a scripted payload: HELLO (with FEAT_TLBIRANGE and
    /// FEAT_HAFDBS), the op's hvc trap, DONE; `setAF` writes AF into the descriptor first, as a
    /// hardware update would.
    func run(setAF: Bool) throws -> (Outcome, ScriptedBackend) {
        let (t, s) = try Self.scenario()
        let hvcAt = try #require(ScenarioBuilder.payloadInstruction(0xD400_0002 | UInt32(GuestABI.hvcOp) << 5))
        let layout = SessionLayout.standard
        let hello = ScriptedBackend.send(SimulatedHello.message(more: [0x1, 0, 0, 0b0010 << 56]))
        let trap: (ScriptedBackend) throws -> BackendExit = { b in
            if setAF {
                // Find the level-3 descriptor for the page in the table pool by its output address.
                let pa = s.initialMappings[0].pa.rawValue
                var o = layout.tablePool.rawValue
                while o < layout.tablePool.rawValue + layout.tablePoolSize {
                    let d = try b.read64(PhysicalAddress(o))
                    if d & 0b11 == 0b11, d & 0xFFFF_FFFF_F000 == pa { try b.write64(d | 1 << 10, at: PhysicalAddress(o)) }
                    o += 8
                }
            }
            var gprs = Array(repeating: UInt64(0), count: 31)
            gprs[0] = 0x4856_0000
            return try ScriptedBackend.send(
                MailboxMessage(
                    kind: .trap, seq: 2, esr: 0x5A00_0000 | UInt64(GuestABI.hvcOp),
                    elr: layout.payload.rawValue + hvcAt + 4, spsr: 0x3C5, opIndex: 0, gprs: gprs))(b)
        }
        let backend = ScriptedBackend([hello, trap, ScriptedBackend.send(MailboxMessage(kind: .done, seq: 3, opIndex: 1))])
        let (outcome, _) = ScenarioRunner(log: { _ in }).run(s, requirements: t.variants[0].requirements, backend: backend) { _, _ in }
        return (outcome, backend)
    }

    @Test func expectDescriptorFailsWithoutTheBitAndPassesWithIt() throws {
        let (without, b) = try run(setAF: false)
        guard case .fail(let m) = without else {
            Issue.record("expected a failure, got \(without)")
            return
        }
        #expect(m.contains("expected bits 0x400 set"), "\(m)")
        let vtcr = try b.read64(PhysicalAddress(SessionLayout.standard.config.rawValue + UInt64(GuestABI.cfgOffVTCR)))
        #expect(vtcr & 1 << 21 != 0, "VTCR_EL2 in the config block 0x\(String(vtcr, radix: 16)) lacks HA")
        let (with, _) = try run(setAF: true)
        if case .fail(let m) = with { #expect(!m.contains("expected bits 0x400 set"), "\(m)") }
    }
}
