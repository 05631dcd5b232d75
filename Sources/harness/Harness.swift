import ArgumentParser

/// `harness`: the root command runs catalog tests (`--test`, `--list`, …); the
/// subcommands expose the stage-2 tools, the fault decoder, the host check and the benchmarks.
@main
struct Harness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness",
        abstract: "KVM nested-virtualization (vEL2 + stage-2) test harness for arm64.",
        subcommands: [
            RunFilesCommand.self, CheckCommand.self, NewCommand.self, Stage2Command.self, DecodeCommand.self, DoctorCommand.self,
            MergeCommand.self,
            BenchCommand.self,
        ]
    )

    @OptionGroup var run: RunOptions

    func run() async throws {
        try await runCatalog(run)
    }
}

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (ratios against a baseline run side by side).",
        subcommands: [BenchStage2Command.self, BenchExitsCommand.self, BenchVMCyclesCommand.self]
    )
}
