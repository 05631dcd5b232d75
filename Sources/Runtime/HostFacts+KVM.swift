import KVM

extension HostFacts {
    /// The host's facts from KVM: KVM_CAP_ARM_VM_IPA_SIZE (0 → KVM's default 40 bits, as the
    /// KVM API documentation says). An error opening /dev/kvm or asking is thrown: a variant
    /// must not be skipped on a guessed IPA size.
    public static func probe(kvmPath: String = KVMSystem.defaultPath) throws -> HostFacts {
        let kvm = try KVMSystem(path: kvmPath)
        let bits = try kvm.checkExtension(.armVMIPASize)
        return bits > 0 ? HostFacts(vmIPABits: Int(bits)) : HostFacts()
    }
}
