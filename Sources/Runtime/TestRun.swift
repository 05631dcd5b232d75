/// One variant's run.
public struct TestRun: Sendable {
    public var name: String
    public var outcome: Outcome
    /// How many stage-2 faults the test saw.
    public var faults: Int
    public var seconds: Double
    public var notes: [String]
    /// The fault lines the test logged (`FaultReport.oneLine`, raw and decoded), in order.
    public var faultLines: [String] = []
    /// Every other line the test logged (with `--verbose`: every exit, decoded, and the
    /// host's replies), in order.
    public var log: [String] = []
}
