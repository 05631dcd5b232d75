import AArch64
import GuestProtocol
import Stage2

/// How a test ended.
public enum Outcome: Sendable, Equatable {
    case pass
    case fail(String)
    case skip(String)
    case timeout(String)
    public var label: String {
        switch self { case .pass: "PASS"; case .fail: "FAIL"; case .skip: "SKIP"; case .timeout: "TIMEOUT" }
    }
}

/// Runs one scenario on a backend: HELLO (requirements), the op list with the fault
/// policy, then the checks. Every stage-2 fault is logged as one line, raw and decoded.
public struct ScenarioRunner {
    public var verbose = false
    public var log: (String) -> Void
    /// Called with (message kind, op index) as each message arrives (benchmarks use it).
    public var onMessage: ((MailboxMessage) -> Void)? = nil

    public init(verbose: Bool = false, log: @escaping (String) -> Void) {
        self.verbose = verbose
        self.log = log
    }

    /// `start(pc, x0)` points the vCPU at the payload entry with x0 = config address.
    public func run(_ scenario: Scenario, requirements: [Requirement], backend: any GuestBackend,
                    start: (PhysicalAddress, UInt64) throws -> Void) -> (outcome: Outcome, faults: Int) {
        var faults = 0
        do {
            let session = try GuestSession(backend: backend, granule: scenario.granule, ipaBits: scenario.ipaBits,
                                           vmid: UInt16(scenario.vmid), ops: scenario.ops, verbose: verbose, log: log)
            for m in scenario.initialMappings {
                try session.map(ipa: m.ipa, pa: m.pa, size: m.size, attributes: m.attributes)
            }
            for (pa, bytes) in scenario.planted { try backend.write(bytes, at: pa) }
            try session.configure(startAt: start)

            let hello = try session.nextMessage()
            guard hello.kind == .hello, let facts = session.facts else {
                throw SessionError.protocolViolation("first message was \(hello.kind.cName), expected HELLO")
            }
            guard (facts.currentEL >> 2) & 3 == 2 else {
                throw SessionError.check("payload entered at EL\((facts.currentEL >> 2) & 3), expected (virtual) EL2")
            }
            if let reason = requirements.lazy.compactMap({ facts.unmet($0) }).first {
                try session.reply(.stop)
                return (.skip(reason), 0)
            }
            try session.reply(.resume)

            if let script = scenario.script {
                let ctx = ScriptContext(session: session, backend: backend, scenario: scenario, verbose: verbose, log: log)
                let scripted = try script(ctx)
                faults = scripted.faults
                var failures = scripted.failures
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
                        throw SessionError.check("unexpected stage-2 fault (all \(scenario.expectedFaults.count) expected faults already seen) at op \(m.opIndex.map(String.init) ?? "?")")
                    }
                    failures += Self.check(m, report: report, against: want, session: session)
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
        } catch let e as BackendError {
            if case .timeout = e { return (.timeout(e.description), faults) }
            return (.fail(e.description), faults)
        } catch let e as SessionError {
            if case .skip(let why) = e { return (.skip(why), faults) }
            return (.fail(e.description), faults)
        } catch {
            return (.fail("\(error)"), faults)
        }
    }

    /// Compares one fault with its expectation; returns the mismatches (empty: as expected).
    static func check(_ m: MailboxMessage, report: FaultReport, against want: ExpectedFault,
                      session: GuestSession) -> [String] {
        var bad: [String] = []
        let at = "fault for op \(want.opIndex) (\(want))"
        if m.opIndex != want.opIndex { bad.append("\(at): reported for op \(m.opIndex.map(String.init) ?? "none")") }
        let wantEC: ExceptionClass = want.access == .fetch ? .instructionAbortLowerEL : .dataAbortLowerEL
        if report.esr.exceptionClass != wantEC {
            bad.append("\(at): EC 0x\(String(report.esr.ecBits, radix: 16)), expected 0x\(String(wantEC.rawValue, radix: 16))")
        }
        if let s = report.status {
            if s.kind != want.kind || s.level != want.level {
                bad.append("\(at): \(s.kind) fault at level \(s.level.map(String.init) ?? "-"), expected \(want.kind) at level \(want.level)")
            }
        } else {
            bad.append("\(at): not an abort")
        }
        if case let .data(bytes, write, register, sf) = want.access, let d = report.esr.dataAbort {
            if d.wnr != write { bad.append("\(at): WnR=\(d.wnr ? 1 : 0)") }
            if !d.isv { bad.append("\(at): ISV=0, the syndrome should describe the load/store") } else {
                if d.accessBytes != bytes { bad.append("\(at): SAS says \(d.accessBytes) bytes") }
                if Int(d.srt) != register { bad.append("\(at): SRT=\(d.srt), expected \(register)") }
                if d.sf != sf { bad.append("\(at): SF=\(d.sf ? 1 : 0)") }
            }
            if d.s1ptw { bad.append("\(at): S1PTW set with the nested stage 1 off") }
            if d.fnv { bad.append("\(at): FnV set (FAR not valid)") }
        }
        if let i = report.esr.instructionAbort, want.access == .fetch {
            if i.fnv { bad.append("\(at): FnV set (FAR not valid)") }
            if i.s1ptw { bad.append("\(at): S1PTW set with the nested stage 1 off") }
            if m.elr != want.address { bad.append("\(at): ELR_EL2 \(hex(m.elr)), expected the fetched address") }
        } else if !session.payloadRange.contains(m.elr) {
            bad.append("\(at): ELR_EL2 \(hex(m.elr)) is outside the op interpreter")
        }
        if m.far != want.address { bad.append("\(at): FAR_EL2 \(hex(m.far)), expected \(hex(want.address))") }
        if report.ipa?.rawValue != want.address {
            bad.append("\(at): HPFAR_EL2 \(hex(m.hpfar)) + FAR[11:0] names \(report.ipa.map { "\($0)" } ?? "nothing"), expected \(hex(want.address))")
        }
        if m.spsr & 0xF != 0b0101 { bad.append("\(at): SPSR_EL2.M = \(m.spsr & 0xF), expected EL1h (0b0101)") }
        // The builder's software walk of the same tables must agree with the hardware.
        let access: Stage2Access = switch want.access { case .fetch: .fetch; case .data(_, let w, _, _): w ? .write : .read }
        switch session.tables.walk(IPA(want.address), access: access) {
        case .translation(let t):
            bad.append("\(at): the software walk translates it (to \(t.outputAddress)) but the hardware faulted")
        case .fault(let f):
            if f.statusCode != report.status?.code {
                bad.append("\(at): software walk says \(f), hardware FSC 0x\(String(report.status?.code ?? 0, radix: 16))")
            }
        }
        return bad
    }

    func handleFault(_ m: MailboxMessage, report: FaultReport, scenario: Scenario, session: GuestSession,
                     failures: inout [String]) throws {
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
        var bad: [String] = []
        for (i, op) in scenario.ops.enumerated() {
            let want = UInt64(max(op.repeatCount, 1))
            if results[i].count != want { bad.append("op \(i) (\(op.kind.cName)) ran \(results[i].count) time(s), expected \(want)") }
            if let v = scenario.expectedResults[i], results[i].value != v {
                bad.append("op \(i) (\(op.kind.cName) at \(hex(op.address))) produced \(hex(results[i].value)), expected \(hex(v))")
            }
        }
        return bad
    }

    func checkMemory(_ scenario: Scenario, backend: any GuestBackend) throws -> [String] {
        var bad: [String] = []
        for (pa, want) in scenario.expectedMemory {
            let got = try backend.read(pa, count: want.count)
            if got != want { bad.append("guest-physical \(pa) holds \(got), expected \(want)") }
            if bad.count > 8 { bad.append("…"); break }
        }
        return bad
    }
}
