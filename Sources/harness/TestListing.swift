import Runtime
import TestCatalog

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `--list`: the selected variants with their tags, budgets and requirements; `--names` prints
/// only full names (one per line, for shell loops and CI sharding); `--format json` prints one
/// JSON array of objects with stable keys.
enum TestListing {
    /// One entry of `--list --format json`.
    struct Entry: Codable, Equatable {
        var name: String
        var test: String
        var variant: String
        var summary: String
        var tags: [String]
        var budgetSeconds: Double
        var requirements: [String]
        /// Left out of `--all`/`--group`/`--filter` unless `--unsafe` (tag `unsafe`).
        var unsafe: Bool
    }

    static func entries(_ selected: [Catalog.Selected]) -> [Entry] {
        selected.map { s in
            Entry(
                name: s.name, test: s.test.name, variant: s.variant.name, summary: s.variant.summary,
                tags: s.tags.sorted().map(\.rawValue), budgetSeconds: s.budget.seconds,
                requirements: s.variant.requirements.map(\.description), unsafe: s.tags.contains(.unsafe))
        }
    }

    static func json(_ selected: [Catalog.Selected]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(entries(selected)), as: UTF8.self) + "\n"
    }

    static func names(_ selected: [Catalog.Selected]) -> String {
        selected.map { $0.name + "\n" }.joined()
    }

    /// Per test: name, summary and tags; per variant: name, summary, its own tags, budget and
    /// requirements.
    static func text(_ selected: [Catalog.Selected]) -> String {
        var out = ""
        var lastTest: String? = nil
        for s in selected {
            if s.test.name != lastTest {
                out += "\(s.test.name)  \(s.test.summary)  [tags: \(s.test.tags.sorted().map(\.rawValue).joined(separator: ", "))]\n"
                lastTest = s.test.name
            }
            let req =
                s.variant.requirements.isEmpty
                ? "needs: nothing beyond nested virtualization"
                : "needs: " + s.variant.requirements.map(\.description).joined(separator: ", ")
            let own = s.variant.tags.isEmpty ? "" : "; also: " + s.variant.tags.sorted().map(\.rawValue).joined(separator: ", ")
            out += "  \(s.name)  \(s.variant.summary)  [\(req); budget \(s.budget)\(own)]\n"
        }
        return out
    }
}
