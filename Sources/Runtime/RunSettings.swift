public struct RunSettings: Sendable {
    public var verbose = false
    /// The test's whole budget: the watchdog stops the guest when it is spent.
    public var timeout: Duration = .seconds(120)
    public var e2h0 = false
    /// The seed this test draws from (randomized tests): derived by the runner from the run's
    /// `--seed`, the test's name and its repetition, and handed to the scenario builder as
    /// `HostFacts.seed`.
    public var seed: UInt64 = 0
    /// Host self-test (`--garbage-mailbox SEED`): the payload sends a page of pseudo-random
    /// bytes instead of HELLO; every scenario test must then fail naming the field.
    public var garbageMailboxSeed: UInt32? = nil
    public init(verbose: Bool = false, timeout: Duration = .seconds(120), e2h0: Bool = false, seed: UInt64 = 0) {
        self.verbose = verbose
        self.timeout = timeout
        self.e2h0 = e2h0
        self.seed = seed
    }
}
