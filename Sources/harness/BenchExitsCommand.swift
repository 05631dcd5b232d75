import AArch64
import ArgumentParser
import CExitBaseline
import GuestProtocol
import KVM
import Machine
import Runtime
import Stage2
import TestCatalog

#if canImport(Glibc)
    import Glibc
#endif

/// `harness bench exits`: the run loop's cost, Swift against a minimal C loop, side by side
/// in one process on the same VM and the same guest (batches alternate so drift in the
/// emulated host hits both equally).
struct BenchExitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exits",
        abstract: "MMIO exit and demand-fault round trips: Swift run loop vs a minimal C loop.",
        discussion: """
            MMIO: the nested guest stores to an IPA that stage 2 maps to an unbacked PA, so every
            store is a KVM_EXIT_MMIO straight to the host, which re-enters (Swift: Machine.run with
            its watchdog; C: a bare KVM_RUN loop on its own mapping of the same vCPU's kvm_run).
            Demand faults: the nested guest loads from successive unmapped pages; each fault goes
            to the vEL2 payload, through the mailbox to the host, which maps the page (Swift: the
            Stage2 builder + GuestSession; C: the same checks, ONE_REG cross-check, table walk and
            descriptor write) and replies RESUME with TLBI IPAS2E1IS + VMALLE1IS. Round trip = time
            between consecutive fault messages.
            """)

    @Option(help: "MMIO exits per batch.") var exits = 200
    @Option(help: "Demand faults per batch.") var faults = 40
    @Option(help: "Batches per loop (alternating Swift / C).") var rounds = 5
    @Option(help: "Watchdog timeout for the whole benchmark, seconds.") var timeout: Double = 900
    @Option(
        name: .customLong("cross-check"),
        help: "Demand faults: cross-check each TRAP's ESR/FAR/HPFAR with KVM_GET_ONE_REG on both sides (as tests do).")
    var crossCheck = true
    @Flag(
        help:
            "Demand faults: also time the parts of the Swift host work (adds clock reads to the Swift side; diagnostics, not for the ratio)."
    )
    var breakdown = false

    @Flag(
        help:
            "Only the run loop, on this host's own KVM without nesting (x86_64: a real-mode guest storing to an MMIO address in a loop). Low-noise numbers for Machine.run vs VCPU.run vs C."
    )
    var runLoopOnly = false

    @Flag(
        help:
            "Only the Swift host's work per demand fault, without KVM (any host): a stand-in vCPU plays the payload, the session and fault handler are the benchmark's own code. For profilers (callgrind: --toggle-collect='*hostPathBatch*'); --rounds x --faults faults, no 500 limit."
    )
    var hostPathOnly = false

    func validate() throws {
        guard exits > 0, faults > 0, rounds > 0 else { throw ValidationError("--exits, --faults and --rounds must be positive") }
        guard hostPathOnly || 2 * rounds * faults < 500 else {
            throw ValidationError("2 x rounds x faults must stay below 500 (one last-level table)")
        }
    }

    func run() throws {
        if runLoopOnly {
            try runLoopBenchmark()
            return
        }
        if hostPathOnly {
            try hostPathBenchmark()
            return
        }
        if let reason = HostCheck.nestedVirtualizationUnavailable() {
            print("SKIP bench exits: \(reason)")
            throw ExitCode(77)
        }
        guard cexit_supported() != 0 else {
            print("SKIP bench exits: C baseline built without arm64 KVM")
            throw ExitCode(77)
        }
        let limit = Duration.milliseconds(Int64(timeout * 1000))
        do {
            try mmioBenchmark(timeout: limit)
            try faultBenchmark(timeout: limit)
        } catch let e as BackendError {
            print("bench exits: \(e)")
            if case .timeout = e { throw ExitCode(124) }
            if case .interrupted(let signal) = e { throw ExitCode(128 + signal) }
            throw ExitCode(1)
        }
    }

    /// The run loop alone on an x86_64 KVM: the vCPU starts in real mode at 0xFFFF_FFF0
    /// (Intel SDM vol. 3, 9.1.4) and loops `mov byte [0x1000], 0x5a` (C6 06 00 10 5A) /
    /// `jmp short -7` (EB F9); 0x1000 is unbacked, so every store is a KVM_EXIT_MMIO.
    func runLoopBenchmark() throws {
        #if arch(x86_64)
            let mmio = PhysicalAddress(0x1000)
            let map = try MemoryMap([
                MemoryRegion(name: "reset", base: PhysicalAddress(0xFFFF_0000), size: 0x10000, kind: .ram),
                MemoryRegion(name: "device", base: mmio, size: 0x1000, kind: .mmio),
            ])
            let machine: Machine
            do { machine = try Machine(MachineConfiguration(map: map, mode: .resetState)) } catch {
                print("SKIP bench exits --run-loop-only: \(error)")
                throw ExitCode(error.suggestedExitCode == 77 ? 77 : 1)
            }
            try machine.memory.write(bytes: [0xC6, 0x06, 0x00, 0x10, 0x5A, 0xEB, 0xF9], at: PhysicalAddress(0xFFFF_FFF0))
            var c = try mapC(machine)
            defer { cexit_unmap(&c) }
            // As MachineBackend (every test's session) runs it: the deadline converted once.
            let deadline = Machine.Deadline(ContinuousClock.now.advanced(by: .milliseconds(Int64(timeout * 1000))))
            let n = exits * 50
            func machineBatch() throws -> [UInt64] {
                var t = [UInt64]()
                t.reserveCapacity(n)
                while t.count < n {
                    guard case .mmio(mmio, 1, true, _) = try machine.run(deadline: deadline) else {
                        throw ValidationError("unexpected exit")
                    }
                    t.append(nowNanoseconds())
                }
                return t
            }
            func bareBatch() throws -> [UInt64] {
                var t = [UInt64]()
                t.reserveCapacity(n)
                try machine.withVCPU(0) { vcpu in
                    while t.count < n {
                        guard case .mmio(mmio, 1, true, _) = try vcpu.run() else { throw ValidationError("unexpected exit") }
                        t.append(nowNanoseconds())
                    }
                }
                return t
            }
            func cBatch() throws -> [UInt64] {
                var t = [UInt64](repeating: 0, count: n)
                let r = cexit_mmio_loop(&c, mmio.rawValue, n, &t, nil)
                guard r == n else { throw ValidationError("C loop failed: \(r)") }
                return t
            }
            _ = try machineBatch()
            _ = try bareBatch()
            _ = try cBatch()
            var swift = Samples()
            var bare = Samples()
            var cLoop = Samples()
            for _ in 0..<rounds {
                swift.add(batch: try machineBatch())
                bare.add(batch: try bareBatch())
                cLoop.add(batch: try cBatch())
            }
            print("Run loop on this host's KVM (x86_64 real-mode store loop -> KVM_EXIT_MMIO), \(rounds) x \(n) exits each:")
            print("  Swift Machine.run  : " + swift.summary)
            print("  Swift bare VCPU.run: " + bare.summary)
            print("  C KVM_RUN loop     : " + cLoop.summary)
            print(
                "  ratio Swift/C by median: Machine.run " + fixed(Double(cLoop.percentile(0.5)) / Double(swift.percentile(0.5)), 3)
                    + ", bare VCPU.run " + fixed(Double(cLoop.percentile(0.5)) / Double(bare.percentile(0.5)), 3) + " (goal >= 0.95)")
        #else
            print("SKIP bench exits --run-loop-only: implemented for x86_64 hosts (on arm64 run the default, nested benchmark)")
            throw ExitCode(77)
        #endif
    }

    /// The C loop's own mapping of the vCPU's kvm_run.
    func mapC(_ machine: Machine) throws -> cexit_vcpu {
        var v = cexit_vcpu()
        let r = try machine.withVCPU(0) { vcpu in cexit_map(vcpu.fileDescriptor, vcpu.runAreaSize, &v) }
        guard r == 0 else { throw ValidationError("mmap of the vCPU's kvm_run for the C loop failed: errno \(-r)") }
        return v
    }

    func mmioBenchmark(timeout: Duration) throws {
        let mmioIPA = IPA(0x9000_0000)
        let mmioPA = PhysicalAddress(0x0B00_0000)
        let total = UInt32(4 * rounds * exits + 2 * exits)  // + warm-up
        let backend = try MachineBackend(layout: .standard, timeout: timeout)
        let session = try GuestSession(
            backend: backend, granule: .k4, ipaBits: 40,
            ops: [GuestOp(.store64, address: mmioIPA.rawValue, value: 1, repeatCount: total)],
            log: { print($0) })
        session.crossCheckRegisters = false
        try session.map(
            ipa: mmioIPA, pa: mmioPA, size: 0x1000,
            attributes: Stage2Attributes(permissions: [.read, .write], memory: .deviceNGnRE))
        try session.configure { pc, x0 in try backend.start(pc: pc, x0: x0) }
        guard try session.nextMessage().kind == .hello else { throw ValidationError("payload did not say HELLO") }
        try session.reply(.resume)
        var c = try mapC(backend.machine)
        defer { cexit_unmap(&c) }
        var cTiming = cexit_timing()

        func swiftBatch(_ n: Int) throws -> [UInt64] {
            var t = [UInt64]()
            t.reserveCapacity(n)
            backend.startTimingGap()
            while t.count < n {
                switch try backend.run() {
                case .mmio(mmioPA, 8, true, _): t.append(nowNanoseconds())
                case let other: throw ValidationError("unexpected exit in the MMIO benchmark: \(other)")
                }
            }
            return t
        }
        func cBatch(_ n: Int) throws -> [UInt64] {
            var t = [UInt64](repeating: 0, count: n)
            let r = cexit_mmio_loop(&c, mmioPA.rawValue, n, &t, &cTiming)
            guard r == n else { throw ValidationError("C MMIO loop failed: \(r)") }
            return t
        }
        /// Where the Swift time goes: the bare `VCPU.run` (no watchdog, no exit history).
        func vcpuBatch(_ n: Int) throws -> [UInt64] {
            var t = [UInt64]()
            t.reserveCapacity(n)
            try backend.machine.withVCPU(0) { vcpu in
                while t.count < n {
                    switch try vcpu.run() {
                    case .mmio(mmioPA, 8, true, _): t.append(nowNanoseconds())
                    case let other: throw ValidationError("unexpected exit in the MMIO benchmark: \(other)")
                    }
                }
            }
            return t
        }
        /// Where the Swift time goes: `Machine.run` without the `MachineBackend` layer.
        let machineDeadline = Machine.Deadline(backend.deadline, budget: backend.timeout)
        func machineBatch(_ n: Int) throws -> [UInt64] {
            var t = [UInt64]()
            t.reserveCapacity(n)
            while t.count < n {
                switch try backend.machine.run(vcpu: 0, deadline: machineDeadline) {
                case .mmio(mmioPA, 8, true, _): t.append(nowNanoseconds())
                case let other: throw ValidationError("unexpected exit in the MMIO benchmark: \(other)")
                }
            }
            return t
        }
        _ = try swiftBatch(exits / 2)
        _ = try cBatch(exits / 2)  // warm-up
        backend.timing = RunTiming()
        cTiming = cexit_timing()
        var swift = Samples()
        var cLoop = Samples()
        var bare = Samples()
        var direct = Samples()
        for _ in 0..<rounds {
            swift.add(batch: try swiftBatch(exits))
            cLoop.add(batch: try cBatch(exits))
            bare.add(batch: try vcpuBatch(exits))
            direct.add(batch: try machineBatch(exits))
        }
        print("MMIO exit round trip (nested EL1 store -> KVM_EXIT_MMIO -> host -> KVM_RUN), \(rounds) x \(exits) exits each:")
        print("  Swift Machine.run          : " + swift.summary)
        print("  C KVM_RUN loop (baseline)  : " + cLoop.summary)
        print(
            "  ratio Swift/C exits per second: " + fixed(swift.perSecond / cLoop.perSecond, 3) + " by mean, "
                + fixed(Double(cLoop.percentile(0.5)) / Double(swift.percentile(0.5)), 3) + " by median (goal >= 0.95)")
        print(timingLine(swift: backend.timing!, c: cTiming))
        print(
            "  breakdown: bare VCPU.run (no watchdog, no history): " + bare.summary
                + " (ratio to C by median " + fixed(Double(cLoop.percentile(0.5)) / Double(bare.percentile(0.5)), 3) + ")")
        print(
            "  breakdown: Machine.run without MachineBackend: " + direct.summary
                + " (ratio to C by median " + fixed(Double(cLoop.percentile(0.5)) / Double(direct.percentile(0.5)), 3) + ")")
    }

    func faultBenchmark(timeout: Duration) throws {
        let layout = SessionLayout.standard
        let granule = Granule.k4
        let page = granule.bytes
        let count = 2 * rounds * faults + 2
        // One last-level table: page 0 is mapped up front (creating the table), the others fault.
        let base = IPA(0x80_0000_0000)
        let ops = (1...count).map { GuestOp(.load64, address: base.rawValue + UInt64($0) * page + 8) }
        let backend = try MachineBackend(layout: layout, timeout: timeout)
        let session = try GuestSession(backend: backend, granule: granule, ipaBits: 40, ops: ops, log: { print($0) })
        // As every test runs it: ESR/FAR/HPFAR of each TRAP cross-checked with KVM's (three
        // KVM_GET_ONE_REG per fault); the C loop makes the same three calls.
        session.crossCheckRegisters = crossCheck
        let backing = layout.dataPool
        try session.map(ipa: base, pa: backing, size: page, attributes: .normalRWX)
        try session.configure { pc, x0 in try backend.start(pc: pc, x0: x0) }
        guard try session.nextMessage().kind == .hello else { throw ValidationError("payload did not say HELLO") }
        let ttl = session.facts?.hasTTL ?? false
        try session.reply(.resume)

        // What the C loop needs to do the same work: the message page, the stage-2 root and
        // table pool (its host mapping), the leaf's attribute bits, the registers to cross-check.
        guard let messageWindow = backend.machine.memory.window(at: layout.message, count: GuestABI.messageSize),
            let poolWindow = backend.machine.memory.window(at: session.tables.poolBase, count: Int(session.tables.poolBytes))
        else { throw ValidationError("the message page or the table pool is not in guest RAM") }
        let messageHost = messageWindow.hostBytes
        let poolHost = poolWindow.hostBytes
        let leafAttributes = Stage2Descriptor.leaf(output: PhysicalAddress(0), attributes: .normalRWX, level: 3) & ~UInt64(0b11)
        let registerIDs = (
            SystemRegister.ESR_EL2.kvmRegisterID, SystemRegister.FAR_EL2.kvmRegisterID,
            SystemRegister.HPFAR_EL2.kvmRegisterID
        )
        var c = try mapC(backend.machine)
        defer { cexit_unmap(&c) }
        var cTiming = cexit_timing()
        backend.timing = RunTiming()

        var host = DemandFaultHost(session: session, granule: granule, backing: backing, parts: breakdown ? [0, 0, 0, 0, 0] : nil)
        func swiftBatch(_ n: Int) throws -> [UInt64] {
            backend.startTimingGap()
            return try hostPathBatch(session, &host, n)
        }
        func cBatch(_ n: Int) throws -> [UInt64] {
            var t = [UInt64](repeating: 0, count: n)
            var ctx = cexit_fault_ctx(
                message: messageHost, doorbell: layout.doorbell.rawValue, seq: session.seq,
                op_count: UInt64(count), ipa_base: base.rawValue, pages: count + 1,
                root: session.tables.rootAddress.rawValue,
                start_level: Int32(session.tables.geometry.startLevel),
                ipa_bits: UInt32(session.tables.geometry.ipaBits), page_shift: UInt32(granule.pageShift),
                pool_base: session.tables.poolBase.rawValue, pool_size: session.tables.poolBytes,
                pool_host: poolHost, output_pa: backing.rawValue, leaf_attributes: leafAttributes,
                ttl_bits: ttl ? (0b01 << 2 | 3) << 44 : 0,
                reg_ids: registerIDs, cross_check: crossCheck ? 1 : 0)
            let r = cexit_fault_loop(&c, &ctx, n, &t, &cTiming)
            guard r == n else { throw ValidationError("C fault loop failed: \(r)") }
            session.accountForMessagesHandledElsewhere(n)
            return t
        }
        var swift = Samples()
        var cLoop = Samples()
        for _ in 0..<rounds {
            swift.add(batch: try swiftBatch(faults))
            cLoop.add(batch: try cBatch(faults))
        }
        print(
            "Demand-fault round trip (nested load -> stage-2 fault at vEL2 -> mailbox -> host maps -> TLBI -> retry -> next fault), \(rounds) x \(faults) faults each, ONE_REG cross-check \(crossCheck ? "on" : "off") on both sides:"
        )
        print("  Swift (Stage2 builder + GuestSession): " + swift.summary)
        print("  C (same checks, walk and writes)     : " + cLoop.summary)
        print(
            "  ratio Swift/C round trips per second: " + fixed(swift.perSecond / cLoop.perSecond, 3) + " by mean, "
                + fixed(Double(cLoop.percentile(0.5)) / Double(swift.percentile(0.5)), 3) + " by median (goal >= 0.95)")
        print(timingLine(swift: backend.timing!, c: cTiming))
        if let parts = host.parts { print(breakdownLine(parts)) }
    }

    func breakdownLine(_ parts: [UInt64]) -> String {
        let n = Double(max(parts[4], 1))
        return "  Swift host work per fault, mean: decode \(us(Double(parts[0]) / n)) us, stage-2 map \(us(Double(parts[1]) / n)) us,"
            + " TLBI list \(us(Double(parts[2]) / n)) us, reply \(us(Double(parts[3]) / n)) us (extra clock reads: diagnostics only)"
    }

    /// The Swift host's work per demand fault without KVM: `HostPathBackend` plays the payload
    /// (one TRAP per call, each reply checked), the session and `DemandFaultHost` are the KVM
    /// benchmark's own code. Faults run over consecutive last-level tables (page 0 of each mapped
    /// up front, as in the KVM benchmark), and every faulted page is walked afterwards.
    func hostPathBenchmark() throws {
        let layout = SessionLayout.standard
        let granule = Granule.k4
        let perTable = granule.entriesPerTable
        let n = rounds * faults
        let tableCount = (n + perTable - 2) / (perTable - 1)
        let base = IPA(0x80_0000_0000)
        let backing = layout.dataPool
        let backend = try HostPathBackend(
            layout: layout, base: base, pageBytes: granule.bytes, pagesPerTable: perTable, opCount: n)
        let ops = (0..<n).map { GuestOp(.load64, address: backend.pageIPA(fault: $0) + 8) }
        let session = try GuestSession(backend: backend, granule: granule, ipaBits: 40, ops: ops, log: { print($0) })
        session.crossCheckRegisters = crossCheck
        for t in 0..<tableCount {
            let first = IPA(base.rawValue + UInt64(t * perTable) * granule.bytes)
            try session.map(ipa: first, pa: backing, size: granule.bytes, attributes: .normalRWX)
        }
        try session.configure { _, _ in }
        guard try session.nextMessage().kind == .hello else { throw ValidationError("the stand-in payload did not say HELLO") }
        try session.reply(.resume)
        var host = DemandFaultHost(session: session, granule: granule, backing: backing, parts: breakdown ? [0, 0, 0, 0, 0] : nil)
        var samples = Samples()
        for _ in 0..<rounds { samples.add(batch: try hostPathBatch(session, &host, faults)) }
        for j in 0..<n {
            let ipa = IPA(backend.pageIPA(fault: j) + 8)
            guard let t = session.tables.walk(ipa).translation, t.outputAddress.rawValue == backing.rawValue + 8 else {
                throw ValidationError("after the faults, \(session.tables.walk(ipa)) (expected \(backing) + 8)")
            }
        }
        print(
            "Swift host work per demand fault without KVM (stand-in payload; message decode and checks, ONE_REG cross-check \(crossCheck ? "on (no syscalls)" : "off"), stage-2 map, TLBI list, reply), \(rounds) x \(faults) faults:"
        )
        print("  " + samples.summary)
        if let parts = host.parts { print(breakdownLine(parts)) }
    }

    /// `n` demand faults through the session (the profiler's collection scope).
    @inline(never)
    func hostPathBatch(_ session: GuestSession, _ host: inout DemandFaultHost, _ n: Int) throws -> [UInt64] {
        var t = [UInt64]()
        t.reserveCapacity(n)
        while t.count < n {
            let m = try session.nextMessage()
            let received = nowNanoseconds()
            t.append(received)
            try host.handle(m, received: received)
        }
        return t
    }

    /// Per exit: time inside the run call and time on the host between runs, both loops.
    func timingLine(swift s: RunTiming, c: cexit_timing) -> String {
        func per(_ ns: UInt64, _ n: Int) -> String { n == 0 ? "-" : us(Double(ns) / Double(n)) }
        return "  per exit, mean: in the run call Swift \(per(s.inRun, s.runs)) us / C \(per(c.kvm_ns, c.runs)) us;"
            + " host work between runs Swift \(per(s.onHost, s.runs)) us / C \(per(c.host_ns, c.runs)) us"
    }
}

/// Intervals between consecutive events inside each batch (the first event of a batch only
/// starts the clock, so the switch between loops is never measured).
struct Samples {
    var intervals: [UInt64] = []
    mutating func add(batch t: [UInt64]) {
        for i in 1..<t.count { intervals.append(t[i] - t[i - 1]) }
    }
    var mean: Double { intervals.isEmpty ? 0 : Double(intervals.reduce(0, +)) / Double(intervals.count) }
    func percentile(_ p: Double) -> UInt64 {
        let s = intervals.sorted()
        return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
    var perSecond: Double { mean > 0 ? 1e9 / mean : 0 }
    var summary: String {
        "\(fixed(perSecond, 1))/s, mean \(us(mean)) us, p50 \(us(Double(percentile(0.5)))) us, p99 \(us(Double(percentile(0.99)))) us (n=\(intervals.count))"
    }
}

func us(_ ns: Double) -> String { fixed(ns / 1000, 1) }
func fixed(_ v: Double, _ digits: Int) -> String {
    var m = 1.0
    for _ in 0..<digits { m *= 10 }
    let r = (v * m).rounded() / m
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

func nowNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
