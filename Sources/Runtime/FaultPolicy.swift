import AArch64
import GuestProtocol
import Machine
import Stage2

/// How the host reacts to a stage-2 fault (after the runner has checked it against the
/// expectation and printed it).
public enum FaultPolicy: Sendable {
    /// Map the faulting granule-sized page (or `blockSize` block) from `backing` and retry.
    case demandMap(blockSize: UInt64?, attributes: Stage2Attributes)
    /// Any stage-2 fault fails the test.
    case none
    /// The test's own reaction: edit stage 2 through the session (`map`/`unmap`/`protect`,
    /// whose TLB maintenance the guest performs in the exit) and answer the pending message
    /// with `session.reply(...)`. Throwing fails the test with the error.
    case custom(@Sendable (FaultEvent, GuestSession) throws -> Void)
}
