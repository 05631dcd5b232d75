import Glibc
import KVM

/// One exit the run loop saw, kept for reports (the last N per vCPU).
public struct ExitRecord: Sendable, Equatable, CustomStringConvertible {
    /// 1-based count of exits on this vCPU.
    public let sequence: Int
    public let vcpu: Int
    public let exit: VCPUExit
    /// Time since the Machine was created.
    public let at: Duration

    public var description: String {
        let ms = Double(at.components.seconds) * 1e3 + Double(at.components.attoseconds) / 1e15
        return "#\(sequence) vcpu\(vcpu) +\(String(format3(ms)))ms \(exit)"
    }
}

private func format3(_ v: Double) -> String {
    let scaled = (v * 1000).rounded() / 1000
    return String(scaled)
}

/// Everything that can go wrong building or running a Machine.
public enum MachineError: Error, Sendable, CustomStringConvertible {
    case kvm(KVMError)
    /// The host cannot run the test (a skip, exit 77), with the typed reason.
    case hostUnsuitable(HostUnsuitability)
    case memoryMap(MemoryMapError)
    case memory(GuestMemoryError)
    /// The configuration asks for something this host or map cannot do (said in words).
    case configuration(String)
    /// KVM_RUN did not return within the timeout; the watchdog interrupted it. `after` is the
    /// budget: the `timeout:` of the call, or for `run(deadline:)` the time left when that
    /// deadline was first used. The harness exits 124 for this.
    case timeout(vcpu: Int, after: Duration, pc: UInt64?, lastExits: [ExitRecord])
    /// SIGINT/SIGTERM arrived; the run loop stopped so the VM can be torn down.
    case stopped(signal: Int32, lastExits: [ExitRecord])

    public var description: String {
        switch self {
        case let .kvm(e): return e.description
        case let .hostUnsuitable(u): return u.description
        case let .memoryMap(e): return e.description
        case let .memory(e): return e.description
        case let .configuration(s): return "machine configuration: \(s)"
        case let .timeout(vcpu, after, pc, lastExits):
            var s = "timeout: vCPU \(vcpu) did not exit within \(after)"
            if let pc { s += " (PC 0x\(String(pc, radix: 16)) when interrupted)" }
            s +=
                lastExits.isEmpty
                ? "; no exits before it"
                : "; last \(lastExits.count) exits:\n"
                    + lastExits.map { "  \($0)" }.joined(separator: "\n")
            return s
        case let .stopped(signal, lastExits):
            var s = "stopped by signal \(signal) (\(signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal")); VM torn down"
            if !lastExits.isEmpty { s += "; last exits:\n" + lastExits.map { "  \($0)" }.joined(separator: "\n") }
            return s
        }
    }

    /// The process exit status the harness convention gives this error: 124 timeout,
    /// 128 + signal when stopped, 77 when the host cannot run the tests (`hostUnsuitable`: not
    /// arm64, no or inaccessible /dev/kvm, no nested virtualization, no vGICv3), 1 otherwise
    /// (an ioctl the host says it supports failed: our arguments were wrong).
    public var suggestedExitCode: Int32 {
        switch self {
        case .timeout: return 124
        case let .stopped(signal, _): return 128 + signal
        case .hostUnsuitable: return 77
        default: return 1
        }
    }
}
