import AArch64
import GuestProtocol
import Machine
import Stage2

public struct TestVariant: Sendable {
    public var name: String
    public var summary: String
    public var requirements: [Requirement]
    /// Tags of this variant on top of its test's (e.g. `smoke` on one variant per granule).
    public var tags: Set<TestTag>
    /// How long the variant may run natively before the watchdog stops it (see `TimeoutPolicy`).
    public var budget: TimeBudget
    /// Builds the scenario for the host the test runs on (may throw a skip).
    public var scenario: @Sendable (HostFacts) throws -> Scenario
    /// Failures of this variant known on some kernels (see `KnownFailure`, `Verdict`).
    public var knownFailures: [KnownFailure]
    public init(
        name: String, summary: String, requirements: [Requirement] = [], tags: Set<TestTag> = [],
        budget: TimeBudget = .standard, knownFailures: [KnownFailure] = [],
        scenario: @escaping @Sendable (HostFacts) throws -> Scenario
    ) {
        self.name = name
        self.summary = summary
        self.requirements = requirements
        self.knownFailures = knownFailures
        self.tags = tags
        self.budget = budget
        self.scenario = scenario
    }
}
