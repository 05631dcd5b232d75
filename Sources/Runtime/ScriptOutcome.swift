import AArch64
import GuestProtocol
import Machine
import Stage2

/// What a scripted scenario found: mismatches (empty = pass) and how many stage-2 faults it saw.
public struct ScriptOutcome: Sendable {
    public var failures: [String]
    public var faults: Int
    public init(failures: [String] = [], faults: Int = 0) {
        self.failures = failures
        self.faults = faults
    }
}
