import KVM

#if canImport(Glibc)
    import Glibc
#endif

/// Whether this host can run nested tests at all; the reason when not (a skip, exit 77).
public enum HostCheck {
    /// Why a non-VHE (HAS_EL2_E2H0) guest hypervisor cannot be created here, or nil.
    public static func nonVHEUnavailable(kvmPath: String = KVMSystem.defaultPath) -> String? {
        guard let cap = KVMCapability.armEL2E2H0 else {
            return "the kernel headers this harness was built with predate KVM_CAP_ARM_EL2_E2H0"
        }
        let kvm: KVMSystem
        do { kvm = try KVMSystem(path: kvmPath) } catch { return "cannot open \(kvmPath): \(error)" }
        // A failing KVM_CHECK_EXTENSION proves nothing absent: go on, and the vCPU creation
        // decides (a refusal with the capability unknown is a failure, HostUnsuitability).
        let present: Int
        do { present = try kvm.checkExtension(cap) } catch { return nil }
        if present <= 0 {
            return
                "KVM_CAP_ARM_EL2_E2H0 is absent: this host cannot run a non-VHE guest hypervisor (the CPU or kernel has no FEAT_E2H0 for guests)"
        }
        return nil
    }

    public static func nestedVirtualizationUnavailable(kvmPath: String = KVMSystem.defaultPath) -> String? {
        guard kvmHasARM64 else {
            return
                "not an arm64 host (this harness was built for another architecture); run it in the emulated arm64 host: scripts/emu-host run -- harness --test NAME"
        }
        let kvm: KVMSystem
        do { kvm = try KVMSystem(path: kvmPath) } catch {
            switch error.errno {
            case ENOENT: return "\(kvmPath) does not exist: this kernel has no KVM (or it is not loaded)"
            case EACCES, EPERM: return "permission denied opening \(kvmPath): run as root or join the kvm group"
            default: return "cannot open \(kvmPath): \(error)"
            }
        }
        guard let el2 = KVMCapability.armEL2 else {
            return "the kernel headers this harness was built with predate KVM_CAP_ARM_EL2 (Linux 6.16)"
        }
        let present: Int
        do { present = try kvm.checkExtension(el2) } catch { return nil }  // as above: let the run decide
        if present <= 0 {
            return "KVM_CAP_ARM_EL2 is absent: boot the host kernel with kvm-arm.mode=nested (needs Linux ≥ 6.16 and a CPU with FEAT_NV2)"
        }
        return nil
    }
}
