import AArch64
import GuestProtocol
import Stage2

/// Break-before-make during an exit with the TLB maintenance performed under a chosen
/// VTTBR_EL2: each TLBI_THEN_ACK reply first writes `vttbr` (the payload applies register
/// writes before the TLBIs), so IPAS2E1IS/VMALLS12E1IS act on that VMID (Arm ARM: these
/// operations apply to the VMID in VTTBR_EL2 at the time they execute). The step's resume
/// reply must set the VTTBR the guest continues under.
public struct VTTBRExitTLB: TLBMaintenance {
    unowned(unsafe) let session: GuestSession
    /// nil: leave VTTBR_EL2 as it is.
    let vttbr: UInt64?
    /// Operands: nil → the session's choice (IPAS2E1IS with TTL when FEAT_TTL, VMALLE1IS).
    var translate: (([TLBInvalidation]) -> [TLBIOperation])?
    /// Every operation performed, for the log.
    public var performed: [TLBIOperation] = []

    public init(session: GuestSession, vttbr: UInt64?, translate: (([TLBInvalidation]) -> [TLBIOperation])? = nil) {
        self.session = session
        self.vttbr = vttbr
        self.translate = translate
    }

    public mutating func invalidate(_ batch: [TLBInvalidation]) throws {
        let ops = translate?(batch) ?? session.payloadOperations(for: batch)
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
        performed += ops
    }
}
