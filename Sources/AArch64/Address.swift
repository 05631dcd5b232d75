/// Typed addresses. A raw `UInt64` crosses a module boundary only as a register value;
/// addresses travel as one of these so an IPA can never be passed where a PA is meant.
///
/// Terms (Arm ARM D8.1): an *intermediate physical address* (IPA) is the output of
/// stage 1 and the input of stage 2; a *physical address* (PA) is the output of stage 2.
/// In this harness the nested guest's IPAs are translated by the stage-2 tables the
/// guest hypervisor (our vEL2 payload) installs, and the resulting PAs are the
/// guest-physical addresses KVM backs with memslots.

public protocol TypedAddress: RawRepresentable, Hashable, Comparable, Sendable,
    CustomStringConvertible
where RawValue == UInt64 {
    init(_ raw: UInt64)
}

extension TypedAddress {
    public init(rawValue: UInt64) { self.init(rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "0x" + String(rawValue, radix: 16) }

    /// `self + bytes`; traps on overflow like any Swift arithmetic.
    @inlinable public func advanced(by bytes: UInt64) -> Self { Self(rawValue + bytes) }
    /// Byte distance from `base` to `self` (`self` must not be below `base`).
    @inlinable public func offset(from base: Self) -> UInt64 { rawValue - base.rawValue }
    @inlinable public func isAligned(to alignment: UInt64) -> Bool { rawValue & (alignment - 1) == 0 }
    @inlinable public func alignedDown(to alignment: UInt64) -> Self { Self(rawValue & ~(alignment - 1)) }
}

/// Intermediate physical address: what the nested guest issues, what stage 2 translates.
public struct IPA: TypedAddress {
    public let rawValue: UInt64
    @inlinable public init(_ raw: UInt64) { rawValue = raw }
}

/// Physical address as seen by the guest hypervisor (vEL2): stage-2 output, table
/// addresses, and the guest-physical addresses KVM memslots back.
public struct PhysicalAddress: TypedAddress {
    public let rawValue: UInt64
    @inlinable public init(_ raw: UInt64) { rawValue = raw }
}

/// Virtual address of the nested guest (stage-1 input; FAR_EL2 reports one).
public struct VirtualAddress: TypedAddress {
    public let rawValue: UInt64
    @inlinable public init(_ raw: UInt64) { rawValue = raw }
}

extension UInt64 {
    /// Parses a number as people write register values and addresses: `0x93cb8007`,
    /// `0X...`, `0b1010`, or decimal; `_` separators allowed. Nil for anything else
    /// (empty, sign, junk, overflow).
    public init?(registerLiteral text: String) {
        // Surrounding blanks (spaces, tabs; not newlines) are ignored, `_` anywhere.
        var t = Substring(text)
        while let c = t.first, c.isWhitespace && !c.isNewline { t = t.dropFirst() }
        while let c = t.last, c.isWhitespace && !c.isNewline { t = t.dropLast() }
        var s = Substring(t.filter { $0 != "_" })
        var radix = 10
        if s.hasPrefix("0x") || s.hasPrefix("0X") {
            radix = 16
            s = s.dropFirst(2)
        } else if s.hasPrefix("0b") || s.hasPrefix("0B") {
            radix = 2
            s = s.dropFirst(2)
        }
        guard !s.isEmpty, s.first != "+", s.first != "-", let v = UInt64(s, radix: radix) else { return nil }
        self = v
    }
}
