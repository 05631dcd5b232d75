import Glibc

/// A failed KVM (or supporting system) call: which call, the errno it set, and what to do.
///
/// Every error the KVM layer throws is one of these, so the CLI can print one line that
/// names the ioctl, e.g. `KVM_ARM_VCPU_INIT failed: EINVAL (Invalid argument) — boot the
/// host with kvm-arm.mode=nested (…)`.
public struct KVMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The ioctl or system call, e.g. `KVM_RUN`, `open(/dev/kvm)`, `mmap(kvm_run)`.
    public let operation: String
    /// The errno value the call set (`ENOSYS` for "this is not an arm64 host").
    public let errno: Int32
    /// What to do about it, when there is something useful to say.
    public let hint: String?

    public init(operation: String, errno: Int32, hint: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.hint = hint ?? KVMError.defaultHint(operation: operation, errno: errno)
    }

    /// The symbolic errno name (`EINVAL`), or `errno N` for one not in the table.
    public var errnoName: String { KVMError.name(ofErrno: errno) }

    public var description: String {
        var text = "\(operation) failed: \(errnoName) (\(KVMError.message(ofErrno: errno)))"
        if let hint { text += " — " + hint }
        return text
    }

    /// The error for an arm64-only operation on another architecture (errno ENOSYS).
    public static func notArm64Host(_ operation: String) -> KVMError {
        KVMError(
            operation: operation, errno: ENOSYS,
            hint:
                "not an arm64 host: the arm64 KVM uAPI is not available here; run it in the emulated host (scripts/emu-host run -- harness …)"
        )
    }

    static func lastError(_ operation: String, hint: String? = nil) -> KVMError {
        KVMError(operation: operation, errno: Glibc.errno, hint: hint)
    }

    /// Hints for the failures people actually meet (Documentation/virt/kvm/api.rst lists
    /// the errno values each ioctl returns).
    static func defaultHint(operation: String, errno: Int32) -> String? {
        switch (operation, errno) {
        case ("KVM_ARM_VCPU_INIT", EINVAL):
            return
                "the host refused the vCPU features; for HAS_EL2 boot the host with kvm-arm.mode=nested (Linux ≥ 6.16 on an Armv8.4+ CPU with FEAT_NV2)"
        case ("KVM_RUN", EAGAIN):
            return "an EL2 vCPU needs the in-kernel vGICv3 initialised (KVM_DEV_ARM_VGIC_CTRL_INIT) before the first KVM_RUN"
        case ("KVM_RUN", ENOEXEC):
            return "the vCPU was not initialised (KVM_ARM_VCPU_INIT) before KVM_RUN"
        case ("KVM_RUN", EFAULT):
            return "KVM could not access the memory behind a memslot (was guest memory unmapped?)"
        case ("KVM_CREATE_DEVICE", ENODEV):
            return "this KVM cannot create that device (no vGICv3 support on this host)"
        case ("KVM_CREATE_DEVICE", EEXIST):
            return "the VM already has a device of that type"
        case ("KVM_SET_USER_MEMORY_REGION", EEXIST):
            return "the memslot overlaps an existing memslot"
        case ("KVM_SET_USER_MEMORY_REGION", EINVAL):
            return "guest address, size or host address not page aligned, slot number out of range, or beyond the VM's IPA size"
        case ("KVM_CREATE_VM", EINVAL):
            return "the requested VM type (IPA size) is not supported; see KVM_CAP_ARM_VM_IPA_SIZE"
        case ("KVM_CREATE_VCPU", EINVAL):
            return "vCPU id out of range or created after the vGIC was initialised"
        case ("KVM_GET_ONE_REG", ENOENT), ("KVM_SET_ONE_REG", ENOENT):
            return "this vCPU has no such register (EL2 registers need a HAS_EL2 vCPU; see KVM_GET_REG_LIST)"
        case ("KVM_SET_ONE_REG", EINVAL):
            return "the value is not accepted for that register (reserved bits or an unsupported mode)"
        case (_, EBADF):
            return "the file descriptor is not open"
        case (_, ENOTTY):
            return "the file descriptor is not the right kind of KVM fd, or this kernel lacks the ioctl"
        case (_, ENOMEM):
            return "out of memory"
        default:
            // Every KVM ioctl's errors are listed in the kernel's KVM API document.
            guard operation.hasPrefix("KVM_") else { return nil }
            let ioctl = operation.prefix { $0 == "_" || $0.isLetter || $0.isNumber }
            return "see \(ioctl) in Documentation/virt/kvm/api.rst for what \(KVMError.name(ofErrno: errno)) means there"
        }
    }

    public static func name(ofErrno e: Int32) -> String {
        switch e {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case ESRCH: "ESRCH"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case ENXIO: "ENXIO"
        case E2BIG: "E2BIG"
        case ENOEXEC: "ENOEXEC"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EFAULT: "EFAULT"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case ENODEV: "ENODEV"
        case EINVAL: "EINVAL"
        case ENFILE: "ENFILE"
        case EMFILE: "EMFILE"
        case ENOTTY: "ENOTTY"
        case ENOSPC: "ENOSPC"
        case ERANGE: "ERANGE"
        case ENOSYS: "ENOSYS"
        case EOPNOTSUPP: "EOPNOTSUPP"
        case EOVERFLOW: "EOVERFLOW"
        default: "errno \(e)"
        }
    }

    public static func message(ofErrno e: Int32) -> String {
        guard let text = strerror(e) else { return "unknown error" }
        return String(cString: text)
    }
}
