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
        if run.all { throw ValidationError("--all selects the built-in catalog; `harness run FILE…` runs the files' tests (narrow them with --test/--filter)") }
    }

    func run() async throws {
        let tests = try ScenarioFiles.load(files)
        try await runCatalog(run, tests: tests, everythingByDefault: true)
    }
}

/// `harness check FILE…`: validates scenario files without a VM.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check scenario files without running them (exit 0 all valid, 1 otherwise).")

    @Argument(help: ArgumentHelp("Scenario files.", valueName: "file"))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one scenario file") }
    }

    func run() throws {
        var bad = 0
        var names: [String: String] = [:]
        for path in files {
            do {
                let test = try ScenarioLoader.load(path: path)
                if let other = names[test.name] {
                    say("\(path): $.name: test '\(test.name)' is also defined in \(other)")
                    bad += 1
                    continue
                }
                names[test.name] = path
                say("\(path): ok: \(test.name), \(test.variants.count) variant\(test.variants.count == 1 ? "" : "s")")
            } catch {
                say(error.description)
                bad += 1
            }
        }
        if bad > 0 { throw ExitCode(1) }
    }
}

/// `harness new NAME`: writes NAME.json, a commented skeleton that passes `harness check`.
struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a commented skeleton scenario file NAME.json (it passes `harness check`).")

    @Argument(help: ArgumentHelp("The test's name: lower-case letters, digits and '-'.", valueName: "name"))
    var name: String

    // Not --output: that is the root command's report option, which a subcommand inherits.
    @Option(name: .long, help: ArgumentHelp("Where to write it (default: NAME.json here).", valueName: "file"))
    var path: String?

    func validate() throws {
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            throw ValidationError("'\(name)' is not a test name: use lower-case letters, digits and '-'")
        }
    }

    func run() throws {
        let path = self.path ?? name + ".json"
        if access(path, F_OK) == 0 { throw ValidationError("\(path) exists; not overwriting it") }
        do {
            try AtomicFile.validate(path: path)
            try AtomicFile.write(ScenarioTemplate.skeleton(name: name), to: path)
        } catch {
            throw ValidationError("\(error)")
        }
        say("wrote \(path); check it with `harness check \(path)`, run it with `harness run \(path)`")
    }
}

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
