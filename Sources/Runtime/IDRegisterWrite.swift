import AArch64

/// One ID register value the host installs before the vCPU first runs: the register's
/// value with `clear` bits cleared and `set` bits set. KVM accepts such a write only for
/// fields it lists as writable (Documentation/virt/kvm/arm/vcpu-features / the writable
/// masks of arch/arm64/kvm/sys_regs.c), and only before the VM has run.
public struct IDRegisterWrite: Sendable, Equatable {
    public var register: SystemRegister
    public var clear: UInt64
    public var set: UInt64
    public init(register: SystemRegister, clear: UInt64, set: UInt64) {
        self.register = register
        self.clear = clear
        self.set = set
    }
    /// The registers a scenario file may write: the ones the requirements read.
    public static let writable: [SystemRegister] = [.ID_AA64MMFR0_EL1, .ID_AA64MMFR1_EL1, .ID_AA64MMFR2_EL1]

    /// Writes it through `backend`; nil when KVM took it and reads back the new value, else the
    /// reason to skip (KVM refused the value, or kept another one).
    func apply(_ backend: MachineBackend) throws -> String? {
        let old = try backend.systemRegister(register)
        let new = old & ~clear | set
        do { try backend.setSystemRegister(register, new) } catch {
            return
                "KVM does not let userspace write \(register.name) 0x\(String(old, radix: 16)) -> 0x\(String(new, radix: 16)) before the first run (\(error)): the feature cannot be hidden from the guest hypervisor on this kernel"
        }
        let back = try backend.systemRegister(register)
        guard back == new else {
            return "KVM kept \(register.name) = 0x\(String(back, radix: 16)) after a write of 0x\(String(new, radix: 16))"
        }
        return nil
    }
}
