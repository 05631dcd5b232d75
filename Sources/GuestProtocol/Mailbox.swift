/// The configuration block the payload reads at vEL2 entry (x0 points to it).
/// Addresses are guest-physical (the payload runs with its stage-1 MMU off).
public struct GuestConfig: Equatable, Sendable {
    public var flags: UInt64 = 0
    public var doorbell: UInt64
    public var message: UInt64
    public var el2StackTop: UInt64
    public var vtcr: UInt64
    public var vttbr: UInt64
    /// HCR_EL2 bits to set / clear on top of what the payload reads (keeps E2H as KVM set it).
    public var hcrSet: UInt64
    public var hcrClear: UInt64
    public var nestedStackTop: UInt64 = 0
    public var ops: UInt64
    public var opCount: UInt64
    public var results: UInt64

    public init(
        flags: UInt64 = 0, doorbell: UInt64, message: UInt64, el2StackTop: UInt64, vtcr: UInt64,
        vttbr: UInt64, hcrSet: UInt64, hcrClear: UInt64, nestedStackTop: UInt64 = 0,
        ops: UInt64, opCount: UInt64, results: UInt64
    ) {
        self.flags = flags
        self.doorbell = doorbell
        self.message = message
        self.el2StackTop = el2StackTop
        self.vtcr = vtcr
        self.vttbr = vttbr
        self.hcrSet = hcrSet
        self.hcrClear = hcrClear
        self.nestedStackTop = nestedStackTop
        self.ops = ops
        self.opCount = opCount
        self.results = results
    }

    public var encoded: [UInt8] {
        var b = [UInt8](repeating: 0, count: GuestABI.configSize)
        b.storeLE(GuestABI.configMagic, at: GuestABI.cfgOffMagic)
        b.storeLE(GuestABI.configVersion, at: GuestABI.cfgOffVersion)
        b.storeLE(flags, at: GuestABI.cfgOffFlags)
        b.storeLE(doorbell, at: GuestABI.cfgOffDoorbell)
        b.storeLE(message, at: GuestABI.cfgOffMessage)
        b.storeLE(el2StackTop, at: GuestABI.cfgOffEL2SP)
        b.storeLE(vtcr, at: GuestABI.cfgOffVTCR)
        b.storeLE(vttbr, at: GuestABI.cfgOffVTTBR)
        b.storeLE(hcrSet, at: GuestABI.cfgOffHCRSet)
        b.storeLE(hcrClear, at: GuestABI.cfgOffHCRClear)
        b.storeLE(nestedStackTop, at: GuestABI.cfgOffNestedSP)
        b.storeLE(ops, at: GuestABI.cfgOffOps)
        b.storeLE(opCount, at: GuestABI.cfgOffOpCount)
        b.storeLE(results, at: GuestABI.cfgOffResults)
        return b
    }
}

/// A message from the payload, decoded from guest memory. The bytes are untrusted:
/// `init(bytes:expectedSeq:opCount:)` validates everything before any field is used.
public struct MailboxMessage: Equatable, Sendable {
    public var kind: MessageKind
    /// VBAR_EL2 vector index (offset / 0x80) the payload was entered through.
    public var vector: UInt32
    public var seq: UInt64
    public var esr: UInt64
    public var far: UInt64
    public var hpfar: UInt64
    public var elr: UInt64
    public var spsr: UInt64
    /// Index of the op the nested guest was executing (x19), nil when not applicable.
    public var opIndex: Int?
    /// x0..x30 of the trapped context (an array made on access; `gpr(_:)` reads one without).
    public var gprs: [UInt64] {
        get { registers.array }
        set { registers = RegisterFile(newValue) }
    }
    /// x`n` of the trapped context (0...30).
    public func gpr(_ n: Int) -> UInt64 { registers[n] }
    /// Held inline (decoding a message on every exit allocates nothing).
    var registers: RegisterFile

    public init(
        kind: MessageKind, vector: UInt32 = 8, seq: UInt64, esr: UInt64 = 0, far: UInt64 = 0,
        hpfar: UInt64 = 0, elr: UInt64 = 0, spsr: UInt64 = 0, opIndex: Int? = nil,
        gprs: [UInt64] = Array(repeating: 0, count: GuestABI.msgGPRCount)
    ) {
        self.kind = kind
        self.vector = vector
        self.seq = seq
        self.esr = esr
        self.far = far
        self.hpfar = hpfar
        self.elr = elr
        self.spsr = spsr
        self.opIndex = opIndex
        self.registers = RegisterFile(gprs)
    }

    /// Decodes and validates a message. `expectedSeq` is the sequence number the host
    /// expects (the doorbell carried it too); `opCount` bounds the op index for kinds that
    /// come from the op interpreter.
    public init(bytes: [UInt8], expectedSeq: UInt64, opCount: Int) throws(GuestProtocolError) {
        try self.init(page: bytes, expectedSeq: expectedSeq, opCount: opCount)
    }

    /// Decodes from any view of the message page (guest memory in place); same checks as
    /// `init(bytes:)`.
    public init<Page: MailboxBytes>(page bytes: Page, expectedSeq: UInt64, opCount: Int) throws(GuestProtocolError) {
        guard bytes.count >= GuestABI.messageSize else {
            throw .truncated(bytes.count, expected: GuestABI.messageSize)
        }
        let magic = bytes.load32(at: GuestABI.msgOffMagic)
        guard magic == GuestABI.messageMagic else { throw .badMagic(UInt64(magic)) }
        let version = bytes.load32(at: GuestABI.msgOffVersion)
        guard version == GuestABI.messageVersion else { throw .badVersion(UInt64(version)) }
        let rawKind = bytes.load32(at: GuestABI.msgOffKind)
        guard let kind = MessageKind(rawValue: rawKind) else { throw .badKind(rawKind) }
        let vector = bytes.load32(at: GuestABI.msgOffVector)
        guard vector < 16 else { throw .badVector(vector) }
        let seq = bytes.load64(at: GuestABI.msgOffSeq)
        guard seq == expectedSeq else { throw .badSequence(seq, expected: expectedSeq) }
        let rawIndex = bytes.load64(at: GuestABI.msgOffOpIndex)
        var opIndex: Int? = nil
        switch kind {
        case .trap, .done, .el1Exception, .badOp, .ack:
            // DONE reports the index one past the last op; TRAP etc. one inside the list.
            let limit = kind == .done ? UInt64(opCount) : UInt64(max(opCount, 0))
            guard
                rawIndex < limit || (kind == .done && rawIndex == limit)
                    || (kind == .ack && rawIndex == UInt64.max)
            else {
                throw .badOpIndex(rawIndex, opCount: opCount)
            }
            opIndex = rawIndex == UInt64.max ? nil : Int(rawIndex)
        case .hello, .panic, .badReply, .badConfig:
            opIndex = rawIndex < UInt64(opCount) ? Int(rawIndex) : nil
        }
        self.kind = kind
        self.vector = vector
        self.seq = seq
        self.esr = bytes.load64(at: GuestABI.msgOffESR)
        self.far = bytes.load64(at: GuestABI.msgOffFAR)
        self.hpfar = bytes.load64(at: GuestABI.msgOffHPFAR)
        self.elr = bytes.load64(at: GuestABI.msgOffELR)
        self.spsr = bytes.load64(at: GuestABI.msgOffSPSR)
        self.opIndex = opIndex
        var registers = RegisterFile()
        for i in 0..<GuestABI.msgGPRCount { registers[i] = bytes.load64(at: GuestABI.msgOffGPRs + 8 * i) }
        self.registers = registers
    }

    /// The bytes the payload would write for this message (used by tests and fakes).
    public var encoded: [UInt8] {
        var b = [UInt8](repeating: 0, count: GuestABI.messageSize)
        b.storeLE(GuestABI.messageMagic, at: GuestABI.msgOffMagic)
        b.storeLE(GuestABI.messageVersion, at: GuestABI.msgOffVersion)
        b.storeLE(kind.rawValue, at: GuestABI.msgOffKind)
        b.storeLE(vector, at: GuestABI.msgOffVector)
        b.storeLE(seq, at: GuestABI.msgOffSeq)
        b.storeLE(esr, at: GuestABI.msgOffESR)
        b.storeLE(far, at: GuestABI.msgOffFAR)
        b.storeLE(hpfar, at: GuestABI.msgOffHPFAR)
        b.storeLE(elr, at: GuestABI.msgOffELR)
        b.storeLE(spsr, at: GuestABI.msgOffSPSR)
        b.storeLE(opIndex.map { UInt64($0) } ?? UInt64.max, at: GuestABI.msgOffOpIndex)
        for i in 0..<GuestABI.msgGPRCount { b.storeLE(registers[i], at: GuestABI.msgOffGPRs + 8 * i) }
        return b
    }
}

/// x0…x30 as 31 inline values (GuestABI.msgGPRCount); missing values are 0, extra ones dropped.
struct RegisterFile: Equatable, Sendable {
    /// 32 lanes inline (no heap allocation per message); lane 31 stays 0.
    var storage = SIMD32<UInt64>()
    static let count = 31

    init() {}
    init(_ values: [UInt64]) {
        for (i, v) in values.prefix(Self.count).enumerated() { self[i] = v }
    }

    subscript(i: Int) -> UInt64 {
        get {
            precondition(i >= 0 && i < Self.count, "x\(i) is not one of x0...x30")
            return storage[i]
        }
        set {
            precondition(i >= 0 && i < Self.count, "x\(i) is not one of x0...x30")
            storage[i] = newValue
        }
    }

    var array: [UInt64] { (0..<Self.count).map { self[$0] } }
}

/// The host's answer, written into the message page during the doorbell exit.
public struct MailboxReply: Equatable, Sendable {
    public var seq: UInt64
    public var action: ReplyAction
    public var tlbi: [TLBIOperation] = []
    public var elr: UInt64? = nil
    public var vttbr: UInt64? = nil
    public var vtcr: UInt64? = nil
    public var hcr: UInt64? = nil
    /// A new VNCR_EL2 (FEAT_NV2: the guest hypervisor's VNCR page), written with the other registers.
    public var vncr: UInt64? = nil
    /// New x0..x30 for the trapped context (exactly 31 values), applied on return.
    public var gprs: [UInt64]? = nil

    public init(
        seq: UInt64, action: ReplyAction, tlbi: [TLBIOperation] = [], elr: UInt64? = nil,
        vttbr: UInt64? = nil, vtcr: UInt64? = nil, hcr: UInt64? = nil, vncr: UInt64? = nil, gprs: [UInt64]? = nil
    ) {
        self.seq = seq
        self.action = action
        self.tlbi = tlbi
        self.elr = elr
        self.vttbr = vttbr
        self.vtcr = vtcr
        self.hcr = hcr
        self.vncr = vncr
        self.gprs = gprs
    }

    public var flags: UInt32 {
        var f: UInt32 = 0
        if vttbr != nil { f |= GuestABI.rplFlagVTTBR }
        if vtcr != nil { f |= GuestABI.rplFlagVTCR }
        if hcr != nil { f |= GuestABI.rplFlagHCR }
        if gprs != nil { f |= GuestABI.rplFlagGPRs }
        if vncr != nil { f |= GuestABI.rplFlagVNCR }
        return f
    }

    /// Checks what the payload would reject.
    public func validate() throws(GuestProtocolError) {
        guard tlbi.count <= GuestABI.rplTLBIMax else { throw .tooManyTLBIs(tlbi.count) }
        if let gprs, gprs.count != GuestABI.msgGPRCount { throw .badGPRCount(gprs.count) }
        if action == .setELR, elr == nil { throw .missingELR }
    }

    /// The bytes of the message page from `GuestABI.rplOffSeq` to the end, as the payload
    /// reads them (write them in one go; the GPRs, if any, go separately: `gprs`).
    public func encodedReplyArea() throws(GuestProtocolError) -> [UInt8] {
        try validate()
        let base = GuestABI.rplOffSeq
        var b = [UInt8](repeating: 0, count: GuestABI.messageSize - base)
        for (i, op) in tlbi.enumerated() {
            let entry = GuestABI.rplOffTLBI + i * GuestABI.rplTLBIEntrySize - base
            b.storeLE(op.code.rawValue, at: entry)
            b.storeLE(op.operand, at: entry + 8)
        }
        b.storeLE(UInt64(tlbi.count), at: GuestABI.rplOffTLBICount - base)
        b.storeLE(elr ?? 0, at: GuestABI.rplOffELR - base)
        b.storeLE(vttbr ?? 0, at: GuestABI.rplOffVTTBR - base)
        b.storeLE(vtcr ?? 0, at: GuestABI.rplOffVTCR - base)
        b.storeLE(hcr ?? 0, at: GuestABI.rplOffHCR - base)
        b.storeLE(vncr ?? 0, at: GuestABI.rplOffVNCR - base)
        b.storeLE(flags, at: GuestABI.rplOffFlags - base)
        b.storeLE(action.rawValue, at: GuestABI.rplOffAction - base)
        b.storeLE(seq, at: GuestABI.rplOffSeq - base)
        return b
    }

    /// Writes the reply into the message page (guest memory) in place: GPRs if any, then the
    /// reply area. The payload reads it only after the doorbell exit returns.
    public func write<Page: MailboxPage>(into page: Page) throws(GuestProtocolError) {
        try validate()
        guard page.count >= GuestABI.messageSize else { throw .truncated(page.count, expected: GuestABI.messageSize) }
        if let gprs { for (i, r) in gprs.enumerated() { page.store64(r, at: GuestABI.msgOffGPRs + 8 * i) } }
        for (i, op) in tlbi.enumerated() {
            let entry = GuestABI.rplOffTLBI + i * GuestABI.rplTLBIEntrySize
            page.store64(op.code.rawValue, at: entry)
            page.store64(op.operand, at: entry + 8)
        }
        page.store64(UInt64(tlbi.count), at: GuestABI.rplOffTLBICount)
        page.store64(elr ?? 0, at: GuestABI.rplOffELR)
        page.store64(vttbr ?? 0, at: GuestABI.rplOffVTTBR)
        page.store64(vtcr ?? 0, at: GuestABI.rplOffVTCR)
        page.store64(hcr ?? 0, at: GuestABI.rplOffHCR)
        page.store64(vncr ?? 0, at: GuestABI.rplOffVNCR)
        page.store32(flags, at: GuestABI.rplOffFlags)
        page.store32(action.rawValue, at: GuestABI.rplOffAction)
        page.store64(seq, at: GuestABI.rplOffSeq)
    }

    /// Writes the reply through `store(offset, value, byteCount)` (offsets within the
    /// message page; byteCount is 4 or 8).
    public func write(_ store: (Int, UInt64, Int) -> Void) throws(GuestProtocolError) {
        try validate()
        if let gprs { for (i, r) in gprs.enumerated() { store(GuestABI.msgOffGPRs + 8 * i, r, 8) } }
        for (i, op) in tlbi.enumerated() {
            let entry = GuestABI.rplOffTLBI + i * GuestABI.rplTLBIEntrySize
            store(entry, op.code.rawValue, 8)
            store(entry + 8, op.operand, 8)
        }
        store(GuestABI.rplOffTLBICount, UInt64(tlbi.count), 8)
        store(GuestABI.rplOffELR, elr ?? 0, 8)
        store(GuestABI.rplOffVTTBR, vttbr ?? 0, 8)
        store(GuestABI.rplOffVTCR, vtcr ?? 0, 8)
        store(GuestABI.rplOffHCR, hcr ?? 0, 8)
        store(GuestABI.rplOffVNCR, vncr ?? 0, 8)
        store(GuestABI.rplOffFlags, UInt64(flags), 4)
        store(GuestABI.rplOffAction, UInt64(action.rawValue), 4)
        store(GuestABI.rplOffSeq, seq, 8)
    }
}

/// Why a message or reply was rejected. Messages come from the guest: they are untrusted.
public enum GuestProtocolError: Error, Equatable, CustomStringConvertible, Sendable {
    case truncated(Int, expected: Int)
    case badMagic(UInt64)
    case badVersion(UInt64)
    case badKind(UInt32)
    case badVector(UInt32)
    case badSequence(UInt64, expected: UInt64)
    case badOpIndex(UInt64, opCount: Int)
    case tooManyTLBIs(Int)
    case badGPRCount(Int)
    case missingELR
    case badImage(String)

    public var description: String {
        switch self {
        case .truncated(let n, let e): "mailbox message truncated: \(n) bytes, expected \(e)"
        case .badMagic(let m):
            "mailbox message has a bad magic 0x\(String(m, radix: 16)) (expected 0x\(String(GuestABI.messageMagic, radix: 16)))"
        case .badVersion(let v): "mailbox message has version \(v), expected \(GuestABI.messageVersion)"
        case .badKind(let k): "mailbox message has an unknown kind \(k)"
        case .badVector(let v): "mailbox message names vector \(v), outside 0...15"
        case .badSequence(let s, let e): "mailbox message has sequence number \(s), expected \(e)"
        case .badOpIndex(let i, let n): "mailbox message names op index \(i), outside the op list of \(n) ops"
        case .tooManyTLBIs(let n): "reply carries \(n) TLBI operations, at most \(GuestABI.rplTLBIMax) fit"
        case .badGPRCount(let n): "reply carries \(n) registers, expected \(GuestABI.msgGPRCount)"
        case .missingELR: "reply action set-ELR without an ELR"
        case .badImage(let why): "payload image is invalid: \(why)"
        }
    }
}
