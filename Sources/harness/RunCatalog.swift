import ArgumentParser
import Reporting
import Runtime
import TestCatalog

/// The root command's run: `runCatalogTests`, with `--bisect` mapping every way it ends to
/// what `git bisect run` expects (`BisectExit`): a usage error is "cannot test" (125) there too.
func runCatalog(_ options: RunOptions, tests: [CatalogTest] = Catalog.tests, everythingByDefault: Bool = false) async throws {
    guard options.bisect else { return try await runCatalogTests(options, tests: tests, everythingByDefault: everythingByDefault) }
    do {
        try await runCatalogTests(options, tests: tests, everythingByDefault: everythingByDefault)
    } catch let e as ExitCode {
        throw ExitCode(BisectExit.status(forExitStatus: e.rawValue))
    } catch let e as ValidationError {
        FileDescriptorSink.standardError().write("harness: error: \(e.message)\n")
        throw ExitCode(BisectExit.skip)
    }
}
