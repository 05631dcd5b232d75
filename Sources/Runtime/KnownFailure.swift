/// A known failure of one catalog variant on some kernels: the host is at fault, the test is
/// right, and the failure is recorded as data so a run can tell "fails as known" (XFAIL) from
/// "fails some other way" (FAIL) and "was fixed" (XPASS). A plain value, Codable, so catalog
/// files can carry it as it is.
public struct KnownFailure: Sendable, Codable, Equatable {
    /// What the failure looks like. A result matches only when it is exactly this.
    public enum Signature: Sendable, Codable, Equatable, CustomStringConvertible {
        /// The test failed with exactly this message (every line: each failed check names
        /// its field and the value observed).
        case check(String)
        /// An ioctl failed with this errno, e.g. `KVM_RUN` / `EFAULT` (`KVMError.operation`
        /// and `KVMError.errnoName`).
        case ioctl(operation: String, errno: String)

        public var description: String {
            switch self {
            case .check(let m): "fails with: " + m.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " | ")
            case let .ioctl(op, e): "\(op) fails with \(e)"
            }
        }
    }

    public var signature: Signature
    /// One line: what happens instead of what the Arm ARM says.
    public var reason: String
    /// Where it is explained: a link, a kernel commit, a document section.
    public var reference: String
    /// The kernels it applies to.
    public var kernels: KernelRange

    public init(signature: Signature, reason: String, reference: String, kernels: KernelRange) {
        self.signature = signature
        self.reason = reason
        self.reference = reference
        self.kernels = kernels
    }

    /// `reason (reference)`, the text reports show for an XFAIL or XPASS.
    public var summary: String { "\(reason) (\(reference))" }
}

/// The kernel releases a known failure applies to: from `introduced` (inclusive, nil: any
/// older one too) up to `fixedIn` (exclusive, nil: no fixed release known). `fixedBy` names
/// the commit that fixes it once there is one (reported, not compared: a kernel's release
/// string does not say which commits it has).
public struct KernelRange: Sendable, Codable, Equatable, CustomStringConvertible {
    public var introduced: KernelVersion?
    public var fixedIn: KernelVersion?
    public var fixedBy: String?

    public init(introduced: KernelVersion? = nil, fixedIn: KernelVersion? = nil, fixedBy: String? = nil) {
        self.introduced = introduced
        self.fixedIn = fixedIn
        self.fixedBy = fixedBy
    }

    public func contains(_ v: KernelVersion) -> Bool {
        if let introduced, v < introduced { return false }
        if let fixedIn, !(v < fixedIn) { return false }
        return true
    }

    public var description: String {
        var s = "Linux " + (introduced.map { "\($0)" } ?? "any") + " up to " + (fixedIn.map { "before \($0)" } ?? "now (no fix released)")
        if let fixedBy { s += ", fixed by \(fixedBy)" }
        return s
    }
}
