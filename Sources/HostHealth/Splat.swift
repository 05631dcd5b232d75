/// One kernel complaint found in the log: its kind, its first line, and its lines as `dmesg`
/// shows them (up to the end-of-trace line, or `SplatDetector.maxLines`).
public struct Splat: Sendable, Equatable {
    public var kind: SplatKind
    /// The line that starts it, e.g. "WARNING: CPU: 0 PID: 93 at arch/arm64/kvm/nested.c:1123 kvm_walk_nested_s2+0x1b4/0x2b0".
    public var headline: String
    /// The record sequence number of that line.
    public var sequence: UInt64
    public var lines: [String]

    public init(kind: SplatKind, headline: String, sequence: UInt64, lines: [String]) {
        self.kind = kind
        self.headline = headline
        self.sequence = sequence
        self.lines = lines
    }
}
