import ArgumentParser
import Reporting

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `harness merge SHARD.json...`: one report from the JSON Lines reports of the shards of one
/// run (`--shard K/N`, K = 1…N in argument order), in catalog order, in any format, with the
/// exit status of the merged results (`ExitPolicy`; `--bisect` as for a run).
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the JSON reports of a sharded run (--shard K/N, given in order K = 1…N) into one report.")

    @Argument(help: ArgumentHelp("The shards' JSON Lines reports, shard 1 first.", valueName: "shard.json"))
    var files: [String]
    /// The run options: merge uses --format, --output, --junit, --color and --bisect.
    @OptionGroup var options: RunOptions
    var format: OutputFormat { options.format }
    var output: String? { options.output }
    var junit: String? { options.junit }
    var color: ColorMode { options.color }
    var bisect: Bool { options.bisect }

    func run() throws {
        let status: Int32
        do { status = try merge() } catch let e as ShardReport.Failure {
            FileDescriptorSink.standardError().write("harness merge: \(e.message)\n")
            throw ExitCode(bisect ? BisectExit.skip : 65)
        }
        throw ExitCode(bisect ? BisectExit.status(forExitStatus: status) : status)
    }

    func merge() throws -> Int32 {
        guard !files.isEmpty else { throw ShardReport.Failure(message: "no shard reports given") }
        let shards = try files.map { path in
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ShardReport.Failure(message: "cannot read \(path)")
            }
            return try ShardReport(text: String(decoding: data, as: UTF8.self), file: path)
        }
        let results = ShardReport.interleave(shards.map(\.groups))
        let first = shards[0]
        var notes: [String] = []
        for n in shards.flatMap(\.notes) where !notes.contains(n) { notes.append(n) }
        for s in shards.dropFirst() where s.seed != first.seed {
            throw ShardReport.Failure(message: "\(s.file) ran with seed \(s.seed), \(first.file) with \(first.seed): not shards of one run")
        }
        let run = RunInfo(
            startTime: shards.map(\.startTime).min() ?? Date(), hostname: first.hostname, hostDescription: first.host,
            seed: first.seed, notes: notes, plannedNames: results.map(\.name))
        let reporter: Reporter
        let junitReporter: Reporter?
        do {
            reporter = try Reporter(format: format, outputPath: output, run: run, planned: results.count, color: color)
            junitReporter = try junit.map {
                try Reporter(
                    format: .junit, outputPath: $0, run: run, planned: results.count, color: .never, stdout: Silent(), stderr: Silent())
            }
        } catch { throw ValidationError(String(describing: error)) }
        for r in results {
            reporter.record(r)
            junitReporter?.record(r)
        }
        do {
            _ = try junitReporter?.finish()
            return try reporter.finish()
        } catch {
            FileDescriptorSink.standardError().write("harness merge: \(error)\n")
            throw ExitCode(bisect ? BisectExit.skip : 74)
        }
    }

    private final class Silent: TextSink {
        func write(_ text: String) {}
        var isTerminal: Bool { false }
        var writeError: Int32? { nil }
    }
}
