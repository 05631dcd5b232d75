import KVM

extension HostFacts {
    /// The host's facts from KVM: KVM_CAP_ARM_VM_IPA_SIZE (0 or unavailable → KVM's
    /// default 40 bits, as the KVM API documentation says).
    public static func probe(kvmPath: String = KVMSystem.defaultPath) -> HostFacts {
        guard let kvm = try? KVMSystem(path: kvmPath),
              let bits = try? kvm.checkExtension(.armVMIPASize), bits > 0 else { return HostFacts() }
        return HostFacts(vmIPABits: Int(bits))
    }
}
