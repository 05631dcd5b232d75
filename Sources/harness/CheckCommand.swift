import ArgumentParser
import Reporting
import Runtime
import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

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
            // Every variant is built for each host page size and the largest VM: every error is
            // printed, and what only the running host decides is printed as "not checked".
            let result = ScenarioLoader.check(path: path)
            for e in result.errors { say(e.description) }
            for line in result.notChecked { say(line) }
            guard let test = result.test, result.errors.isEmpty else {
                bad += 1
                continue
            }
            if let other = names[test.name] {
                say("\(path): $.name: test '\(test.name)' is also defined in \(other)")
                bad += 1
                continue
            }
            names[test.name] = path
            say("\(path): ok: \(test.name), \(test.variants.count) variant\(test.variants.count == 1 ? "" : "s")")
        }
        if bad > 0 { throw ExitCode(1) }
    }
}
