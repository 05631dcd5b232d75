import ArgumentParser
import Reporting
import Runtime
import TestCatalog

extension RunOptions {
    /// The selection `--test/--filter/--group/--all/--exclude/--unsafe` ask for (for `--list`
    /// without any of them: the whole catalog, unsafe variants included; `--list --all` lists
    /// what `--all` runs). Usage errors before anything runs or any file is written.
    func catalogSelection(forList: Bool = false, from tests: [CatalogTest] = Catalog.tests) throws -> CatalogSelection {
        var request = SelectionRequest(names: test, all: all, includeUnsafe: unsafe)
        for f in filter {
            do {
                let g = try GlobPattern(f)
                request.filters.append((f, { g.matches($0) }))
            } catch { throw ValidationError(String(describing: error)) }
        }
        for e in exclude {
            do {
                let g = try GlobPattern(e)
                request.excludes.append((e, { g.matches($0) }))
            } catch { throw ValidationError(String(describing: error)) }
        }
        for g in group {
            guard TestTag.isValidName(g) else {
                throw ValidationError("--group '\(g)' is not a tag name (lower-case words joined by '-', e.g. stage2-faults)")
            }
            request.groups.append(TestTag(rawValue: g))
        }
        if forList && !all && test.isEmpty && filter.isEmpty && group.isEmpty {
            request.all = true
            request.includeUnsafe = true
        }
        do { return try Catalog.select(request, from: tests) } catch { throw ValidationError(String(describing: error)) }
    }
}
