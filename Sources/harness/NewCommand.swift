import ArgumentParser
import Reporting
import Runtime
import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

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
