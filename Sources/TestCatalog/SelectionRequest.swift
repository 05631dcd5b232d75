import Runtime

/// What the command line asks to run: `--test`, `--filter`, `--group`, `--all`, `--exclude`
/// and `--unsafe`. `Catalog.select(_:)` resolves it.
public struct SelectionRequest: Sendable {
    /// `--test NAME` or `NAME/VARIANT`, in the order given. Naming a test runs it even when it
    /// is tagged `unsafe`.
    public var names: [String] = []
    /// `--filter GLOB` on full names (`test/variant`).
    public var filters: [(pattern: String, matches: @Sendable (String) -> Bool)] = []
    /// `--group TAG`: every variant carrying the tag.
    public var groups: [TestTag] = []
    /// `--all`.
    public var all = false
    /// `--exclude GLOB`: applied last.
    public var excludes: [(pattern: String, matches: @Sendable (String) -> Bool)] = []
    /// `--unsafe`: keep `unsafe` variants that `--all`, `--group` or `--filter` reached.
    public var includeUnsafe = false

    public init(
        names: [String] = [], filters: [(pattern: String, matches: @Sendable (String) -> Bool)] = [],
        groups: [TestTag] = [], all: Bool = false,
        excludes: [(pattern: String, matches: @Sendable (String) -> Bool)] = [],
        includeUnsafe: Bool = false
    ) {
        self.names = names
        self.filters = filters
        self.groups = groups
        self.all = all
        self.excludes = excludes
        self.includeUnsafe = includeUnsafe
    }
}
