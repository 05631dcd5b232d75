import KVM

#if canImport(Glibc)
    import Glibc
#endif

extension HostFacts {
    /// The host's facts from KVM: KVM_CAP_ARM_VM_IPA_SIZE (0 → KVM's default 40 bits, as the
    /// KVM API documentation says) and the host page size. An error opening /dev/kvm or asking is thrown: a variant
    /// must not be skipped on a guessed IPA size.
    public static func probe(kvmPath: String = KVMSystem.defaultPath) throws -> HostFacts {
        let kvm = try KVMSystem(path: kvmPath)
        let bits = try kvm.checkExtension(.armVMIPASize)
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        return HostFacts(vmIPABits: bits > 0 ? Int(bits) : 40, hostPageSize: page)
    }
}
