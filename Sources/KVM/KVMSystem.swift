import CKVM
import Glibc

/// The `/dev/kvm` file descriptor: system ioctls (API version, capabilities, VM creation).
/// Owns the fd: it is closed exactly once, by `close()` or when the value is destroyed.
public struct KVMSystem: ~Copyable {
    public static let defaultPath = "/dev/kvm"

    /// The raw fd, for diagnostics and for passing to the C shim. Do not close it.
    public let fileDescriptor: Int32

    /// Opens `/dev/kvm` (or `path`) read-write.
    public init(path: String = KVMSystem.defaultPath) throws(KVMError) {
        fileDescriptor = try openFile(path, flags: O_RDWR)
    }

    /// Takes ownership of an already open fd (tests use this to exercise bad fds).
    public init(adoptingFileDescriptor fd: Int32) {
        fileDescriptor = fd
    }

    deinit { closeFD(fileDescriptor) }

    /// Closes the fd now.
    public consuming func close() {
        let fd = fileDescriptor
        discard self
        closeFD(fd)
    }

    /// KVM_GET_API_VERSION. Linux has returned 12 (KVM_API_VERSION) since 2.6.22; any other
    /// value means an incompatible KVM.
    public func apiVersion() throws(KVMError) -> Int {
        let r = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_GET_API_VERSION, 0)
        if r < 0 { throw .lastError("KVM_GET_API_VERSION") }
        return Int(r)
    }

    /// KVM_CHECK_EXTENSION on the system fd: 0 = absent, > 0 = present (some return a value,
    /// e.g. KVM_CAP_ARM_VM_IPA_SIZE returns the maximum IPA bits).
    public func checkExtension(_ capability: KVMCapability) throws(KVMError) -> Int {
        let r = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_CHECK_EXTENSION, UInt(capability.rawValue))
        if r < 0 { throw .lastError("KVM_CHECK_EXTENSION(\(capability.name))") }
        return Int(r)
    }

    /// KVM_GET_VCPU_MMAP_SIZE: the size of the shared kvm_run area (plus extra pages some
    /// architectures place after it); every vCPU's mapping uses exactly this size.
    public func vcpuMmapSize() throws(KVMError) -> Int {
        let r = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_GET_VCPU_MMAP_SIZE, 0)
        if r < 0 { throw .lastError("KVM_GET_VCPU_MMAP_SIZE") }
        return Int(r)
    }

    /// KVM_CREATE_VM. On arm64 `ipaBits` requests that IPA size (KVM_VM_TYPE_ARM_IPA_SIZE;
    /// nil = the default 40 bits); elsewhere it must be nil.
    public func createVM(ipaBits: Int? = nil) throws(KVMError) -> VirtualMachine {
        var type: UInt = 0
        if let ipaBits {
            guard kvmHasARM64 else { throw .notArm64Host("KVM_CREATE_VM(ipa size)") }
            type = ckvm_vm_type_arm_ipa_size(UInt32(ipaBits))
        }
        let mmapSize = try vcpuMmapSize()
        let r = ckvm_ioctl_val(fileDescriptor, ckvm_KVM_CREATE_VM, type)
        if r < 0 { throw .lastError("KVM_CREATE_VM") }
        return VirtualMachine(fileDescriptor: r, vcpuMmapSize: mmapSize)
    }
}
