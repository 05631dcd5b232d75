import AArch64
import Machine

@testable import GuestProtocol
@testable import Runtime

/// Guest memory several simulated vCPUs share (locked: concurrent runs touch it from several threads).
final class SharedRAM: @unchecked Sendable {
    let lock = ConditionLock()
    var bytes = [UInt8](repeating: 0, count: Int(SessionLayout.standard.ramSize))
}

/// One vCPU's payload stand-in (as `SimulatedGuest`, for vCPU `k` of `n`): HELLO, then its
/// planned messages in order, an ACK for each TLBI_THEN_ACK reply, results written before DONE.
/// A step's `effect` runs before its message is sent (it may wait for memory another vCPU writes).
final class SimulatedVCPU: SimulatedRAM, @unchecked Sendable {
    struct Message {
        var kind: MessageKind
        var esr: UInt64 = 0, far: UInt64 = 0, hpfar: UInt64 = 0, elr: UInt64 = 0, spsr: UInt64 = 0x3C5
        var op: Int? = nil
        var x0: UInt64 = 0
        var x14: UInt64 = 0
        var effect: ((SimulatedVCPU) throws -> Void)? = nil
    }
    let layout: SessionLayout
    let memory: SharedRAM
    var steps: [Message]
    var seq: UInt64 = 0
    var acked: UInt64 = 0
    var helloSent = false
    private(set) var sent: [MessageKind] = []
    func idRegisters() throws -> (mmfr0: UInt64, mmfr1: UInt64, mmfr2: UInt64)? { (SimulatedHello.mmfr0, 0, 0) }

    init(_ k: Int, of n: Int, memory: SharedRAM, _ steps: [Message]) {
        layout = .forVCPU(k, of: n)
        self.memory = memory
        self.steps = steps
    }

    func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8] {
        let o = try offset(address, count)
        return memory.lock.withLock { Array(memory.bytes[o..<(o + count)]) }
    }
    func write(_ bytes: [UInt8], at address: PhysicalAddress) throws {
        let o = try offset(address, bytes.count)
        memory.lock.withLock { memory.bytes.replaceSubrange(o..<(o + bytes.count), with: bytes) }
    }
    func completeMMIORead(_ value: UInt64) throws {}
    func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)? { nil }
    var recentExits: [String] { [] }

    /// Writes op results (value, count) from op 0 on.
    func results(_ r: [(UInt64, UInt64)]) throws {
        for (i, (v, c)) in r.enumerated() {
            try write(le(v, 8) + le(c, 8) + le(0, 8) + le(0, 8), at: layout.results.advanced(by: UInt64(i * GuestABI.resultSize)))
        }
    }

    private func send(_ m: MailboxMessage) throws -> BackendExit {
        try write(m.encoded, at: layout.message)
        sent.append(m.kind)
        return .mmio(address: layout.doorbell, length: 8, isWrite: true, data: m.seq)
    }

    func run() throws -> BackendExit {
        if !helloSent {
            helloSent = true
            seq = 1
            return try send(SimulatedHello.message())
        }
        let reply = try read(layout.message, count: GuestABI.messageSize)
        if reply.loadLE(UInt64.self, at: GuestABI.rplOffSeq) == seq, acked != seq,
            reply.loadLE(UInt32.self, at: GuestABI.rplOffAction) == ReplyAction.tlbiThenAck.rawValue
        {
            acked = seq + 1
            seq += 1
            return try send(MailboxMessage(kind: .ack, seq: seq))
        }
        if reply.loadLE(UInt64.self, at: GuestABI.rplOffSeq) == seq,
            reply.loadLE(UInt32.self, at: GuestABI.rplOffAction) == ReplyAction.stop.rawValue
        {
            throw BackendError.timeout(seconds: 1, lastExits: ["the host said STOP"])
        }
        guard !steps.isEmpty else { throw BackendError.timeout(seconds: 1, lastExits: ["the simulated vCPU has nothing more to send"]) }
        let m = steps.removeFirst()
        try m.effect?(self)
        seq += 1
        var gprs = [UInt64](repeating: 0, count: GuestABI.msgGPRCount)
        gprs[0] = m.x0
        gprs[14] = m.x14
        return try send(
            MailboxMessage(
                kind: m.kind, seq: seq, esr: m.esr, far: m.far, hpfar: m.hpfar, elr: m.elr, spsr: m.spsr, opIndex: m.op, gprs: gprs))
    }
}
