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

    /// The outcome an error that ended a run gives: a watchdog timeout is TIMEOUT, a session's
    /// skip (the host cannot) is SKIP, a failed ioctl keeps its call and errno, anything else
    /// fails with the error's text.
    public init(endedBy error: any Error) {
        switch error {
        case let e as BackendError:
            if case .timeout = e { self = .timeout(e.description) } else { self = .fail(e.description) }
        case let e as SessionError:
            if case .skip(let why) = e { self = .skip(why) } else { self = .fail(e.description) }
        case MachineError.kvm(let e): self = .callFailed(e)
        case let e as KVMError: self = .callFailed(e)
        default: self = .fail("\(error)")
        }
    }
}
