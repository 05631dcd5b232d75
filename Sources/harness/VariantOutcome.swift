import HostHealth
import Reporting
import Runtime
import TestCatalog

/// What one job produced: the result the reports get, and what only the log directory keeps.
struct VariantOutcome: Sendable {
    var result: TestResult
    /// Every line the test logged (with --log-dir: every exit, decoded).
    var fullLog: [String]
    /// The host's kernel around the test (nil when the health check is not done).
    var health: HealthFindings?
}
