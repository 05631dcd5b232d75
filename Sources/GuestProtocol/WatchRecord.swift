/// What a WATCH64 op wrote about the values it read while another vCPU remapped the page
/// (NVH_WATCH_OFF_* in guest/include/mailbox.h).
public struct WatchRecord: Equatable, Sendable {
    /// The first value read (the old page's).
    public var first: UInt64
    /// The value after the first change (0 when the value never changed).
    public var second: UInt64
    /// Reads that differed from the read before (1 for old-then-new).
    public var changes: UInt64
    /// Reads of the first value after the flag read 1 or more (a stale translation).
    public var stale: UInt64
    public var reads: UInt64
    /// Reads after the flag read 1 or more.
    public var flagged: UInt64

    public init(first: UInt64, second: UInt64, changes: UInt64, stale: UInt64, reads: UInt64, flagged: UInt64) {
        self.first = first
        self.second = second
        self.changes = changes
        self.stale = stale
        self.reads = reads
        self.flagged = flagged
    }

    public init(bytes: [UInt8]) throws(GuestProtocolError) {
        guard bytes.count >= GuestABI.watchSize else { throw .truncated(bytes.count, expected: GuestABI.watchSize) }
        first = bytes.loadLE(UInt64.self, at: GuestABI.watchOffFirst)
        second = bytes.loadLE(UInt64.self, at: GuestABI.watchOffSecond)
        changes = bytes.loadLE(UInt64.self, at: GuestABI.watchOffChanges)
        stale = bytes.loadLE(UInt64.self, at: GuestABI.watchOffStale)
        reads = bytes.loadLE(UInt64.self, at: GuestABI.watchOffReads)
        flagged = bytes.loadLE(UInt64.self, at: GuestABI.watchOffFlagged)
    }
}
