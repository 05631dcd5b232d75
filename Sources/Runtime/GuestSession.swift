import AArch64
import GuestPayload
import GuestProtocol
import Machine
import Stage2

/// One run of the payload: loads it, writes config + ops, and talks to it through the
/// mailbox. Everything read from the guest is validated before use.
public final class GuestSession {
    public let backend: any GuestBackend
    public let layout: SessionLayout
    /// The stage-2 tables this session edits: its own, or (`tableOwner` set) another
    /// session's, shared by several vCPUs; edits still do their TLB maintenance in this
    /// session's exit.
    public private(set) var tables: Stage2Tables<BackendTableMemory> {
        get { tableOwner?.ownTables ?? ownTables }
        // `_modify` (underscored): a get/set pair would copy the whole table buffer on every edit
        // (copy-on-write); yielding the stored tables in place edits them where they live.
        _modify {
            if let o = tableOwner { yield &o.ownTables } else { yield &ownTables }
        }
    }
    var ownTables: Stage2Tables<BackendTableMemory>
    /// The session whose tables this one shares (vCPUs running under one set of tables).
    public var tableOwner: GuestSession?
    public let opCount: Int
    /// Sequence number of the last message received.
    public var seq: UInt64 { state.value.seq }
    /// The message the payload is waiting on a reply for.
    public var pending: MailboxMessage? { state.value.pending }
    public var facts: VCPUFacts? { state.value.facts }
    public var messagesReceived: Int { state.value.messagesReceived }
    /// Compare ESR/FAR/HPFAR in TRAP messages with what KVM reports for the vCPU.
    public var crossCheckRegisters: Bool {
        get { state.value.crossCheckRegisters }
        set { state.value.crossCheckRegisters = newValue }
    }
    public var log: (String) -> Void
    public var verbose: Bool {
        get { state.value.verbose }
        set { state.value.verbose = newValue }
    }
    /// Whether the pending message has been answered.
    public var repliedToPending: Bool { state.value.repliedToPending }

    /// What every message reads or writes, in a cell allocated once: plain loads and stores
    /// rather than a class property's dynamic exclusivity check per access (about 13 per demand
    /// fault, a tenth of the host's instructions for it). The session is used from one thread.
    struct MailboxState {
        var seq: UInt64 = 0
        var pending: MailboxMessage?
        var repliedToPending = false
        var messagesReceived = 0
        var facts: VCPUFacts?
        var crossCheckRegisters = true
        var verbose: Bool
        /// Storage for `payloadOperations(for:)` (see there).
        var tlbiBuffer: [TLBIOperation] = []
    }
    let state: PlainCell<MailboxState>

    let payloadHeader: PayloadImage.Header
    let created = ContinuousClock.now
    /// Milliseconds since the session was created, for verbose lines.
    var elapsed: String {
        let d = ContinuousClock.now - created
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return "+" + String(Int(ms)) + "ms"
    }
    /// The message page in guest RAM, when the backend has a view of it (no copies per exit).
    let messageWindow: MappedWindow?

    public init(
        backend: any GuestBackend, layout: SessionLayout = .standard, granule: Granule, ipaBits: Int,
        outputBits: Int? = nil, lpa2: Bool = false, vmid: UInt16 = 1, ops: [GuestOp], flags: UInt64 = GuestABI.cfgFlagHello,
        verbose: Bool = false, log: @escaping (String) -> Void
    ) throws {
        self.backend = backend
        self.layout = layout
        state = PlainCell(MailboxState(verbose: verbose))
        self.log = log
        let image = PayloadImage.bytes
        do { payloadHeader = try PayloadImage.header() } catch { throw SessionError.unexpected("\(error)") }
        try layout.validate(imageBytes: image.count)
        guard ops.count <= layout.maxOps else {
            throw SessionError.layout("\(ops.count) ops exceed the op area (\(layout.maxOps))")
        }
        opCount = ops.count

        messageWindow = backend.window(layout.message, count: GuestABI.messageSize)
        let memory = BackendTableMemory(
            backend: backend,
            pool: layout.tablePool.rawValue...(layout.tablePool.rawValue + layout.tablePoolSize - 1))
        do {
            ownTables = try Stage2Tables(
                configuration: Stage2Configuration(
                    granule: granule, ipaBits: ipaBits, vmid: vmid, outputBits: outputBits, lpa2: lpa2),
                memory: memory, poolBase: layout.tablePool, poolBytes: layout.tablePoolSize)
        } catch { throw SessionError.unexpected("stage-2 tables: \(error)") }

        try backend.write(image, at: layout.payload)
        try backend.write([UInt8](repeating: 0, count: GuestABI.messageSize), at: layout.message)
        var opBytes: [UInt8] = []
        opBytes.reserveCapacity(ops.count * GuestABI.opSize)
        for op in ops { opBytes += op.encoded }
        if !opBytes.isEmpty { try backend.write(opBytes, at: layout.ops) }
        if !ops.isEmpty {
            try backend.write([UInt8](repeating: 0, count: ops.count * GuestABI.resultSize), at: layout.results)
        }
        self.flags = flags

        // The nested guest runs the interpreter from the payload image and reads/writes its
        // op list and results: identity maps, everything else is the test's.
        try map(
            ipa: IPA(layout.payload.rawValue), pa: layout.payload, size: layout.payloadWindow,
            attributes: Stage2Attributes(permissions: [.read, .execute]))
        try map(
            ipa: IPA(layout.nested.rawValue), pa: layout.nested, size: layout.nestedSize,
            attributes: Stage2Attributes(permissions: [.read, .write]))
    }

    let flags: UInt64
    /// HCR_EL2 bits set in addition to `hcrSet` (a scenario's own, e.g. TSC); set before `configure`.
    public var extraHCRSet: UInt64 = 0
    /// VTCR_EL2 bits set in addition to the tables' own (e.g. HA); set before `configure`.
    public var extraVTCRSet: UInt64 = 0

    /// HCR_EL2 bits the payload sets / clears (Arm ARM D24.2.48 HCR_EL2): VM (bit 0) enables
    /// stage 2, RW (bit 31) makes EL1 AArch64; TGE (bit 27) must be clear for EL1 to run.
    public static let hcrSet: UInt64 = 1 << 0 | 1 << 31
    public static let hcrClear: UInt64 = 1 << 27

    /// Writes the config block and points the vCPU at the payload's vEL2 entry.
    public func configure(startAt entry: (PhysicalAddress, UInt64) throws -> Void) throws {
        let config = GuestConfig(
            flags: flags, doorbell: layout.doorbell.rawValue, message: layout.message.rawValue,
            el2StackTop: layout.el2StackTop.rawValue, vtcr: tables.vtcr | extraVTCRSet, vttbr: tables.vttbr,
            hcrSet: Self.hcrSet | extraHCRSet, hcrClear: Self.hcrClear, nestedStackTop: layout.nestedStackTop.rawValue,
            ops: layout.ops.rawValue, opCount: UInt64(opCount), results: layout.results.rawValue)
        try backend.write(config.encoded, at: layout.config)
        try entry(layout.payload.advanced(by: payloadHeader.el2Entry), layout.config.rawValue)
    }

    /// Payload-image address ranges, for checking ELR values.
    public var payloadRange: Range<UInt64> {
        layout.payload.rawValue..<(layout.payload.rawValue + UInt64(PayloadImage.bytes.count))
    }
    public var nestedEntry: UInt64 { layout.payload.rawValue + payloadHeader.nestedEntry }

    // MARK: Stage 2

    /// Maps through the builder; TLB maintenance it asks for is done by the guest (see `ExitTLB`).
    public func map(ipa: IPA, pa: PhysicalAddress, size: UInt64, attributes: Stage2Attributes) throws {
        var tlb = ExitTLB(session: self)
        do { try tables.map(ipa: ipa, pa: pa, size: size, attributes: attributes, tlb: &tlb) } catch {
            throw SessionError.unexpected("stage-2 map \(ipa) -> \(pa) size 0x\(String(size, radix: 16)): \(error)")
        }
    }
    public func unmap(ipa: IPA, size: UInt64) throws {
        var tlb = ExitTLB(session: self)
        do { try tables.unmap(ipa: ipa, size: size, tlb: &tlb) } catch { throw SessionError.unexpected("stage-2 unmap \(ipa): \(error)") }
    }
    /// Unmaps with the caller's TLB maintenance point (e.g. a VMALLS12E1IS instead of the
    /// per-IPA invalidations).
    public func unmap(ipa: IPA, size: UInt64, tlb: inout some TLBMaintenance) throws {
        do { try tables.unmap(ipa: ipa, size: size, tlb: &tlb) } catch { throw SessionError.unexpected("stage-2 unmap \(ipa): \(error)") }
    }
    public func protect(ipa: IPA, size: UInt64, attributes: Stage2Attributes) throws {
        var tlb = ExitTLB(session: self)
        do { try tables.protect(ipa: ipa, size: size, attributes: attributes, tlb: &tlb) } catch {
            throw SessionError.unexpected("stage-2 protect \(ipa): \(error)")
        }
    }

    /// The raw descriptor the tables hold for `ipa` at `level`.
    public func readDescriptor(ipa: IPA, level: Int) throws -> UInt64 {
        do { return try tables.readDescriptor(ipa: ipa, level: level) } catch {
            throw SessionError.unexpected("stage-2 read descriptor \(ipa) L\(level): \(error)")
        }
    }
    /// Writes a raw descriptor (no TLB maintenance: the caller's reply does it).
    public func writeRawDescriptor(ipa: IPA, level: Int, value: UInt64) throws {
        do { _ = try tables.writeRawDescriptor(ipa: ipa, level: level, value: value) } catch {
            throw SessionError.unexpected("stage-2 write descriptor \(ipa) L\(level): \(error)")
        }
    }

    /// The payload operations for a builder batch: IPAS2E1IS per IPA (with the TTL hint when
    /// the vCPU has FEAT_TTL), VMALLE1IS after them (combined stage-1+2 entries), or
    /// VMALLS12E1IS for a whole-VMID invalidation.
    public func payloadOperations(for batch: [TLBInvalidation]) -> [TLBIOperation] {
        var ops: [TLBIOperation] = []
        ops.reserveCapacity(batch.count + 1)
        var anyIPA = false
        for inv in batch {
            switch inv {
            case .ipa:
                ops.append(.ipas2e1is(inv.operand(ttl: facts?.hasTTL ?? false) ?? 0))
                anyIPA = true
            case .allForVMID:
                ops.append(.vmalls12e1is)
            }
        }
        if anyIPA { ops.append(.vmalle1is) }
        return ops
    }

    /// `payloadOperations(for: [invalidation])` without building the one-element batch. The
    /// list is built in a buffer the session keeps: once the caller's reply has released the
    /// previous list, the buffer is uniquely referenced again and refilled in place (no
    /// allocation per demand fault); a list the caller still holds is copied first, as usual.
    public func payloadOperations(for invalidation: TLBInvalidation) -> [TLBIOperation] {
        var ops: [TLBIOperation] = []
        swap(&ops, &state.value.tlbiBuffer)
        while !ops.isEmpty { ops.removeLast() }  // keeps the capacity (removeAll's is a generic call)
        switch invalidation {
        case .ipa:
            ops.append(.ipas2e1is(invalidation.operand(ttl: state.value.facts?.hasTTL ?? false) ?? 0))
            ops.append(.vmalle1is)
        case .allForVMID: ops.append(.vmalls12e1is)
        }
        state.value.tlbiBuffer = ops
        return ops
    }

    /// Break-before-make during an exit: has the payload perform `ops` and acknowledge,
    /// then returns (the builder writes the new entries only after this).
    func invalidateNow(_ ops: [TLBIOperation]) throws {
        guard let message = state.value.pending else {
            // The payload has not started: the tables are not installed, no TLB holds them.
            guard seq == 0 else { throw SessionError.unexpected("TLB maintenance requested while the guest is not stopped in an exit") }
            return
        }
        var rest = ops[...]
        var current = message
        while !rest.isEmpty {
            let chunk = Array(rest.prefix(GuestABI.rplTLBIMax))
            rest = rest.dropFirst(chunk.count)
            try reply(MailboxReply(seq: current.seq, action: .tlbiThenAck, tlbi: chunk))
            current = try nextMessage()
            guard current.kind == .ack else {
                throw SessionError.protocolViolation("expected ACK after TLB maintenance, got \(current.kind.cName)")
            }
        }
    }

    // MARK: Mailbox

    /// Runs the vCPU to the next mailbox message (any other exit is a failure unless
    /// `onMMIO` handles it and returns true).
    public func nextMessage(onMMIO: ((PhysicalAddress, Int, Bool, UInt64) throws -> Bool)? = nil) throws -> MailboxMessage {
        state.value.pending = nil
        state.value.repliedToPending = false
        while true {
            let exit = try backend.run()
            guard case let .mmio(address, length, isWrite, data) = exit else {
                if case .other(let what) = exit { throw SessionError.unexpected("unexpected exit: \(what)") }
                continue
            }
            guard address == layout.doorbell else {
                if let onMMIO, try onMMIO(address, length, isWrite, data) { continue }
                throw SessionError.unexpected(
                    "unexpected MMIO \(isWrite ? "write" : "read") of \(length) bytes at \(address)\(isWrite ? " data 0x" + String(data, radix: 16) : "")"
                )
            }
            guard isWrite, length == 8 else {
                throw SessionError.protocolViolation(
                    "doorbell access was a \(length)-byte \(isWrite ? "write" : "read"), expected an 8-byte write")
            }
            let expected = seq + 1
            guard data == expected else {
                throw SessionError.protocolViolation("doorbell carried sequence number \(data), expected \(expected)")
            }
            let message: MailboxMessage
            do {
                if let messageWindow {
                    // The vCPU is stopped in the doorbell exit, so nothing writes the page now.
                    message = try MailboxMessage(page: messageWindow, expectedSeq: expected, opCount: opCount)
                } else {
                    let bytes = try backend.read(layout.message, count: GuestABI.messageSize)
                    message = try MailboxMessage(bytes: bytes, expectedSeq: expected, opCount: opCount)
                }
            } catch let e as GuestProtocolError {
                throw SessionError.protocolViolation(e.description)
            }
            state.value.seq = expected
            state.value.messagesReceived += 1
            state.value.pending = message
            if message.kind == .hello {
                state.value.facts = VCPUFacts(
                    currentEL: message.gpr(0), hcrAtEntry: message.gpr(1), mmfr0: message.gpr(2),
                    mmfr1: message.gpr(3), mmfr2: message.gpr(4), isar0: message.gpr(6),
                    mmfr4: message.gpr(7))
            }
            if message.kind == .trap, crossCheckRegisters, let regs = try backend.trapRegisters() {
                if regs.esr != message.esr || regs.far != message.far || regs.hpfar != message.hpfar {
                    throw SessionError.check(
                        "KVM's vCPU state disagrees with the payload: KVM ESR_EL2 \(hex(regs.esr)) FAR_EL2 \(hex(regs.far)) HPFAR_EL2 \(hex(regs.hpfar)), payload read \(hex(message.esr)) \(hex(message.far)) \(hex(message.hpfar))"
                    )
                }
            }
            if verbose { log("  \(elapsed) exit #\(messagesReceived): " + describe(message)) }
            return message
        }
    }

    /// Another loop (the C benchmark baseline) received and answered `count` messages on
    /// this mailbox; continue the sequence after them.
    public func accountForMessagesHandledElsewhere(_ count: Int) {
        state.value.seq += UInt64(count)
        state.value.messagesReceived += count
        state.value.pending = nil
    }

    /// Answers the pending message.
    public func reply(_ reply: MailboxReply) throws {
        guard state.value.pending?.seq == reply.seq else {
            throw SessionError.unexpected("reply to sequence \(reply.seq) without that message pending")
        }
        state.value.repliedToPending = true
        if let messageWindow {
            do { try reply.write(into: messageWindow) } catch {
                throw SessionError.unexpected("reply: \(error)")
            }
            if verbose { logReply(reply) }
            return
        }
        let area: [UInt8]
        do { area = try reply.encodedReplyArea() } catch { throw SessionError.unexpected("reply: \(error)") }
        if let gprs = reply.gprs {
            var b = [UInt8](repeating: 0, count: 8 * gprs.count)
            for (i, r) in gprs.enumerated() { for k in 0..<8 { b[8 * i + k] = UInt8(truncatingIfNeeded: r >> (8 * UInt64(k))) } }
            try backend.write(b, at: layout.message.advanced(by: UInt64(GuestABI.msgOffGPRs)))
        }
        // One write of the reply area, sequence number included: the payload reads it only
        // after the doorbell exit returns.
        try backend.write(area, at: layout.message.advanced(by: UInt64(GuestABI.rplOffSeq)))
        if verbose { logReply(reply) }
    }

    func logReply(_ reply: MailboxReply) {
        let t = reply.tlbi.isEmpty ? "" : " after " + reply.tlbi.map(\.description).joined(separator: "; ")
        log("    reply: \(reply.action.cName.lowercased())\(t)")
    }

    /// Convenience: reply to the pending message.
    public func reply(_ action: ReplyAction, tlbi: [TLBIOperation] = [], gprs: [UInt64]? = nil, elr: UInt64? = nil) throws {
        guard let seq = state.value.pending?.seq else { throw SessionError.unexpected("no message pending") }
        try reply(MailboxReply(seq: seq, action: action, tlbi: tlbi, elr: elr, gprs: gprs))
    }

    /// One line for a message: kind, op, and ESR/FAR/HPFAR raw and decoded.
    public func describe(_ m: MailboxMessage) -> String {
        let op = m.opIndex.map { " op \($0)" } ?? ""
        switch m.kind {
        case .trap:
            return "TRAP\(op): " + FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar).oneLine + " ELR \(hex(m.elr))"
        case .el1Exception:
            return "EL1_EXCEPTION\(op) (vector \(m.gprs[4])): " + FaultReport(esr: m.gprs[0], far: m.gprs[1]).oneLine
                + " ELR_EL1 \(hex(m.gprs[2])) SPSR_EL1 \(hex(m.gprs[3]))"
        case .panic:
            return "PANIC at vEL2 (\(vectorName(m.vector))): " + FaultReport(esr: m.esr, far: m.far).oneLine
                + " ELR_EL2 \(hex(m.elr)) SPSR_EL2 \(hex(m.spsr))"
        case .hello:
            return
                "HELLO: CurrentEL.EL=\((m.gprs[0] >> 2) & 3) HCR_EL2 \(hex(m.gprs[1])) ID_AA64MMFR0_EL1 \(hex(m.gprs[2])) MMFR1 \(hex(m.gprs[3])) MMFR2 \(hex(m.gprs[4])) ID_AA64ISAR0_EL1 \(hex(m.gprs[6]))"
        case .badOp:
            return "BAD_OP\(op): unknown op kind \(m.gprs[0]) (aux \(m.gprs[1]))"
        default:
            return m.kind.cName + op
        }
    }

    /// VBAR_EL2 vector index → name (Arm ARM D1.3.1, "Vector offsets from vector table base").
    public func vectorName(_ v: UInt32) -> String {
        let from = ["current EL with SP0", "current EL with SPx", "lower EL AArch64", "lower EL AArch32"][Int(v / 4) & 3]
        let kind = ["synchronous", "IRQ", "FIQ", "SError"][Int(v % 4)]
        return "\(kind), \(from)"
    }

    public func readResults() throws -> [OpResult] {
        guard opCount > 0 else { return [] }
        let bytes = try backend.read(layout.results, count: opCount * GuestABI.resultSize)
        return (0..<opCount).map { OpResult(bytes: bytes[($0 * GuestABI.resultSize)..<(($0 + 1) * GuestABI.resultSize)]) }
    }
}

/// The builder's TLB maintenance point in a session: the payload performs the TLBIs
/// (reply TLBI_THEN_ACK) and acknowledges before `invalidate` returns.
public struct ExitTLB: TLBMaintenance {
    // Only created inside the session's own methods and used before they return, so the
    // session outlives it; unowned(unsafe) spares an atomic reference count per use.
    unowned(unsafe) let session: GuestSession
    public mutating func invalidate(_ batch: [TLBInvalidation]) throws {
        try session.invalidateNow(session.payloadOperations(for: batch))
    }
}

@inline(__always) public func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
