import Glibc
import KVM

/// Why this host cannot run a nested test (a skip, exit 77) — decided from what the host
/// reports (an absent capability, an unknown device type, a missing /dev/kvm), never from an
/// error's text. An ioctl that fails although the host says it can do what we asked failed
/// because of our arguments: that stays a `MachineError.kvm`, a failure.
public enum HostUnsuitability: Sendable, Equatable, CustomStringConvertible {
    /// Built for another architecture: the arm64 KVM uAPI does not exist here.
    case notArm64(KVMError)
    /// /dev/kvm cannot be opened (absent, or no permission).
    case noKVM(KVMError)
    /// KVM_ARM_VCPU_INIT refused HAS_EL2 and KVM_CAP_ARM_EL2 is absent.
    case noNestedVirtualization(KVMError)
    /// KVM_ARM_VCPU_INIT refused HAS_EL2_E2H0 and KVM_CAP_ARM_EL2_E2H0 is absent.
    case noNonVHEGuestHypervisor(KVMError)
    /// KVM_CREATE_DEVICE(vGICv3) returned ENODEV: the device type is unknown or unsupported
    /// (Documentation/virt/kvm/api.rst, KVM_CREATE_DEVICE).
    case noVGICv3(KVMError)

    public var error: KVMError {
        switch self {
        case .notArm64(let e), .noKVM(let e), .noNestedVirtualization(let e), .noNonVHEGuestHypervisor(let e), .noVGICv3(let e): e
        }
    }

    public var description: String {
        switch self {
        case .notArm64(let e): e.description
        case .noKVM(let e): e.description
        case .noNestedVirtualization(let e): "\(e) (KVM_CAP_ARM_EL2 is absent: no nested virtualization on this host)"
        case .noNonVHEGuestHypervisor(let e): "\(e) (KVM_CAP_ARM_EL2_E2H0 is absent: no non-VHE guest hypervisor on this host)"
        case .noVGICv3(let e): "\(e) (this KVM has no vGICv3)"
        }
    }

    /// KVM_ARM_VCPU_INIT failed with `features`: unsuitable when the capability for the EL2
    /// feature asked for is absent, otherwise our arguments were wrong (nil).
    static func vcpuInit(_ e: KVMError, features: VCPUFeatures, kvm: borrowing KVMSystem) -> HostUnsuitability? {
        func absent(_ cap: KVMCapability?) -> Bool {
            guard let cap else { return true }  // headers predate it: the kernel cannot be asked
            // A failing KVM_CHECK_EXTENSION proves nothing absent: the init error stays a failure.
            do { return try kvm.checkExtension(cap) <= 0 } catch { return false }
        }
        if features.contains(.hasEL2E2H0), absent(KVMCapability.armEL2E2H0) { return .noNonVHEGuestHypervisor(e) }
        if features.contains(.hasEL2), absent(KVMCapability.armEL2) { return .noNestedVirtualization(e) }
        return nil
    }
}
