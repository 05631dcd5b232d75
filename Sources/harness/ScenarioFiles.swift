import ArgumentParser
import Reporting
import Runtime
import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

/// Loads the files of `harness run`; any error is a usage error naming the file and place.
enum ScenarioFiles {
    static func load(_ paths: [String]) throws -> [CatalogTest] {
        var tests: [CatalogTest] = []
        var errors: [String] = []
        var names: [String: String] = [:]
        for path in paths {
            do {
                let t = try ScenarioLoader.load(path: path)
                if let other = names[t.name] {
                    errors.append("\(path): $.name: test '\(t.name)' is also defined in \(other)")
                } else {
                    names[t.name] = path
                    tests.append(t)
                }
            } catch {
                errors.append(error.description)
            }
        }
        if !errors.isEmpty {
            FileDescriptorSink.standardError().write(errors.map { "harness: \($0)\n" }.joined())
            throw ExitCode(65)
        }
        return tests
    }
}
