/// The ID registers the payload reports in HELLO (read at vEL2) against the same registers
/// read with KVM_GET_ONE_REG: a variant's requirements are decided from the first, so they must
/// agree with what KVM says the vCPU has.
enum IDRegisterCheck {
    /// One line per register that differs (empty: they agree, or the backend cannot read them).
    static func disagreements(hello: VCPUFacts, backend: any GuestBackend) throws -> [String] {
        guard let kvm = try backend.idRegisters() else { return [] }
        let pairs: [(String, UInt64, UInt64)] = [
            ("ID_AA64MMFR0_EL1", hello.mmfr0, kvm.mmfr0),
            ("ID_AA64MMFR1_EL1", hello.mmfr1, kvm.mmfr1),
            ("ID_AA64MMFR2_EL1", hello.mmfr2, kvm.mmfr2),
        ]
        return pairs.filter { $0.1 != $0.2 }.map {
            "\($0.0): the payload read 0x\(String($0.1, radix: 16)) at vEL2 (HELLO), KVM_GET_ONE_REG reads 0x\(String($0.2, radix: 16))"
        }
    }
}
