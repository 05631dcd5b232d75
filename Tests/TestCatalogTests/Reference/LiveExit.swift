import AArch64
import GuestProtocol
import Stage2

/// One thing the nested guest must report, in order, in a live-edit test: a host call
/// (`hvc #NVH_HVC_OP` from an HVC op, where the host edits stage 2) or the end of the op list.
public enum LiveExit: Equatable, Sendable, CustomStringConvertible {
    case hostCall(opIndex: Int, label: String)
    case done(opIndex: Int)
    public var description: String {
        switch self {
        case let .hostCall(i, label): "hvc #0x\(String(GuestABI.hvcOp, radix: 16)) at op \(i) (\(label))"
        case let .done(i): "DONE after op \(i - 1)"
        }
    }
}
