import AArch64
import GuestProtocol
import KVM
import Machine
import Stage2

/// How a test ended.
public enum Outcome: Sendable, Equatable {
    case pass
    case fail(String)
    /// A failure because an ioctl failed while the test ran (kept whole, so a known-failure
    /// record can name the ioctl and errno exactly).
    case callFailed(KVMError)
    case skip(String)
    case timeout(String)
    public var label: String {
        switch self {
        case .pass: "PASS"
        case .fail, .callFailed: "FAIL"
        case .skip: "SKIP"
        case .timeout: "TIMEOUT"
        }
    }
    /// The failure text (fail and callFailed), nil otherwise.
    public var failureText: String? {
        switch self {
        case .fail(let m): m
        case .callFailed(let e): e.description
        default: nil
        }
    }
}
