/// What the nested EL1 guest does for one op (NVH_OP_*). Registers are fixed so ESR_EL2's
/// syndrome is predictable: x10 = address, x11 = loaded/result value, x12 = value stored,
/// x13 = aux, x19 = op index.
public enum OpKind: UInt32, CaseIterable, Sendable {
    case nop = 0
    case load8, load16, load32, load64
    case store8, store16, store32, store64
    /// `ic iallu; dsb ish; isb; x0 = value; blr address`; result = x0.
    case exec
    /// `x0 = value; hvc #NVH_HVC_OP`; result = x0.
    case hvc
    /// `x0 = value; smc #0`; result = x0.
    case smc
    /// `ldadd x12, x11, [x10]` (FEAT_LSE).
    case ldadd64
    /// `x11 = aux; cas x11, x12, [x10]` (FEAT_LSE).
    case cas64
    case sysregWrite, sysregRead
    case tlbiVMALLE1
    case barrier
    /// `ldar x11, [x10]`.
    case ldar64
    /// Watches `address` while another vCPU remaps it: `value` = flag address, `aux` = record
    /// address (`WatchRecord`), repeat = reads once the flag reads 2 (see mailbox.h).
    case watch64
    /// `x0 = address; hvc #NVH_HVC_AT_S12E1R`: the vEL2 monitor runs AT S12E1R (Arm ARM C5.4)
    /// on x0 and returns PAR_EL1 in x0; result = x0.
    case atS12E1R
    /// The same with AT S12E1W.
    case atS12E1W
    /// `x0 = address; hvc #NVH_HVC_EL2_LOAD64`: the vEL2 monitor loads 64 bits at x0 in its
    /// own regime (MMU off: a guest-physical address, e.g. of its VNCR page); result = x0.
    case el2Load64

    public var cName: String {
        switch self {
        case .nop: "NOP"
        case .load8: "LOAD8"
        case .load16: "LOAD16"
        case .load32: "LOAD32"
        case .load64: "LOAD64"
        case .store8: "STORE8"
        case .store16: "STORE16"
        case .store32: "STORE32"
        case .store64: "STORE64"
        case .exec: "EXEC"
        case .hvc: "HVC"
        case .smc: "SMC"
        case .ldadd64: "LDADD64"
        case .cas64: "CAS64"
        case .sysregWrite: "SYSREG_WRITE"
        case .sysregRead: "SYSREG_READ"
        case .tlbiVMALLE1: "TLBI_VMALLE1"
        case .barrier: "BARRIER"
        case .ldar64: "LDAR64"
        case .watch64: "WATCH64"
        case .atS12E1R: "AT_S12E1R"
        case .atS12E1W: "AT_S12E1W"
        case .el2Load64: "EL2_LOAD64"
        }
    }

    /// Access size in bytes for loads/stores/atomics, nil otherwise.
    public var accessBytes: Int? {
        switch self {
        case .load8, .store8: 1
        case .load16, .store16: 2
        case .load32, .store32: 4
        case .load64, .store64, .ldadd64, .cas64, .ldar64, .watch64: 8
        default: nil
        }
    }
    public var isLoad: Bool { [.load8, .load16, .load32, .load64, .ldar64, .watch64].contains(self) }
    public var isStore: Bool { [.store8, .store16, .store32, .store64].contains(self) }
    /// The register the instruction transfers (ESR ISS.SRT), when fixed by the payload.
    public var transferRegister: Int? {
        if isLoad { return 11 }
        if isStore { return 12 }
        return nil
    }
}

/// One entry of the op list the host writes for the nested guest.
public struct GuestOp: Equatable, Sendable {
    public var kind: OpKind
    /// Repetitions (0 and 1 both mean once).
    public var repeatCount: UInt32
    /// The address register value (an IPA while the nested stage 1 is off, a VA otherwise).
    public var address: UInt64
    public var value: UInt64
    public var aux: UInt64
    /// NVH_OP_FLAG_CHECK: after every repetition the guest compares x11 with `value` and
    /// counts the repetitions that differ (`OpResult.mismatches`), so a stale value on any
    /// repetition shows, not only on the last.
    public var checkEveryRepetition: Bool

    public init(
        _ kind: OpKind, address: UInt64 = 0, value: UInt64 = 0, aux: UInt64 = 0, repeatCount: UInt32 = 1,
        checkEveryRepetition: Bool = false
    ) {
        self.kind = kind
        self.address = address
        self.value = value
        self.aux = aux
        self.repeatCount = repeatCount
        self.checkEveryRepetition = checkEveryRepetition
    }

    public static func load(_ bytes: Int, at address: UInt64) -> GuestOp {
        GuestOp([1: .load8, 2: .load16, 4: .load32, 8: .load64][bytes] ?? .nop, address: address)
    }
    public static func store(_ bytes: Int, _ value: UInt64, at address: UInt64) -> GuestOp {
        GuestOp([1: .store8, 2: .store16, 4: .store32, 8: .store64][bytes] ?? .nop, address: address, value: value)
    }
    public static func exec(at address: UInt64, x0: UInt64 = 0) -> GuestOp {
        GuestOp(.exec, address: address, value: x0)
    }

    /// The op's NVH_OP_SIZE bytes.
    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: GuestABI.opSize)
        bytes.storeLE(kind.rawValue | (checkEveryRepetition ? GuestABI.opFlagCheck : 0), at: GuestABI.opOffKind)
        bytes.storeLE(repeatCount, at: GuestABI.opOffRepeat)
        bytes.storeLE(address, at: GuestABI.opOffAddress)
        bytes.storeLE(value, at: GuestABI.opOffValue)
        bytes.storeLE(aux, at: GuestABI.opOffAux)
        return bytes
    }
}

/// What the nested guest wrote for one op.
public struct OpResult: Equatable, Sendable {
    /// x11 after the op's last repetition.
    public var value: UInt64
    /// Repetitions completed.
    public var count: UInt64
    /// With `checkEveryRepetition`: repetitions whose value differed from the op's value.
    public var mismatches: UInt64
    /// With `checkEveryRepetition`: the 1-based repetition of the first mismatch (0: none).
    public var firstMismatch: UInt64
    public init(value: UInt64, count: UInt64, mismatches: UInt64 = 0, firstMismatch: UInt64 = 0) {
        self.value = value
        self.count = count
        self.mismatches = mismatches
        self.firstMismatch = firstMismatch
    }
    public init(bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        value = b.loadLE(UInt64.self, at: GuestABI.resultOffValue)
        count = b.loadLE(UInt64.self, at: GuestABI.resultOffCount)
        mismatches = b.loadLE(UInt64.self, at: GuestABI.resultOffMismatches)
        firstMismatch = b.loadLE(UInt64.self, at: GuestABI.resultOffFirstMismatch)
    }
}

/// A TLB maintenance operation the payload performs at vEL2 for the host
/// (Arm ARM C5.5 "A64 System instructions for TLB maintenance").
public enum TLBIOperation: Equatable, Sendable {
    case ipas2e1is(UInt64)
    case ipas2le1is(UInt64)
    case ipas2e1(UInt64)
    case vmalle1is
    case vmalls12e1is
    case vmalls12e1
    case alle1is
    /// FEAT_TLBIRANGE; the operand is the range-form Xt.
    case ripas2e1is(UInt64)

    public enum Code: UInt64, CaseIterable, Sendable {
        case ipas2e1is = 1
        case ipas2le1is
        case ipas2e1
        case vmalle1is
        case vmalls12e1is
        case vmalls12e1
        case alle1is
        case ripas2e1is
        public var cName: String {
            switch self {
            case .ipas2e1is: "IPAS2E1IS"
            case .ipas2le1is: "IPAS2LE1IS"
            case .ipas2e1: "IPAS2E1"
            case .vmalle1is: "VMALLE1IS"
            case .vmalls12e1is: "VMALLS12E1IS"
            case .vmalls12e1: "VMALLS12E1"
            case .alle1is: "ALLE1IS"
            case .ripas2e1is: "RIPAS2E1IS"
            }
        }
    }

    public var code: Code {
        switch self {
        case .ipas2e1is: .ipas2e1is
        case .ipas2le1is: .ipas2le1is
        case .ipas2e1: .ipas2e1
        case .vmalle1is: .vmalle1is
        case .vmalls12e1is: .vmalls12e1is
        case .vmalls12e1: .vmalls12e1
        case .alle1is: .alle1is
        case .ripas2e1is: .ripas2e1is
        }
    }
    public var operand: UInt64 {
        switch self {
        case .ipas2e1is(let x), .ipas2le1is(let x), .ipas2e1(let x), .ripas2e1is(let x): x
        default: 0
        }
    }
    public var description: String {
        switch self {
        case .ipas2e1is(let x), .ipas2le1is(let x), .ipas2e1(let x), .ripas2e1is(let x):
            "tlbi \(code.cName.lowercased()), 0x\(String(x, radix: 16))"
        default: "tlbi \(code.cName.lowercased())"
        }
    }
}

extension Array where Element == UInt8 {
    @inlinable mutating func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "store outside the buffer")
        for k in 0..<MemoryLayout<T>.size { self[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }
    @inlinable func loadLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "load outside the buffer")
        var v: T = 0
        for k in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: self[offset + k]) << (8 * k) }
        return v
    }
}
