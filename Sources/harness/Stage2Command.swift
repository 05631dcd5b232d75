import ArgumentParser
// Owner: stage-2 work. Placeholder until the stage-2 tools land.
struct Stage2Command: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stage2", abstract: "Stage-2 table tools.")
}
struct BenchStage2Command: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stage2", abstract: "Stage-2 builder benchmark.")
}
