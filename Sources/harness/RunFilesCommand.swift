import ArgumentParser
import Reporting
import Runtime
import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

/// `harness run FILE…`: runs scenario files exactly as built-in tests (same runner, formats
/// and exit codes). Every file is loaded and checked first; a bad file stops the run before
/// anything runs (exit 65, the file, JSON path and field named).
struct RunFilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenario files (JSON, see docs/writing-tests.md) like built-in tests.",
        discussion: "--test and --filter pick variants among the files' tests; without them every variant of every file runs.")

    @Argument(help: ArgumentHelp("Scenario files.", valueName: "file"))
    var files: [String]

    @OptionGroup var run: RunOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one scenario file") }
        if run.all {
            throw ValidationError(
                "--all selects the built-in catalog; `harness run FILE…` runs the files' tests (narrow them with --test/--filter)")
        }
    }

    func run() async throws {
        let tests = try ScenarioFiles.load(files)
        try await runCatalog(run, tests: tests, everythingByDefault: true)
    }
}
