import AArch64
import GuestProtocol
import Stage2

struct NotLiveTLB: TLBMaintenance {
    let name: String
    mutating func invalidate(_ batch: [TLBInvalidation]) throws {
        guard batch.isEmpty else {
            throw SessionError.unexpected("table set \(name) asked for TLB maintenance before it was ever installed: \(batch)")
        }
    }
}
