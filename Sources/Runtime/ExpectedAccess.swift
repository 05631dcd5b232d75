import AArch64
import GuestProtocol
import Machine
import Stage2

/// The kind of access a fault is expected for.
public enum ExpectedAccess: Sendable, Equatable, CustomStringConvertible {
    /// A load/store: size in bytes, WnR, transfer register, 64-bit register (SF).
    case data(bytes: Int, write: Bool, register: Int, sixtyFourBit: Bool)
    case fetch
    public var description: String {
        switch self {
        case let .data(b, w, r, sf): "\(w ? "write" : "read") of \(b) byte(s) \(w ? "from" : "into") \(sf ? "x" : "w")\(r)"
        case .fetch: "instruction fetch"
        }
    }
}
