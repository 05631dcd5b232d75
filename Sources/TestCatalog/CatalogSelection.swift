import Runtime

/// The variants a `SelectionRequest` runs, in run order, and those it reached but left out
/// (with the reason the report prints).
public struct CatalogSelection: Sendable {
    public var selected: [Catalog.Selected]
    public var leftOut: [LeftOut]

    /// A variant the request reached but does not run.
    public struct LeftOut: Sendable, Equatable {
        public var name: String
        public var reason: String
    }

    /// One line for the report, e.g. "left out 6 unsafe variants (known to WARN, crash or wedge
    /// some hosts; run them with --unsafe or name them with --test): illegal-vtcr/4k-40bit-sl0-l2, …".
    public var leftOutLine: String? {
        guard !leftOut.isEmpty else { return nil }
        var byReason: [(reason: String, names: [String])] = []
        for l in leftOut {
            if let i = byReason.firstIndex(where: { $0.reason == l.reason }) {
                byReason[i].names.append(l.name)
            } else {
                byReason.append((l.reason, [l.name]))
            }
        }
        return "left out "
            + byReason.map {
                "\($0.names.count) variant\($0.names.count == 1 ? "" : "s") (\($0.reason)): " + $0.names.joined(separator: ", ")
            }
            .joined(separator: "; ")
    }
}

extension Catalog {
    /// Why `unsafe` variants stay out of a selection that did not name them.
    public static let unsafeReason = "unsafe: known to WARN, crash or wedge some hosts; run them with --unsafe or name them with --test"

    /// Resolves a request, in run order: every `--test` entry in the order given (a test name
    /// selects all its variants), then every variant some `--filter` or `--group` reaches, in
    /// catalog order (`--all`: every variant). A variant reached twice runs once. Variants
    /// tagged `unsafe` that only `--all`, `--filter` or `--group` reached are left out unless
    /// `--unsafe` is given or the group is `unsafe` itself. `--exclude` then removes matches.
    /// Throws (a usage error, before anything runs) when a name, group or filter reaches
    /// nothing, an exclude matches nothing reached, `--all` is combined with a narrower
    /// selection, nothing was asked for, or nothing is left to run.
    public static func select(
        _ request: SelectionRequest, from tests: [CatalogTest] = Catalog.tests
    ) throws(SelectionError) -> CatalogSelection {
        let hasNarrow = !(request.names.isEmpty && request.filters.isEmpty && request.groups.isEmpty)
        if request.all && hasNarrow { throw .allWithOthers }
        if !request.all && !hasNarrow { throw .nothingSelected }
        let everything = tests.flatMap { t in t.variants.map { Selected(test: t, variant: $0) } }
        let knownTags = Set(everything.flatMap(\.tags))
        for g in request.groups where !knownTags.contains(g) {
            throw .unknownGroup(g.rawValue, known: knownTags.sorted().map(\.rawValue))
        }

        var reached: [(selected: Selected, explicit: Bool)] = []
        var seen: [String: Int] = [:]
        func add(_ s: Selected, explicit: Bool) {
            if let i = seen[s.name] {
                if explicit { reached[i].explicit = true }
                return
            }
            seen[s.name] = reached.count
            reached.append((s, explicit))
        }
        if request.all { for s in everything { add(s, explicit: false) } }
        // Named tests are checked (and run) through the existing resolution.
        if !request.names.isEmpty {
            for s in try selection(names: request.names, filters: [], all: false, from: tests) { add(s, explicit: true) }
        }
        for f in request.filters {
            let hits = everything.filter { f.matches($0.name) }
            if hits.isEmpty { throw .filterMatchesNothing(f.pattern, known: everything.map(\.name)) }
            for s in hits { add(s, explicit: false) }
        }
        for g in request.groups {
            // Asking for the `unsafe` group by name is asking for them.
            for s in everything where s.tags.contains(g) { add(s, explicit: g == .unsafe) }
        }

        for e in request.excludes where !reached.contains(where: { e.matches($0.selected.name) }) {
            throw .excludeMatchesNothing(e.pattern)
        }
        var result = CatalogSelection(selected: [], leftOut: [])
        for r in reached where !request.excludes.contains(where: { $0.matches(r.selected.name) }) {
            if r.selected.tags.contains(.unsafe) && !r.explicit && !request.includeUnsafe {
                result.leftOut.append(.init(name: r.selected.name, reason: unsafeReason))
            } else {
                result.selected.append(r.selected)
            }
        }
        if result.selected.isEmpty {
            throw result.leftOut.isEmpty ? .excludedEverything : .onlyUnsafe(result.leftOut.map(\.name))
        }
        return result
    }
}
