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
            do {
                let test = try ScenarioLoader.load(path: path)
                if let other = names[test.name] {
                    say("\(path): $.name: test '\(test.name)' is also defined in \(other)")
                    bad += 1
                    continue
                }
                names[test.name] = path
                // Building each variant finds what only the builder can (a TTBR0_EL1 write that
                // is not the stage-1 root, a fault level "derive" cannot work out, …); what
                // depends on the host (a VM size it cannot make) is left to the run.
                var built = true
                for v in test.variants {
                    do { _ = try v.scenario(HostFacts(vmIPABits: 52)) } catch let e as ScenarioFileError {
                        say(e.description)
                        built = false
                        break
                    } catch {}
                }
                if !built {
                    bad += 1
                    continue
                }
                say("\(path): ok: \(test.name), \(test.variants.count) variant\(test.variants.count == 1 ? "" : "s")")
            } catch {
                say(error.description)
                bad += 1
            }
        }
        if bad > 0 { throw ExitCode(1) }
    }
}
