/// `/proc/sys/kernel/tainted`: a bit mask, one bit per reason
/// (Documentation/admin-guide/tainted-kernels.rst, "Table for decoding tainted state").
public struct TaintFlags: OptionSet, Sendable, Equatable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Letter and meaning per bit, as tainted-kernels.rst lists them.
    public static let table: [(bit: Int, letter: Character, meaning: String)] = [
        (0, "P", "proprietary module loaded"),
        (1, "F", "module force-loaded"),
        (2, "S", "kernel running on an out-of-specification system"),
        (3, "R", "module force-unloaded"),
        (4, "M", "processor reported a Machine Check Exception"),
        (5, "B", "bad page referenced or unexpected page flags"),
        (6, "U", "taint requested by userspace"),
        (7, "D", "kernel died recently (OOPS or BUG)"),
        (8, "A", "ACPI table overridden by user"),
        (9, "W", "kernel issued a warning"),
        (10, "C", "staging driver loaded"),
        (11, "I", "workaround for a platform firmware bug applied"),
        (12, "O", "externally-built (out-of-tree) module loaded"),
        (13, "E", "unsigned module loaded"),
        (14, "L", "soft lockup occurred"),
        (15, "K", "kernel live patched"),
        (16, "X", "auxiliary taint (distribution-defined)"),
        (17, "T", "kernel built with the struct randomization plugin"),
        (18, "N", "an in-kernel test has been run"),
        (19, "J", "userspace used a mutating debug operation in fwctl"),
    ]

    /// Parses the file's text (a decimal number and a newline); nil when it is not one.
    public init?(procText: String) {
        guard let v = UInt64(procText.trimmingSpaces) else { return nil }
        self.init(rawValue: v)
    }

    /// Bits set in `self` and not in `before`.
    public func added(since before: TaintFlags) -> TaintFlags { TaintFlags(rawValue: rawValue & ~before.rawValue) }

    /// "W (bit 9: kernel issued a warning)", one per set bit, in bit order; unknown bits by number.
    public var descriptions: [String] {
        (0..<64).compactMap { bit -> String? in
            guard rawValue & (1 << UInt64(bit)) != 0 else { return nil }
            if let e = Self.table.first(where: { $0.bit == bit }) { return "\(e.letter) (bit \(bit): \(e.meaning))" }
            return "bit \(bit)"
        }
    }
}
