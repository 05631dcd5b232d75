import CatalogFiles
import Runtime

/// The tests the harness knows: the scenario files embedded from catalog/ (in file-name order).
public enum Catalog {
    public static let tests: [CatalogTest] = builtInFiles

    /// The embedded catalog/*.json files, loaded. A built-in file that does not load is a
    /// build defect (a unit test loads every one), so it stops the program with the error.
    public static let builtInFiles: [CatalogTest] = EmbeddedCatalog.files.map { f in
        do { return try ScenarioLoader.load(Array(f.text.utf8), file: "catalog/" + f.name) } catch {
            fatalError("built-in scenario file: \(error)")
        }
    }

    /// The test called `name`, nil when there is none.
    public static func test(named name: String) -> CatalogTest? { tests.first { $0.name == name } }

    /// Resolves `name` or `name/variant` to (test, variants). nil: no such test/variant.
    public static func select(_ spec: String) -> (CatalogTest, [TestVariant])? {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        guard let test = tests.first(where: { $0.name == parts.first }) else { return nil }
        if parts.count == 1 { return (test, test.variants) }
        guard let v = test.variants.first(where: { $0.name == parts[1] }) else { return nil }
        return (test, [v])
    }

    /// What `--test`, `--filter` and `--all` select, in run order: every `--test` entry in
    /// the order given (a test name selects all its variants), then every variant whose full
    /// name (`test/variant`) some filter matches, in catalog order. A variant selected twice
    /// runs once. Throws when a name is unknown, when a filter matches nothing, when `--all` is
    /// combined with a narrower selection, or when nothing was asked for.
    public static func selection(
        names: [String], filters: [(pattern: String, matches: (String) -> Bool)],
        all: Bool, from tests: [CatalogTest] = Catalog.tests
    ) throws(SelectionError) -> [Selected] {
        if all && !(names.isEmpty && filters.isEmpty) { throw .allWithOthers }
        let everything = tests.flatMap { t in t.variants.map { Selected(test: t, variant: $0) } }
        if all { return everything }
        if names.isEmpty && filters.isEmpty { throw .nothingSelected }
        var out: [Selected] = []
        var seen = Set<String>()
        func add(_ s: Selected) { if seen.insert(s.name).inserted { out.append(s) } }
        for spec in names {
            let parts = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let test = tests.first(where: { $0.name == parts[0] }) else {
                throw .unknownTest(spec, known: everything.map(\.name))
            }
            if parts.count == 1 {
                for v in test.variants { add(Selected(test: test, variant: v)) }
            } else if let v = test.variants.first(where: { $0.name == parts[1] }) {
                add(Selected(test: test, variant: v))
            } else {
                throw .unknownVariant(spec, test: test.name, known: test.variants.map(\.name))
            }
        }
        for f in filters {
            let hits = everything.filter { f.matches($0.name) }
            if hits.isEmpty { throw .filterMatchesNothing(f.pattern, known: everything.map(\.name)) }
            hits.forEach(add)
        }
        return out
    }

    /// One selected variant of a test.
    public struct Selected: Sendable {
        public var test: CatalogTest
        public var variant: TestVariant
        public init(test: CatalogTest, variant: TestVariant) {
            self.test = test
            self.variant = variant
        }
        /// `test/variant`, the name reports use.
        public var name: String { "\(test.name)/\(variant.name)" }
        /// The test's tags and the variant's own.
        public var tags: Set<TestTag> { test.tags.union(variant.tags) }
        public var budget: TimeBudget { variant.budget }
    }

    /// A selection that cannot run: said before any test runs (a usage error, exit 64).
    public enum SelectionError: Error, Equatable, CustomStringConvertible {
        case unknownTest(String, known: [String])
        case unknownVariant(String, test: String, known: [String])
        case filterMatchesNothing(String, known: [String])
        case allWithOthers
        case nothingSelected
        case unknownGroup(String, known: [String])
        case excludeMatchesNothing(String)
        case excludedEverything
        case onlyUnsafe([String])

        public var description: String {
            switch self {
            case let .unknownTest(name, known):
                "unknown test '\(name)'; known tests: " + known.joined(separator: ", ")
            case let .unknownVariant(name, test, known):
                "unknown variant in '\(name)': test '\(test)' has the variants " + known.joined(separator: ", ")
            case let .filterMatchesNothing(pattern, known):
                "--filter '\(pattern)' matches no test; known tests: " + known.joined(separator: ", ")
            case .allWithOthers:
                "--all selects every test; do not combine it with --test, --filter or --group"
            case .nothingSelected:
                "nothing to run: give --all, --test NAME, --filter GLOB or --group TAG (see --list)"
            case let .unknownGroup(name, known):
                "--group '\(name)' is not a tag of any test; tags: " + known.joined(separator: ", ")
            case let .excludeMatchesNothing(pattern):
                "--exclude '\(pattern)' matches no selected test (see --list)"
            case .excludedEverything:
                "--exclude left nothing to run"
            case let .onlyUnsafe(names):
                "everything selected is tagged unsafe (known to WARN, crash or wedge some hosts) and left out: "
                    + names.joined(separator: ", ") + "; add --unsafe or name them with --test"
            }
        }
    }
}
