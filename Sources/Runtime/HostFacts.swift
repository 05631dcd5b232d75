import AArch64
import GuestProtocol
import Machine
import Stage2

/// What the host knows before building a scenario.
public struct HostFacts: Sendable {
    /// KVM_CAP_ARM_VM_IPA_SIZE (the VM's guest-physical size), 40 when unknown.
    public var vmIPABits: Int
    /// Seed for randomized tests (`--seed`, derived per test and repetition by the runner).
    public var seed: UInt64 = 0
    /// The host page size: memslot and dirty-log granularity.
    public var hostPageSize: UInt64
    public init(vmIPABits: Int = 40, hostPageSize: UInt64 = 0x1000) {
        self.vmIPABits = vmIPABits
        self.hostPageSize = hostPageSize
    }
}
