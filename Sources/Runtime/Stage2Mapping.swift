import AArch64
import GuestProtocol
import Machine
import Stage2

/// One IPA range the stage-2 tables map before the nested guest starts.
public struct Stage2Mapping: Sendable {
    public var ipa: IPA
    public var pa: PhysicalAddress
    public var size: UInt64
    public var attributes: Stage2Attributes
    public init(ipa: IPA, pa: PhysicalAddress, size: UInt64, attributes: Stage2Attributes) {
        self.ipa = ipa
        self.pa = pa
        self.size = size
        self.attributes = attributes
    }
}
