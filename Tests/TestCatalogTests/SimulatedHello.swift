@testable import GuestProtocol

/// The HELLO the simulated payloads send: CurrentEL = EL2 (8), HCR_EL2 at entry (E2H),
/// ID_AA64MMFR0_EL1 with 4K, 16K and 64K at stage 2 and a 40-bit PA, then `more` registers
/// (ID_AA64MMFR1_EL1, ID_AA64MMFR2_EL1, …; the rest zero).
enum SimulatedHello {
    static let mmfr0: UInt64 = 0x1100_0222_0010_0125

    static func message(hcr: UInt64 = 0x4_8000_0000, more: [UInt64] = [0, 0]) -> MailboxMessage {
        let gprs = [8, hcr, mmfr0] + more
        return MailboxMessage(kind: .hello, seq: 1, opIndex: nil, gprs: gprs + Array(repeating: 0, count: 31 - gprs.count))
    }
}
