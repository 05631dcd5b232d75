import AArch64
import GuestProtocol
import Stage2

/// The op list of a converted Swift test (the references in this folder), with what each op
/// must produce and the exits the host must see, built together so they cannot disagree.
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
