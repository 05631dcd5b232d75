import Foundation
import KVM
import Machine
import Stage2
import Testing

/// ID_AA64MMFR0_EL1 decoding against the field definitions in the Arm ARM (DDI 0487,
/// D24.2 "ID_AA64MMFR0_EL1"). Each raw value is composed here by hand from those fields.
@Suite("ID_AA64MMFR0_EL1 decoding")
struct IDAA64MMFR0Tests {
    /// Build a register value from the fields (positions per the Arm ARM).
    static func value(
        paRange: UInt64 = 0, tgran4: UInt64 = 0, tgran16: UInt64 = 0, tgran64: UInt64 = 0,
        tgran4_2: UInt64 = 0, tgran16_2: UInt64 = 0, tgran64_2: UInt64 = 0
    ) -> IDAA64MMFR0 {
        IDAA64MMFR0(
            rawValue: paRange | tgran16 << 20 | tgran64 << 24 | tgran4 << 28
                | tgran16_2 << 32 | tgran64_2 << 36 | tgran4_2 << 40)
    }

    @Test("TGran<N>_2 = 0b0010 supported, 0b0001 not supported, 0b0011 supported with 52-bit")
    func explicitStage2Fields() {
        let r = Self.value(tgran4: 0b1111, tgran16: 0b0000, tgran64: 0b1111, tgran4_2: 0b0010, tgran16_2: 0b0011, tgran64_2: 0b0001)
        #expect(r.stage2(.k4) == .supported)  // stage 1 says no 4K, stage 2 field overrides
        #expect(r.stage2(.k16) == .supported52Bit)
        #expect(r.stage2(.k64) == .notSupported)
        #expect(r.stage2Field(.k4) == 0b0010)
    }

    @Test("TGran<N>_2 = 0b0000 defers to the stage-1 field, whose encodings differ per granule")
    func deferToStage1() {
        // TGran4 0b0000 = supported, TGran16 0b0000 = NOT supported, TGran64 0b0000 = supported.
        let zeros = Self.value()
        #expect(zeros.stage2(.k4) == .supported)
        #expect(zeros.stage2(.k16) == .notSupported)
        #expect(zeros.stage2(.k64) == .supported)
        // TGran4 0b1111 not, TGran16 0b0001 supported, TGran64 0b1111 not.
        let flipped = Self.value(tgran4: 0b1111, tgran16: 0b0001, tgran64: 0b1111)
        #expect(flipped.stage2(.k4) == .notSupported)
        #expect(flipped.stage2(.k16) == .supported)
        #expect(flipped.stage2(.k64) == .notSupported)
        // TGran4 0b0001 and TGran16 0b0010: supported with 52-bit addresses (FEAT_LPA2).
        let lpa2 = Self.value(tgran4: 0b0001, tgran16: 0b0010)
        #expect(lpa2.stage2(.k4) == .supported52Bit)
        #expect(lpa2.stage2(.k16) == .supported52Bit)
    }

    @Test("reserved encodings are reported as reserved, not guessed")
    func reserved() {
        #expect(Self.value(tgran64_2: 0b0011).stage2(.k64) == .reserved)
        #expect(Self.value(tgran4_2: 0b0100).stage2(.k4) == .reserved)
        #expect(Self.value(tgran64: 0b0001).stage1(.k64) == .reserved)
        #expect(Self.value(paRange: 0b1000).physicalAddressBits == nil)
    }

    @Test(
        "PARange: 0b0000 32 … 0b0101 48, 0b0110 52 bits",
        arguments: [
            (UInt64(0b0000), 32), (0b0001, 36), (0b0010, 40), (0b0011, 42), (0b0100, 44), (0b0101, 48), (0b0110, 52),
        ])
    func paRange(field: UInt64, bits: Int) {
        #expect(Self.value(paRange: field).physicalAddressBits == bits)
    }

    /// A value a Cortex-A76-class CPU reports (0x0000_0000_0010_1122 read from ID_AA64MMFR0_EL1):
    /// PARange 0b0010 (40 bits), TGran16 0b0001, TGran64 0b0000, TGran4 0b0000, all _2 fields 0.
    @Test("a real CPU's value decodes as the Arm ARM says")
    func realValue() {
        let r = IDAA64MMFR0(rawValue: 0x0000_0000_0010_1122)
        #expect(r.physicalAddressBits == 40)
        #expect(Granule.allCases.map { r.stage2($0) } == [.supported, .supported, .supported])
    }
}

@Suite("harness doctor report")
struct HostReportTests {
    @Test("on this host the probe runs and every JSON key is present")
    func probe() throws {
        let r = HostProbe.run()
        var u = utsname()
        uname(&u)
        #expect(!r.architecture.isEmpty)
        #expect(!r.kernelRelease.isEmpty)
        if !r.isARM64Host {
            #expect(!r.canRunNestedTests)
            #expect(r.problems.first?.remedy.contains("scripts/") == true)
        }
        let data = try JSONEncoder().encode(r)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in [
            "architecture", "kernelRelease", "isARM64Host", "kvmPath", "kvmPresent", "kvmAccessible", "kvmGroup",
            "apiVersion", "capArmEL2", "armEL2Available", "capArmEL2E2H0", "maxIPABits", "vgicV3Creatable",
            "el2VCPUCreated", "el2E2H0VCPUCreated", "idAA64MMFR0", "stage2Granules", "paRangeBits", "el2GuestRuns", "el2GuestDetail",
            "canRunNestedTests", "problems", "notes",
        ] {
            #expect(object[key] != nil, "missing key \(key)")
        }
        #expect(try JSONDecoder().decode(HostReport.self, from: data) == r)
    }

    @Test("a missing device node is reported with a remedy")
    func missingNode() {
        let r = HostProbe.run(kvmPath: "/nonexistent/kvm")
        #expect(!r.kvmPresent)
        #expect(!r.canRunNestedTests)
        #expect(r.problems.contains { $0.item == "/nonexistent/kvm" })
    }
}
