import ArgumentParser
// Owner: nested-guest work. Placeholder until `--test`/`--list` land.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Run the named test.") var test: [String] = []
    @Flag(name: .long, help: "List the tests.") var list = false
}
func runCatalog(_ options: RunOptions) async throws {
    throw ValidationError("no tests yet")
}
struct BenchExitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exits", abstract: "MMIO exit round-trip benchmark.")
}
