import AArch64
import GuestProtocol
import Stage2

/// Runs a live-edit plan: answers each host call with its step, checks the exits against
/// the plan, stops the guest at the first unexpected event (so nothing loops).
public enum LiveScript {
    public typealias Step = @Sendable (LiveHost) throws -> Void

    static func tlbiNow(_ session: GuestSession, _ ops: [TLBIOperation], vttbr: UInt64?) throws {
        var rest = ops[...]
        while !rest.isEmpty {
            guard let current = session.pending else {
                throw SessionError.unexpected("TLB maintenance requested while the guest is not stopped in an exit")
            }
            let chunk = Array(rest.prefix(GuestABI.rplTLBIMax))
            rest = rest.dropFirst(chunk.count)
            try session.reply(MailboxReply(seq: current.seq, action: .tlbiThenAck, tlbi: chunk, vttbr: vttbr))
            let ack = try session.nextMessage()
            guard ack.kind == .ack else {
                throw SessionError.protocolViolation("expected ACK after TLB maintenance, got \(ack.kind.cName)")
            }
        }
    }

    /// `prepare` runs once after HELLO (extra table sets, checks that may skip);
    /// `steps[k]` answers the k-th host call.
    public static func run(_ ctx: ScriptContext, plan: LivePlan, prepare: Step? = nil, steps: [Step]) throws -> ScriptOutcome {
        let host = LiveHost(session: ctx.session, backend: ctx.backend, log: ctx.log)
        precondition(steps.count == plan.hostCalls.count, "a step per host call")
        try prepare?(host)
        if !host.failures.isEmpty { return ScriptOutcome(failures: host.failures) }
        var expected = plan.expectedExits[...]
        var faults = 0
        var call = 0
        let session = ctx.session
        func stop(_ why: String) throws -> ScriptOutcome {
            host.failures.append(why)
            try session.reply(.stop)
            return ScriptOutcome(failures: host.failures, faults: faults)
        }
        while true {
            let m = try session.nextMessage()
            let want = expected.popFirst()
            switch m.kind {
            case .trap:
                let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
                if report.isStage2Abort {
                    faults += 1
                    ctx.log("  " + report.oneLine)
                    return try stop(
                        "unexpected stage-2 fault at op \(m.opIndex.map(String.init) ?? "?") (expected \(want.map { "\($0)" } ?? "nothing")): \(report.oneLine)"
                    )
                }
                let wantESR = LivePlan.hvcSyndrome(immediate: GuestABI.hvcOp)
                guard case let .hostCall(op, label)? = want else {
                    return try stop("unexpected trap (expected \(want.map { "\($0)" } ?? "nothing")): " + session.describe(m))
                }
                guard m.esr == wantESR, m.opIndex == op else {
                    return try stop(
                        "expected \(want!) with ESR_EL2 \(hex(wantESR)), got op \(m.opIndex.map(String.init) ?? "?") ESR_EL2 \(hex(m.esr)): "
                            + session.describe(m))
                }
                ctx.log("  host call \(call) at op \(op): \(label)")
                try steps[call](host)
                call += 1
                if !host.failures.isEmpty { return try stop("after step \"\(label)\"") }
                guard let p = session.pending else { throw SessionError.unexpected("no message pending after a step") }
                try session.reply(MailboxReply(seq: p.seq, action: .resume, vttbr: host.resumeVTTBR))
            case .done:
                guard case .done(let op)? = want, m.opIndex == op else {
                    host.failures.append(
                        "DONE after op \(m.opIndex.map { String($0 - 1) } ?? "?"), expected \(want.map { "\($0)" } ?? "nothing")")
                    return ScriptOutcome(failures: host.failures, faults: faults)
                }
                return ScriptOutcome(failures: host.failures, faults: faults)
            default:
                return try stop("unexpected message (expected \(want.map { "\($0)" } ?? "nothing")): " + session.describe(m))
            }
        }
    }
}
