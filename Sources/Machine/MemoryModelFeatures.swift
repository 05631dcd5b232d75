import Stage2

/// Support for a translation granule as an ID register advertises it.
public enum GranuleSupport: String, Sendable, Equatable, Codable {
    case notSupported = "not supported"
    case supported = "supported"
    /// Supported, including 52-bit input and output addresses (FEAT_LPA2).
    case supported52Bit = "supported (52-bit, FEAT_LPA2)"
    case reserved = "reserved value"

    public var isSupported: Bool { self == .supported || self == .supported52Bit }
}

/// ID_AA64MMFR0_EL1, the AArch64 Memory Model Feature Register 0 (Arm ARM DDI 0487,
/// D24.2 "ID_AA64MMFR0_EL1"): the granules stage 1 and stage 2 support and the PA size.
///
/// Field positions: PARange [3:0], TGran16 [23:20], TGran64 [27:24], TGran4 [31:28],
/// TGran16_2 [35:32], TGran64_2 [39:36], TGran4_2 [43:40].
public struct IDAA64MMFR0: Sendable, Equatable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    func field(_ lsb: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: (rawValue >> lsb) & 0xF) }

    /// PARange [3:0]: 0b0000 32 bits, 0b0001 36, 0b0010 40, 0b0011 42, 0b0100 44,
    /// 0b0101 48, 0b0110 52 (FEAT_LPA), 0b0111 56 (FEAT_D128); others reserved (nil).
    public var physicalAddressBits: Int? {
        switch field(0) {
        case 0b0000: 32
        case 0b0001: 36
        case 0b0010: 40
        case 0b0011: 42
        case 0b0100: 44
        case 0b0101: 48
        case 0b0110: 52
        case 0b0111: 56
        default: nil
        }
    }

    /// Stage-1 support (TGran4/TGran16/TGran64). The encodings differ per field:
    /// TGran4 [31:28]: 0b0000 supported, 0b0001 supported with 52-bit (FEAT_LPA2), 0b1111 not.
    /// TGran16 [23:20]: 0b0000 not supported, 0b0001 supported, 0b0010 supported with 52-bit.
    /// TGran64 [27:24]: 0b0000 supported, 0b1111 not supported.
    public func stage1(_ granule: Granule) -> GranuleSupport {
        switch granule {
        case .k4:
            switch field(28) {
            case 0b0000: .supported
            case 0b0001: .supported52Bit
            case 0b1111: .notSupported
            default: .reserved
            }
        case .k16:
            switch field(20) {
            case 0b0000: .notSupported
            case 0b0001: .supported
            case 0b0010: .supported52Bit
            default: .reserved
            }
        case .k64:
            switch field(24) {
            case 0b0000: .supported
            case 0b1111: .notSupported
            default: .reserved
            }
        }
    }

    /// The raw TGran<N>_2 field: TGran4_2 [43:40], TGran16_2 [35:32], TGran64_2 [39:36].
    public func stage2Field(_ granule: Granule) -> UInt8 {
        switch granule {
        case .k4: field(40)
        case .k16: field(32)
        case .k64: field(36)
        }
    }

    /// Stage-2 support. TGran<N>_2: 0b0000 = "support is identified by" the stage-1 TGran<N>
    /// field; 0b0001 not supported; 0b0010 supported; 0b0011 supported with 52-bit (4K and 16K
    /// only; for TGran64_2 0b0011 is reserved).
    public func stage2(_ granule: Granule) -> GranuleSupport {
        switch stage2Field(granule) {
        case 0b0000: stage1(granule)
        case 0b0001: .notSupported
        case 0b0010: .supported
        case 0b0011: granule == .k64 ? .reserved : .supported52Bit
        default: .reserved
        }
    }
}
