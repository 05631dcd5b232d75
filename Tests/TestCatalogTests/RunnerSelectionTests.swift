import Testing

@testable import Runtime
@testable import TestCatalog

/// `Catalog.selection`: what --test / --filter / --all pick, in which order, and the errors.
/// A synthetic catalog (scenarios are never built here) so the expectations do not move when
/// tests are added to the real one.
@Suite struct RunnerSelectionTests {
    struct NotBuilt: Error {}
    static func test(_ name: String, _ variants: [String]) -> CatalogTest {
        CatalogTest(
            name: name, summary: "\(name) test",
            variants: variants.map { v in
                TestVariant(name: v, summary: v) { _ in throw NotBuilt() }
            })
    }
    let catalog = [test("alpha", ["a1", "a2"]), test("beta", ["b1"]), test("gamma", ["g1", "g2", "g3"])]
    let every = ["alpha/a1", "alpha/a2", "beta/b1", "gamma/g1", "gamma/g2", "gamma/g3"]

    func names(_ t: [String] = [], filters: [(String, (String) -> Bool)] = [], all: Bool = false) throws(Catalog.SelectionError) -> [String]
    {
        try Catalog.selection(names: t, filters: filters.map { (pattern: $0.0, matches: $0.1) }, all: all, from: catalog).map(\.name)
    }

    @Test func allIsEveryVariantInCatalogOrder() throws {
        #expect(try names(all: true) == every)
    }

    @Test func aTestNameSelectsAllItsVariantsAndNameVariantOne() throws {
        #expect(try names(["gamma"]) == ["gamma/g1", "gamma/g2", "gamma/g3"])
        #expect(try names(["gamma/g2"]) == ["gamma/g2"])
    }

    @Test func testsRunInTheOrderGivenThenFilterHitsInCatalogOrderWithoutDuplicates() throws {
        let got = try names(
            ["gamma/g3", "alpha/a2", "gamma/g3"],
            filters: [("*2", { $0.hasSuffix("2") }), ("beta*", { $0.hasPrefix("beta") })])
        // --test order first (g3, a2; the repeated g3 once), then the filters' new hits:
        // "*2" adds gamma/g2 (alpha/a2 already in), "beta*" adds beta/b1.
        #expect(got == ["gamma/g3", "alpha/a2", "gamma/g2", "beta/b1"])
    }

    @Test func filterMatchesWholeNamesGivenByThePredicate() throws {
        // The predicate sees the full test/variant name.
        var seen: [String] = []
        _ = try? names(filters: [
            (
                "x",
                {
                    seen.append($0)
                    return false
                }
            )
        ])
        #expect(seen == every)
    }

    @Test func unknownNamesAreErrorsNamingWhatExists() {
        #expect(throws: Catalog.SelectionError.unknownTest("delta", known: every)) { try names(["delta"]) }
        #expect(throws: Catalog.SelectionError.unknownVariant("beta/b9", test: "beta", known: ["b1"])) { try names(["beta/b9"]) }
        // An empty variant after the slash is not "all variants".
        #expect(throws: Catalog.SelectionError.unknownVariant("beta/", test: "beta", known: ["b1"])) { try names(["beta/"]) }
        let e = Catalog.SelectionError.unknownTest("delta", known: every).description
        #expect(e.contains("'delta'") && e.contains("gamma/g3"))
    }

    @Test func aFilterThatMatchesNothingIsAnError() {
        #expect(throws: Catalog.SelectionError.filterMatchesNothing("zz*", known: every)) {
            try names(filters: [("a*", { $0.hasPrefix("a") }), ("zz*", { $0.hasPrefix("zz") })])
        }
    }

    @Test func allWithANarrowerSelectionOrNoSelectionAtAllAreErrors() {
        #expect(throws: Catalog.SelectionError.allWithOthers) { try names(["beta"], all: true) }
        #expect(throws: Catalog.SelectionError.allWithOthers) { try names(filters: [("*", { _ in true })], all: true) }
        #expect(throws: Catalog.SelectionError.nothingSelected) { try names() }
    }

    @Test func theRealCatalogHasUniqueFullNames() throws {
        let all = try Catalog.selection(names: [], filters: [], all: true).map(\.name)
        #expect(!all.isEmpty)
        #expect(Set(all).count == all.count)
    }
}
