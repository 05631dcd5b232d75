import AArch64
import GuestProtocol
import KVM
import Machine
import Stage2

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a scenario with several vCPUs (`Scenario.vcpus`): one session per vCPU (its own config
/// block, message page, stacks, op list and results: `SessionLayout.forVCPU`), all under vCPU
/// 0's session's stage-2 tables unless a vCPU starts under a table set. Each vCPU's exits are
/// matched against its own events; host steps run in the exit of the vCPU whose event it is,
/// so their TLB maintenance runs at that vCPU's vEL2. `lockstep`: one thread, one KVM_RUN at a
/// time, vCPU 0 first, `switchTo` hands over; `concurrent`: one host thread per vCPU.
public struct MultiVCPURunner {
    public var verbose = false
    public var log: (String) -> Void

    public init(verbose: Bool = false, log: @escaping (String) -> Void) {
        self.verbose = verbose
        self.log = log
    }

    /// `backends[k]` drives vCPU k of one VM (one guest memory); `start(k, pc, x0)` points vCPU
    /// k at the payload entry with x0 = its config block.
    public func run(
        _ scenario: Scenario, requirements: [Requirement], backends: [any GuestBackend],
        start: @escaping (Int, PhysicalAddress, UInt64) throws -> Void
    ) -> (outcome: Outcome, faults: Int) {
        var sessions: [GuestSession] = []
        do {
            let n = scenario.vcpus.count
            guard backends.count == n, scenario.vcpus.map(\.id) == Array(0..<n) else {
                throw SessionError.unexpected("\(backends.count) backends for vCPUs \(scenario.vcpus.map(\.id))")
            }
            // Lockstep: straight to the log; concurrent: kept per vCPU and logged after the threads end.
            let buffers = (0..<n).map { _ in LineBuffer() }
            let concurrent = scenario.schedule == .concurrent
            let outer = log
            let verbose = self.verbose
            func tagged(_ k: Int) -> (String) -> Void {
                let tag = "  [vCPU \(k)] "
                let buffer = buffers[k]
                return { line in
                    let l = tag + line.drop(while: { $0 == " " })
                    if concurrent {
                        buffer.lines.append(l)
                        // --verbose: also straight to stderr, so a hang shows where each vCPU got to.
                        if verbose { StandardError.write(l + "\n") }
                    } else {
                        outer(l)
                    }
                }
            }
            for (k, plan) in scenario.vcpus.enumerated() {
                let layout = SessionLayout.forVCPU(k, of: n)
                try layout.validate(imageBytes: 0)
                let s = try GuestSession(
                    backend: backends[k], layout: layout, granule: scenario.granule, ipaBits: scenario.ipaBits,
                    vmid: UInt16(scenario.vmid), ops: plan.ops, verbose: verbose, log: tagged(k))
                s.extraHCRSet = scenario.hcrSet
                s.extraVTCRSet = scenario.vtcrSet
                if k > 0 { s.tableOwner = sessions[0] }
                sessions.append(s)
            }
            let owner = sessions[0]
            for m in scenario.initialMappings { try owner.map(ipa: m.ipa, pa: m.pa, size: m.size, attributes: m.attributes) }
            for (pa, bytes) in scenario.planted { try backends[0].write(bytes, at: pa) }
            for w in scenario.vcpus.flatMap(\.watches) {
                try backends[0].write([UInt8](repeating: 0, count: GuestABI.watchSize), at: PhysicalAddress(w.record))
                try backends[0].write64(0, at: PhysicalAddress(w.flag))
            }
            var sets: [String: LiveTables] = [:]
            var failures: [String] = []
            for plan in scenario.tableSets {
                let t = try LiveTables(name: plan.name, session: owner, pool: plan.pool, poolBytes: plan.poolBytes, vmid: plan.vmid)
                for m in plan.mappings { try t.map(m.ipa, m.pa, m.size, m.attributes, tlb: nil) }
                sets[plan.name] = t
            }
            // Every vCPU installs the same VTCR_EL2 (the session's), so every table set must be
            // built for it.
            for (name, t) in sets.sorted(by: { $0.key < $1.key }) where t.tables.vtcr != owner.ownTables.vtcr {
                failures.append("table set \(name): VTCR_EL2 \(hex(t.tables.vtcr)) differs from the installed \(hex(owner.ownTables.vtcr))")
            }
            for s in sessions where s.ownTables.vtcr != owner.ownTables.vtcr {
                failures.append("the sessions' VTCR_EL2 differ: \(hex(s.ownTables.vtcr)) vs \(hex(owner.ownTables.vtcr))")
            }
            if !failures.isEmpty { return (.fail(failures.joined(separator: "\n")), 0) }
            let vttbrs = try scenario.vcpus.map { p in try p.tables.map { try Self.set($0, sets).vttbr } ?? owner.tables.vttbr }
            for (k, s) in sessions.enumerated() { try s.configure { pc, x0 in try start(k, pc, x0) } }

            let context = Context(
                scenario: scenario, requirements: requirements, sessions: sessions, backends: backends, sets: sets, vttbrs: vttbrs,
                verbose: verbose, logs: (0..<n).map(tagged))
            var outcome: Outcome
            var faults: Int
            if concurrent {
                (outcome, faults) = try context.runConcurrently(log: log)
                for b in buffers { for line in b.lines { log(line) } }
            } else {
                (outcome, faults) = try context.runInLockstep()
            }
            if case .pass = outcome {
                let bad = try context.memoryMismatches()
                if !bad.isEmpty { outcome = .fail(bad.joined(separator: "\n")) }
            } else if case .fail(let m) = outcome {
                let bad = try context.memoryMismatches()
                if !bad.isEmpty { outcome = .fail(([m] + bad).joined(separator: "\n")) }
            }
            return (outcome, faults)
        } catch {
            var stopFailures: [String] = []
            for (k, s) in sessions.enumerated() where s.pending != nil && !s.repliedToPending {
                do { try s.reply(.stop) } catch { stopFailures.append("vCPU \(k): stopping its guest: \(error)") }
            }
            let outcome = Outcome(endedBy: error)
            if !stopFailures.isEmpty, case .fail(let m) = outcome { return (.fail(([m] + stopFailures).joined(separator: "\n")), 0) }
            return (outcome, 0)
        }
    }

    static func set(_ name: String, _ sets: [String: LiveTables]) throws -> LiveTables {
        guard let t = sets[name] else { throw SessionError.check("no table set named '\(name)'") }
        return t
    }

    /// Log lines of one vCPU's thread.
    final class LineBuffer: @unchecked Sendable {
        var lines: [String] = []
    }

    /// What every vCPU's loop works with.
    struct Context: @unchecked Sendable {
        let scenario: Scenario
        let requirements: [Requirement]
        let sessions: [GuestSession]
        let backends: [any GuestBackend]
        let sets: [String: LiveTables]
        /// The VTTBR_EL2 each vCPU's HELLO reply installs.
        let vttbrs: [UInt64]
        let verbose: Bool
        let logs: [(String) -> Void]

        /// vCPU k's HELLO: it entered at (virtual) EL2, KVM agrees with the ID registers it read,
        /// it is non-VHE when asked; vCPU 0's facts decide the requirements. Returns the outcome
        /// that ends the run (skip, fail), nil to go on. Does not reply.
        func hello(_ k: Int) throws -> Outcome? {
            let s = sessions[k]
            let m = try s.nextMessage()
            guard m.kind == .hello, let facts = s.facts else {
                throw SessionError.protocolViolation("vCPU \(k)'s first message was \(m.kind.cName), expected HELLO")
            }
            guard (facts.currentEL >> 2) & 3 == 2 else {
                return .fail("vCPU \(k) entered the payload at EL\((facts.currentEL >> 2) & 3), expected (virtual) EL2")
            }
            let disagreements = try IDRegisterCheck.disagreements(hello: facts, backend: backends[k])
            if !disagreements.isEmpty { return .fail(disagreements.map { "vCPU \(k): " + $0 }.joined(separator: "\n")) }
            if k == 0, let reason = requirements.lazy.compactMap({ facts.unmet($0) }).first { return .skip(reason) }
            if scenario.nonVHE && facts.e2h {
                return .fail("vCPU \(k) was created with HAS_EL2_E2H0 but HCR_EL2 at vEL2 entry is \(hex(facts.hcrAtEntry)) (E2H set)")
            }
            return nil
        }

        /// Matches vCPU k's exit `m` with its next expected event and checks it; throws on an
        /// exit no event allows (the run stops). `marked` says whether a host step `mark` ran.
        func match(
            _ k: Int, _ m: MailboxMessage, cursor: inout VCPUEventCursor, faults: inout Int, marked: (String) -> Bool
        ) throws -> (event: ExpectedEvent, faultIPA: IPA?, failures: [String]) {
            let s = sessions[k]
            let log = logs[k]
            var bad: [String] = []
            let who = "vCPU \(k): "
            switch m.kind {
            case .trap:
                let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
                if report.isStage2Abort {
                    faults += 1
                    log(report.oneLine)
                    let event = cursor.take { Self.isOccurrence(of: $0, m, report) }
                    guard let event else {
                        throw SessionError.check(
                            "\(who)unexpected stage-2 fault (all \(cursor.events.count) expected events already seen) at op \(m.opIndex.map(String.init) ?? "?"): \(report.oneLine)"
                        )
                    }
                    guard case .stage2Fault(let want) = event.kind else {
                        throw SessionError.check(
                            "\(who)stage-2 fault \(report.oneLine) at op \(m.opIndex.map(String.init) ?? "?"), expected \(event)")
                    }
                    bad += FaultCheck.mismatches(
                        m, report: report, against: want, payload: s.payloadRange,
                        walk: want.checkSoftwareWalk ? { s.tables.walk($0, access: $1) } : nil, who: who)
                    for line in UnpinnedFields.lines(esr: m.esr, hpfar: m.hpfar, kind: want.kind, s1ptw: want.s1ptw, opIndex: m.opIndex) {
                        log(line)
                    }
                    bad += Self.occurrenceMismatches(m, event: event, marked: marked, who: who)
                    return (event, IPA(want.faultIPA), bad)
                }
                log("trap: " + s.describe(m))
                guard let event = cursor.take(matches: { _ in false }) else {
                    throw SessionError.check(
                        "\(who)unexpected trap (all \(cursor.events.count) expected events already seen): " + s.describe(m))
                }
                bad += ScenarioRunner.checkCall(m, esr: ESR(m.esr), against: event, backend: s.backend, session: s).map { who + $0 }
                return (event, nil, bad)
            case .el1Exception:
                log(s.describe(m))
                guard let event = cursor.take(matches: { _ in false }) else {
                    throw SessionError.check("\(who)unexpected \(s.describe(m)) (all expected events already seen)")
                }
                guard case let .el1Exception(ec, op) = event.kind else {
                    throw SessionError.check(who + s.describe(m) + ", expected \(event)")
                }
                let got = UInt8((m.gprs[0] >> 26) & 0x3F)
                if got != ec || m.opIndex != op {
                    bad.append(
                        "\(who)EL1 exception EC 0x\(String(got, radix: 16)) at op \(m.opIndex.map(String.init) ?? "?"), expected \(event)")
                }
                return (event, nil, bad)
            default:
                throw SessionError.unexpected(who + "unexpected " + s.describe(m))
            }
        }

        /// Whether a stage-2 fault is another occurrence of a repeating fault event: the same op,
        /// fault kind and level (a different level moves on to the next event, e.g. level-2
        /// faults while a block entry is invalid, then level-3 ones once a new table is linked).
        static func isOccurrence(of e: ExpectedEvent, _ m: MailboxMessage, _ report: FaultReport) -> Bool {
            guard case .stage2Fault(let f) = e.kind, f.opIndex == m.opIndex else { return false }
            return report.status?.kind == f.kind && report.status?.level == f.level
        }

        /// The checks of one occurrence of an event beyond its syndrome: `whileFlag` (x14, the
        /// flag value the guest read last, must be below the bound) and `after` (the named host
        /// step must have run).
        static func occurrenceMismatches(
            _ m: MailboxMessage, event: ExpectedEvent, marked: (String) -> Bool, who: String
        ) -> [String] {
            var bad: [String] = []
            let op = m.opIndex.map(String.init) ?? "?"
            if let w = event.whileFlag, m.gprs[14] >= w.below {
                bad.append(
                    "\(who)fault at op \(op) after the flag at \(hex(w.at)) read \(m.gprs[14]) (x14): whileFlag allows it only while the flag is below \(w.below)"
                )
            }
            if let a = event.after, !marked(a) {
                bad.append("\(who)fault at op \(op) before the host step mark '\(a)' ran: after '\(a)' only")
            }
            return bad
        }

        /// vCPU k reported DONE: at the end of its list, every expected event seen, its results
        /// and watch records as expected.
        func doneMismatches(_ k: Int, _ m: MailboxMessage, cursor: VCPUEventCursor, faults: Int) throws -> [String] {
            let plan = scenario.vcpus[k]
            let s = sessions[k]
            let who = "vCPU \(k): "
            var bad: [String] = []
            if m.opIndex != plan.ops.count {
                bad.append("\(who)DONE at op \(m.opIndex.map(String.init) ?? "none"), expected \(plan.ops.count)")
            }
            if let first = cursor.missing.first {
                bad.append("\(who)\(cursor.missing.count) expected event(s) never happened, first: \(first)")
            }
            let results = try s.readResults()
            bad += OpResultCheck.failures(
                ops: plan.ops, results: results, expected: plan.expectedResults, patterns: plan.resultPatterns, name: "vCPU \(k) ")
            for w in plan.watches {
                let r = try WatchRecord(bytes: try s.backend.read(PhysicalAddress(w.record), count: GuestABI.watchSize))
                logs[k](
                    "watch op \(w.opIndex): \(r.reads) reads, \(r.flagged) after the flag, \(r.changes) change(s), \(faults) fault(s) retried"
                )
                bad += w.mismatches(r, count: UInt64(results[w.opIndex].count)).map { who + $0 }
            }
            return bad
        }

        func memoryMismatches() throws -> [String] {
            var bad: [String] = []
            for (pa, want) in scenario.expectedMemory {
                let got = try backends[0].read(pa, count: want.count)
                if got != want { bad.append("guest-physical \(pa) holds \(got), expected \(want)") }
                if bad.count > 8 {
                    bad.append("…")
                    break
                }
            }
            return bad
        }

        func runner(_ k: Int) -> ScenarioRunner { ScenarioRunner(verbose: verbose, log: logs[k]) }

        /// One host thread: vCPU 0 first; a vCPU runs until an event that says `switchTo`, or its
        /// DONE (then the lowest-numbered vCPU still stopped in an exit runs, else the lowest not
        /// yet started).
        func runInLockstep() throws -> (Outcome, Int) {
            let n = sessions.count
            var started = [Bool](repeating: false, count: n)
            var done = [Bool](repeating: false, count: n)
            var cursors = scenario.vcpus.map { VCPUEventCursor($0.events) }
            var saved = [[(IPA, Int, UInt64)]](repeating: [], count: n)
            var failures: [String] = []
            var faults = 0
            var perVCPU = [Int](repeating: 0, count: n)
            func stopAll() {
                for (k, s) in sessions.enumerated() where s.pending != nil && !s.repliedToPending {
                    do { try s.reply(.stop) } catch { failures.append("vCPU \(k): stopping its guest: \(error)") }
                }
            }
            var current = 0
            do {
                while true {
                    let k = current
                    let s = sessions[k]
                    if !started[k] {
                        if let end = try hello(k) {
                            stopAll()
                            return (failures.isEmpty ? end : .fail(failures.joined(separator: "\n")), faults)
                        }
                        try s.reply(MailboxReply(seq: s.pending!.seq, action: .resume, vttbr: vttbrs[k]))
                        started[k] = true
                    }
                    let m = try s.nextMessage()
                    if m.kind == .done {
                        done[k] = true
                        failures += try doneMismatches(k, m, cursor: cursors[k], faults: perVCPU[k])
                        guard let next = (0..<n).first(where: { started[$0] && !done[$0] }) ?? (0..<n).first(where: { !started[$0] })
                        else { break }
                        logs[k]("DONE; vCPU \(next) runs")
                        current = next
                        continue
                    }
                    let before = faults
                    let (event, faultIPA, bad) = try match(k, m, cursor: &cursors[k], faults: &faults, marked: { _ in false })
                    perVCPU[k] += faults - before
                    failures += bad
                    if failures.count > 40 { break }
                    try runner(k).react(
                        event, message: m, faultIPA: faultIPA, scenario: scenario, session: s, saved: &saved[k], sets: sets,
                        failures: &failures)
                    if let to = event.switchTo {
                        if done[to] {
                            failures.append("vCPU \(k): \(event) says switchTo \(to), which already reported DONE")
                            break
                        }
                        logs[k]("stopped after \(event); vCPU \(to) runs")
                        current = to
                    }
                }
            } catch let e as SessionError {
                stopAll()
                if case .check(let why) = e { return (.fail((failures + [why]).joined(separator: "\n")), faults) }
                throw e
            }
            stopAll()
            if let k = (0..<n).first(where: { !done[$0] }) { failures.append("vCPU \(k) never reported DONE") }
            return (failures.isEmpty ? .pass : .fail(failures.joined(separator: "\n")), faults)
        }

        /// One host thread per vCPU, all running at once; the vCPUs order themselves through guest
        /// memory. A thread that gives up sets every watch flag to 2 (so watchers end their loops).
        func runConcurrently(log: (String) -> Void) throws -> (Outcome, Int) {
            let n = sessions.count
            // The backends' watchdog deadline (a scripted backend has none: one minute).
            let deadline = (backends[0] as? MachineBackend)?.deadline ?? ContinuousClock.now.advanced(by: .seconds(60))
            let state = ConcurrentRunState(vcpus: n, deadline: deadline)
            let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
            log(
                "  \(n) vCPU threads on a host with \(cpus) online CPU(s)\(cpus < n ? " (fewer CPUs than vCPUs: the threads also take turns)" : "")"
            )
            let flags = Set(scenario.vcpus.flatMap(\.watches).map(\.flag))
            let bodies: [() throws -> ThreadReport] = (0..<n).map { k in { self.thread(k, state: state, flags: flags) } }
            let results = try VCPUThreads.run(bodies)
            var failures: [String] = []
            var faults = 0
            var end: Outcome? = nil
            for (k, r) in results.enumerated() {
                switch r {
                case .success(let report):
                    failures += report.failures
                    faults += report.faults
                    if let e = report.end, end == nil { end = e }
                case .failure(let error):
                    failures.append("vCPU \(k): \(error)")
                }
            }
            if let end, failures.isEmpty { return (end, faults) }
            if let end, case .timeout(let why) = end { return (.timeout(([why] + failures).joined(separator: "\n")), faults) }
            return (failures.isEmpty ? .pass : .fail(failures.joined(separator: "\n")), faults)
        }

        /// What one vCPU's thread found: failures, faults, and the outcome that ends the run
        /// early (a skip decided from vCPU 0's HELLO, a timeout), if any.
        struct ThreadReport {
            var failures: [String] = []
            var faults = 0
            var end: Outcome? = nil
        }

        func thread(_ k: Int, state: ConcurrentRunState, flags: Set<UInt64>) -> ThreadReport {
            let s = sessions[k]
            var report = ThreadReport()
            func abandon() {
                state.abort.store(true, ordering: .sequentiallyConsistent)
                for f in flags {
                    do { try s.backend.write64(2, at: PhysicalAddress(f)) } catch {
                        report.failures.append("vCPU \(k): setting the stop flag at \(hex(f)) for the other vCPUs: \(error)")
                    }
                }
                if s.pending != nil && !s.repliedToPending {
                    do { try s.reply(.stop) } catch { report.failures.append("vCPU \(k): stopping its guest: \(error)") }
                }
            }
            do {
                if let end = try hello(k) {
                    if case .skip = end { report.end = end } else { report.failures.append("\(end)") }
                    abandon()
                    _ = state.allSaidHello()
                    return report
                }
                guard state.allSaidHello() else {
                    if !state.aborted { report.failures.append("vCPU \(k): not every vCPU reported HELLO in time") }
                    abandon()
                    return report
                }
                if state.aborted {
                    abandon()
                    return report
                }
                try s.reply(MailboxReply(seq: s.pending!.seq, action: .resume, vttbr: vttbrs[k]))
                var cursor = VCPUEventCursor(scenario.vcpus[k].events)
                var saved: [(IPA, Int, UInt64)] = []
                var r = runner(k)
                r.onMark = { state.mark($0) }
                r.onWaitForWatchers = {
                    // The other threads' host steps may run meanwhile.
                    state.tables.unlock()
                    defer { state.tables.lock() }
                    try waitForWatchers(k, state: state)
                }
                var fault = 0
                while true {
                    let m = try s.nextMessage()
                    if m.kind == .done {
                        report.failures += try doneMismatches(k, m, cursor: cursor, faults: fault)
                        break
                    }
                    let before = report.faults
                    let (event, faultIPA, bad) = try match(k, m, cursor: &cursor, faults: &report.faults, marked: state.isMarked)
                    fault += report.faults - before
                    if !bad.isEmpty {
                        report.failures += bad
                        abandon()
                        return report
                    }
                    if event.repeats && fault > 3 {
                        // Logged for the first three occurrences only.
                    } else if event.repeats {
                        logs[k]("flag \(m.gprs[14]) read before the fault; retried")
                    }
                    var failures: [String] = []
                    state.tables.lock()
                    defer { state.tables.unlock() }
                    try r.react(
                        event, message: m, faultIPA: faultIPA, scenario: scenario, session: s, saved: &saved, sets: sets,
                        failures: &failures)
                    report.failures += failures
                }
            } catch BackendError.timeout(let seconds, let exits) {
                report.end = .timeout(
                    "vCPU \(k): " + BackendError.timeout(seconds: seconds, lastExits: exits).description)
                abandon()
            } catch {
                report.failures.append("vCPU \(k): \(error)")
                abandon()
            }
            return report
        }

        /// Waits until every other vCPU's watch ops have made their first read (the record's
        /// READS is no longer 0).
        func waitForWatchers(_ k: Int, state: ConcurrentRunState) throws {
            for p in scenario.vcpus where p.id != k {
                for w in p.watches {
                    let at = PhysicalAddress(w.record + UInt64(GuestABI.watchOffReads))
                    while try sessions[k].backend.read64(at) == 0 {
                        if state.aborted { throw SessionError.check("stopped waiting for vCPU \(p.id): another vCPU gave up") }
                        if ContinuousClock.now >= state.deadline {
                            throw SessionError.check("vCPU \(p.id) never started its watch (its record's READS stayed 0)")
                        }
                        sched_yield()
                    }
                }
            }
        }
    }
}
