import AArch64

@testable import GuestProtocol
@testable import Runtime

/// What the simulated backends share: RAM addressed through their session layout, its bounds
/// check, and the 64-bit accessors built on their byte read and write.
protocol SimulatedRAM: GuestBackend {
    var layout: SessionLayout { get }
}

extension SimulatedRAM {
    /// The RAM offset of `n` bytes at `a`; throws when they are not all inside RAM.
    func offset(_ a: PhysicalAddress, _ n: Int) throws -> Int {
        let o = a.rawValue &- layout.ramBase.rawValue
        guard n >= 0, o < layout.ramSize, UInt64(n) <= layout.ramSize - o else { throw BackendError.memory("unbacked \(a)") }
        return Int(o)
    }
    func read64(_ address: PhysicalAddress) throws -> UInt64 { try read(address, count: 8).loadLE(UInt64.self, at: 0) }
    func write64(_ value: UInt64, at address: PhysicalAddress) throws { try write(le(value, 8), at: address) }
}
