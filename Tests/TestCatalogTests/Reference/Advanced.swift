import AArch64
import GuestProtocol
import Runtime
import Stage2

/// The constants of the Swift scripts the live-edit and multi-vCPU catalog files were
/// converted from (kept with them in Reference/ for ConversionTests): test IPAs in the upper
/// half of a 40-bit IPA space; data pages and extra table pools inside the data pool
/// (0x4080_0000, 56 MiB).
enum Advanced {
    static let granule = Granule.k4
    static let ipaBits = 40
    static let page: UInt64 = 0x1000
    static let block: UInt64 = 0x20_0000  // 4K granule, level-2 block (Arm ARM D8.2)
    static let ipaBase: UInt64 = 1 << 39
    static let x = ipaBase  // a 4K page
    static let y = ipaBase + 0x20_0000  // a 2 MiB block
    static var blockPA: UInt64 { SessionLayout.standard.dataPool.rawValue }  // 2 MiB aligned
    static func pagePA(_ k: UInt64) -> UInt64 { SessionLayout.standard.dataPool.rawValue + 0x20_0000 + k * page }
    static func poolPA(_ k: UInt64) -> PhysicalAddress {
        PhysicalAddress(SessionLayout.standard.dataPool.rawValue + 0x80_0000 + k * 0x10_0000)
    }
    static let poolBytes: UInt64 = 0x10_0000
    static let rw = Stage2Attributes(permissions: [.read, .write])
    /// Pattern of page k (pagePA) and of the block's 4K page j.
    static func pagePattern(_ k: UInt64) -> UInt64 { livePattern(k) }
    static func blockPattern(_ j: UInt64) -> UInt64 { livePattern(0x1000 + j) }

    static func plantPages(_ s: inout Scenario, _ ks: some Sequence<UInt64>) {
        for k in ks { s.planted.append((PhysicalAddress(pagePA(k)), le64(pagePattern(k)))) }
    }
}
