import AArch64
import GuestProtocol
import KVM
import Machine
import Stage2
#if canImport(Glibc)
import Glibc
#endif

/// The tests the harness knows, as data. Issue-6 tests are added here as more entries.
public enum Catalog {
    public static let tests: [CatalogTest] = [demandPaging] + stage2FaultTests + advancedTests + stage1Tests

    public static let demandPaging = CatalogTest(
        name: "demand-paging",
        summary: "each first touch (read/write/exec) of a sparse IPA raises exactly one stage-2 translation fault; the host maps the page and the guest retries",
        variants: [
            pages("4k", .k4), pages("16k", .k16), pages("64k", .k64),
            TestVariant(name: "4k-2m-blocks", summary: "4K granule, demand-maps 2 MiB level-2 blocks",
                        requirements: [.stage2Granule(.k4)]) { _ in
                try DemandPaging.scenario(granule: .k4, ipaBits: 40, blockSize: 2 << 20)
            },
        ])

    static func pages(_ name: String, _ g: Granule) -> TestVariant {
        TestVariant(name: name, summary: "\(g) granule, 40-bit IPA, demand-maps pages",
                    requirements: [.stage2Granule(g)]) { _ in
            try DemandPaging.scenario(granule: g, ipaBits: 40)
        }
    }

    /// Resolves `name` or `name/variant` to (test, variants). nil: no such test/variant.
    public static func select(_ spec: String) -> (CatalogTest, [TestVariant])? {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        guard let test = tests.first(where: { $0.name == parts.first }) else { return nil }
        if parts.count == 1 { return (test, test.variants) }
        guard let v = test.variants.first(where: { $0.name == parts[1] }) else { return nil }
        return (test, [v])
    }
}

/// Whether this host can run nested tests at all; the reason when not (a skip, exit 77).
public enum HostCheck {
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
    public var faults: Int
    public var seconds: Double
    public var notes: [String]
}

public struct RunSettings: Sendable {
    public var verbose = false
    public var timeout: Duration = .seconds(120)
    public var e2h0 = false
    public init(verbose: Bool = false, timeout: Duration = .seconds(120), e2h0: Bool = false) {
        self.verbose = verbose
        self.timeout = timeout
        self.e2h0 = e2h0
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
        let scenario: Scenario
        do { scenario = try variant.scenario(HostFacts.probe()) } catch SessionError.skip(let why) {
            return TestRun(name: name, outcome: .skip(why), faults: 0, seconds: seconds(), notes: [])
        } catch {
            return TestRun(name: name, outcome: .fail("building the scenario: \(error)"), faults: 0, seconds: seconds(), notes: [])
        }
        let outcome: Outcome
        var faults = 0
        do {
            var backend: MachineBackend? = try MachineBackend(layout: .standard, e2h0: settings.e2h0, timeout: settings.timeout,
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
        return TestRun(name: name, outcome: outcome, faults: faults, seconds: seconds(), notes: scenario.notes)
    }
}

func milliseconds(since start: ContinuousClock.Instant) -> Int {
    let d = ContinuousClock.now - start
    return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
}
