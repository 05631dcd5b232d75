import AArch64
import GuestProtocol
import Stage2

/// One thing the nested guest must report, in order, in a live-edit test: a host call
/// (`hvc #NVH_HVC_OP` from an HVC op, where the host edits stage 2) or the end of the op list.
public enum LiveExit: Equatable, Sendable, CustomStringConvertible {
    case hostCall(opIndex: Int, label: String)
    case done(opIndex: Int)
    public var description: String {
        switch self {
        case let .hostCall(i, label): "hvc #0x\(String(GuestABI.hvcOp, radix: 16)) at op \(i) (\(label))"
        case let .done(i): "DONE after op \(i - 1)"
        }
    }
}

/// The nested guest's op list for a live-edit test, with what each op must produce and the
/// exits the host must see, built together so they cannot disagree.
public struct LivePlan: Sendable {
    public private(set) var ops: [GuestOp] = []
    public private(set) var expectedResults: [Int: UInt64] = [:]
    /// Host-call op index → label, in order.
    public private(set) var hostCalls: [(opIndex: Int, label: String)] = []

    public init() {}

    /// A 64-bit load (`ldr x11, [x10]`) repeated `times`; every repetition must read `expect`:
    /// the guest compares each one and counts the mismatches (a stale value on repetition 7
    /// of 32 fails the test), the result holds the last one.
    public mutating func load(_ address: UInt64, expect: UInt64, times: UInt32 = 1) {
        expectedResults[ops.count] = expect
        ops.append(GuestOp(.load64, address: address, value: expect, repeatCount: times, checkEveryRepetition: times > 1))
    }

    /// A 64-bit store; its result register (x11) is not written by the store: 0.
    public mutating func store(_ address: UInt64, _ value: UInt64) {
        expectedResults[ops.count] = 0
        ops.append(GuestOp.store(8, value, at: address))
    }

    /// `dsb sy; isb` (result register untouched: 0).
    public mutating func barrier() {
        expectedResults[ops.count] = 0
        ops.append(GuestOp(.barrier))
    }

    /// A WATCH64 op: reads `address` until `flag` reads 2, then `tail` more times, recording
    /// the values it saw at `record` (`WatchRecord`); the last read must be `expectLast`.
    public mutating func watch(_ address: UInt64, flag: UInt64, record: UInt64, tail: UInt32, expectLast: UInt64) {
        expectedResults[ops.count] = expectLast
        ops.append(GuestOp(.watch64, address: address, value: flag, aux: record, repeatCount: tail))
    }

    /// An HVC op: the guest stops and the host runs the step `label`. x0 carries a cookie in
    /// and must come back unchanged (the host's reply does not write registers).
    @discardableResult
    public mutating func hostCall(_ label: String) -> Int {
        let i = ops.count
        let cookie = 0x4856_0000 | UInt64(hostCalls.count)
        expectedResults[i] = cookie
        ops.append(GuestOp(.hvc, value: cookie))
        hostCalls.append((i, label))
        return i
    }

    /// Every host call in order, then DONE with the op index one past the list.
    public var expectedExits: [LiveExit] {
        hostCalls.map { .hostCall(opIndex: $0.opIndex, label: $0.label) } + [.done(opIndex: ops.count)]
    }

    /// ESR_EL2 for `hvc #imm` executed at EL1 in AArch64 (Arm ARM D24.2.43 ESR_EL2:
    /// EC [31:26] = 0b010110 "HVC instruction execution in AArch64 state", IL [25] = 1 (32-bit
    /// instruction), ISS [15:0] = imm16, ISS [24:16] RES0).
    public static func hvcSyndrome(immediate: UInt16) -> UInt64 {
        0b010110 << 26 | 1 << 25 | UInt64(immediate)
    }
}

/// The 64-bit pattern a test plants at the start of a page: distinct per tag, never 0.
@inline(__always) public func livePattern(_ tag: UInt64) -> UInt64 { 0x5AA5_0000_0000_0000 | tag << 16 | 0xC0DE }

public func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

/// What a host step works with: the session, the VTTBR the guest resumes with, checks.
public final class LiveHost {
    public let session: GuestSession
    public let backend: any GuestBackend
    /// Written into the resume reply when set (VTTBR_EL2 the guest continues under).
    public var resumeVTTBR: UInt64?
    public var failures: [String] = []
    public var log: (String) -> Void
    /// Extra stage-2 table sets the script created (VMID tests).
    public var extra: [LiveTables] = []

    init(session: GuestSession, backend: any GuestBackend, log: @escaping (String) -> Void) {
        self.session = session
        self.backend = backend
        self.log = log
    }

    /// Fails unless the software walk of `tables` translates `ipa` to `pa` with a leaf at `level`.
    public func expectLeaf<M>(_ tables: Stage2Tables<M>, _ ipa: UInt64, pa: UInt64, level: Int, _ what: String) {
        switch tables.walk(IPA(ipa)) {
        case .translation(let t):
            if t.outputAddress.rawValue != pa || t.level != level {
                failures.append(
                    "\(what): the tables translate \(hex(ipa)) to \(t.outputAddress) at level \(t.level), expected \(hex(pa)) at level \(level)"
                )
            }
        case .fault(let f):
            failures.append("\(what): the tables do not translate \(hex(ipa)): \(f)")
        }
    }
}

/// A stage-2 table set besides the session's own (another VMID), in a pool the test owns.
/// It maps what the nested guest needs to run (payload R+X, op/result/stack region RW) the
/// same way the session's tables do.
public final class LiveTables {
    public var tables: Stage2Tables<BackendTableMemory>
    public let name: String

    public init(name: String, session: GuestSession, pool: PhysicalAddress, poolBytes: UInt64, vmid: UInt16) throws {
        self.name = name
        let cfg = session.tables.configuration
        let memory = BackendTableMemory(backend: session.backend, pool: pool.rawValue...(pool.rawValue + poolBytes - 1))
        do {
            tables = try Stage2Tables(
                configuration: Stage2Configuration(
                    granule: cfg.granule, ipaBits: cfg.ipaBits, vmid: vmid,
                    vmid16: cfg.vmid16),
                memory: memory, poolBase: pool, poolBytes: poolBytes)
        } catch { throw SessionError.unexpected("table set \(name): \(error)") }
        let l = session.layout
        try map(IPA(l.payload.rawValue), l.payload, l.payloadWindow, Stage2Attributes(permissions: [.read, .execute]), tlb: nil)
        try map(IPA(l.nested.rawValue), l.nested, l.nestedSize, Stage2Attributes(permissions: [.read, .write]), tlb: nil)
    }

    /// Maps; `tlb` nil: the set is not live (no VTTBR ever held it), a break is a bug.
    public func map(
        _ ipa: IPA, _ pa: PhysicalAddress, _ size: UInt64, _ attributes: Stage2Attributes,
        tlb: VTTBRExitTLB?
    ) throws {
        do {
            if var tlb {
                try tables.map(ipa: ipa, pa: pa, size: size, attributes: attributes, tlb: &tlb)
            } else {
                var none = NotLiveTLB(name: name)
                try tables.map(ipa: ipa, pa: pa, size: size, attributes: attributes, tlb: &none)
            }
        } catch { throw SessionError.unexpected("table set \(name): map \(ipa) -> \(pa): \(error)") }
    }
    public var vttbr: UInt64 { tables.vttbr }
}

struct NotLiveTLB: TLBMaintenance {
    let name: String
    mutating func invalidate(_ batch: [TLBInvalidation]) throws {
        guard batch.isEmpty else {
            throw SessionError.unexpected("table set \(name) asked for TLB maintenance before it was ever installed: \(batch)")
        }
    }
}

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
        try LiveScript.tlbiNow(session, ops, vttbr: vttbr)
        performed += ops
    }
}

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
