/// Finds splats in kernel-log records. The start lines are the kernel's own formats:
/// kernel/panic.c (WARN: "WARNING: CPU: %d PID: %d at %pS"; "Kernel panic - not syncing"),
/// lib/bug.c and the "BUG: " reports, arch/arm64/kernel/traps.c ("Internal error: %s"),
/// arch/arm64/mm/fault.c ("Unable to handle kernel ..."), kernel/locking/lockdep.c
/// ("WARNING: possible circular locking dependency detected", ...), mm/kasan/report.c
/// ("BUG: KASAN: %s in %pS"), mm/kfence/report.c, lib/ubsan.c ("UBSAN: %s in %s:%d:%d"),
/// kernel/hung_task.c and kernel/rcu/tree_stall.h.
public enum SplatDetector {
    /// A splat is cut after this many lines (a long stack trace tells no more).
    public static let maxLines = 80

    /// The headlines kernel/locking/lockdep.c (and the RCU lockdep checks) print.
    static let lockdepStarts = [
        "WARNING: possible circular locking dependency detected",
        "WARNING: possible recursive locking detected",
        "WARNING: inconsistent lock state",
        "WARNING: possible irq lock inversion dependency detected",
        "WARNING: bad unlock balance detected!",
        "WARNING: held lock freed!",
        "WARNING: lock held when returning to user space!",
        "WARNING: Nested lock was not taken",
        "WARNING: suspicious RCU usage",
        "WARNING: bad contention detected!",
        "WARNING: lock held by",
        "WARNING: possible deadlock",
    ]

    /// The kind of splat `text` starts, or nil.
    public static func kind(startedBy text: String) -> SplatKind? {
        let t = text.drop { $0 == " " || $0 == "\t" }
        if t.hasPrefix("WARNING: CPU: ") || t.hasPrefix("WARNING: at ") || isFileLineWarning(t) { return .warning }
        if lockdepStarts.contains(where: { t.hasPrefix($0) }) || (t.hasPrefix("WARNING: ") && t.hasSuffix(" lock order detected")) {
            return .lockdep
        }
        if t.hasPrefix("BUG: KASAN: ") || t.hasPrefix("BUG: KFENCE: ") { return .kasan }
        if t.hasPrefix("BUG: ") || t.hasPrefix("kernel BUG at ") || t.contains("BUG: soft lockup") || t.contains("BUG: hard lockup")
            || t.contains("BUG: workqueue lockup")
        {
            return .bug
        }
        if t.hasPrefix("Internal error: ") || t.hasPrefix("Oops: ") || t.hasPrefix("Oops - ")
            || t.hasPrefix("Unable to handle kernel ")
        {
            return .oops
        }
        if t.hasPrefix("UBSAN: ") { return .ubsan }
        if t.hasPrefix("Kernel panic - not syncing") { return .panic }
        if t.hasPrefix("INFO: task ") && t.contains(" blocked for more than ") { return .stall }
        if t.contains("rcu: INFO: ") && t.contains("stall") || t.hasPrefix("INFO: rcu_") && t.contains("stall") { return .stall }
        return nil
    }

    /// Linux 7's WARN headline: "WARNING: arch/arm64/kvm/nested.c:288 at kvm_walk_nested_s2+0x3dc/0x688, CPU#0: harness/107".
    static func isFileLineWarning(_ t: Substring) -> Bool {
        guard t.hasPrefix("WARNING: ") else { return false }
        let rest = t.dropFirst("WARNING: ".count)
        guard let space = rest.firstIndex(of: " "), rest[space...].hasPrefix(" at ") else { return false }
        let location = rest[..<space]
        guard let colon = location.lastIndex(of: ":") else { return false }
        let line = location[location.index(after: colon)...]
        return !line.isEmpty && line.allSatisfy(\.isNumber) && location[..<colon].contains(".")
    }

    /// Whether `text` ends the splat it belongs to (the line is part of it).
    static func ends(_ text: String, kind: SplatKind) -> Bool {
        let t = text.drop { $0 == " " }
        if t.hasPrefix("---[ end trace") || t.hasPrefix("---[ end Kernel panic") { return true }
        // KASAN/KFENCE/UBSAN reports close with a line of '=' (their opening one comes first).
        if (kind == .kasan || kind == .ubsan) && t.count >= 20 && t.allSatisfy({ $0 == "=" }) { return true }
        return false
    }

    /// Every splat in `records`, in order. `isBoundary` marks records that end any splat
    /// before them without belonging to it (the harness's own marker lines).
    public static func splats(in records: [KernelLogRecord], isBoundary: (KernelLogRecord) -> Bool = { _ in false }) -> [Splat] {
        var out: [Splat] = []
        var current: Splat? = nil
        for r in records {
            if isBoundary(r) {
                if let c = current {
                    out.append(c)
                    current = nil
                }
                continue
            }
            if let k = kind(startedBy: r.text) {
                // arm64 prints "Unable to handle kernel ..." then "Internal error: Oops ...":
                // one oops. Anything else (a second WARN, a lockdep report) is its own splat.
                if var c = current, c.kind == .oops, k == .oops {
                    if c.lines.count < maxLines { c.lines.append(r.dmesgLine) }
                    current = c
                    continue
                }
                if let c = current { out.append(c) }
                current = Splat(kind: k, headline: r.text.trimmingSpaces, sequence: r.sequence, lines: [r.dmesgLine])
                continue
            }
            guard var c = current else { continue }
            if c.lines.count < maxLines { c.lines.append(r.dmesgLine) }
            if ends(r.text, kind: c.kind) {
                out.append(c)
                current = nil
            } else {
                current = c
            }
        }
        if let c = current { out.append(c) }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
