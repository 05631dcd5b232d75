import AArch64
import GuestProtocol
import Machine
import Stage2

/// A stage-2 fault as a handler sees it.
public struct FaultEvent: Sendable {
    public var message: MailboxMessage
    public var report: FaultReport
    /// Index of this fault among the test's faults (0-based).
    public var index: Int
}
