import AArch64
import GuestProtocol
import Machine
import Stage2

/// A table set a scenario builds after HELLO: VMID, pool, and what it maps before it is live.
public struct TableSetPlan: Sendable {
    public var name: String
    public var vmid: UInt16
    public var pool: PhysicalAddress
    public var poolBytes: UInt64
    public var mappings: [Stage2Mapping]
    public init(name: String, vmid: UInt16, pool: PhysicalAddress, poolBytes: UInt64, mappings: [Stage2Mapping]) {
        self.name = name
        self.vmid = vmid
        self.pool = pool
        self.poolBytes = poolBytes
        self.mappings = mappings
    }
}
