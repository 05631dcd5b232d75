import Machine

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads `/proc/sys/kernel/tainted` and the kernel log (`/dev/kmsg`) before and after each
/// test, writes a start and an end marker line into the log per test (as the kselftest
/// runner does, so a console log can be cut per test), and reports what the kernel logged in
/// between. Safe to use from several threads (`--jobs`): a test's window is the records
/// between its two markers, so a splat logged while two tests ran is charged to both.
public final class HostHealthMonitor: @unchecked Sendable {
    /// Why the check cannot be done here (reported once by the caller), or nil.
    public let unavailableReason: String?
    /// Why the markers cannot be written (reported once), or nil.
    public let markerProblem: String?

    private let device: KernelLogDevice
    private let taintPath: String
    private let runID: String
    private let lock = ConditionLock()
    private var records: [KernelLogRecord] = []
    private var lostRecords = false
    private var open: [Int: UInt64] = [:]  // window id → start sequence
    private var nextWindow = 0
    private var overlapped: Set<Int> = []  // windows another window ran beside

    public init(
        kmsgPath: String = "/dev/kmsg", taintPath: String = "/proc/sys/kernel/tainted",
        runID: String = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    ) {
        self.device = KernelLogDevice(path: kmsgPath)
        self.taintPath = taintPath
        self.runID = runID
        var reasons: [String] = []
        if let e = device.readError { reasons.append(e) }
        if Self.readTaint(taintPath) == nil { reasons.append("cannot read \(taintPath)") }
        unavailableReason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
        markerProblem = device.writeError
    }

    /// A test's open window.
    public struct Window: Sendable {
        let id: Int
        let name: String
        let startSequence: UInt64
        let taint: TaintFlags?
    }

    /// The marker lines, e.g. "nvharness: START demand-paging/4k (run 5f3a)".
    public func markerText(_ what: String, _ name: String) -> String { "nvharness: \(what) \(name) (run \(runID))" }

    /// Call just before the test starts.
    public func begin(_ name: String) -> Window {
        let taint = Self.readTaint(taintPath)
        lock.lock()
        defer { lock.unlock() }
        drain()
        device.write(markerText("START", name))
        drain()
        let start = records.last(where: { $0.text == markerText("START", name) })?.sequence ?? records.last?.sequence ?? 0
        let id = nextWindow
        nextWindow += 1
        if !open.isEmpty {
            overlapped.formUnion(open.keys)
            overlapped.insert(id)
        }
        open[id] = start
        return Window(id: id, name: name, startSequence: start, taint: taint)
    }

    /// Call just after the test ended; `result` goes into the end marker (e.g. PASS).
    public func end(_ w: Window, result: String) -> HealthFindings {
        let taint = Self.readTaint(taintPath)
        lock.lock()
        defer { lock.unlock() }
        drain()
        device.write(markerText("END", w.name) + " " + result)
        drain()
        let endMarker = records.last(where: { $0.text.hasPrefix(markerText("END", w.name)) })
        let endSequence = endMarker?.sequence ?? (records.last?.sequence ?? 0) + 1
        let shared = overlapped.remove(w.id) != nil
        open[w.id] = nil
        let inside = records.filter { $0.sequence > w.startSequence && $0.sequence < endSequence && !isMarker($0) }
        var findings = HealthFindings()
        findings.splats = SplatDetector.splats(in: inside)
        findings.kernelLog = inside.map(\.dmesgLine)
        if let before = w.taint, let after = taint { findings.newTaint = after.added(since: before) }
        findings.sharedWindow = shared && findings.isUnhealthy
        // Keep only what an open window still needs.
        let oldest = open.values.min() ?? endSequence
        records.removeAll { $0.sequence < oldest }
        return findings
    }

    private func isMarker(_ r: KernelLogRecord) -> Bool { r.text.hasPrefix("nvharness: ") && r.text.contains("(run \(runID))") }

    private func drain() {
        for raw in device.readAvailable() {
            guard let raw else {
                lostRecords = true
                continue
            }
            if let r = KernelLogRecord(raw: raw) { records.append(r) }
        }
    }

    static func readTaint(_ path: String) -> TaintFlags? {
        readText(path).flatMap(TaintFlags.init(procText:))
    }

    /// A small /proc file's text, or nil when it cannot be read.
    static func readText(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The kernel's release and command line, for the log directory's SUMMARY.
    public static func kernelFacts() -> (release: String, commandLine: String) {
        let release = readText("/proc/sys/kernel/osrelease")?.trimmingSpaces ?? "unknown"
        let cmdline = readText("/proc/cmdline")?.trimmingSpaces ?? "unknown"
        return (release, cmdline)
    }
}
