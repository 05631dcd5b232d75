/// One record of `/dev/kmsg`: "PRI,SEQ,USEC,FLAGS;text", then dictionary lines that start with
/// a space (Documentation/ABI/testing/dev-kmsg). Non-printable bytes in the text arrive
/// escaped as \xNN, which is kept.
public struct KernelLogRecord: Sendable, Equatable {
    /// Syslog priority: the level is `priority & 7`, the facility `priority >> 3`.
    public var priority: Int
    /// The record's sequence number (strictly increasing).
    public var sequence: UInt64
    /// Microseconds since boot when it was logged.
    public var microseconds: UInt64
    public var text: String

    public init(priority: Int, sequence: UInt64, microseconds: UInt64, text: String) {
        self.priority = priority
        self.sequence = sequence
        self.microseconds = microseconds
        self.text = text
    }

    public var level: Int { priority & 7 }

    /// Parses one raw record; nil when it does not have the /dev/kmsg shape.
    public init?(raw: String) {
        guard let semicolon = raw.firstIndex(of: ";") else { return nil }
        let fields = raw[..<semicolon].split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 3, let p = Int(fields[0]), let s = UInt64(fields[1]), let u = UInt64(fields[2]) else { return nil }
        let rest = raw[raw.index(after: semicolon)...]
        // The text ends at the first newline; dictionary lines (" KEY=value") follow.
        let text = rest.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        self.init(priority: p, sequence: s, microseconds: u, text: String(text))
    }

    /// The record as `dmesg` shows it: "[   12.345678] text".
    public var dmesgLine: String {
        let seconds = microseconds / 1_000_000
        let micros = microseconds % 1_000_000
        let s = String(seconds)
        let m = String(micros)
        return "[" + String(repeating: " ", count: max(0, 5 - s.count)) + s + "." + String(repeating: "0", count: 6 - m.count) + m + "] "
            + text
    }
}
