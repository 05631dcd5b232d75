import ArgumentParser
struct BenchExitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exits", abstract: "MMIO exit round-trip benchmark.")
}
