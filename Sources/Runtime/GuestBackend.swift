import AArch64
import Machine
import Stage2

/// What a test session needs from the machine running the payload. `MachineBackend`
/// implements it over KVM (arm64 only); keeping the session behind this seam keeps the
/// mailbox/test logic independent of the KVM layer's details.
public protocol GuestBackend: AnyObject {
    /// Guest-physical memory (the whole RAM region); bounds-checked, throws when unbacked.
    func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8]
    func write(_ bytes: [UInt8], at address: PhysicalAddress) throws
    func read64(_ address: PhysicalAddress) throws -> UInt64
    func write64(_ value: UInt64, at address: PhysicalAddress) throws
    /// Starts (first call) or resumes the vCPU and returns at the next exit the host must
    /// handle. A stuck guest ends in `BackendError.timeout` from the watchdog.
    func run() throws -> BackendExit
    /// Data for the MMIO read the last exit reported.
    func completeMMIORead(_ value: UInt64) throws
    /// ESR_EL2, FAR_EL2, HPFAR_EL2 as KVM reports them for the vCPU now (nil when the
    /// backend cannot read them); used to cross-check what the payload wrote.
    func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)?
    /// The last exits, for a timeout or failure report.
    var recentExits: [String] { get }
    /// A view of `count` bytes of guest RAM at `address` in place, when they lie in one backed
    /// region; nil when the backend has no such view (then everything goes through read/write).
    /// Used for the message page and table pool.
    func window(_ address: PhysicalAddress, count: Int) -> MappedWindow?
    /// ID_AA64MMFR0/1/2_EL1 as KVM_GET_ONE_REG reads them for this vCPU, nil when the backend
    /// has no KVM behind it (a scripted test payload).
    func idRegisters() throws -> (mmfr0: UInt64, mmfr1: UInt64, mmfr2: UInt64)?
}

extension GuestBackend {
    public func window(_ address: PhysicalAddress, count: Int) -> MappedWindow? { nil }
    public func idRegisters() throws -> (mmfr0: UInt64, mmfr1: UInt64, mmfr2: UInt64)? { nil }
}

public enum BackendExit: Equatable, Sendable {
    case mmio(address: PhysicalAddress, length: Int, isWrite: Bool, data: UInt64)
    /// Any other exit (system event, internal error, fail entry, …), described.
    case other(String)
}

public enum BackendError: Error, CustomStringConvertible {
    case timeout(seconds: Double, lastExits: [String])
    case interrupted(signal: Int32)
    case memory(String)
    public var description: String {
        switch self {
        case let .timeout(s, last):
            "timed out: the guest did not finish within \(s) s (the watchdog stopped KVM_RUN); last exits:\n"
                + last.map { "  " + $0 }.joined(separator: "\n")
        case let .interrupted(sig): "interrupted by signal \(sig); VM torn down"
        case let .memory(m): m
        }
    }
}

/// Stage-2 tables written straight into guest memory through the backend (directly through
/// the pool's host mapping when the backend has one).
public struct BackendTableMemory: TableMemory {
    let backend: any GuestBackend
    let pool: ClosedRange<UInt64>
    let poolWindow: MappedWindow?

    init(backend: any GuestBackend, pool: ClosedRange<UInt64>) {
        self.backend = backend
        self.pool = pool
        poolWindow = backend.window(PhysicalAddress(pool.lowerBound), count: Int(pool.upperBound - pool.lowerBound + 1))
    }

    /// Offset into the pool of an 8-byte descriptor at `pa`, nil outside it.
    @inline(__always) func poolOffset(_ pa: PhysicalAddress) -> Int? {
        let o = pa.rawValue &- pool.lowerBound
        return o <= pool.upperBound - pool.lowerBound &- 7 ? Int(o) : nil
    }
    public func readDescriptor(at pa: PhysicalAddress) -> UInt64 {
        if let poolWindow, let o = poolOffset(pa) { return poolWindow.load64(at: o) }
        // Outside the pool (a walk following an untrusted descriptor): bounds-checked read.
        return (try? backend.read64(pa)) ?? 0
    }
    public func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress) {
        // The builder only writes inside its pool, which lies in backed RAM.
        guard let o = poolOffset(pa) else { preconditionFailure("stage-2 descriptor write outside the table pool at \(pa)") }
        if let poolWindow {
            poolWindow.store64(value, at: o)
        } else {
            try! backend.write64(value, at: pa)
        }
    }
    public func isBacked(_ pa: PhysicalAddress) -> Bool {
        if poolOffset(pa) != nil { return true }
        return (try? backend.read64(pa)) != nil
    }
}
