import AArch64
import GuestProtocol
import Machine
import Stage2

/// What a scripted scenario works with.
public struct ScriptContext {
    public let session: GuestSession
    public let backend: any GuestBackend
    public let scenario: Scenario
    public let verbose: Bool
    public let log: (String) -> Void
}
