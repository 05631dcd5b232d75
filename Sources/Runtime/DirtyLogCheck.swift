import AArch64

/// The `expectDirty` host step's check: every address the nested guest wrote while dirty
/// logging was on must lie in a host page KVM_GET_DIRTY_LOG reports (KVM logs at host-page
/// granularity, api.rst KVM_GET_DIRTY_LOG).
public enum DirtyLogCheck {
    /// One line per address whose host page is not in `dirty` (page-aligned addresses).
    public static func failures(expected: [PhysicalAddress], dirty: Set<UInt64>, hostPageSize: UInt64) -> [String] {
        expected.filter { !dirty.contains($0.rawValue & ~(hostPageSize - 1)) }.map {
            "the dirty log of the RAM memslot does not list \($0), which the nested guest wrote while logging was on (\(dirty.count) page(s) listed)"
        }
    }
}
