import AArch64
import CatalogFiles
import GuestProtocol
import KVM
import Machine
import Stage2
#if canImport(Glibc)
import Glibc
#endif

/// The tests the harness knows: the scenario files embedded from catalog/ (in file-name
/// order), then the tests still written in Swift.
public enum Catalog {
    public static let tests: [CatalogTest] = builtInFiles + advancedTests + stage1Tests

    /// The embedded catalog/*.json files, loaded. A built-in file that does not load is a
    /// build defect (a unit test loads every one), so it stops the program with the error.
    public static let builtInFiles: [CatalogTest] = EmbeddedCatalog.files.map { f in
        do { return try ScenarioLoader.load(Array(f.text.utf8), file: "catalog/" + f.name) } catch {
            fatalError("built-in scenario file: \(error)")
        }
    }

    /// The test called `name`, nil when there is none.
    public static func test(named name: String) -> CatalogTest? { tests.first { $0.name == name } }

    /// Resolves `name` or `name/variant` to (test, variants). nil: no such test/variant.
    public static func select(_ spec: String) -> (CatalogTest, [TestVariant])? {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        guard let test = tests.first(where: { $0.name == parts.first }) else { return nil }
        if parts.count == 1 { return (test, test.variants) }
        guard let v = test.variants.first(where: { $0.name == parts[1] }) else { return nil }
        return (test, [v])
    }

    /// What `--test`, `--filter` and `--all` select, in run order: every `--test` entry in
    /// the order given (a test name selects all its variants), then every variant whose full
    /// name (`test/variant`) some filter matches, in catalog order. A variant selected twice
    /// runs once. Throws when a name is unknown, when a filter matches nothing, when `--all` is
    /// combined with a narrower selection, or when nothing was asked for.
    public static func selection(names: [String], filters: [(pattern: String, matches: (String) -> Bool)],
                                 all: Bool, from tests: [CatalogTest] = Catalog.tests) throws(SelectionError) -> [Selected] {
        if all && !(names.isEmpty && filters.isEmpty) { throw .allWithOthers }
        let everything = tests.flatMap { t in t.variants.map { Selected(test: t, variant: $0) } }
        if all { return everything }
        if names.isEmpty && filters.isEmpty { throw .nothingSelected }
        var out: [Selected] = []
        var seen = Set<String>()
        func add(_ s: Selected) { if seen.insert(s.name).inserted { out.append(s) } }
        for spec in names {
            let parts = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let test = tests.first(where: { $0.name == parts[0] }) else {
                throw .unknownTest(spec, known: everything.map(\.name))
            }
            if parts.count == 1 {
                test.variants.forEach { add(Selected(test: test, variant: $0)) }
            } else if let v = test.variants.first(where: { $0.name == parts[1] }) {
                add(Selected(test: test, variant: v))
            } else {
                throw .unknownVariant(spec, test: test.name, known: test.variants.map(\.name))
            }
        }
        for f in filters {
            let hits = everything.filter { f.matches($0.name) }
            if hits.isEmpty { throw .filterMatchesNothing(f.pattern, known: everything.map(\.name)) }
            hits.forEach(add)
        }
        return out
    }

    /// One selected variant of a test.
    public struct Selected: Sendable {
        public var test: CatalogTest
        public var variant: TestVariant
        public init(test: CatalogTest, variant: TestVariant) {
            self.test = test
            self.variant = variant
        }
        /// `test/variant`, the name reports use.
        public var name: String { "\(test.name)/\(variant.name)" }
    }

    /// A selection that cannot run: said before any test runs (a usage error, exit 64).
    public enum SelectionError: Error, Equatable, CustomStringConvertible {
        case unknownTest(String, known: [String])
        case unknownVariant(String, test: String, known: [String])
        case filterMatchesNothing(String, known: [String])
        case allWithOthers
        case nothingSelected

        public var description: String {
            switch self {
            case let .unknownTest(name, known):
                "unknown test '\(name)'; known tests: " + known.joined(separator: ", ")
            case let .unknownVariant(name, test, known):
                "unknown variant in '\(name)': test '\(test)' has the variants " + known.joined(separator: ", ")
            case let .filterMatchesNothing(pattern, known):
                "--filter '\(pattern)' matches no test; known tests: " + known.joined(separator: ", ")
            case .allWithOthers:
                "--all selects every test; do not combine it with --test or --filter"
            case .nothingSelected:
                "nothing to run: give --all, --test NAME or --filter GLOB (see --list)"
            }
        }
    }
}

/// Whether this host can run nested tests at all; the reason when not (a skip, exit 77).
public enum HostCheck {
    /// Why a non-VHE (HAS_EL2_E2H0) guest hypervisor cannot be created here, or nil.
    public static func nonVHEUnavailable(kvmPath: String = KVMSystem.defaultPath) -> String? {
        guard let cap = KVMCapability.armEL2E2H0 else {
            return "the kernel headers this harness was built with predate KVM_CAP_ARM_EL2_E2H0"
        }
        guard let kvm = try? KVMSystem(path: kvmPath) else { return "cannot open \(kvmPath)" }
        if ((try? kvm.checkExtension(cap)) ?? 0) <= 0 {
            return "KVM_CAP_ARM_EL2_E2H0 is absent: this host cannot run a non-VHE guest hypervisor (the CPU or kernel has no FEAT_E2H0 for guests)"
        }
        return nil
    }

    public static func nestedVirtualizationUnavailable(kvmPath: String = KVMSystem.defaultPath) -> String? {
        guard kvmHasARM64 else {
            return "not an arm64 host (this harness was built for another architecture); run it in the emulated arm64 host: scripts/emu-host run -- harness --test NAME"
        }
        let kvm: KVMSystem
        do { kvm = try KVMSystem(path: kvmPath) } catch {
            switch error.errno {
            case ENOENT: return "\(kvmPath) does not exist: this kernel has no KVM (or it is not loaded)"
            case EACCES, EPERM: return "permission denied opening \(kvmPath): run as root or join the kvm group"
            default: return "cannot open \(kvmPath): \(error)"
            }
        }
        guard let el2 = KVMCapability.armEL2 else {
            return "the kernel headers this harness was built with predate KVM_CAP_ARM_EL2 (Linux 6.16)"
        }
        let present = (try? kvm.checkExtension(el2)) ?? 0
        if present <= 0 {
            return "KVM_CAP_ARM_EL2 is absent: boot the host kernel with kvm-arm.mode=nested (needs Linux ≥ 6.16 and a CPU with FEAT_NV2)"
        }
        return nil
    }
}

/// One variant's run.
public struct TestRun: Sendable {
    public var name: String
    public var outcome: Outcome
    /// How many stage-2 faults the test saw.
    public var faults: Int
    public var seconds: Double
    public var notes: [String]
    /// The fault lines the test logged (`FaultReport.oneLine`, raw and decoded), in order.
    public var faultLines: [String] = []
    /// Every other line the test logged (with `--verbose`: every exit, decoded, and the
    /// host's replies), in order.
    public var log: [String] = []
}

public struct RunSettings: Sendable {
    public var verbose = false
    /// The test's whole budget: the watchdog stops the guest when it is spent.
    public var timeout: Duration = .seconds(120)
    public var e2h0 = false
    /// The seed this test draws from (randomized tests): derived by the runner from the run's
    /// `--seed`, the test's name and its repetition, and handed to the scenario builder as
    /// `HostFacts.seed`.
    public var seed: UInt64 = 0
    public init(verbose: Bool = false, timeout: Duration = .seconds(120), e2h0: Bool = false, seed: UInt64 = 0) {
        self.verbose = verbose
        self.timeout = timeout
        self.e2h0 = e2h0
        self.seed = seed
    }
}

extension CatalogTest {
    /// Builds a fresh VM for the variant, runs it, tears the VM down.
    public func run(_ variant: TestVariant, settings: RunSettings, log: @escaping (String) -> Void) -> TestRun {
        let name = "\(self.name)/\(variant.name)"
        let started = ContinuousClock.now
        func seconds() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        // Fault lines (the runner logs each stage-2 fault as `FaultReport.oneLine`, which
        // starts "stage-2 fault") are kept apart from the rest of the log.
        final class Lines: @unchecked Sendable { var faults: [String] = []; var other: [String] = [] }
        let lines = Lines()
        let outer = log
        let log: (String) -> Void = { line in
            let text = line.drop { $0 == " " }
            if text.hasPrefix("stage-2 fault") || (text.hasPrefix("[vCPU ") && text.contains("] stage-2 fault")) { lines.faults.append(String(text)) } else { lines.other.append(String(text)) }
            outer(line)
        }
        func finished(_ outcome: Outcome, faults: Int, notes: [String]) -> TestRun {
            TestRun(name: name, outcome: outcome, faults: faults, seconds: seconds(), notes: notes,
                    faultLines: lines.faults, log: lines.other)
        }
        var facts = HostFacts.probe()
        facts.seed = settings.seed
        let scenario: Scenario
        do { scenario = try variant.scenario(facts) } catch SessionError.skip(let why) {
            return finished(.skip(why), faults: 0, notes: [])
        } catch {
            return finished(.fail("building the scenario: \(error)"), faults: 0, notes: [])
        }
        let outcome: Outcome
        var faults = 0
        do {
            if scenario.nonVHE, let reason = HostCheck.nonVHEUnavailable() {
                return finished(.skip(reason), faults: 0, notes: scenario.notes)
            }
            var backend: MachineBackend? = try MachineBackend(layout: .standard, e2h0: settings.e2h0 || scenario.nonVHE,
                                                              timeout: settings.timeout,
                                                                  ipaBits: scenario.vmIPABits)
            if settings.verbose { log("  VM created in \(milliseconds(since: started)) ms") }
            let runner = ScenarioRunner(verbose: settings.verbose, log: log)
            (outcome, faults) = runner.run(scenario, requirements: variant.requirements, backend: backend!) { pc, x0 in
                try backend!.start(pc: pc, x0: x0)
            }
            let teardown = ContinuousClock.now
            backend = nil
            if settings.verbose { log("  VM torn down in \(milliseconds(since: teardown)) ms") }
        } catch let e as MachineError {
            switch e.suggestedExitCode {
            case 77: outcome = .skip(e.description)
            case 124: outcome = .timeout(e.description)
            default: outcome = .fail(e.description)
            }
        } catch {
            outcome = .fail("\(error)")
        }
        return finished(outcome, faults: faults, notes: scenario.notes)
    }
}

func milliseconds(since start: ContinuousClock.Instant) -> Int {
    let d = ContinuousClock.now - start
    return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
}
