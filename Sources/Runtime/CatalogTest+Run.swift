import AArch64
import GuestProtocol
import KVM
import Machine

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
        final class Lines: @unchecked Sendable {
            var faults: [String] = []
            var other: [String] = []
        }
        let lines = Lines()
        let outer = log
        let log: (String) -> Void = { line in
            let text = line.drop { $0 == " " }
            if text.hasPrefix("stage-2 fault") || (text.hasPrefix("[vCPU ") && text.contains("] stage-2 fault")) {
                lines.faults.append(String(text))
            } else {
                lines.other.append(String(text))
            }
            outer(line)
        }
        func finished(_ outcome: Outcome, faults: Int, notes: [String]) -> TestRun {
            TestRun(
                name: name, outcome: outcome, faults: faults, seconds: seconds(), notes: notes,
                faultLines: lines.faults, log: lines.other)
        }
        var facts: HostFacts
        do { facts = try HostFacts.probe() } catch {
            return finished(.fail("reading KVM_CAP_ARM_VM_IPA_SIZE: \(error)"), faults: 0, notes: [])
        }
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
            if !scenario.vcpus.isEmpty {
                // One VM with a vCPU per op list, all EL2, in the same VHE/non-VHE mode.
                let n = scenario.vcpus.count
                let vm = try MachineBackend(
                    layout: .forVCPU(0, of: n), e2h0: settings.e2h0 || scenario.nonVHE, timeout: settings.timeout, vcpuCount: n)
                var backends: [MachineBackend] = [vm]
                for k in 1..<n { backends.append(try MachineBackend(sharing: vm, vcpu: k)) }
                let runner = MultiVCPURunner(verbose: settings.verbose, log: log)
                let all = backends
                (outcome, faults) = runner.run(scenario, requirements: variant.requirements, backends: all) { k, pc, x0 in
                    try all[k].start(pc: pc, x0: x0)
                }
                return finished(outcome, faults: faults, notes: scenario.notes)
            }
            var backend: MachineBackend? = try MachineBackend(
                layout: .standard, e2h0: settings.e2h0 || scenario.nonVHE,
                timeout: settings.timeout,
                ipaBits: scenario.vmIPABits)
            if settings.verbose { log("  VM created in \(milliseconds(since: started)) ms") }
            for r in scenario.extraRAM { try backend!.addRAM(name: r.name, base: r.base, size: r.size, logDirtyPages: r.logDirtyPages) }
            for w in scenario.idRegisterWrites {
                if let why = try w.apply(backend!) { return finished(.skip(why), faults: 0, notes: scenario.notes) }
                if settings.verbose { log("  \(w.register.name) written before the first run") }
            }
            var runner = ScenarioRunner(verbose: settings.verbose, log: log)
            if let seed = settings.garbageMailboxSeed {
                runner.configFlags |= GuestABI.cfgFlagGarbage | UInt64(seed) << UInt64(GuestABI.cfgGarbageSeedShift)
            }
            (outcome, faults) = runner.run(scenario, requirements: variant.requirements, backend: backend!) { pc, x0 in
                try backend!.start(pc: pc, x0: x0)
            }
            let teardown = ContinuousClock.now
            if scenario.teardown == .vmBeforeVCPUs {
                backend!.machine.destroyVMBeforeVCPUs()
                log("  VM fd closed and guest memory unmapped while the vCPU fds still hold the VM")
            }
            backend = nil
            if settings.verbose { log("  VM torn down in \(milliseconds(since: teardown)) ms") }
        } catch let e as MachineError {
            switch (e.suggestedExitCode, e) {
            case (77, _): outcome = .skip(e.description)
            case (124, _): outcome = .timeout(e.description)
            case (_, .kvm(let k)): outcome = .callFailed(k)
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
