import AArch64
import Stage2

/// The stage-2 builder writes its tables straight into guest memory through this seam.
/// The builder only touches its own pool (inside a backed region), so a write outside guest
/// memory is a programming error and traps; reads outside return 0 and `isBacked` says false,
/// which the walker reports as an external abort on the table walk.
extension GuestMemory: TableMemory {
    public func readDescriptor(at pa: PhysicalAddress) -> UInt64 {
        (try? read(UInt64.self, at: pa)) ?? 0
    }

    public func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress) {
        do { try write(value, at: pa) } catch { preconditionFailure("stage-2 descriptor write: \(error)") }
    }

    public func isBacked(_ pa: PhysicalAddress) -> Bool {
        contains(pa, length: 8)
    }

    public func zero(at pa: PhysicalAddress, bytes: UInt64) {
        do { try fill(0, at: pa, count: bytes) } catch { preconditionFailure("stage-2 table zeroing: \(error)") }
    }
}
