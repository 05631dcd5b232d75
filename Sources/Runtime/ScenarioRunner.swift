import AArch64
import GuestProtocol
import KVM
import Machine
import Stage2

/// Runs one scenario on a backend: HELLO (requirements), the op list with the fault
/// policy, then the checks. Every stage-2 fault is logged as one line, raw and decoded.
public struct ScenarioRunner {
    public var verbose = false
    public var log: (String) -> Void
    /// Called with (message kind, op index) as each message arrives (benchmarks use it).
    public var onMessage: ((MailboxMessage) -> Void)? = nil
    /// The payload's config flags (HELLO; the garbage-mailbox self-test adds its own).
    public var configFlags: UInt64 = GuestABI.cfgFlagHello
    /// Concurrent vCPUs: a host step `mark` ran (publishes the name to the other threads).
    public var onMark: ((String) -> Void)? = nil
    /// Concurrent vCPUs: a host step `waitForWatchers`; throws when the wait is given up.
    public var onWaitForWatchers: (() throws -> Void)? = nil

    public init(verbose: Bool = false, log: @escaping (String) -> Void) {
        self.verbose = verbose
        self.log = log
    }

    /// `start(pc, x0)` points the vCPU at the payload entry with x0 = config address.
    public func run(
        _ scenario: Scenario, requirements: [Requirement], backend: any GuestBackend,
        start: (PhysicalAddress, UInt64) throws -> Void
    ) -> (outcome: Outcome, faults: Int) {
        var faults = 0
        do {
            let session = try GuestSession(
                backend: backend, granule: scenario.granule, ipaBits: scenario.ipaBits,
                outputBits: scenario.outputBits, lpa2: scenario.lpa2,
                vmid: UInt16(scenario.vmid), ops: scenario.ops, flags: configFlags, verbose: verbose, log: log)
            for m in scenario.initialMappings {
                try session.map(ipa: m.ipa, pa: m.pa, size: m.size, attributes: m.attributes)
            }
            for (pa, bytes) in scenario.planted { try backend.write(bytes, at: pa) }
            session.extraHCRSet = scenario.hcrSet
            session.extraVTCRSet = scenario.vtcrSet
            try session.configure(startAt: start)

            let hello = try session.nextMessage()
            guard hello.kind == .hello, let facts = session.facts else {
                throw SessionError.protocolViolation("first message was \(hello.kind.cName), expected HELLO")
            }
            if verbose {
                log(
                    "  vEL2 reads ID_AA64MMFR0_EL1 \(hex(facts.mmfr0)), MMFR1 \(hex(facts.mmfr1)), MMFR2 \(hex(facts.mmfr2)), ID_AA64ISAR0_EL1 \(hex(facts.isar0)), ID_AA64MMFR4_EL1 \(hex(facts.mmfr4)), HCR_EL2 \(hex(facts.hcrAtEntry))"
                )
            }
            guard (facts.currentEL >> 2) & 3 == 2 else {
                throw SessionError.check("payload entered at EL\((facts.currentEL >> 2) & 3), expected (virtual) EL2")
            }
            // The requirements are decided from what the payload read at vEL2; KVM must report
            // the same ID registers through KVM_GET_ONE_REG, or neither can be trusted.
            let disagreements = try IDRegisterCheck.disagreements(hello: facts, backend: backend)
            if !disagreements.isEmpty {
                try session.reply(.stop)
                return (.fail(disagreements.joined(separator: "\n")), 0)
            }
            if let reason = requirements.lazy.compactMap({ facts.unmet($0) }).first {
                try session.reply(.stop)
                return (.skip(reason), 0)
            }
            if scenario.nonVHE && facts.e2h {
                try session.reply(.stop)
                return (
                    .fail(
                        "the vCPU was created with HAS_EL2_E2H0 but HCR_EL2 at vEL2 entry is 0x\(String(facts.hcrAtEntry, radix: 16)) (E2H, bit 34, set)"
                    ), 0
                )
            }
            try session.reply(.resume)

            if !scenario.events.isEmpty {
                var failures: [String] = []
                faults = try runEvents(scenario, session: session, backend: backend, failures: &failures)
                failures += try checkResults(scenario, session: session)
                failures += try checkMemory(scenario, backend: backend)
                return failures.isEmpty ? (.pass, faults) : (.fail(failures.joined(separator: "\n")), faults)
            }

            var failures: [String] = []
            var expected = scenario.expectedFaults[...]
            loop: while true {
                let m = try session.nextMessage()
                onMessage?(m)
                switch m.kind {
                case .done:
                    break loop
                case .trap:
                    let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
                    guard report.isStage2Abort else {
                        throw SessionError.unexpected("unexpected trap from the nested guest: " + session.describe(m))
                    }
                    faults += 1
                    log("  " + report.oneLine)
                    guard let want = expected.popFirst() else {
                        throw SessionError.check(
                            "unexpected stage-2 fault (all \(scenario.expectedFaults.count) expected faults already seen) at op \(m.opIndex.map(String.init) ?? "?")"
                        )
                    }
                    failures += Self.check(m, report: report, against: want, session: session)
                    for line in UnpinnedFields.lines(esr: m.esr, hpfar: m.hpfar, kind: want.kind, s1ptw: false, opIndex: m.opIndex) {
                        log("  " + line)
                    }
                    if failures.count > 20 { break loop }
                    if case .custom(let handler) = scenario.policy {
                        try handler(FaultEvent(message: m, report: report, index: faults - 1), session)
                        guard session.pending == nil || session.repliedToPending else {
                            throw SessionError.unexpected("the test's fault handler did not answer fault \(faults - 1)")
                        }
                    } else {
                        try handleFault(m, report: report, scenario: scenario, session: session, failures: &failures)
                    }
                default:
                    throw SessionError.unexpected(session.describe(m))
                }
            }
            if !expected.isEmpty {
                failures.append("\(expected.count) expected fault(s) never happened, first: \(expected.first!)")
            }
            if faults != scenario.expectedFaults.count {
                failures.append("fault count \(faults) != \(scenario.expectedFaults.count) distinct units touched")
            }
            failures += try checkResults(scenario, session: session)
            failures += try checkMemory(scenario, backend: backend)
            if failures.isEmpty { return (.pass, faults) }
            return (.fail(failures.joined(separator: "\n")), faults)
        } catch {
            return (Outcome(endedBy: error), faults)
        }
    }

    /// Compares one fault with its expectation (`FaultCheck`, with the session's tables'
    /// software walk); returns the mismatches (empty: as expected).
    static func check(
        _ m: MailboxMessage, report: FaultReport, against want: ExpectedFault,
        session: GuestSession
    ) -> [String] {
        FaultCheck.mismatches(
            m, report: report, against: want, payload: session.payloadRange,
            walk: { session.tables.walk($0, access: $1) })
    }

    func handleFault(
        _ m: MailboxMessage, report: FaultReport, scenario: Scenario, session: GuestSession,
        failures: inout [String]
    ) throws {
        guard case let .demandMap(blockSize, attributes) = scenario.policy else {
            throw SessionError.check("stage-2 fault with no fault policy: \(report.oneLine)")
        }
        guard let ipa = report.ipa, report.status?.kind == .translation else {
            throw SessionError.check("demand paging cannot resolve: \(report.oneLine)")
        }
        let unit = blockSize ?? scenario.granule.bytes
        let base = IPA(ipa.rawValue & ~(unit - 1))
        guard let pa = scenario.backing[base] else {
            throw SessionError.check("fault at \(ipa), outside every page the test touches")
        }
        try session.map(ipa: base, pa: pa, size: unit, attributes: attributes)
        guard case .translation(let t) = session.tables.walk(ipa) else {
            throw SessionError.unexpected("stage-2 builder did not map \(ipa)")
        }
        // Invalid → valid needs no invalidation architecturally; the reply still does the
        // by-IPA maintenance a hypervisor would (level hint = the new leaf's level).
        let inv = TLBInvalidation.ipa(base, level: t.level, granule: scenario.granule)
        try session.reply(.resume, tlbi: session.payloadOperations(for: inv))
    }

    func checkResults(_ scenario: Scenario, session: GuestSession) throws -> [String] {
        let results = try session.readResults()
        for (i, p) in scenario.resultPatterns.sorted(by: { $0.key < $1.key }) where p.mask != ~0 && i < results.count {
            log("  op \(i): result \(hex(results[i].value)); bits \(hex(results[i].value & ~p.mask)) not compared: \(p.why)")
        }
        return OpResultCheck.failures(
            ops: scenario.ops, results: results, expected: scenario.expectedResults, patterns: scenario.resultPatterns)
    }

    func checkMemory(_ scenario: Scenario, backend: any GuestBackend) throws -> [String] {
        var bad: [String] = []
        for (pa, want) in scenario.expectedMemory {
            let got = try backend.read(pa, count: want.count)
            if got != want { bad.append("guest-physical \(pa) holds \(got), expected \(want)") }
            if bad.count > 8 {
                bad.append("…")
                break
            }
        }
        return bad
    }
}

// MARK: Event-driven scenarios

extension ScenarioRunner {
    /// Runs `scenario.events`: each trap, EL1 exception and MMIO exit must be the next
    /// expected event; the event's reactions run, then the reply. Returns the number of
    /// stage-2 faults seen; mismatches go to `failures`.
    func runEvents(
        _ scenario: Scenario, session: GuestSession, backend: any GuestBackend,
        failures: inout [String]
    ) throws -> Int {
        var faults = 0
        var next = 0
        func take(_ what: String) throws -> ExpectedEvent {
            guard next < scenario.events.count else {
                throw SessionError.check("unexpected \(what) (all \(scenario.events.count) expected events already seen)")
            }
            defer { next += 1 }
            return scenario.events[next]
        }
        // Extra table sets (other VMIDs), built now that the guest is stopped after HELLO.
        var sets: [String: LiveTables] = [:]
        for plan in scenario.tableSets {
            let t = try LiveTables(name: plan.name, session: session, pool: plan.pool, poolBytes: plan.poolBytes, vmid: plan.vmid)
            for m in plan.mappings { try t.map(m.ipa, m.pa, m.size, m.attributes, tlb: nil) }
            if t.tables.vtcr != session.tables.vtcr {
                failures.append(
                    "table set \(plan.name): VTCR_EL2 \(hex(t.tables.vtcr)) differs from the installed \(hex(session.tables.vtcr))")
            }
            sets[plan.name] = t
        }
        // Dirty logging: the log must be empty before the guest runs (host writes go through the
        // host's mapping, never the log).
        if let d = scenario.dirtyLog {
            guard let mb = backend as? MachineBackend else { throw SessionError.skip("dirty logging needs the KVM backend") }
            guard mb.hostPageSize == d.pageSize else {
                throw SessionError.unexpected(
                    "scenario built for 0x\(String(d.pageSize, radix: 16))-byte pages, host has 0x\(String(mb.hostPageSize, radix: 16))")
            }
            if d.ramSlot { try mb.setDirtyLogging(true, region: d.memslot) }
            if let bad = try checkDirty(d, pages: [], payload: false, when: "before the guest ran", backend: mb) { failures.append(bad) }
        }
        // Events that back an unbacked PA with a new memslot need the KVM backend, and host
        // pages that fit the test's spacing.
        var memslotsAdded = 0
        for e in scenario.events {
            for r in e.reactions {
                switch r {
                case .dirtyLogging, .expectDirtyAddresses:
                    guard backend is MachineBackend else { throw SessionError.skip("dirty logging needs the KVM backend") }
                case let .replaceBacking(pa, size, _, _):
                    guard let mb = backend as? MachineBackend else {
                        throw SessionError.skip("replacing guest memory's backing needs the KVM backend")
                    }
                    guard pa.rawValue % mb.hostPageSize == 0, size % mb.hostPageSize == 0 else {
                        throw SessionError.skip(
                            "host pages of 0x\(String(mb.hostPageSize, radix: 16)) bytes are larger than the 0x\(String(size, radix: 16))-byte range at \(pa) the test replaces"
                        )
                    }
                default: break
                }
            }
            for case let .backWithMemory(_, _, maxHostPage) in e.reactions {
                guard let mb = backend as? MachineBackend else {
                    throw SessionError.skip("adding memslots at run time needs the KVM backend")
                }
                guard mb.hostPageSize <= maxHostPage else {
                    throw SessionError.skip(
                        "host pages of 0x\(String(mb.hostPageSize, radix: 16)) bytes are larger than the test's 0x\(String(maxHostPage, radix: 16))-byte spacing"
                    )
                }
            }
        }
        // MMIO exits arrive while the runner waits for the next mailbox message.
        var mmioFailures: [String] = []
        var saved: [(IPA, Int, UInt64)] = []
        let onMMIO: (PhysicalAddress, Int, Bool, UInt64) throws -> Bool = { address, length, isWrite, data in
            let what =
                "MMIO \(isWrite ? "write" : "read") of \(length) byte(s) at \(address)"
                + (isWrite ? " data 0x\(String(data, radix: 16))" : "")
            self.log("  " + what)
            let e = try take(what)
            guard case let .mmio(wantAddress, wantBytes, wantWrite, wantData) = e.kind else {
                throw SessionError.check("\(what), expected \(e)")
            }
            if address != wantAddress || length != wantBytes || isWrite != wantWrite {
                mmioFailures.append("\(what), expected \(e)")
            }
            if isWrite, let wantData, data != wantData {
                mmioFailures.append("\(what): data 0x\(String(data, radix: 16)), expected 0x\(String(wantData, radix: 16))")
            }
            for case let .backWithMemory(op, plant, _) in e.reactions {
                let mb = backend as! MachineBackend  // checked before the run
                let at = "\(what) for op \(op)"
                let x19 = try mb.register(.x(19))
                if x19 != UInt64(op) { mmioFailures.append("\(at): the nested guest's x19 (op index) is \(x19)") }
                let page = mb.hostPageSize
                let base = address.rawValue & ~(page - 1)
                try mb.addRAM(name: "lazy-\(memslotsAdded)", base: PhysicalAddress(base), size: page)
                memslotsAdded += 1
                for (pa, bytes) in plant where pa.rawValue >= base && pa.rawValue < base + page {
                    try mb.write(bytes, at: pa)
                }
                // A poison value for the read being completed: if the access were not retried
                // against the new memory, the op's result would show it.
                if !isWrite { try mb.completeMMIORead(0xBAD0_BAD0_BAD0_BAD0) }
                let (completed, pc, pstate) = try mb.completeMMIOAndRewind(by: 4)
                if pstate & 0xF != 0b0101 {
                    mmioFailures.append("\(at): PSTATE.M = \(pstate & 0xF) after the exit, expected EL1h (the nested guest)")
                }
                if !session.payloadRange.contains(pc) {
                    mmioFailures.append("\(at): the faulting instruction (PC \(hex(completed)) - 4) is outside the op interpreter")
                }
                return true
            }
            if !isWrite {
                var value: UInt64 = 0
                for r in e.reactions { if case .answerMMIO(let v) = r { value = v } }
                try backend.completeMMIORead(value)
            }
            return true
        }
        loop: while true {
            let m = try session.nextMessage(onMMIO: onMMIO)
            onMessage?(m)
            failures += mmioFailures
            mmioFailures = []
            let event: ExpectedEvent
            var faultIPA: IPA? = nil
            switch m.kind {
            case .done:
                break loop
            case .trap:
                let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
                if report.isStage2Abort {
                    faults += 1
                    log("  " + report.oneLine)
                    event = try take("stage-2 fault: " + report.oneLine)
                    guard case .stage2Fault(let want) = event.kind else {
                        throw SessionError.check(
                            "stage-2 fault \(report.oneLine) at op \(m.opIndex.map(String.init) ?? "?"), expected \(event)")
                    }
                    failures += Self.check(m, report: report, against: want, session: session)
                    for line in UnpinnedFields.lines(esr: m.esr, hpfar: m.hpfar, kind: want.kind, s1ptw: want.s1ptw, opIndex: m.opIndex) {
                        log("  " + line)
                    }
                    faultIPA = IPA(want.faultIPA)
                } else {
                    let esr = ESR(m.esr)
                    log("  trap: " + session.describe(m))
                    event = try take("trap: " + session.describe(m))
                    failures += Self.checkCall(m, esr: esr, against: event, backend: backend, session: session)
                }
            case .el1Exception:
                log("  " + session.describe(m))
                event = try take(session.describe(m))
                guard case let .el1Exception(ec, op) = event.kind else {
                    throw SessionError.check(session.describe(m) + ", expected \(event)")
                }
                let got = UInt8((m.gprs[0] >> 26) & 0x3F)
                if got != ec || m.opIndex != op {
                    failures.append(
                        "EL1 exception EC 0x\(String(got, radix: 16)) at op \(m.opIndex.map(String.init) ?? "?"), expected \(event)")
                }
            default:
                throw SessionError.unexpected(session.describe(m))
            }
            if failures.count > 40 { break loop }
            try react(
                event, message: m, faultIPA: faultIPA, scenario: scenario, session: session, saved: &saved,
                sets: sets, failures: &failures)
        }
        failures += mmioFailures
        if let d = scenario.dirtyLog, let mb = backend as? MachineBackend {
            for (k, r) in scenario.atDone.enumerated() {
                guard case let .expectDirty(pages, payload) = r else { throw SessionError.check("atDone takes expectDirty only") }
                let when = scenario.atDone.count > 1 ? "at DONE (read \(k + 1))" : "at DONE"
                if let bad = try checkDirty(d, pages: pages, payload: payload, when: when, backend: mb) { failures.append(bad) }
            }
            if d.ramSlot { try mb.setDirtyLogging(false, region: d.memslot) }
        }
        if next < scenario.events.count {
            failures.append("\(scenario.events.count - next) expected event(s) never happened, first: \(scenario.events[next])")
        }
        return faults
    }

    /// Reads the dirty log (clearing it), logs it and compares it with `pages`; the mismatch or nil.
    func checkDirty(_ d: DirtyLogPlan, pages: [Int], payload: Bool, when: String, backend mb: MachineBackend) throws -> String? {
        let got = try mb.dirtyPages(region: d.memslot).map(\.rawValue).sorted()
        log("     dirty log \(when): [\(d.describe(got))] (expected [\(d.describe(d.expected(pages: pages, payload: payload)))])")
        return d.mismatch(got: got, pages: pages, payload: payload, when: when)
    }

    /// Checks an HVC/SMC trap against its expectation: EC, immediate, op index, and the
    /// preferred return address (Arm ARM D1, "Preferred exception return address": the
    /// instruction after an HVC; the SMC itself when HCR_EL2.TSC traps it), confirmed by
    /// reading the instruction at ELR_EL2 (−4 for HVC) from guest memory.
    static func checkCall(
        _ m: MailboxMessage, esr: ESR, against e: ExpectedEvent, backend: any GuestBackend,
        session: GuestSession
    ) -> [String] {
        let at = "trap at op \(m.opIndex.map(String.init) ?? "?") (expected \(e))"
        let (wantEC, imm, op, base): (UInt64, UInt16, Int, UInt32)
        switch e.kind {
        case let .hvc(i, o): (wantEC, imm, op, base) = (0x16, i, o, 0xD400_0002)  // HVC #imm: C6.2 HVC
        case let .smc(i, o): (wantEC, imm, op, base) = (0x17, i, o, 0xD400_0003)  // SMC #imm: C6.2 SMC
        default: return ["\(at): got EC 0x\(String(esr.ecBits, radix: 16)) \(session.describe(m))"]
        }
        var bad: [String] = []
        if UInt64(esr.ecBits) != wantEC {
            bad.append("\(at): EC 0x\(String(esr.ecBits, radix: 16)), expected 0x\(String(wantEC, radix: 16))")
        }
        if esr.rawValue & 0xFFFF != UInt64(imm) {
            bad.append("\(at): ISS imm 0x\(String(esr.rawValue & 0xFFFF, radix: 16)), expected 0x\(String(imm, radix: 16))")
        }
        if m.opIndex != op { bad.append("\(at): reported for op \(m.opIndex.map(String.init) ?? "none")") }
        let insnAt = wantEC == 0x16 ? m.elr &- 4 : m.elr
        if !session.payloadRange.contains(insnAt) {
            bad.append("\(at): ELR_EL2 \(hex(m.elr)) outside the op interpreter")
        } else {
            do {
                let bytes = try backend.read(PhysicalAddress(insnAt), count: 4)
                let insn = bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
                if insn != base | UInt32(imm) << 5 {
                    bad.append(
                        "\(at): the instruction at \(hex(insnAt)) is 0x\(String(insn, radix: 16)), expected 0x\(String(base | UInt32(imm) << 5, radix: 16)) (ELR_EL2 \(hex(m.elr)))"
                    )
                }
            } catch {
                bad.append("\(at): cannot read the instruction at \(hex(insnAt)): \(error)")
            }
        }
        if m.spsr & 0xF != 0b0101 { bad.append("\(at): SPSR_EL2.M = \(m.spsr & 0xF), expected EL1h (0b0101)") }
        return bad
    }

    func react(
        _ e: ExpectedEvent, message m: MailboxMessage, faultIPA: IPA?, scenario: Scenario,
        session: GuestSession, saved: inout [(IPA, Int, UInt64)], sets: [String: LiveTables] = [:],
        failures: inout [String]
    ) throws {
        func set(_ name: String) throws -> LiveTables {
            guard let t = sets[name] else { throw SessionError.check("no table set named '\(name)'") }
            return t
        }
        /// A VTTBR_EL2 named by its table set ("session": the session's own tables).
        func vttbrOf(_ v: TableSetVTTBR) throws -> UInt64 {
            (v.set == TableSetVTTBR.session ? session.tables.vttbr : try set(v.set).vttbr) | v.or
        }
        func expectLeaf<M>(_ tables: Stage2Tables<M>, _ ipa: IPA, _ pa: PhysicalAddress, _ level: Int, _ what: String) {
            switch tables.walk(ipa) {
            case .translation(let t):
                if t.outputAddress != pa || t.level != level {
                    failures.append(
                        "\(what): the tables translate \(ipa) to \(t.outputAddress) at level \(t.level), expected \(pa) at level \(level)")
                }
            case .fault(let f):
                failures.append("\(what): the tables do not translate \(ipa): \(f)")
            }
        }
        var tlbi: [TLBInvalidation] = []
        var gprs: [UInt64]? = nil
        var vttbr: UInt64? = nil
        var vtcr: UInt64? = nil
        var vncr: UInt64? = nil
        var extra: [TLBIOperation] = []
        for r in e.reactions {
            switch r {
            case let .demandMap(blockSize, attributes):
                guard let ipa = faultIPA else { throw SessionError.check("demandMap reaction on a non-fault event \(e)") }
                let unit = blockSize ?? scenario.granule.bytes
                let base = IPA(ipa.rawValue & ~(unit - 1))
                guard let pa = scenario.backing[base] else { throw SessionError.check("no backing for \(base)") }
                try session.map(ipa: base, pa: pa, size: unit, attributes: attributes)
                if case .translation(let t) = session.tables.walk(ipa) {
                    tlbi.append(.ipa(base, level: t.level, granule: scenario.granule))
                }
            case let .map(ipa, pa, size, attributes):
                try session.map(ipa: ipa, pa: pa, size: size, attributes: attributes)
            case let .unmap(ipa, size):
                try session.unmap(ipa: ipa, size: size)
            case let .protect(ipa, size, attributes):
                try session.protect(ipa: ipa, size: size, attributes: attributes)
            case let .editDescriptor(ipa, level, set, clear):
                let old = try session.readDescriptor(ipa: ipa, level: level)
                try session.writeRawDescriptor(ipa: ipa, level: level, value: (old | set) & ~clear)
                tlbi.append(.ipa(ipa, level: level, granule: scenario.granule))
            case .answerMMIO, .backWithMemory:
                break  // used while the exit is handled
            case .setX0(let v):
                var regs = Array(m.gprs.prefix(GuestABI.msgGPRCount))
                regs[0] = v
                gprs = regs
            case .setVTTBR(let v):
                vttbr = v
            case .setVNCR(let v):
                vncr = v
            case let .swapDescriptor(ipa, level, value):
                saved.append((ipa, level, try session.readDescriptor(ipa: ipa, level: level)))
                try session.writeRawDescriptor(ipa: ipa, level: level, value: value)
                extra.append(.vmalls12e1is)
            case .restoreDescriptors:
                while let (ipa, level, value) = saved.popLast() {
                    try session.writeRawDescriptor(ipa: ipa, level: level, value: value)
                }
                extra.append(.vmalls12e1is)
            case let .patchVTCR(sl0, t0sz, ps, tg0):
                var v = session.tables.vtcr
                if let sl0 { v = v & ~(0b11 << 6) | (sl0 & 0b11) << 6 }
                if let t0sz { v = v & ~0x3F | t0sz & 0x3F }
                if let ps { v = v & ~(0b111 << 16) | (ps & 0b111) << 16 }
                if let tg0 { v = v & ~(0b11 << 14) | (tg0 & 0b11) << 14 }
                vtcr = v
            case .setVTTBRBits(let bits):
                vttbr = session.tables.vttbr | bits
            case .tlbi(let ops):
                extra += ops
            case let .mapIn(name, ipa, pa, size, attributes, under, ops):
                guard let name else {
                    guard under == nil, ops == nil else {
                        throw SessionError.check(
                            "a map in the session's own tables takes the session's TLB maintenance (no tlbiUnder/tlbi)")
                    }
                    try session.map(ipa: ipa, pa: pa, size: size, attributes: attributes)
                    break
                }
                let t = try set(name)
                let vttbrForTLBI = try under.map(vttbrOf)
                var tlb = VTTBRExitTLB(session: session, vttbr: vttbrForTLBI, translate: ops.map { list in { _ in list } })
                do { try t.tables.map(ipa: ipa, pa: pa, size: size, attributes: attributes, tlb: &tlb) } catch {
                    throw SessionError.unexpected("table set \(name): map \(ipa) -> \(pa): \(error)")
                }
                if let ops, tlb.performed != ops {
                    failures.append(
                        "table set \(name): TLB maintenance performed \(tlb.performed.map(\.description)), expected \(ops.map(\.description))"
                    )
                }
            case .resumeUnder(let v):
                vttbr = try vttbrOf(v)
            case let .expectTranslation(name, ipa, pa, level):
                if let name {
                    expectLeaf(try set(name).tables, ipa, pa, level, "table set \(name)")
                } else {
                    expectLeaf(session.tables, ipa, pa, level, "the session's tables")
                }
            case let .expectDirty(pages, payload):
                guard let d = scenario.dirtyLog, let mb = session.backend as? MachineBackend else {
                    throw SessionError.check("expectDirty without a dirty-logged region")
                }
                if let bad = try checkDirty(d, pages: pages, payload: payload, when: "after \(e)", backend: mb) { failures.append(bad) }
            case .dirtyLogging(let on):
                let mb = session.backend as! MachineBackend  // checked before the run
                try mb.setDirtyLogging(on, region: "ram")
                log("  dirty logging \(on ? "on" : "off") for the RAM memslot")
            case .expectDirtyAddresses(let addresses):
                let mb = session.backend as! MachineBackend  // checked before the run
                let dirty = Set(try mb.dirtyPages(region: "ram").map(\.rawValue))
                log("  KVM_GET_DIRTY_LOG: \(dirty.count) dirty page(s) in the RAM memslot")
                failures += DirtyLogCheck.failures(expected: addresses, dirty: dirty, hostPageSize: mb.hostPageSize)
            case let .replaceBacking(pa, size, copy, plant):
                let mb = session.backend as! MachineBackend  // checked before the run
                try mb.replaceBacking(at: pa, size: size, copy: copy)
                for (at, bytes) in plant { try mb.write(bytes, at: at) }
                log(
                    "  host memory behind \(pa) (0x\(String(size, radix: 16)) bytes) unmapped and mapped afresh, \(plant.count) value(s) written"
                )
            case let .unmapIn(name, ipa, size, under, ops, expectTLBI):
                let what = name.map { "table set \($0)" } ?? "the session's tables"
                var tlb = VTTBRExitTLB(session: session, vttbr: try under.map(vttbrOf), translate: ops.map { list in { _ in list } })
                if let name {
                    let t = try set(name)
                    do { try t.tables.unmap(ipa: ipa, size: size, tlb: &tlb) } catch {
                        throw SessionError.unexpected("\(what): unmap \(ipa): \(error)")
                    }
                } else {
                    try session.unmap(ipa: ipa, size: size, tlb: &tlb)
                }
                log("  \(what): \(ipa) unmapped; TLB maintenance performed: \(tlb.performed.map(\.description))")
                if let ops, tlb.performed != ops {
                    failures.append(
                        "\(what): unmap \(ipa): TLB maintenance performed \(tlb.performed.map(\.description)), expected \(ops.map(\.description))"
                    )
                }
                for c in expectTLBI where !tlb.performed.contains(where: { $0.code == c }) {
                    failures.append(
                        "\(what): unmap \(ipa): TLB maintenance performed \(tlb.performed.map(\.description)), expected a TLBI \(c.cName) among them"
                    )
                }
            case let .expectUnmapped(name, ipa):
                let result = try name.map { try set($0).tables.walk(ipa) } ?? session.tables.walk(ipa)
                if case .translation(let t) = result {
                    failures.append(
                        "\(name.map { "table set \($0)" } ?? "the session's tables") still translate \(ipa) to \(t.outputAddress) at level \(t.level)"
                    )
                }
            case .mark(let name):
                guard let onMark else { throw SessionError.check("mark '\(name)' outside a concurrent run") }
                onMark(name)
            case .waitForWatchers:
                guard let onWaitForWatchers else { throw SessionError.check("waitForWatchers outside a concurrent run") }
                try onWaitForWatchers()
            case let .expectDescriptor(ipa, level, set, clear):
                let d = try session.readDescriptor(ipa: ipa, level: level)
                if d & set != set || d & clear != 0 {
                    failures.append(
                        "the level-\(level) descriptor for \(ipa) is \(hex(d)): expected bits \(hex(set)) set and \(hex(clear)) clear")
                }
            }
        }
        guard let p = session.pending else { throw SessionError.unexpected("no message pending after the reactions") }
        try session.reply(
            MailboxReply(
                seq: p.seq, action: e.resume == .skip ? .skip : .resume,
                tlbi: extra + session.payloadOperations(for: tlbi), vttbr: vttbr, vtcr: vtcr, vncr: vncr, gprs: gprs))
    }
}
