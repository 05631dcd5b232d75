import ArgumentParser

@main
struct Harness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness",
        abstract: "KVM nested-virtualization (vEL2 + stage-2) test harness for arm64.",
        subcommands: []
    )
    func run() async throws {}
}
