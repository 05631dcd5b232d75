import AArch64
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
            "timed out after \(s) s (watchdog stopped KVM_RUN); last exits:\n" + last.map { "  " + $0 }.joined(separator: "\n")
        case let .interrupted(sig): "interrupted by signal \(sig); VM torn down"
        case let .memory(m): m
        }
    }
}

/// Stage-2 tables written straight into guest memory through the backend.
public struct BackendTableMemory: TableMemory {
    let backend: any GuestBackend
    let pool: ClosedRange<UInt64>
    public func readDescriptor(at pa: PhysicalAddress) -> UInt64 {
        (try? backend.read64(pa)) ?? 0
    }
    public func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress) {
        // The builder only writes inside its pool, which lies in backed RAM.
        precondition(pool.contains(pa.rawValue), "stage-2 descriptor write outside the table pool at \(pa)")
        try! backend.write64(value, at: pa)
    }
    public func isBacked(_ pa: PhysicalAddress) -> Bool {
        (try? backend.read64(pa)) != nil
    }
}
