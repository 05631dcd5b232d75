import AArch64
import GuestPayload
import GuestProtocol
import Stage2

extension HostFacts {
    /// A host with everything, to build every variant once when a file is checked.
    static let validation = HostFacts(vmIPABits: 52)
}
