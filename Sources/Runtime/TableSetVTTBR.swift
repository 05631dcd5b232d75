import AArch64
import GuestProtocol
import Machine
import Stage2

/// A table set's VTTBR_EL2 with extra bits set (another name for the same context).
public struct TableSetVTTBR: Sendable, Equatable, CustomStringConvertible {
    public var set: String
    public var or: UInt64
    public init(set: String, or: UInt64 = 0) {
        self.set = set
        self.or = or
    }
    /// The name that means the session's own tables (shared by every vCPU of the scenario).
    public static let session = "session"
    public var description: String { or == 0 ? "VTTBR of \(set)" : "VTTBR of \(set) | 0x\(String(or, radix: 16))" }
}
