import AArch64
import KVM
import Testing

/// Encodings checked against instruction words the LLVM assembler produces for
/// `mrs/msr` with the architectural register names (clang --target=aarch64-none-elf,
/// llvm-objdump), i.e. an encoder independent of ours, and against the Arm ARM fields.
@Suite("SystemRegister encodings and KVM ids")
struct SystemRegisterTests {
    @Test(
        "MRS/MSR words match the assembler's",
        arguments: [
            (SystemRegister.ESR_EL2, true, UInt8(0), UInt32(0xd53c_5200)),  // mrs x0, ESR_EL2
            (SystemRegister.HPFAR_EL2, true, 1, 0xd53c_6081),  // mrs x1, HPFAR_EL2
            (SystemRegister.FAR_EL2, true, 2, 0xd53c_6002),  // mrs x2, FAR_EL2
            (SystemRegister.VTTBR_EL2, false, 3, 0xd51c_2103),  // msr VTTBR_EL2, x3
            (SystemRegister.ID_AA64MMFR0_EL1, true, 4, 0xd538_0704),  // mrs x4, ID_AA64MMFR0_EL1
            (SystemRegister.SP_EL2, false, 5, 0xd51e_4105),  // msr SP_EL2, x5
        ])
    func instructionWords(register: SystemRegister, isRead: Bool, rt: UInt8, word: UInt32) {
        #expect((isRead ? register.mrs(rt: rt) : register.msr(rt: rt)) == word)
    }

    @Test("names parse both ways; generic names resolve to the architectural one")
    func names() {
        #expect(SystemRegister(named: "esr_el2") == .ESR_EL2)
        #expect(SystemRegister(named: "S3_4_C5_C2_0")?.name == "ESR_EL2")
        #expect(SystemRegister(named: "S3_4_C2_C1_2")?.name == "VTCR_EL2")
        #expect(SystemRegister(named: "S3_7_C15_C15_7")?.name == "S3_7_C15_C15_7")
        #expect(SystemRegister(named: "S4_0_C0_C0_0") == nil)  // op0 is 2 bits
        #expect(SystemRegister(named: "NOT_A_REG") == nil)
        #expect(SystemRegister.HPFAR_EL2.genericName == "S3_4_C6_C0_4")
    }

    @Test("no two named registers share an encoding or a name")
    func uniqueness() {
        #expect(Set(SystemRegister.all).count == SystemRegister.all.count)
        #expect(Set(SystemRegister.all.map(\.name)).count == SystemRegister.all.count)
    }

    /// api.rst, "KVM_SET_ONE_REG", arm64 system registers: id = 0x6030 0000 0013 <op0:2>
    /// <op1:3> <crn:4> <crm:4> <op2:3>. ESR_EL2 (3,4,5,2,0) → 0x603000000013E290 by hand.
    @Test("KVM ONE_REG ids follow api.rst on arm64, and are absent elsewhere")
    func oneRegIDs() {
        if kvmHasARM64 {
            #expect(SystemRegister.ESR_EL2.kvmRegisterID == 0x6030_0000_0013_E290)
            // HCR_EL2 (3,4,1,1,0): 0xC000 | 0x2000 | 0x80 | 0x8 = 0xE088.
            #expect(SystemRegister.HCR_EL2.kvmRegisterID == 0x6030_0000_0013_E088)
            #expect(SystemRegister(kvmRegisterID: 0x6030_0000_0013_E088) == .HCR_EL2)
            // Core register PC: offsetof(kvm_regs, regs.pc) = 32*8 → 0x40 in 32-bit words.
            #expect(CoreRegister.pc.kvmRegisterID == 0x6030_0000_0010_0040)
            #expect(CoreRegister.x(1).kvmRegisterID == 0x6030_0000_0010_0002)
        } else {
            #expect(SystemRegister.ESR_EL2.kvmRegisterID == 0)
            #expect(CoreRegister.pc.kvmRegisterID == 0)
            #expect(SystemRegister(kvmRegisterID: 0x6030_0000_0013_E088) == nil)
        }
    }
}
