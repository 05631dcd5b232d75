import AArch64
import CKVM

/// Why KVM_RUN returned (kvm_run.exit_reason and its data, Documentation/virt/kvm/api.rst
/// "struct kvm_run"). Every reason the harness can meet has a case; anything else is
/// `.unknown(reason:)` with the raw number, never dropped.
public enum VCPUExit: Equatable, Sendable, CustomStringConvertible {
    /// KVM_EXIT_MMIO: the guest accessed a guest-physical address no memslot backs.
    /// For a write `data` holds the `length` bytes written (little-endian); for a read it is
    /// 0 and the value returned to the guest is set with `VCPU.completeMMIORead(value:)`.
    case mmio(address: PhysicalAddress, length: Int, isWrite: Bool, data: UInt64)
    /// KVM_EXIT_SYSTEM_EVENT (e.g. PSCI SYSTEM_OFF / SYSTEM_RESET); `flags` = data[0].
    case systemEvent(type: SystemEventType, flags: UInt64)
    /// KVM_EXIT_INTERNAL_ERROR: KVM could not handle something (suberror: KVM_INTERNAL_ERROR_*).
    case internalError(suberror: UInt32)
    /// KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest.
    case failEntry(reason: UInt64, cpu: UInt32)
    /// KVM_RUN returned EINTR (KVM_EXIT_INTR): a signal or immediate_exit interrupted it.
    case interrupted(InterruptCause)
    /// KVM_EXIT_ARM_NISV: a data abort on an MMIO address without a valid instruction syndrome
    /// (the access cannot be emulated, e.g. a load pair); `esrISS` holds ESR bits [24:0].
    case armNISV(esrISS: UInt64, faultIPA: PhysicalAddress)
    /// KVM_EXIT_HLT (x86 `hlt`).
    case halt
    /// KVM_EXIT_SHUTDOWN (x86 triple fault).
    case shutdown
    /// KVM_EXIT_IO (x86 port I/O).
    case io(port: UInt16, size: Int, isWrite: Bool, count: Int)
    /// KVM_EXIT_DEBUG.
    case debug
    /// KVM_EXIT_EXCEPTION.
    case exception
    /// KVM_EXIT_HYPERCALL.
    case hypercall
    /// Any other exit reason (KVM_EXIT_UNKNOWN is 0), raw.
    case unknown(reason: UInt32)

    public enum InterruptCause: Equatable, Sendable {
        /// The run loop's watchdog deadline passed.
        case watchdog
        /// SIGINT or SIGTERM arrived (the signal number).
        case stopSignal(Int32)
        /// Some other signal.
        case otherSignal
    }

    public enum SystemEventType: Equatable, Sendable {
        case shutdown, reset, crash
        case other(UInt32)

        init(raw: UInt32) {
            switch raw {
            case ckvm_KVM_SYSTEM_EVENT_SHUTDOWN: self = .shutdown
            case ckvm_KVM_SYSTEM_EVENT_RESET: self = .reset
            case ckvm_KVM_SYSTEM_EVENT_CRASH: self = .crash
            default: self = .other(raw)
            }
        }
    }

    public var description: String {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case let .mmio(address, length, isWrite, data):
            return isWrite ? "MMIO write \(address) len \(length) data \(hex(data))" : "MMIO read \(address) len \(length)"
        case let .systemEvent(type, flags): return "system event \(type) flags \(hex(flags))"
        case let .internalError(suberror): return "internal error (suberror \(suberror))"
        case let .failEntry(reason, cpu): return "fail entry (hardware reason \(hex(reason)), cpu \(cpu))"
        case let .interrupted(cause): return "interrupted (\(cause))"
        case let .armNISV(iss, ipa): return "MMIO without valid syndrome at \(ipa) (ESR ISS \(hex(iss)))"
        case .halt: return "halt"
        case .shutdown: return "shutdown"
        case let .io(port, size, isWrite, count):
            return "port I/O \(isWrite ? "out" : "in") port \(hex(UInt64(port))) size \(size) count \(count)"
        case .debug: return "debug"
        case .exception: return "exception"
        case .hypercall: return "hypercall"
        case let .unknown(reason): return "exit reason \(reason)"
        }
    }
}
