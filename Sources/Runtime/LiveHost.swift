import AArch64
import GuestProtocol
import Stage2

/// What a host step works with: the session, the VTTBR the guest resumes with, checks.
public final class LiveHost {
    public let session: GuestSession
    public let backend: any GuestBackend
    /// Written into the resume reply when set (VTTBR_EL2 the guest continues under).
    public var resumeVTTBR: UInt64?
    public var failures: [String] = []
    public var log: (String) -> Void
    /// Extra stage-2 table sets the script created (VMID tests).
    public var extra: [LiveTables] = []

    init(session: GuestSession, backend: any GuestBackend, log: @escaping (String) -> Void) {
        self.session = session
        self.backend = backend
        self.log = log
    }

    /// Fails unless the software walk of `tables` translates `ipa` to `pa` with a leaf at `level`.
    public func expectLeaf<M>(_ tables: Stage2Tables<M>, _ ipa: UInt64, pa: UInt64, level: Int, _ what: String) {
        switch tables.walk(IPA(ipa)) {
        case .translation(let t):
            if t.outputAddress.rawValue != pa || t.level != level {
                failures.append(
                    "\(what): the tables translate \(hex(ipa)) to \(t.outputAddress) at level \(t.level), expected \(hex(pa)) at level \(level)"
                )
            }
        case .fault(let f):
            failures.append("\(what): the tables do not translate \(hex(ipa)): \(f)")
        }
    }
}
