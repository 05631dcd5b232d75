import AArch64
import GuestProtocol
import Runtime
import Stage2

/// The Swift host's answer to one demand fault in `harness bench exits` (and in its
/// `--host-path-only` profile driver, which runs this same code without KVM): the TRAP must be
/// a stage-2 translation fault with a valid IPA; its page is mapped through the session's
/// Stage2 builder and the payload is told to resume after TLBI IPAS2E1IS + VMALLE1IS.
struct DemandFaultHost {
    let session: GuestSession
    let granule: Granule
    /// Output address every faulting page is mapped to.
    let backing: PhysicalAddress
    /// Optional clock reads between the parts (`--breakdown`): decode, map, TLBI list, reply, count.
    var parts: [UInt64]? = nil

    /// Handles `m`; `received` is when `nextMessage` returned it (for the breakdown).
    mutating func handle(_ m: MailboxMessage, received: UInt64) throws {
        guard m.kind == .trap else { throw SessionError.unexpected("unexpected \(m.kind.cName) in the fault benchmark") }
        let report = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
        guard let ipa = report.ipa, report.status?.kind == .translation else {
            throw SessionError.unexpected("unexpected trap: \(report.oneLine)")
        }
        let timed = parts != nil
        let t1 = timed ? nowNanoseconds() : 0
        let pageIPA = ipa.alignedDown(to: granule.bytes)
        try session.map(ipa: pageIPA, pa: backing, size: granule.bytes, attributes: .normalRWX)
        let t2 = timed ? nowNanoseconds() : 0
        let ops = session.payloadOperations(for: .ipa(pageIPA, level: 3, granule: granule))
        let t3 = timed ? nowNanoseconds() : 0
        try session.reply(.resume, tlbi: ops)
        if timed {
            let t4 = nowNanoseconds()
            parts![0] += t1 - received
            parts![1] += t2 - t1
            parts![2] += t3 - t2
            parts![3] += t4 - t3
            parts![4] += 1
        }
    }
}
