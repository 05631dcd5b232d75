/// An AArch64 system register named by its MRS/MSR encoding (op0, op1, CRn, CRm, op2).
///
/// Each encoding below is the one the Arm Architecture Reference Manual (DDI 0487, section
/// D23/D24 "AArch64 System Register Descriptions", the register's "Accessing <reg>" table)
/// gives for `MRS <Xt>, <reg>`. The same fields make up the generic `S<op0>_<op1>_C<n>_C<m>_<op2>`
/// name and the KVM ONE_REG id (which the KVM module builds from them with the kernel's macro).
public struct SystemRegister: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let op0: UInt8
    public let op1: UInt8
    public let crn: UInt8
    public let crm: UInt8
    public let op2: UInt8

    /// A register by encoding; `name` defaults to the generic `S3_4_C1_C1_0` form.
    /// The fields must fit their widths (op0 2 bits, op1/op2 3 bits, CRn/CRm 4 bits).
    public init(op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8, name: String? = nil) {
        precondition(op0 < 4 && op1 < 8 && crn < 16 && crm < 16 && op2 < 8, "system register field out of range")
        self.op0 = op0
        self.op1 = op1
        self.crn = crn
        self.crm = crm
        self.op2 = op2
        self.name = name ?? SystemRegister.genericName(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2)
    }

    public var description: String { name }

    /// `S<op0>_<op1>_C<CRn>_C<CRm>_<op2>` (the assembler's generic spelling).
    public var genericName: String { SystemRegister.genericName(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2) }

    static func genericName(op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8) -> String {
        "S\(op0)_\(op1)_C\(crn)_C\(crm)_\(op2)"
    }

    /// The MRS instruction word reading this register into X`rt` (Arm ARM C6.2 "MRS":
    /// 1101 0101 0011 o0 op1 CRn CRm op2 Rt, with op0 = 2 + o0).
    public func mrs(rt: UInt8) -> UInt32 {
        precondition(op0 >= 2 && rt < 32)
        return 0xD530_0000 | UInt32(op0 - 2) << 19 | UInt32(op1) << 16 | UInt32(crn) << 12
            | UInt32(crm) << 8 | UInt32(op2) << 5 | UInt32(rt)
    }

    /// The MSR (register) instruction word writing X`rt` to this register (Arm ARM C6.2 "MSR
    /// (register)": 1101 0101 0001 o0 op1 CRn CRm op2 Rt).
    public func msr(rt: UInt8) -> UInt32 {
        mrs(rt: rt) & ~0x0020_0000
    }

    /// Looks a register up by its architectural name (`ESR_EL2`, case-insensitive) or parses
    /// the generic `S3_4_C5_C2_0` form. Returns nil for anything else.
    public init?(named text: String) {
        let upper = text.uppercased()
        if let known = SystemRegister.all.first(where: { $0.name == upper }) {
            self = known
            return
        }
        let parts = upper.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].first == "S", parts[2].first == "C", parts[3].first == "C",
            let op0 = UInt8(parts[0].dropFirst()), let op1 = UInt8(parts[1]),
            let crn = UInt8(parts[2].dropFirst()), let crm = UInt8(parts[3].dropFirst()),
            let op2 = UInt8(parts[4]),
            op0 < 4, op1 < 8, crn < 16, crm < 16, op2 < 8
        else { return nil }
        let generic = SystemRegister(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2)
        self = SystemRegister.all.first(where: { $0.sameEncoding(as: generic) }) ?? generic
    }

    public func sameEncoding(as other: SystemRegister) -> Bool {
        op0 == other.op0 && op1 == other.op1 && crn == other.crn && crm == other.crm && op2 == other.op2
    }

    /// Equality and hashing are by encoding; the name is only a label.
    public static func == (a: SystemRegister, b: SystemRegister) -> Bool { a.sameEncoding(as: b) }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(op0)
        hasher.combine(op1)
        hasher.combine(crn)
        hasher.combine(crm)
        hasher.combine(op2)
    }
}

extension SystemRegister {
    private static func r(_ name: String, _ op0: UInt8, _ op1: UInt8, _ crn: UInt8, _ crm: UInt8, _ op2: UInt8) -> SystemRegister {
        SystemRegister(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2, name: name)
    }

    // EL2 registers the harness reads and writes (Arm ARM D24.2, each register's encoding table).
    /// Hypervisor Configuration Register.
    public static let HCR_EL2 = r("HCR_EL2", 3, 4, 1, 1, 0)
    /// Stage-2 translation table base (BADDR, VMID).
    public static let VTTBR_EL2 = r("VTTBR_EL2", 3, 4, 2, 1, 0)
    /// Stage-2 translation control (T0SZ, SL0, IRGN0, ORGN0, SH0, TG0, PS, VS…).
    public static let VTCR_EL2 = r("VTCR_EL2", 3, 4, 2, 1, 2)
    /// Exception syndrome of the last exception taken to EL2.
    public static let ESR_EL2 = r("ESR_EL2", 3, 4, 5, 2, 0)
    /// Faulting virtual address of the last abort taken to EL2.
    public static let FAR_EL2 = r("FAR_EL2", 3, 4, 6, 0, 0)
    /// Faulting IPA (bits [51:12] in FIPA, bit 63 NS) of a stage-2 abort.
    public static let HPFAR_EL2 = r("HPFAR_EL2", 3, 4, 6, 0, 4)
    /// Exception return address at EL2.
    public static let ELR_EL2 = r("ELR_EL2", 3, 4, 4, 0, 1)
    /// Saved program status at EL2.
    public static let SPSR_EL2 = r("SPSR_EL2", 3, 4, 4, 0, 0)
    /// EL2 exception vector base.
    public static let VBAR_EL2 = r("VBAR_EL2", 3, 4, 12, 0, 0)
    /// EL2 stack pointer (accessible from EL3, and to KVM user space by this encoding).
    public static let SP_EL2 = r("SP_EL2", 3, 6, 4, 1, 0)
    public static let SCTLR_EL2 = r("SCTLR_EL2", 3, 4, 1, 0, 0)
    public static let ACTLR_EL2 = r("ACTLR_EL2", 3, 4, 1, 0, 1)
    public static let MDCR_EL2 = r("MDCR_EL2", 3, 4, 1, 1, 1)
    public static let CPTR_EL2 = r("CPTR_EL2", 3, 4, 1, 1, 2)
    public static let HSTR_EL2 = r("HSTR_EL2", 3, 4, 1, 1, 3)
    public static let HACR_EL2 = r("HACR_EL2", 3, 4, 1, 1, 7)
    public static let TTBR0_EL2 = r("TTBR0_EL2", 3, 4, 2, 0, 0)
    public static let TCR_EL2 = r("TCR_EL2", 3, 4, 2, 0, 2)
    public static let MAIR_EL2 = r("MAIR_EL2", 3, 4, 10, 2, 0)
    public static let TPIDR_EL2 = r("TPIDR_EL2", 3, 4, 13, 0, 2)
    public static let VPIDR_EL2 = r("VPIDR_EL2", 3, 4, 0, 0, 0)
    public static let VMPIDR_EL2 = r("VMPIDR_EL2", 3, 4, 0, 0, 5)
    public static let CNTHCTL_EL2 = r("CNTHCTL_EL2", 3, 4, 14, 1, 0)
    public static let CNTVOFF_EL2 = r("CNTVOFF_EL2", 3, 4, 14, 0, 3)

    // EL1 registers of the nested guest.
    public static let SCTLR_EL1 = r("SCTLR_EL1", 3, 0, 1, 0, 0)
    public static let TTBR0_EL1 = r("TTBR0_EL1", 3, 0, 2, 0, 0)
    public static let TTBR1_EL1 = r("TTBR1_EL1", 3, 0, 2, 0, 1)
    public static let TCR_EL1 = r("TCR_EL1", 3, 0, 2, 0, 2)
    public static let ESR_EL1 = r("ESR_EL1", 3, 0, 5, 2, 0)
    public static let FAR_EL1 = r("FAR_EL1", 3, 0, 6, 0, 0)
    public static let MAIR_EL1 = r("MAIR_EL1", 3, 0, 10, 2, 0)
    public static let VBAR_EL1 = r("VBAR_EL1", 3, 0, 12, 0, 0)

    // Identification registers (Arm ARM D24.2, "ID_AA64MMFR0_EL1" etc.).
    public static let MIDR_EL1 = r("MIDR_EL1", 3, 0, 0, 0, 0)
    public static let MPIDR_EL1 = r("MPIDR_EL1", 3, 0, 0, 0, 5)
    public static let ID_AA64PFR0_EL1 = r("ID_AA64PFR0_EL1", 3, 0, 0, 4, 0)
    public static let ID_AA64MMFR0_EL1 = r("ID_AA64MMFR0_EL1", 3, 0, 0, 7, 0)
    public static let ID_AA64MMFR1_EL1 = r("ID_AA64MMFR1_EL1", 3, 0, 0, 7, 1)
    public static let ID_AA64MMFR2_EL1 = r("ID_AA64MMFR2_EL1", 3, 0, 0, 7, 2)

    /// Every named register above (lookup table for `init?(named:)`).
    public static let all: [SystemRegister] = [
        HCR_EL2, VTTBR_EL2, VTCR_EL2, ESR_EL2, FAR_EL2, HPFAR_EL2, ELR_EL2, SPSR_EL2, VBAR_EL2, SP_EL2,
        SCTLR_EL2, ACTLR_EL2, MDCR_EL2, CPTR_EL2, HSTR_EL2, HACR_EL2, TTBR0_EL2, TCR_EL2, MAIR_EL2,
        TPIDR_EL2, VPIDR_EL2, VMPIDR_EL2, CNTHCTL_EL2, CNTVOFF_EL2,
        SCTLR_EL1, TTBR0_EL1, TTBR1_EL1, TCR_EL1, ESR_EL1, FAR_EL1, MAIR_EL1, VBAR_EL1,
        MIDR_EL1, MPIDR_EL1, ID_AA64PFR0_EL1, ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1, ID_AA64MMFR2_EL1,
    ]
}
