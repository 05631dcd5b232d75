import CKVM

/// A KVM capability number for KVM_CHECK_EXTENSION, with the name <linux/kvm.h> gives it.
/// The numbers come from the C shim; capabilities newer than the headers the package was
/// built against are `nil` (the build cannot ask for what its headers do not name).
public struct KVMCapability: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public let name: String

    public init(rawValue: Int32, name: String) {
        self.rawValue = rawValue
        self.name = name
    }

    public var description: String { "\(name) (\(rawValue))" }

    public static let userMemory = KVMCapability(rawValue: ckvm_KVM_CAP_USER_MEMORY, name: "KVM_CAP_USER_MEMORY")
    public static let nrMemslots = KVMCapability(rawValue: ckvm_KVM_CAP_NR_MEMSLOTS, name: "KVM_CAP_NR_MEMSLOTS")
    public static let oneReg = KVMCapability(rawValue: ckvm_KVM_CAP_ONE_REG, name: "KVM_CAP_ONE_REG")
    public static let immediateExit = KVMCapability(rawValue: ckvm_KVM_CAP_IMMEDIATE_EXIT, name: "KVM_CAP_IMMEDIATE_EXIT")
    public static let deviceControl = KVMCapability(rawValue: ckvm_KVM_CAP_DEVICE_CTRL, name: "KVM_CAP_DEVICE_CTRL")
    public static let armPSCI02 = KVMCapability(rawValue: ckvm_KVM_CAP_ARM_PSCI_0_2, name: "KVM_CAP_ARM_PSCI_0_2")
    /// On the system fd: the largest IPA size (bits) a VM can be created with; 0 = only 40 bits.
    public static let armVMIPASize = KVMCapability(rawValue: ckvm_KVM_CAP_ARM_VM_IPA_SIZE, name: "KVM_CAP_ARM_VM_IPA_SIZE")
    /// Nested virtualization (Linux 6.16+ headers): vCPUs may have EL2.
    public static let armEL2: KVMCapability? =
        ckvm_has_KVM_CAP_ARM_EL2 ? KVMCapability(rawValue: ckvm_KVM_CAP_ARM_EL2, name: "KVM_CAP_ARM_EL2") : nil
    /// Nested virtualization with a non-VHE (E2H=0) guest hypervisor (Linux 6.16+ headers).
    public static let armEL2E2H0: KVMCapability? =
        ckvm_has_KVM_CAP_ARM_EL2_E2H0 ? KVMCapability(rawValue: ckvm_KVM_CAP_ARM_EL2_E2H0, name: "KVM_CAP_ARM_EL2_E2H0") : nil
}

/// The KVM API version the headers were written for (KVM_API_VERSION; 12 since Linux 2.6.22).
public let kvmHeaderAPIVersion = Int(ckvm_KVM_API_VERSION)

/// Whether this package was built with the arm64 KVM uAPI (i.e. for an arm64 host).
public let kvmHasARM64 = ckvm_has_arm64
