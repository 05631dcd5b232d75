import ArgumentParser
import Reporting

/// The root command's run: `runCatalogTests`, with `--bisect` mapping every way it ends to
/// what `git bisect run` expects (`BisectExit`): a usage error is "cannot test" (125) there too.
func runCatalog(_ options: RunOptions) async throws {
    guard options.bisect else { return try await runCatalogTests(options) }
    do {
        try await runCatalogTests(options)
    } catch let e as ExitCode {
        throw ExitCode(BisectExit.status(forExitStatus: e.rawValue))
    } catch let e as ValidationError {
        FileDescriptorSink.standardError().write("harness: error: \(e.message)\n")
        throw ExitCode(BisectExit.skip)
    }
}
