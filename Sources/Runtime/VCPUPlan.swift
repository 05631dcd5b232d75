import GuestProtocol

/// One vCPU of a multi-vCPU scenario: its op list, the events it must raise (matched against
/// its own exits only), its expected results and its watch records.
public struct VCPUPlan: Sendable {
    public var id: Int
    /// The table set it starts under (its HELLO reply installs that VTTBR_EL2); nil: the
    /// session's tables, which every vCPU shares.
    public var tables: String?
    public var ops: [GuestOp]
    public var events: [ExpectedEvent]
    public var expectedResults: [Int: UInt64]
    public var resultPatterns: [Int: ResultPattern]
    public var watches: [WatchCheck]

    public init(
        id: Int, tables: String? = nil, ops: [GuestOp], events: [ExpectedEvent] = [], expectedResults: [Int: UInt64] = [:],
        resultPatterns: [Int: ResultPattern] = [:], watches: [WatchCheck] = []
    ) {
        self.id = id
        self.tables = tables
        self.ops = ops
        self.events = events
        self.expectedResults = expectedResults
        self.resultPatterns = resultPatterns
        self.watches = watches
    }
}
