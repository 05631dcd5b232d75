import GuestProtocol

/// What a `watch` op's record (WATCH64, `WatchRecord`) must say after DONE: the old value
/// first, exactly one change, to the new value; no read of the old value once the flag read 1
/// or more (Arm ARM D8.13 "TLB maintenance": once the DSB after a broadcast TLBI completes, no
/// PE in the Inner Shareable domain uses the old translation); at least `tail` reads after
/// the flag and one before it; as many reads as the op's result count says.
public struct WatchCheck: Sendable, Equatable {
    public var opIndex: Int
    public var record: UInt64
    public var flag: UInt64
    public var tail: UInt32
    public var old: UInt64
    public var new: UInt64

    public init(opIndex: Int, record: UInt64, flag: UInt64, tail: UInt32, old: UInt64, new: UInt64) {
        self.opIndex = opIndex
        self.record = record
        self.flag = flag
        self.tail = tail
        self.old = old
        self.new = new
    }

    /// The mismatches, each naming the record field (empty: as expected). `count`: the op's
    /// result count (the reads it made), nil when not known.
    public func mismatches(_ r: WatchRecord, count: UInt64? = nil) -> [String] {
        var bad: [String] = []
        let at = "watch op \(opIndex)"
        if r.first != old { bad.append("\(at): FIRST \(hex(r.first)), expected the old value \(hex(old))") }
        if r.changes == 0 { bad.append("\(at): CHANGES 0: the value never changed from \(hex(r.first)), the new mapping was never seen") }
        if r.changes > 1 {
            bad.append("\(at): CHANGES \(r.changes) (old-then-new is one change): a read went back or saw another value")
        }
        if r.changes >= 1 && r.second != new {
            bad.append("\(at): SECOND \(hex(r.second)): the first change was to it, expected the new value \(hex(new))")
        }
        if r.stale != 0 {
            bad.append(
                "\(at): STALE \(r.stale): read(s) of the old value after the flag said the broadcast TLBI and its DSB had completed (stale translation)"
            )
        }
        if r.flagged < UInt64(tail) { bad.append("\(at): FLAGGED \(r.flagged): read(s) after the flag, expected at least \(tail)") }
        if r.reads < r.flagged + 1 {
            bad.append("\(at): READS \(r.reads), expected at least FLAGGED + 1 = \(r.flagged + 1) (the first read comes before the flag)")
        }
        if let count, count != r.reads { bad.append("\(at): READS \(r.reads) but the op's result count is \(count)") }
        return bad
    }
}
