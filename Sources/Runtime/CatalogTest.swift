import AArch64
import GuestProtocol
import Machine
import Stage2

/// A catalog test as data: what it needs, and per variant the scenario it runs.
public struct CatalogTest: Sendable {
    public var name: String
    public var summary: String
    /// Tags every variant of the test carries (`--group`); variants may add their own.
    public var tags: Set<TestTag>
    public var variants: [TestVariant]
    public init(name: String, summary: String, tags: Set<TestTag> = [], variants: [TestVariant]) {
        self.name = name
        self.summary = summary
        self.tags = tags
        self.variants = variants
    }
}
