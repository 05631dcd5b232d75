import AArch64
import ArgumentParser
import GuestProtocol
import KVM
import Machine
import Runtime
import Stage2
import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

/// `harness bench vm-cycles`: create, run to the first exit and destroy N VMs in a row,
/// and show that nothing leaks: open fds and memory mappings flat, RSS within 5 %.
struct BenchVMCyclesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm-cycles",
        abstract: "Create, run to the first exit and destroy N VMs; fds, RSS and mappings at start and end.",
        discussion: """
            On an arm64 host with nested virtualization each cycle is a test's VM: the EL2 vCPU
            with its vGICv3, guest RAM, the payload loaded and run to its HELLO (the first mailbox
            exit), then torn down. Elsewhere (x86_64 KVM) the generic part: a VM, its RAM and a
            vCPU in reset state that runs a short real-mode loop and HLT (the first exit).
            "start" is measured after --warm-up cycles (first-use allocations of the runtime and
            the payload are not leaks). Exit 0 when fds and mappings are flat and RSS within 5 %,
            1 otherwise; 77 when /dev/kvm cannot be used here, 125 when the process ran out of a
            resource (fds, address space) and could not test; 128+n on SIGINT/SIGTERM.
            """)

    @Option(help: "VM cycles to measure.") var count = 1000
    @Option(help: "Cycles before the start sample.") var warmUp = 5
    @Option(help: "Watchdog per cycle, seconds.") var timeout: Double = 30
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Force the generic cycle (no EL2 vCPU) even where nested virtualization is available.") var generic = false
    @Option(help: ArgumentHelp("Generic cycle: iterations of the guest's spin loop before HLT (longer KVM_RUN).", valueName: "n"))
    var spin = 16
    @Option(help: ArgumentHelp("Generic cycle: also give the VM N MiB of RAM at address 0.", valueName: "mib"))
    var ramMib = 0

    func validate() throws {
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be between 1 and 1000000, got \(count)") }
        guard (0...1000).contains(warmUp) else { throw ValidationError("--warm-up must be between 0 and 1000, got \(warmUp)") }
        guard (1...65535).contains(spin) else { throw ValidationError("--spin must be between 1 and 65535, got \(spin)") }
        guard (0...4000).contains(ramMib) else { throw ValidationError("--ram-mib must be between 0 and 4000, got \(ramMib)") }
        guard timeout >= 0.001, timeout <= 3600 else {
            throw ValidationError("--timeout must be between 0.001 and 3600 seconds, got \(timeout)")
        }
    }

    enum Kind: String { case el2, generic }

    func run() async throws {
        try RunSignals.install()
        // The Swift runtime's event-loop thread (libdispatch's manager) makes its timerfd and its
        // malloc arena when it first runs, concurrently with this thread: on a loaded machine
        // after the start sample (fds "CHANGED", exit 1), or after the cycles took the last
        // descriptors under a low RLIMIT_NOFILE. A sleep resumes only once that thread has armed
        // a timer, so from here the runtime's descriptors and memory exist before any cycle.
        try await Task.sleep(for: .milliseconds(1))
        let kind: Kind
        if generic {
            kind = .generic
        } else if HostCheck.nestedVirtualizationUnavailable() == nil {
            kind = .el2
        } else {
            #if arch(x86_64)
                kind = .generic
            #else
                ResultOutput.error("bench vm-cycles: \(HostCheck.nestedVirtualizationUnavailable()!) (use --generic for VMs without EL2)")
                throw ExitCode(77)
            #endif
        }
        let budget = Duration.milliseconds(Int64(timeout * 1000))
        if !json { try ResultOutput.write("vm-cycles: \(count) cycles (\(kind == .el2 ? "EL2" : "generic")), \(warmUp) warm-up first\n") }
        var done = 0
        do {
            for _ in 0..<warmUp { try cycle(kind, budget) }
            let start = ProcessResources.now()
            var times: [UInt64] = []
            times.reserveCapacity(count)
            while done < count {
                if RunSignals.pending != nil { break }
                let t0 = VCPU.monotonicNanoseconds()
                try cycle(kind, budget)
                times.append(VCPU.monotonicNanoseconds() - t0)
                done += 1
            }
            let end = ProcessResources.now()
            let ok = try report(kind, start: start, end: end, times: times)
            if let signal = RunSignals.pending {
                ResultOutput.error(
                    "bench vm-cycles: stopped by \(RunSignals.name(signal)) after \(done) of \(count) cycles; the figures cover those")
                throw ExitCode(128 + signal)
            }
            if !ok { throw ExitCode.failure }
        } catch let e as MachineError {
            throw fail(e.description, kvm: { if case .kvm(let k) = e { return k } else { return nil } }(), done: done, machine: e)
        } catch let e as KVMError {
            throw fail(e.description, kvm: e, done: done, machine: nil)
        } catch let e as SessionError {
            throw fail(e.description, kvm: nil, done: done, machine: nil)
        } catch let e as BackendError {
            if case .interrupted(let signal) = e {
                ResultOutput.error("bench vm-cycles: stopped by \(RunSignals.name(signal)) in cycle \(done + 1); its VM was torn down")
                throw ExitCode(128 + signal)
            }
            if case .timeout = e {
                ResultOutput.error("bench vm-cycles: cycle \(done + 1): \(e)")
                throw ExitCode(124)
            }
            throw fail(e.description, kvm: nil, done: done, machine: nil)
        }
    }

    /// The exit status for a failure: 77 the host cannot (no /dev/kvm access), 125 a resource
    /// ran out (could not test), 128+n a signal, 124 a timeout, else 1.
    func fail(_ message: String, kvm: KVMError?, done: Int, machine: MachineError?) -> ExitCode {
        let status: Int32
        if let machine, case .stopped(let signal, _) = machine {
            ResultOutput.error("bench vm-cycles: stopped by \(RunSignals.name(signal)) in cycle \(done + 1); its VM was torn down")
            return ExitCode(128 + signal)
        }
        if let machine, case .timeout = machine {
            status = 124
        } else if let kvm, kvm.operation.hasPrefix("open("), kvm.errno == EACCES || kvm.errno == EPERM || kvm.errno == ENOENT {
            status = 77
        }
        // The same when the KVM error reaches here wrapped in another error type.
        else if ["EACCES", "EPERM", "ENOENT"].contains(where: { message.contains("open(/dev/kvm) failed: \($0)") }) {
            status = 77
        } else if let kvm, [EMFILE, ENFILE, ENOMEM].contains(kvm.errno) {
            status = 125
        } else if message.contains("EMFILE") || message.contains("ENOMEM") || message.contains("Cannot allocate memory")
            || message.contains("Too many open files")
        {
            status = 125
        } else {
            status = 1
        }
        let what = status == 77 ? "cannot run here" : status == 125 ? "could not test (out of a resource)" : "failed"
        ResultOutput.error("bench vm-cycles \(what) in cycle \(done + 1): \(message)")
        return ExitCode(status)
    }

    func cycle(_ kind: Kind, _ budget: Duration) throws {
        switch kind {
        case .el2:
            let backend = try MachineBackend(layout: .standard, timeout: budget)
            let session = try GuestSession(backend: backend, granule: .k4, ipaBits: 40, ops: [], log: { _ in })
            try session.configure { pc, x0 in try backend.start(pc: pc, x0: x0) }
            let first = try session.nextMessage()
            guard first.kind == .hello else { throw ValidationError("the payload's first message was \(first.kind.cName), not HELLO") }
        case .generic:
            // The vCPU starts in real mode at 0xFFFF_FFF0 (Intel SDM vol. 3, 9.1.4):
            // mov cx, --spin (B9 lo hi); loop $ (E2 FE); hlt (F4) -> KVM_EXIT_HLT.
            var regions = [MemoryRegion(name: "reset", base: PhysicalAddress(0xFFFF_0000), size: 0x10000, kind: .ram)]
            if ramMib > 0 { regions.append(MemoryRegion(name: "ram", base: PhysicalAddress(0), size: UInt64(ramMib) << 20, kind: .ram)) }
            let map = try MemoryMap(regions)
            let machine = try Machine(MachineConfiguration(map: map, mode: .resetState))
            try machine.memory.write(
                bytes: [0xB9, UInt8(spin & 0xFF), UInt8(spin >> 8), 0xE2, 0xFE, 0xF4], at: PhysicalAddress(0xFFFF_FFF0))
            let exit = try machine.run(timeout: budget)
            guard case .halt = exit else { throw ValidationError("first exit was \(exit), expected HLT") }
        }
    }

    /// Prints the figures; returns whether fds/mappings are flat and RSS within 5 %.
    func report(_ kind: Kind, start: ProcessResources, end: ProcessResources, times: [UInt64]) throws -> Bool {
        let sorted = times.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6 }
        let mean = times.isEmpty ? 0 : Double(times.reduce(0, +)) / Double(times.count) / 1e6
        let rssGrowth = start.residentBytes > 0 ? Double(end.residentBytes - start.residentBytes) / Double(start.residentBytes) : 0
        let fdsFlat = start.fileDescriptors == end.fileDescriptors
        let mapsFlat = start.mappings == end.mappings
        let rssOK = abs(rssGrowth) <= 0.05
        let ok = fdsFlat && mapsFlat && rssOK
        /// Figures to 3 decimals, in the JSON and the text alike.
        func rounded(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        func f(_ v: Double) -> String { String(rounded(v)) }
        let text: String
        if json {
            struct Resources: Encodable { var fds, rssBytes, mappings: Int }
            struct Times: Encodable { var mean, p50, p99, max: Double }
            struct Report: Encodable {
                var kind: String
                var cycles, warmUp: Int
                var start, end: Resources
                var rssGrowth: Double
                var msPerCycle: Times
                var kvmRunEINTRRetried: UInt64
                var fdsFlat, mappingsFlat, rssWithin5Percent, ok: Bool
            }
            func resources(_ r: ProcessResources) -> Resources {
                Resources(fds: r.fileDescriptors, rssBytes: r.residentBytes, mappings: r.mappings)
            }
            let report = Report(
                kind: kind.rawValue, cycles: times.count, warmUp: warmUp, start: resources(start), end: resources(end),
                rssGrowth: rounded(rssGrowth * 100),
                msPerCycle: Times(mean: rounded(mean), p50: rounded(pct(0.5)), p99: rounded(pct(0.99)), max: rounded(pct(1.0))),
                kvmRunEINTRRetried: VCPU.spuriousInterruptions, fdsFlat: fdsFlat, mappingsFlat: mapsFlat, rssWithin5Percent: rssOK, ok: ok)
            text = try JSONText.encode(report) + "\n"
        } else {
            text = """
                vm-cycles (\(kind == .el2 ? "EL2 vCPU, vGICv3, payload run to HELLO" : "generic: VM, RAM, vCPU run to HLT")): \(times.count) cycles after \(warmUp) warm-up
                  fds       start \(start.fileDescriptors)  end \(end.fileDescriptors)  \(fdsFlat ? "flat" : "CHANGED")
                  mappings  start \(start.mappings)  end \(end.mappings)  \(mapsFlat ? "flat" : "CHANGED")
                  RSS       start \(start.residentBytes / 1024) KiB  end \(end.residentBytes / 1024) KiB  (\(f(rssGrowth * 100)) %, limit 5 %)
                  KVM_RUN interrupted by other signals and retried: \(VCPU.spuriousInterruptions)
                  time per cycle  mean \(f(mean)) ms  p50 \(f(pct(0.5))) ms  p99 \(f(pct(0.99))) ms  max \(f(pct(1.0))) ms
                \(ok ? "ok" : "LEAK"): fds and mappings \(fdsFlat && mapsFlat ? "flat" : "not flat"), RSS \(rssOK ? "within" : "beyond") 5 %

                """
        }
        try ResultOutput.write(text)
        return ok
    }
}
